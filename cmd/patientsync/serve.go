package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/apilambda"
	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/syncer"
)

func init() {
	register("serve", "serve the API over HTTP: the reads, /health, /openapi.json and (unless -push=false) POST /patients and /payments", runServe)
}

func runServe(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", "", "")
	addr := fs.String("addr", "127.0.0.1:3000", "listen address")
	maxConns := fs.Int("max-conns", 8, "database connections")
	timeout := fs.Duration("statement-timeout", 5*time.Second, "per-request statement timeout")
	push := fs.Bool("push", true, "apply snapshots POSTed to /patients and /payments (with the SYNC_* settings, as the push Lambda)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *maxConns < 1 {
		return usageErrorf(fs, "-max-conns must be at least 1")
	}
	// Exec mode, as in the query Lambdas: what is measured here is what runs there.
	cfg, err := databaseConfig()
	if err != nil {
		return err
	}
	pool, err := cfg.Open(ctx, db.Options{MaxConns: int32(*maxConns), ExecMode: pgx.QueryExecModeExec, AppName: "patientsync-serve"})
	if err != nil {
		return err
	}
	defer pool.Close()

	routes := api.ReadRoutes
	var pusher *syncer.Syncer
	if *push {
		routes = append(slices.Clone(routes), api.PushPatients, api.PushPayments)
		settings, err := apilambda.PushSettingsFromEnv(os.Getenv)
		if err != nil {
			return err
		}
		if os.Getenv("SYNC_MASS_DELETE_HINT") == "" {
			settings.Sync.MassDeleteHint = "to apply it anyway, restart serve with SYNC_ALLOW_MASS_DELETE=true and push it again"
		}
		syncPool, err := cfg.Open(ctx, db.Options{MaxConns: 2, AppName: "patientsync-serve-push", RuntimeParams: syncer.SessionParams()})
		if err != nil {
			return err
		}
		defer syncPool.Close()
		if pusher, err = syncer.New(syncPool, settings.Sync, slog.Default()); err != nil {
			return err
		}
	}
	handler := api.New(pool, api.Config{StatementTimeout: *timeout, Routes: routes}, slog.Default())
	if pusher != nil {
		handler.WithPush(pusher, nil)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		// Let oversized request lines and headers reach the API, which
		// answers them with a 414 or 431 problem; beyond this, net/http
		// answers a plain 431 itself.
		MaxHeaderBytes: 4 << 20,
		ReadTimeout:    30 * time.Second,
		// A push answers when its sync is done (the push Lambda has 30s).
		WriteTimeout: max(*timeout+10*time.Second, 40*time.Second),
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	slog.Info("serving", "addr", "http://"+ln.Addr().String(), "routes", routes)
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
