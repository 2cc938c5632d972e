// Command sync is the S3-triggered Lambda that applies uploaded snapshots to PostgreSQL.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/synclambda"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	ctx := context.Background()
	cfg, err := synclambda.SettingsFromEnv()
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	url, err := db.ResolveURL(ctx, os.Getenv, nil)
	if err != nil {
		log.Error("database configuration", "error", err)
		os.Exit(1)
	}
	// Lazy: a database that is down at cold start fails invocations (which
	// Lambda retries), not the init.
	pool, err := db.NewPool(url, db.Options{MaxConns: 1, AppName: "patientsync-sync", RuntimeParams: syncer.SessionParams()})
	if err != nil {
		log.Error("invalid DATABASE_URL", "error", err)
		os.Exit(1)
	}
	client, err := s3source.NewClient(ctx)
	if err != nil {
		log.Error("S3 client", "error", err)
		os.Exit(1)
	}
	lambda.Start(synclambda.New(pool, s3source.New(client), cfg, log).Handle)
}
