// Package migratelambda is the migrate function: the provider of the
// template's custom resource (Custom::PatientsyncSchema), so that `sam
// deploy` itself brings the database's schema up to the migrations embedded
// in this build. Create and Update apply the pending migrations (db.Migrate:
// idempotent, serialized by goose's session lock); Delete leaves the schema
// and its data alone. functions/migrate only calls New and lambda.Start with
// cfn.LambdaWrap, which sends the answer to CloudFormation.
package migratelambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/patientsync/patientsync/internal/db"
)

const (
	// ResourceType is the custom resource's type in template.yaml.
	ResourceType = "Custom::PatientsyncSchema"
	// PhysicalResourceID names a stack's one schema, and never changes: an
	// Update answered with another id would be a replacement, for which
	// CloudFormation then sends a Delete of the "old" schema.
	PhysicalResourceID = "patientsync-schema"
	// VersionProperty is the resource property that holds the migrate
	// function's published version (its ARN, ending in ":<number>"). A new
	// build publishes a new version, so the property changes with the
	// embedded migrations and CloudFormation sends an Update.
	VersionProperty = "FunctionVersion"
	// MaxReason bounds a FAILED answer's reason: CloudFormation rejects a
	// response body over 4,096 bytes, and then waits for one that fits.
	MaxReason = 2000
)

// A migration that waits for a table lock (a sync's transaction holds its
// tables for minutes) queues every later reader of that table behind it:
// the API would stall for as long. So a statement waits at most lockWait
// for a lock (lock_timeout), and the migrations are tried again after
// retryPause, until the deadline. Each migration runs in a transaction of
// its own, so trying again is safe.
const (
	lockWait   = 2 * time.Second
	retryPause = 5 * time.Second
)

// Handler answers the custom resource's requests.
type Handler struct {
	getenv func(string) string
	log    *slog.Logger
}

// New returns a handler that reads the database settings
// (db.ConfigFromEnv) with getenv when a request needs the database: a
// Delete must succeed even where the database cannot be reached, and a
// wrong setting must reach CloudFormation as a FAILED answer rather than
// end the process before anything answers.
func New(getenv func(string) string, log *slog.Logger) *Handler {
	return &Handler{getenv: getenv, log: log}
}

// Handle is a cfn.CustomResourceFunction: cfn.LambdaWrap answers SUCCESS
// with data, or FAILED with err's text as the reason.
func (h *Handler) Handle(ctx context.Context, e cfn.Event) (id string, data map[string]any, err error) {
	id = PhysicalResourceID
	if e.RequestType != cfn.RequestCreate && e.PhysicalResourceID != "" {
		id = e.PhysicalResourceID
	}
	log := h.log.With("requestType", e.RequestType, "logicalResourceId", e.LogicalResourceID,
		"stackId", e.StackID, "cfnRequestId", e.RequestID, VersionProperty, e.ResourceProperties[VersionProperty])
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("awsRequestId", lc.AwsRequestID)
	}
	start := time.Now()
	// A panic becomes a FAILED answer with its value; cfn.LambdaWrap would
	// answer one too, but without the value, and by failing the invocation
	// it would make Lambda invoke the function again.
	defer func() {
		if r := recover(); r != nil {
			log.Error("migrate: panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			data, err = nil, fmt.Errorf("the migrate function panicked: %v", r)
		}
		secs := time.Since(start).Seconds()
		if err != nil {
			err = reason{err}
			log.Error("migrate: answering FAILED", "reason", err.Error(), "seconds", secs)
			return
		}
		log.Info("migrate: answering SUCCESS", "data", data, "seconds", secs)
	}()

	switch e.RequestType {
	case cfn.RequestDelete:
		// Deleting the stack, or this resource, never drops the schema or
		// the data in it.
		log.Info("migrate: delete leaves the schema as it is")
		return id, nil, nil
	case cfn.RequestUpdate:
		if from, to, ok := Rollback(e); ok {
			// A failed deploy rolls this resource back while the function
			// still runs the new build: migrating again would fail again and
			// leave the stack in UPDATE_ROLLBACK_FAILED. Schemas only move
			// forward; the previous build runs on the schema as it is.
			log.Warn("migrate: stack rollback; migrations are never reverted, the schema stays as it is",
				"fromVersion", from, "toVersion", to)
			return id, map[string]any{"Skipped": "rollback"}, nil
		}
	case cfn.RequestCreate:
	default:
		return id, nil, fmt.Errorf("unknown request type %q", e.RequestType)
	}
	data, err = h.migrate(ctx, log)
	return id, data, err
}

