// Package synclambda is the S3-triggered sync function: it turns each
// ObjectCreated record of an S3 event into a sync of that object version.
// functions/sync only wires it up.
package synclambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
)

// Settings come from the function's environment.
type Settings struct {
	Sync syncer.Config
	// Margin is kept free before the Lambda deadline so that a sync that
	// runs out of time rolls back and records its failure itself
	// (SYNC_DEADLINE_MARGIN, default 10s).
	Margin time.Duration
}

// SettingsFromEnv reads and validates the SYNC_* variables and
// SYNC_DEADLINE_MARGIN, naming every wrong one. (The database comes from
// db.ResolveURL.)
func SettingsFromEnv() (Settings, error) {
	var errs []error
	s := Settings{Margin: 10 * time.Second}
	cfg, err := syncer.ConfigFromEnv()
	errs = append(errs, err)
	s.Sync = cfg
	if v := os.Getenv("SYNC_DEADLINE_MARGIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("SYNC_DEADLINE_MARGIN=%q: want a duration such as 10s", v))
		}
		s.Margin = d
	}
	return s, errors.Join(errs...)
}

// Handler handles S3 events.
type Handler struct {
	pool   *pgxpool.Pool
	source *s3source.Source
	cfg    Settings
	log    *slog.Logger
}

// New returns a Handler syncing objects read through source into pool.
func New(pool *pgxpool.Pool, source *s3source.Source, cfg Settings, log *slog.Logger) *Handler {
	return &Handler{pool: pool, source: source, cfg: cfg, log: log}
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
		var test struct{ Event, Bucket string }
		_ = json.Unmarshal(raw, &test)
		if test.Event == "s3:TestEvent" {
			log.Info("S3 test event: nothing to do", "bucket", test.Bucket)
		} else {
			log.Warn("event without records ignored")
		}
		return nil
	}

	if dl, ok := ctx.Deadline(); ok && h.cfg.Margin > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-h.cfg.Margin))
		defer cancel()
	}
	s := syncer.New(h.pool, h.cfg.Sync, log)
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
		if _, ok := snapshot.EntityFromKey(key); !ok {
			rlog.Info("not a snapshot key (patients*.json[.gz], payments*.json[.gz]): ignored")
			continue
		}
		obj, err := h.source.Object(rec.S3.Bucket.Name, key, syncer.Identity{
			ETag:      rec.S3.Object.ETag,
			VersionID: rec.S3.Object.VersionID,
			Sequencer: rec.S3.Object.Sequencer,
		})
		if err != nil {
			rlog.Error("cannot sync object", "error", err)
			continue
		}
		run, err := s.Sync(ctx, obj)
		switch {
		case err == nil:
			rlog.Info("record done", "status", run.Status, "run_id", run.ID)
		case errors.Is(err, syncer.ErrRejected):
			rlog.Error("snapshot rejected; not retrying", "run_id", run.ID, "error", err)
		default:
			rlog.Error("sync failed; the invocation will be retried", "run_id", run.ID, "error", err)
			transient = append(transient, fmt.Errorf("s3://%s/%s: %w", rec.S3.Bucket.Name, key, err))
		}
	}
	return errors.Join(transient...)
}
