// Command patientsync is the operations and local-development CLI:
// migrate, sync, gen, serve, up and reset. Each subcommand lives in its own
// file and registers itself; this file only dispatches.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/logging"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: patientsync COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'patientsync COMMAND -h' for a command's flags. DATABASE_URL selects the database.")
}

func main() {
	slog.SetDefault(logging.Text(os.Stderr, os.Getenv))
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "patientsync: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "patientsync %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
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
