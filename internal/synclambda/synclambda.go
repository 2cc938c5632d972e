// Package synclambda is the S3-triggered sync function: it turns each
// ObjectCreated record of an S3 event into a sync of that object version.
// functions/sync only calls FromEnv and lambda.Start.
package synclambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
)

// Settings come from the function's environment.
type Settings struct {
	Sync syncer.Config
	// Margin is kept free before the Lambda deadline so that a sync that
	// runs out of time rolls back and records its failure itself
	// (SYNC_DEADLINE_MARGIN).
	Margin time.Duration
}

// DefaultSettings are the settings of an empty environment.
func DefaultSettings() Settings {
	return Settings{Sync: syncer.DefaultConfig(), Margin: 10 * time.Second}
}

// SettingsFromEnv reads and validates the SYNC_* variables and
// SYNC_DEADLINE_MARGIN with getenv, naming every wrong one. (The database
// comes from db.ResolveURL.)
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	cfg, err := syncer.ConfigFromEnv(getenv)
	errs := []error{err}
	s.Sync = cfg
	if v := getenv("SYNC_DEADLINE_MARGIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("SYNC_DEADLINE_MARGIN=%q: want a duration such as 10s", v))
		} else {
			s.Margin = d
		}
	}
	return s, errors.Join(errs...)
}

// Handler handles S3 events.
type Handler struct {
	syncer *syncer.Syncer
	source *s3source.Source
	margin time.Duration
	log    *slog.Logger
}

// New returns a Handler syncing objects read through source into pool.
func New(pool *pgxpool.Pool, source *s3source.Source, s Settings, log *slog.Logger) (*Handler, error) {
	sy, err := syncer.New(pool, s.Sync, log)
	if err != nil {
		return nil, err
	}
	return &Handler{syncer: sy, source: source, margin: s.Margin, log: log}, nil
}

// FromEnv is main's one call: settings from getenv, the database URL from
// DATABASE_URL or the DATABASE_SECRET_ARN secret, the pool (1 connection,
// opened lazily: a database that is down at cold start fails invocations,
// which Lambda retries, not the init), the S3 client and the handler.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Handler, *pgxpool.Pool, error) {
	s, err := SettingsFromEnv(getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid configuration: %w", err)
	}
	url, err := db.ResolveURL(ctx, getenv, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("database configuration: %w", err)
	}
	pool, err := db.NewPool(url, db.Options{MaxConns: 1, AppName: "patientsync-sync", RuntimeParams: syncer.SessionParams()})
	if err != nil {
		return nil, nil, err
	}
	client, err := s3source.NewClient(ctx, getenv)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	h, err := New(pool, s3source.New(client), s, log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return h, pool, nil
}

// Handle processes every record. Permanent failures (a bad file, a tripped
// guard, a stale event) are recorded and logged, and the invocation still
// succeeds, because a retry cannot fix them. A transient failure (database
// or S3 unreachable, deadline) fails the invocation so that Lambda retries;
// records already applied are then recognized and skipped.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) error {
	log := h.log
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("request_id", lc.AwsRequestID)
	}
	var ev events.S3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		log.Error("not an S3 event", "error", err)
		return nil // retrying cannot make it one
	}
	if len(ev.Records) == 0 {
		var test events.S3TestEvent
		if json.Unmarshal(raw, &test) == nil && test.Event == "s3:TestEvent" {
			log.Info("S3 test event: nothing to do", "bucket", test.Bucket)
		} else {
			log.Warn("event without records ignored")
		}
		return nil
	}

	if dl, ok := ctx.Deadline(); ok && h.margin > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-h.margin))
		defer cancel()
	}
	s := h.syncer.WithLogger(log)
	var transient []error
	for i, rec := range ev.Records {
		key := rec.S3.Object.URLDecodedKey
		if key == "" {
			key = rec.S3.Object.Key
		}
		rlog := log.With("record", i, "bucket", rec.S3.Bucket.Name, "key", key, "event", rec.EventName)
		if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
			rlog.Info("not an ObjectCreated event: ignored")
			continue
		}
		obj, err := h.source.Object(rec.S3.Bucket.Name, key, syncer.Identity{
			ETag:      rec.S3.Object.ETag,
			VersionID: rec.S3.Object.VersionID,
			Sequencer: rec.S3.Object.Sequencer,
		})
		if errors.Is(err, s3source.ErrNotSnapshot) {
			rlog.Info("not a snapshot key (patients*.json[.gz], payments*.json[.gz]): ignored")
			continue
		}
		res, err := s.Sync(ctx, obj)
		switch {
		case err == nil:
			rlog.Info("record done", "status", res.Status, "run_id", res.ID)
		case errors.Is(err, syncer.ErrRejected):
			rlog.Error("snapshot rejected; not retrying", "run_id", res.ID, "error", err)
		default:
			rlog.Error("sync failed; the invocation will be retried", "run_id", res.ID, "error", err)
			transient = append(transient, fmt.Errorf("s3://%s/%s: %w", rec.S3.Bucket.Name, key, err))
		}
	}
	return errors.Join(transient...)
}
