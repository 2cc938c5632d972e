package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/db"
)

func init() {
	register("serve", "serve the query API (GET /patients, GET /payments) over HTTP", runServe)
}

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "listen address")
	maxConns := fs.Int("max-conns", 8, "database connections")
	timeout := fs.Duration("statement-timeout", 5*time.Second, "per-request statement timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *maxConns < 1 {
		return errors.New("-max-conns must be at least 1")
	}
	// Exec mode, as in the query Lambdas: what is measured here is what runs there.
	url, err := databaseURL(ctx)
	if err != nil {
		return err
	}
	pool, err := db.Open(ctx, url, db.Options{MaxConns: int32(*maxConns), ExecMode: pgx.QueryExecModeExec, AppName: "patientsync-serve"})
	if err != nil {
		return err
	}
	defer pool.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.New(pool, api.Config{StatementTimeout: *timeout}, slog.Default()),
		ReadHeaderTimeout: 5 * time.Second,
		// Let oversized request lines and headers reach the API, which
		// answers them with a 414 or 431 problem; beyond this, net/http
		// answers a plain 431 itself.
		MaxHeaderBytes: 4 << 20,
		ReadTimeout:    10 * time.Second,
		WriteTimeout:   *timeout + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		ErrorLog:       slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	slog.Info("serving", "addr", "http://"+ln.Addr().String(), "routes", []string{api.PatientsPath, api.PaymentsPath})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	slog.Info("stopped")
	return nil
}