// migrate applies the pending migrations before the invocation's deadline,
// keeping enough of it to answer CloudFormation.
func (h *Handler) migrate(ctx context.Context, log *slog.Logger) (map[string]any, error) {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		margin := Margin(time.Until(dl))
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-margin))
		defer cancel()
		log = log.With("stopBy", dl.Add(-margin).UTC().Format(time.RFC3339))
	}
	cfg, err := db.ConfigFromEnv(h.getenv, db.Writer)
	if err != nil {
		return nil, outOfTime(ctx, fmt.Errorf("database: %w", err))
	}
	cfg.Log = log
	pool, err := cfg.Open(ctx, db.Options{MaxConns: 2, AppName: "patientsync-migrate",
		RuntimeParams: map[string]string{"lock_timeout": strconv.FormatInt(lockWait.Milliseconds(), 10)}})
	if err != nil {
		return nil, outOfTime(ctx, err)
	}
	// Deploys are rare: hold no connection between them.
	defer pool.Close()
	log.Info("migrate: applying pending migrations", "host", pool.Config().ConnConfig.Host,
		"database", pool.Config().ConnConfig.Database)

	applied := []string{}
	for attempt := 1; ; attempt++ {
		results, err := db.Migrate(ctx, pool)
		var pe *goose.PartialError
		if errors.As(err, &pe) {
			results = pe.Applied
		}
		for _, r := range results {
			name := path.Base(r.Source.Path)
			applied = append(applied, name)
			log.Info("migrate: applied", "migration", name, "seconds", r.Duration.Seconds())
		}
		if err == nil {
			break
		}
		if lockNotAvailable(err) {
			log.Warn("migrate: a table lock is held elsewhere; trying again", "attempt", attempt,
				"in", retryPause.String(), "error", err.Error())
			if sleep(ctx, retryPause) {
				continue
			}
		}
		err = failedMigration(err, pe, applied)
		if ctx.Err() != nil {
			err = lockHolder(ctx, pool, err)
		}
		return nil, outOfTime(ctx, err)
	}
	version, err := schemaVersion(ctx, pool)
	if err != nil {
		return nil, outOfTime(ctx, err)
	}
	return map[string]any{
		"SchemaVersion": strconv.FormatInt(version, 10),
		"Applied":       strings.Join(applied, ","),
		"AppliedCount":  strconv.Itoa(len(applied)),
	}, nil
}

// lockNotAvailable: a statement gave up waiting for a lock (lock_timeout).
func lockNotAvailable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03" // lock_not_available
}

// sleep waits for d, or reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// failedMigration names the migration that failed and what the database
// said; goose's own message has only its version number.
func failedMigration(err error, pe *goose.PartialError, applied []string) error {
	if pe == nil || pe.Failed == nil || pe.Failed.Source == nil {
		return err
	}
	before := "none"
	if len(applied) > 0 {
		before = strings.Join(applied, ", ")
	}
	return fmt.Errorf("migration %s failed: %w (applied before it in this run: %s)",
		path.Base(pe.Failed.Source.Path), pe.Err, before)
}

// outOfTime says so when err came from running out of the invocation's
// time, with what usually causes it.
func outOfTime(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("stopped before the function's deadline, to answer CloudFormation in time "+
		"(another deploy or `patientsync migrate` may hold the migration lock, or a migration "+
		"waits for a table lock held by a long sync): %w", err)
}

// lockHolder adds to err which session holds the migration lock, if
// another one does: the usual reason a migration runs out of time before it
// starts. It has a second of its own, the invocation's time being up.
func lockHolder(ctx context.Context, pool *pgxpool.Pool, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	// db.Migrate takes goose's session lock with its default id: a bigint
	// advisory lock, which pg_locks shows split into classid and objid.
	var pid int
	var app, client string
	var since time.Time
	qerr := pool.QueryRow(ctx, `
		SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), a.backend_start
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
		  AND l.pid <> pg_backend_pid()
		LIMIT 1`, lock.DefaultLockID).Scan(&pid, &app, &client, &since)
	if qerr != nil {
		return err
	}
	return fmt.Errorf("the migration lock is held by another session (pid %d, application_name %q, client %s, connected %s): %w",
		pid, app, client, since.UTC().Format(time.RFC3339), err)
}

// schemaVersion is the newest migration the database has: goose's version
// table (goose's default name) after Migrate.
func schemaVersion(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var v int64
	if err := pool.QueryRow(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return v, nil
}

// Margin is the time a migration leaves before the deadline, given the time
// left: a tenth of it, at least 2 s (to answer) and at most 15 s (enough to
// cancel the statement, roll back and send the answer).
func Margin(left time.Duration) time.Duration {
	return min(max(left/10, 2*time.Second), 15*time.Second)
}

// Rollback reports whether an Update goes back to an older function version
// than the one before it: CloudFormation rolling back a failed deploy. It
// returns the version numbers it compared.
func Rollback(e cfn.Event) (from, to int, ok bool) {
	if e.RequestType != cfn.RequestUpdate {
		return 0, 0, false
	}
	to, okTo := versionNumber(e.ResourceProperties[VersionProperty])
	from, okFrom := versionNumber(e.OldResourceProperties[VersionProperty])
	return from, to, okTo && okFrom && to < from
}

// versionNumber reads the number at the end of a version ARN
// ("arn:aws:lambda:...:function:name:7"); $LATEST and anything else is none.
func versionNumber(v any) (int, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s[strings.LastIndexByte(s, ':')+1:])
	return n, err == nil && n > 0
}

// reason is a FAILED answer's error, cut to MaxReason bytes of UTF-8.
type reason struct{ err error }

func (r reason) Error() string {
	s := r.err.Error()
	if len(s) <= MaxReason {
		return s
	}
	const more = " [...]"
	cut := MaxReason - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

func (r reason) Unwrap() error { return r.err }
