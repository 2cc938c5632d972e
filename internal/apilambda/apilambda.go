// Package apilambda wires the API into Lambda functions behind an API
// Gateway HTTP API (payload format 2.0): the query functions (New), the
// push function (NewPush) and the upload function (NewUploads). Their
// main.go files only call one of these and lambda.Start.
package apilambda

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/db"
)

// Func is what lambda.Start runs.
type Func func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Settings come from the function's environment.
type Settings struct {
	// StatementTimeout (QUERY_STATEMENT_TIMEOUT, default 5s) bounds each
	// query; keep it below the function's timeout.
	StatementTimeout time.Duration
}

// SettingsFromEnv reads the settings with getenv (os.Getenv in main).
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{StatementTimeout: 5 * time.Second}
	if v := getenv("QUERY_STATEMENT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("QUERY_STATEMENT_TIMEOUT=%q: want a positive duration such as 3s", v)
		}
		s.StatementTimeout = d
	}
	return s, nil
}

// poolOptions are a query function's, once per execution environment: at
// most 2 connections (total = concurrency x 2), and exec mode, which uses
// no named prepared statements, so that RDS Proxy can multiplex without
// pinning. (The pool connects lazily: a database that is down at cold
// start fails requests with 503s, not the init.)
func poolOptions(name string) db.Options {
	return db.Options{
		MaxConns: 2,
		ExecMode: pgx.QueryExecModeExec,
		AppName:  "patientsync-api-" + name,
	}
}

// Adapt serves h to API Gateway (payload 2.0).
func Adapt(h http.Handler) Func {
	return httpadapter.NewV2(gatewayRequestID(h)).ProxyWithContext
}

// Handler serves routes from pool.
func Handler(pool *pgxpool.Pool, s Settings, routes []api.Route, log *slog.Logger) Func {
	return Adapt(api.New(pool, api.Config{StatementTimeout: s.StatementTimeout, Routes: routes}, log))
}

// New is a query function's one call: settings from getenv, the database
// connection as a reader (db.ConfigFromEnv: DATABASE_QUERY_HOST, when set,
// is its endpoint), the pool, the handler of routes; name is the
// function's (for the database's application_name).
func New(ctx context.Context, name string, routes []api.Route, getenv func(string) string, log *slog.Logger) (Func, *pgxpool.Pool, error) {
	s, err := SettingsFromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	pool, err := db.PoolFromEnv(ctx, getenv, db.Reader, log, poolOptions(name))
	if err != nil {
		return nil, nil, err
	}
	return Handler(pool, s, routes, log), pool, nil
}

// gatewayRequestID makes API Gateway's request id (also sent to the client
// as apigw-requestid and written to the access log) the id the API logs and
// returns, so one id traces a request through both; it replaces any id the
// client sent.
func gatewayRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && rc.RequestID != "" {
			r.Header.Set(api.RequestIDHeader, rc.RequestID)
		}
		next.ServeHTTP(w, r)
	})
}
