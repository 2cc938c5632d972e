// Package db opens PostgreSQL pools and applies the embedded migrations.
package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/patientsync/patientsync/migrations"
)

// DefaultURL is the local development database.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/patientsync?sslmode=disable"

// Options tune a pool for its user: Lambdas keep 1-2 connections.
type Options struct {
	MaxConns int32
	// ExecMode QueryExecModeExec avoids named prepared statements, so that
	// RDS Proxy does not pin the session. Zero keeps pgx's default.
	ExecMode pgx.QueryExecMode
	// RuntimeParams are session settings applied at connect
	// (temp_buffers must be set before a session first uses a temp table).
	RuntimeParams map[string]string
	AppName       string
}

// Open creates a pool on url and checks that the database answers (tests
// and tools with a URL; the functions and the CLI use ConfigFromEnv).
func Open(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	return Config{URL: url}.Open(ctx, o)
}

// Migrate applies all pending migrations. A session advisory lock keeps
// concurrent migrators (several deploys, parallel tests) from racing.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]*goose.MigrationResult, error) {
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	return migrate(ctx, sqlDB)
}

func migrate(ctx context.Context, sqlDB *sql.DB) ([]*goose.MigrationResult, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("apply migrations: %w", err)
	}
	return res, nil
}

// EnsureDatabase creates the database named in url when it does not exist,
// connecting to the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	return ensureDatabase(ctx, cfg)
}

// EnsureDatabase creates c's database when it does not exist.
func (c Config) EnsureDatabase(ctx context.Context) error {
	cfg, err := c.ConnConfig(ctx)
	if err != nil {
		return err
	}
	return ensureDatabase(ctx, cfg)
}

func ensureDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}
