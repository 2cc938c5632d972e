package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/emf"
	"github.com/patientsync/patientsync/internal/logging"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/syncmetrics"
)

func init() {
	register("sync", "apply snapshot files (local paths or s3://bucket/key[?versionId=V]) to the database", runSync)
}

func runSync(ctx context.Context, args []string) error {
	fs := newFlagSet("sync", "FILE|s3://bucket/key[?versionId=V] ...", `The entity comes from the file name (patients*.json[.gz], payments*.json[.gz]).
An S3 URL reads the object's current version, or exactly the version named by
versionId (etag= reads with If-Match instead; sequencer= orders the snapshot
against other S3 events of the key, as the sync Lambda does; write '?', '#'
and '%' in a key as %3F, %23 and %25). The database is DATABASE_URL, else the
Secrets Manager secret DATABASE_SECRET_ARN (as in the Lambdas), else the local
default. Flags default to the SYNC_* environment variables, else to the values
shown. On a terminal, stderr shows each snapshot's progress.`)
	// A wrong SYNC_* variable is reported after parsing, so that -h works.
	cfg, envErr := syncer.ConfigFromEnv(os.Getenv)
	if envErr != nil {
		cfg = syncer.DefaultConfig()
	}
	if os.Getenv("SYNC_MASS_DELETE_HINT") == "" {
		cfg.MassDeleteHint = "rerun with -allow-mass-delete to apply it anyway"
	}
	fs.Float64Var(&cfg.MaxInvalidShare, "max-invalid-share", cfg.MaxInvalidShare, "reject a snapshot with a larger share of invalid records (0 = none allowed, 1 = any)")
	fs.Float64Var(&cfg.MaxDeleteShare, "max-delete-share", cfg.MaxDeleteShare, "reject a snapshot that deletes a larger share of the live rows...")
	fs.Int64Var(&cfg.MinDeletes, "min-deletes", cfg.MinDeletes, "...when it deletes at least this many")
	fs.BoolVar(&cfg.AllowMassDelete, "allow-mass-delete", cfg.AllowMassDelete, "apply even if the snapshot deletes more than -max-delete-share")
	fs.BoolVar(&cfg.SkipIdentical, "skip-identical", cfg.SkipIdentical, "record a snapshot that says what the last applied one said as unchanged without diffing it (false: diff it, which also repairs rows changed outside syncs)")
	fs.DurationVar(&cfg.LockTimeout, "lock-timeout", cfg.LockTimeout, "wait at most this long for a concurrent sync of the same entity")
	emfEnv, emfErr := strconv.ParseBool(os.Getenv("SYNC_EMF"))
	if os.Getenv("SYNC_EMF") == "" {
		emfEnv, emfErr = false, nil
	}
	withEMF := fs.Bool("emf", emfEnv, "after each run, print its CloudWatch metrics on stdout as an Embedded Metric Format line, as the sync function logs them (SYNC_EMF; the ECS runner sets it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if envErr != nil {
		return envErr
	}
	if emfErr != nil {
		return usageErrorf(fs, "SYNC_EMF=%q: want true or false", os.Getenv("SYNC_EMF"))
	}
	if fs.NArg() == 0 {
		return usageErrorf(fs, "no snapshot given")
	}
	if err := cfg.Validate(); err != nil {
		return usageErrorf(fs, "flags: %w", err)
	}
	// A mistyped path or URL stops before anything runs or is recorded.
	for _, arg := range fs.Args() {
		if err := checkSnapshotArg(arg); err != nil {
			return usageErrorf(fs, "%w", err)
		}
		if !strings.HasPrefix(arg, "s3://") {
			if _, err := os.Stat(arg); err != nil {
				return err
			}
		}
	}
	dbCfg, err := databaseConfig()
	if err != nil {
		return err
	}
	pool, err := dbCfg.Open(ctx, db.Options{MaxConns: 2, AppName: "patientsync-sync", RuntimeParams: syncer.SessionParams()})
	if err != nil {
		return err
	}
	defer pool.Close()
	// Results go to stdout and errors to stderr; the syncer's own log only
	// with LOG_LEVEL (DEBUG shows each step's timing).
	quiet := func(k string) string {
		if v := os.Getenv(k); v != "" || k != "LOG_LEVEL" {
			return v
		}
		return "WARN"
	}
	logs := &logOutput{}
	s, err := syncer.New(pool, cfg, logging.Text(logs, quiet))
	if err != nil {
		return err
	}

	var src *s3source.Source
	failed := 0
	for _, arg := range fs.Args() {
		var obj syncer.Object
		var bucket, key string
		var err error
		if strings.HasPrefix(arg, "s3://") {
			if src == nil {
				client, err := s3source.NewClient(ctx, os.Getenv)
				if err != nil {
					return err
				}
				src = s3source.New(client)
			}
			var id syncer.Identity
			bucket, key, id, _ = s3source.ParseURL(arg) // checked above
			obj, err = src.Object(bucket, key, id)
		} else {
			obj, err = syncer.FileObject(arg)
		}
		if err != nil {
			return err // checked above: not reached
		}
		prog := watchRead(&obj, logs)
		res, err := s.Sync(ctx, obj)
		prog.Done()
		// The uploader learns the outcome from the version's tags, as
		// from the Lambda (the ECS runner is this command).
		if tags := s3source.OutcomeTags(res); bucket != "" && tags != nil && res.ID != 0 {
			if terr := src.Tag(ctx, bucket, key, res.Identity.VersionID, tags); terr != nil {
				fmt.Fprintf(os.Stderr, "%s: warning: could not tag the object with its outcome: %v\n", arg, terr)
			}
		}
		printResult(arg, res)
		if *withEMF && res.Status != "" {
			if merr := syncmetrics.Write(emf.New(os.Stdout, syncmetrics.Namespace), res, time.Now()); merr != nil {
				fmt.Fprintf(os.Stderr, "%s: warning: metrics: %v\n", arg, merr)
			}
		}
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "%s: %v\n", arg, err)
		}
	}
	if mb, ok := peakRSSMB(); ok {
		fmt.Printf("peak RSS %.1f MB\n", mb)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d snapshots failed", failed, fs.NArg())
	}
	return nil
}

