package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/localaws"
)

func init() {
	register("up", "run the local AWS stack (S3, HTTP API, the Lambdas under the runtime emulator) in the foreground", runUp)
}

func runUp(ctx context.Context, args []string) error {
	d := localaws.Defaults()
	fs := newFlagSet("up", "", "")
	s3Addr := fs.String("s3-addr", d.S3Addr, "S3 endpoint listen address (LocalStack's port)")
	apiAddr := fs.String("api-addr", d.APIAddr, "HTTP API listen address (sam local start-api's port)")
	bucket := fs.String("bucket", d.Bucket, "snapshot bucket; uploads to it invoke the sync function")
	binDir := fs.String("bin-dir", d.BinDir, "directory with lambda/<function>/bootstrap of every function (make build)")
	rieBin := fs.String("rie", d.RIE, "aws-lambda-rie binary (make rie)")
	retryDelay := fs.Duration("retry-delay", d.RetryDelay, "delay before the first retry of a failed sync invocation (Lambda: ~1 minute); doubles for the second")
	syncTimeout := fs.Duration("sync-timeout", d.SyncTimeout, "sync function timeout")
	queryTimeout := fs.Duration("query-timeout", d.QueryTimeout, "query functions' timeout")
	rieLog := fs.String("rie-log-level", d.RIELogLevel, "the emulators' own log level (info shows each INIT and INVOKE)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if _, err := os.Stat(*rieBin); err != nil {
		return fmt.Errorf("the Lambda runtime interface emulator is missing (%w); run `make rie` (or `make up`)", err)
	}
	for _, f := range localaws.Functions {
		if _, err := os.Stat(filepath.Join(*binDir, "lambda", f, "bootstrap")); err != nil {
			return fmt.Errorf("function binary missing (%w); run `make build` (or `make up`)", err)
		}
	}

	dbCfg, err := databaseConfig()
	if err != nil {
		return err
	}
	// The local functions are given DATABASE_URL, as env.json gives them.
	dbURL := dbCfg.URL
	if dbURL == "" {
		return errors.New("up gives the local functions DATABASE_URL: set it (DATABASE_SECRET_ARN is for deployed functions and the ECS runner)")
	}
	if err := dbCfg.EnsureDatabase(ctx); err != nil {
		return fmt.Errorf("%w (is PostgreSQL running? `make db` starts or installs it)", err)
	}
	pool, err := dbCfg.Open(ctx, db.Options{MaxConns: 2, AppName: "patientsync-up"})
	if err != nil {
		return err
	}
	_, err = db.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return err
	}

	cfg := d
	cfg.S3Addr, cfg.APIAddr, cfg.Bucket = *s3Addr, *apiAddr, *bucket
	cfg.RIE, cfg.BinDir, cfg.DatabaseURL = *rieBin, *binDir, dbURL
	cfg.SyncEnv = syncEnvFromEnviron(os.Environ())
	cfg.SyncTimeout, cfg.QueryTimeout, cfg.RetryDelay = *syncTimeout, *queryTimeout, *retryDelay
	cfg.Logger, cfg.FunctionLogs, cfg.RIELogLevel = slog.Default(), os.Stderr, *rieLog
	stack, err := localaws.Start(ctx, cfg)
	if err != nil {
		return listenHint(err)
	}
	defer stack.Close()
	printBanner(os.Stdout, stack.S3URL, stack.APIURL, stack.Bucket, dbURL)

	select {
	case <-ctx.Done():
		slog.Info("stopping the local stack")
	case err := <-stack.Failed():
		return fmt.Errorf("local stack: %w", err)
	}
	stack.Close()
	if st := stack.SyncQueue.Stats(); st.Enqueued > 0 {
		slog.Info("sync invocations", "events", st.Enqueued, "succeeded", st.Succeeded, "failed", st.Failed, "retried", st.Retried)
	}
	return nil
}

// listenHint adds to an address that cannot be listened on (taken by
// another `up`, LocalStack or `sam local start-api`) the flag and the make
// variable that choose another, with a port that is free now.
func listenHint(err error) error {
	var le *localaws.ListenError
	if !errors.As(err, &le) {
		return err
	}
	flagName, makeVar := "s3-addr", "S3_ADDR"
	if le.Field == "APIAddr" {
		flagName, makeVar = "api-addr", "API_ADDR"
	}
	return fmt.Errorf("%w; choose another with -%s (make up %s=%s)", err, flagName, makeVar, localaws.FreeAddrNear(le.Addr))
}

// syncEnvFromEnviron passes the SYNC_* settings of this shell on to the
// sync function, as the template's environment would.
func syncEnvFromEnviron(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "SYNC_") {
			env[k] = v
		}
	}
	return env
}

// printBanner says where everything is and what to paste to try it.
func printBanner(w io.Writer, s3URL, apiURL, bucket, dbURL string) {
	shown := dbURL
	if u, err := url.Parse(dbURL); err == nil {
		shown = u.Redacted()
	}
	fmt.Fprintf(w, `
patientsync local stack is up; Ctrl-C stops it.
  S3 endpoint  %[1]s  bucket %[3]s (versioned; each upload of *.json or *.json.gz invokes the sync function)
  HTTP API     %[2]s  GET /patients, GET /payments
  Database     %[4]s

Upload the sample snapshots (any S3 client; credentials are not checked):
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url %[1]s s3 cp testdata/patients.json s3://%[3]s/patients.json
  aws --endpoint-url %[1]s s3 cp testdata/payments.json s3://%[3]s/payments.json

Query the API:
  curl '%[2]s/patients?payment_min=9&payment_max=20'
  curl '%[2]s/payments?external_id=4'

Sync history:
  psql '%[4]s' -c 'SELECT id, entity, source, status, inserted, updated, deleted, error FROM sync_runs ORDER BY id DESC LIMIT 10'

`, s3URL, apiURL, bucket, shown)
}
