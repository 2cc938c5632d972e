package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// resetTables are emptied by reset; goose's version table is schema, kept.
var resetTables = []string{"patients", "payments", "sync_runs"}

// resetDatabase empties the tables in one transaction and restarts their
// ids. A database that does not exist or was never migrated is empty.
func resetDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	where := fmt.Sprintf("database %s on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	// A sync holding a table would make TRUNCATE wait without a word.
	cfg.RuntimeParams["lock_timeout"] = "10s"
	cfg.RuntimeParams["application_name"] = "patientsync-reset"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if pgCode(err) == "3D000" {
		fmt.Printf("%s does not exist: nothing to empty\n", where)
		return nil
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w (is PostgreSQL running? `make db` starts it)", where, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	names := make([]string, len(resetTables))
	for i, t := range resetTables {
		names[i] = pgx.Identifier{t}.Sanitize()
	}
	list := strings.Join(names, ", ")
	counts := make([]string, len(resetTables))
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE "+list+" IN ACCESS EXCLUSIVE MODE"); err != nil {
			return err
		}
		for i, name := range names {
			var n int64
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n); err != nil {
				return err
			}
			counts[i] = fmt.Sprintf("%s %d rows", resetTables[i], n)
		}
		if _, err := tx.Exec(ctx, "TRUNCATE "+list+" RESTART IDENTITY"); err != nil {
			return err
		}
		// No run has applied anything now (the API's asOf).
		_, err := tx.Exec(ctx, "UPDATE sync_state SET last_applied_run = 0")
		return err
	})
	switch pgCode(err) {
	case "42P01": // undefined_table
		fmt.Printf("%s has no patientsync tables (not migrated): nothing to empty\n", where)
		return nil
	case "55P03": // lock_not_available
		return fmt.Errorf("%s: its tables stayed locked for 10s (a sync running? let it finish): %w", where, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	fmt.Printf("%s emptied: %s\n", where, strings.Join(counts, ", "))
	return nil
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