// checkSnapshotArg refuses what sync could never read: a malformed S3 URL
// or a name that tells no entity.
func checkSnapshotArg(arg string) error {
	if !strings.HasPrefix(arg, "s3://") {
		_, err := syncer.FileObject(arg)
		return err
	}
	_, key, _, err := s3source.ParseURL(arg)
	if err != nil {
		return err
	}
	if _, ok := snapshot.EntityFromKey(key); !ok {
		return fmt.Errorf("%s: %w", arg, s3source.ErrNotSnapshot)
	}
	return nil
}

// printResult prints a run's outcome on stdout; a sync that failed before
// recording a run has none (its error goes to stderr).
func printResult(name string, r syncer.Result) {
	if r.Status == "" {
		return
	}
	fmt.Printf("%s: %s (run %d) received=%d inserted=%d updated=%d deleted=%d restored=%d unchanged=%d duplicates=%d invalid=%d in %.2fs\n",
		name, r.Status, r.ID, r.Received, r.Inserted, r.Updated, r.Deleted, r.Restored, r.Unchanged, r.Duplicates, r.Invalid,
		r.Finished.Sub(r.Started).Seconds())
	if r.Identical {
		fmt.Println("  identical to the last applied snapshot: nothing diffed or written")
	}
	for _, p := range r.InvalidRecords {
		fmt.Printf("  invalid %s\n", p.Error())
	}
	if r.Status == syncer.StatusSkipped {
		fmt.Printf("  %s\n", r.Reason) // failures go to stderr
	}
}
