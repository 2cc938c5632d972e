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
	Code     string // why it failed or was skipped: a Code... constant
	Reason   string // the same, in words

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
	// BytesRead is the size of the object as read (compressed or not).
	BytesRead int64
	// ContentHash fingerprints what the snapshot said (see contentSum).
	ContentHash string
	// Identical: the snapshot said what the last one applied to its entity
	// said, so nothing was diffed or written.
	Identical bool

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
	obj, err := FileObject(path)
	if err != nil {
		return Result{Source: path}, err
	}
	return s.Sync(ctx, obj)
}

// FileObject describes a local snapshot file, named by its absolute path;
// the entity comes from its name. Callers that wrap Open (the CLI counts
// the bytes read for its progress line) sync it with Sync.
func FileObject(path string) (Object, error) {
	entity, ok := snapshot.EntityFromKey(path)
	if !ok {
		return Object{}, fmt.Errorf("%s: cannot tell the entity from the file name (want patients*.json[.gz] or payments*.json[.gz])", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return Object{
		Entity: entity,
		Source: abs,
		Open: func(context.Context) (io.ReadCloser, Identity, error) {
			f, err := os.Open(path)
			return f, Identity{}, err
		},
	}, nil
}

// skipError ends a run as skipped: nothing to do, nothing wrong.
type skipError struct{ code, reason string }

func (e *skipError) Error() string { return e.reason }

// Sync applies one snapshot in one transaction and records the attempt in
// sync_runs. A skipped run (duplicate or stale event) returns a nil error.
// An error wrapping ErrRejected is permanent; any other error is transient
// (database or S3 trouble) and the same object may be retried.
//
// The entity's lock is held from before the run is recorded until its
// outcome is: a run shown as running holds it, so that at most one run of
// an entity is ever live, and a 'running' row that the lock holder finds is
// a run whose process died (it is settled as failed).
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
	defer conn.Release() // a connection broken by a cancel is discarded here

	// Cheap look before waiting for anything: S3 redelivers events.
	if skipped, err := s.skipIfApplied(ctx, conn, &res, log); skipped || err != nil {
		return res, err
	}
	unlock, err := lockEntity(ctx, conn, ent.lock, s.lockTimeout(ctx))
	if err != nil {
		if pgCode(err) == "55P03" { // lock_not_available: lock_timeout passed
			err = fmt.Errorf("%w: %w", ErrBusy, err)
		}
		return s.finish(ctx, conn, &res, fmt.Errorf("wait for a concurrent %s sync: %w", ent.name, err), log)
	}
	defer unlock()
	// Under the lock the answer is final: a concurrent delivery of the same
	// event may have finished while this one waited.
	if skipped, err := s.skipIfApplied(ctx, conn, &res, log); skipped || err != nil {
		return res, err
	}
	settled, err := startRun(ctx, conn, &res)
	if err != nil {
		return res, err
	}
	log = log.With("run_id", res.ID)
	if settled > 0 {
		log.Warn("settled runs abandoned by a process that died", "runs", settled)
	}
	log.Info("sync started")
	return s.finish(ctx, conn, &res, s.apply(ctx, conn.Conn(), ent, obj, &res, log), log)
}

// skipIfApplied records a skipped run when obj is the last applied snapshot
// of its key or older.
func (s *Syncer) skipIfApplied(ctx context.Context, conn *pgxpool.Conn, res *Result, log *slog.Logger) (bool, error) {
	if res.Identity.empty() {
		return false, nil
	}
	last, err := lastApplied(ctx, conn, res.Source)
	if err != nil {
		return false, err
	}
	code, reason := skipReason(res.Identity, last)
	if reason == "" {
		return false, nil
	}
	res.Status, res.Code, res.Reason, res.Finished = StatusSkipped, code, reason, time.Now()
	err = insertRun(ctx, conn, res)
	log.Info("sync skipped", "reason", reason, "run_id", res.ID)
	return true, err
}

// lockTimeout bounds the wait for the entity's lock by the context too.
func (s *Syncer) lockTimeout(ctx context.Context) time.Duration {
	t := s.cfg.LockTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < t {
		t = max(time.Until(dl), time.Millisecond)
	}
	return t
}

// finish records the outcome of an attempt that err ended (nil: applied).
func (s *Syncer) finish(ctx context.Context, conn *pgxpool.Conn, res *Result, err error, log *slog.Logger) (Result, error) {
	res.Finished = time.Now()
	var skip *skipError
	switch {
	case err == nil:
		log.Info("sync succeeded", "received", res.Received, "inserted", res.Inserted, "updated", res.Updated,
			"deleted", res.Deleted, "restored", res.Restored, "unchanged", res.Unchanged,
			"duplicates", res.Duplicates, "invalid", res.Invalid, "seconds", res.Finished.Sub(res.Started).Seconds())
		return *res, nil // recorded in the transaction
	case errors.As(err, &skip):
		res.Status, res.Code, res.Reason = StatusSkipped, skip.code, skip.reason
		log.Info("sync skipped", "reason", skip.reason)
		err = nil
	default:
		err = classify(err)
		res.Status, res.Code, res.Reason = StatusFailed, Code(err), err.Error()
		if res.Code == "" {
			res.Code = CodeTransient
		}
		// The caller reports the error (the Lambda logs it, the CLI prints it).
		log.Debug("sync failed", "error", err, "permanent", errors.Is(err, ErrRejected))
	}
	// The transaction rolled back: nothing was written.
	res.Inserted, res.Updated, res.Deleted, res.Restored, res.Unchanged = 0, 0, 0, 0, 0
	// Record the outcome while still holding the lock when the connection
	// survived, else on a fresh one (a cancel closes it, and the lock with
	// it); the caller's context may have expired.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var q interface {
		queryRower
		execer
	} = s.pool
	if !conn.Conn().IsClosed() {
		q = conn
	}
	var rerr error
	if res.ID == 0 {
		rerr = insertRun(rctx, q, res)
	} else {
		rerr = updateRun(rctx, q, res)
	}
	if rerr != nil {
		log.Error("record sync outcome", "error", rerr)
		if err == nil {
			err = rerr
		}
	}
	return *res, err
}
