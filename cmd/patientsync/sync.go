package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
)

func init() {
	register("sync", "apply snapshot files (local paths or s3://bucket/key) to DATABASE_URL", runSync)
}

func runSync(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: patientsync sync [flags] FILE|s3://bucket/key ...\n\nThe entity comes from the file name (patients*.json[.gz], payments*.json[.gz]). Flags default to the SYNC_* environment variables.")
		fs.PrintDefaults()
	}
	cfg, err := syncer.ConfigFromEnv()
	if err != nil {
		return err
	}
	fs.Float64Var(&cfg.MaxInvalidShare, "max-invalid-share", cfg.MaxInvalidShare, "reject a snapshot with a larger share of invalid records (0 = default 0.01, 1 = any)")
	fs.Float64Var(&cfg.MaxDeleteShare, "max-delete-share", cfg.MaxDeleteShare, "reject a snapshot that deletes a larger share of live rows (0 = default 0.5)")
	fs.Int64Var(&cfg.MinDeletes, "min-deletes", cfg.MinDeletes, "the deletion guard applies from this many deletions on (0 = default 10)")
	fs.BoolVar(&cfg.AllowMassDelete, "allow-mass-delete", cfg.AllowMassDelete, "apply even if the snapshot deletes more than -max-delete-share")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no snapshot given")
	}
	pool, err := db.Open(ctx, databaseURL(), db.Options{MaxConns: 2, AppName: "patientsync-sync", RuntimeParams: syncer.SessionParams()})
	if err != nil {
		return err
	}
	defer pool.Close()
	s := syncer.New(pool, cfg, slog.Default())

	var src *s3source.Source
	failed := 0
	for _, arg := range fs.Args() {
		var run syncer.Run
		var err error
		if strings.HasPrefix(arg, "s3://") {
			if src == nil {
				client, cerr := s3source.NewClient(ctx)
				if cerr != nil {
					return cerr
				}
				src = s3source.New(client)
			}
			bucket, key, perr := s3source.ParseURL(arg)
			if perr != nil {
				return perr
			}
			obj, oerr := src.Object(bucket, key, syncer.Identity{})
			if oerr != nil {
				return oerr
			}
			run, err = s.Sync(ctx, obj)
		} else {
			run, err = s.SyncFile(ctx, arg)
		}
		printRun(arg, run)
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "%s: %v\n", arg, err)
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		fmt.Printf("peak RSS %.1f MB\n", float64(ru.Maxrss)/1024) // Linux reports KiB
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d snapshots failed", failed, fs.NArg())
	}
	return nil
}

func printRun(name string, r syncer.Run) {
	fmt.Printf("%s: %s (run %d) received=%d inserted=%d updated=%d deleted=%d restored=%d unchanged=%d duplicates=%d invalid=%d in %.2fs\n",
		name, r.Status, r.ID, r.Received, r.Inserted, r.Updated, r.Deleted, r.Restored, r.Unchanged, r.Duplicates, r.Invalid,
		r.Finished.Sub(r.Started).Seconds())
	for _, p := range r.Problems {
		fmt.Printf("  invalid %s\n", p.Error())
	}
	if r.Reason != "" && r.Status != syncer.StatusSucceeded {
		fmt.Printf("  %s\n", r.Reason)
	}
}
