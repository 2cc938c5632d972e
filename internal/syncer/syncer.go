package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// ErrRejected marks a permanent failure: the snapshot itself is unusable
// (malformed, too many invalid records, mass deletion, stale). Retrying the
// same object cannot succeed, so the Lambda records it and does not retry.
var ErrRejected = errors.New("snapshot rejected")

// Status of a sync run, as stored in sync_runs.status.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)

// Object is one snapshot to apply.
type Object struct {
	Entity snapshot.Entity
	// Source names it in sync_runs and identifies "the same key":
	// s3://bucket/key or a local path.
	Source string
	// Identity from the event, known before the body is read.
	Identity Identity
	// Open returns the body (possibly gzip-compressed) and what the read
	// itself learned of the identity (ETag, version, last-modified).
	Open func(ctx context.Context) (io.ReadCloser, Identity, error)
}

// Result is the outcome of one sync attempt, as recorded in sync_runs. The
// row counts are what the database holds afterwards: all zero unless the
// run succeeded.
type Result struct {
	ID       int64
	Entity   snapshot.Entity
	Source   string
	Identity Identity
	Status   string
	Reason   string // why it failed or was skipped

	Received   int64 // array elements read
	Inserted   int64
	Updated    int64
	Deleted    int64
	Restored   int64
	Unchanged  int64
	Duplicates int64 // earlier occurrences of a repeated externalId, dropped
	Invalid    int64
	// InvalidRecords are the first Config.MaxInvalidRecords invalid records.
	InvalidRecords []snapshot.InvalidRecord

	Started  time.Time
	Finished time.Time
}

// Syncer applies snapshots to one database.
type Syncer struct {
	pool *pgxpool.Pool
	cfg  Config
	log  *slog.Logger
}

// New returns a Syncer; cfg is used as it is (see DefaultConfig) and must
// be valid.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sync configuration: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Syncer{pool: pool, cfg: cfg, log: log}, nil
}

// WithLogger returns a Syncer that logs to log, e.g. with a request id.
func (s *Syncer) WithLogger(log *slog.Logger) *Syncer {
	c := *s
	c.log = log
	return &c
}

// SyncFile applies a local snapshot file; the entity comes from its name.
func (s *Syncer) SyncFile(ctx context.Context, path string) (Result, error) {
	entity, ok := snapshot.EntityFromKey(path)
	if !ok {
		return Result{Source: path}, fmt.Errorf("%s: cannot tell the entity from the file name (want patients*.json[.gz] or payments*.json[.gz])", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return s.Sync(ctx, Object{
		Entity: entity,
		Source: abs,
		Open: func(context.Context) (io.ReadCloser, Identity, error) {
			f, err := os.Open(path)
			return f, Identity{}, err
		},
	})
}

// skipError ends a run as skipped: nothing to do, nothing wrong.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// Sync applies one snapshot in one transaction and records the attempt in
// sync_runs. A skipped run (duplicate or stale event) returns a nil error.
// An error wrapping ErrRejected is permanent; any other error is transient
// (database or S3 trouble) and the same object may be retried.
func (s *Syncer) Sync(ctx context.Context, obj Object) (Result, error) {
	res := Result{Entity: obj.Entity, Source: obj.Source, Identity: obj.Identity, Started: time.Now()}
	log := s.log.With("entity", obj.Entity, "source", obj.Source)
	ent, err := entityOf(obj.Entity)
	if err != nil {
		return res, err
	}

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("acquire connection: %w", err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			conn.Release() // a connection broken by a cancel is discarded here
		}
	}
	defer release()

	// Cheap look before downloading anything: S3 redelivers events.
	if !obj.Identity.empty() {
		last, err := lastApplied(ctx, conn, obj.Source)
		if err != nil {
			return res, err
		}
		if reason := skipReason(obj.Identity, last); reason != "" {
			res.Status, res.Reason, res.Finished = StatusSkipped, reason, time.Now()
			err = insertRun(ctx, conn, &res)
			log.Info("sync skipped", "reason", reason, "run_id", res.ID)
			return res, err
		}
	}

	res.Status = StatusRunning
	if err := insertRun(ctx, conn, &res); err != nil {
		return res, err
	}
	log = log.With("run_id", res.ID)
	log.Info("sync started")

	err = s.apply(ctx, conn.Conn(), ent, obj, &res, log)
	res.Finished = time.Now()
	var skip *skipError
	switch {
	case err == nil:
		log.Info("sync succeeded", "received", res.Received, "inserted", res.Inserted, "updated", res.Updated,
			"deleted", res.Deleted, "restored", res.Restored, "unchanged", res.Unchanged,
			"duplicates", res.Duplicates, "invalid", res.Invalid, "seconds", res.Finished.Sub(res.Started).Seconds())
		return res, nil
	case errors.As(err, &skip):
		res.Status, res.Reason = StatusSkipped, skip.reason
		log.Info("sync skipped", "reason", skip.reason)
		err = nil
	default:
		res.Status, res.Reason = StatusFailed, err.Error()
		// The caller reports the error (the Lambda logs it, the CLI prints it).
		log.Debug("sync failed", "error", err, "permanent", errors.Is(err, ErrRejected))
	}
	// The transaction rolled back: nothing was written.
	res.Inserted, res.Updated, res.Deleted, res.Restored, res.Unchanged = 0, 0, 0, 0, 0
	// Record the outcome on its own, even when the caller's context has
	// expired (pgx closes the connection on cancel, so take a fresh one).
	release()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if rerr := updateRun(rctx, s.pool, &res); rerr != nil {
		log.Error("record sync outcome", "error", rerr)
		if err == nil {
			err = rerr
		}
	}
	return res, err
}
