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

// databaseConfig is the database connection as the Lambdas read it
// (db.ConfigFromEnv as a writer: the ECS runner is given the secret's ARN
// and the other DATABASE_* settings), with db.DefaultURL when neither
// DATABASE_URL nor DATABASE_SECRET_ARN is set.
func databaseConfig() (db.Config, error) {
	getenv := func(k string) string {
		if k == "DATABASE_URL" && os.Getenv("DATABASE_URL") == "" && os.Getenv("DATABASE_SECRET_ARN") == "" {
			return db.DefaultURL
		}
		return os.Getenv(k)
	}
	return db.ConfigFromEnv(getenv, db.Writer)
}
