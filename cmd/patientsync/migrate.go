package main

import (
	"context"
	"fmt"

	"github.com/patientsync/patientsync/internal/db"
)

func init() {
	register("migrate", "apply the database migrations to DATABASE_URL (creating the database if missing)", runMigrate)
}

func runMigrate(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate", "", "")
	create := fs.Bool("create-db", true, "create the database when it does not exist")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := databaseConfig()
	if err != nil {
		return err
	}
	if *create {
		if err := cfg.EnsureDatabase(ctx); err != nil {
			return err
		}
	}
	pool, err := cfg.Open(ctx, db.Options{MaxConns: 2, AppName: "patientsync-migrate"})
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := db.Migrate(ctx, pool)
	for _, r := range res {
		fmt.Printf("applied %s (%s)\n", r.Source.Path, r.Duration)
	}
	if err == nil && len(res) == 0 {
		fmt.Println("database is up to date")
	}
	return err
}
