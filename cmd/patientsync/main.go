// Command patientsync is the operations and local-development CLI:
// migrate, sync, gen, serve, up, reset and more. Each subcommand lives in
// its own file and registers itself; cli.go dispatches, prints usage and
// errors, and this file only sets up the process.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/logging"
)

func main() {
	slog.SetDefault(logging.Text(os.Stderr, os.Getenv))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// databaseURL is DATABASE_URL, else the URL in the DATABASE_SECRET_ARN
// secret (db.ResolveURL, as the Lambdas read it: the ECS runner is given
// only the secret's ARN), else the local default.
func databaseURL(ctx context.Context) (string, error) {
	if os.Getenv("DATABASE_URL") == "" && os.Getenv("DATABASE_SECRET_ARN") == "" {
		return db.DefaultURL, nil
	}
	return db.ResolveURL(ctx, os.Getenv, nil)
}
