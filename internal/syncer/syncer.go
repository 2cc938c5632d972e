package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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

// Identity is what S3 tells about one version of an object. Local files have none.
type Identity struct {
	ETag         string
	VersionID    string
	Sequencer    string // from the S3 event; orders events of one key
	LastModified time.Time
}

func (id Identity) empty() bool {
	return id.ETag == "" && id.VersionID == "" && id.Sequencer == "" && id.LastModified.IsZero()
}

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

// Run is the outcome of one sync attempt, as recorded in sync_runs.
type Run struct {
	ID         int64
	Entity     snapshot.Entity
	Source     string
	Status     string
	Reason     string // why it failed or was skipped
	Received   int64
	Inserted   int64
	Updated    int64
	Deleted    int64
	Restored   int64
	Unchanged  int64
	Duplicates int64
	Invalid    int64
	Problems   []snapshot.Problem
	Started    time.Time
	Finished   time.Time
}

// Syncer applies snapshots to one database.
type Syncer struct {
	pool *pgxpool.Pool
	cfg  Config
	log  *slog.Logger
}

// New returns a Syncer; cfg's zero fields take their defaults.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) *Syncer {
	if log == nil {
		log = slog.Default()
	}
	return &Syncer{pool: pool, cfg: cfg.withDefaults(), log: log}
}

// SyncFile applies a local snapshot file; the entity comes from its name.
func (s *Syncer) SyncFile(ctx context.Context, path string) (Run, error) {
	entity, ok := snapshot.EntityFromKey(path)
	if !ok {
		return Run{Source: path}, fmt.Errorf("%s: cannot tell the entity from the file name (want patients*.json[.gz] or payments*.json[.gz])", path)
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
func (s *Syncer) Sync(ctx context.Context, obj Object) (Run, error) {
	run := Run{Entity: obj.Entity, Source: obj.Source, Started: time.Now()}
	log := s.log.With("entity", obj.Entity, "source", obj.Source)

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return run, fmt.Errorf("acquire connection: %w", err)
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
			return run, err
		}
		if reason := skipReason(obj.Identity, last); reason != "" {
			run.Status, run.Reason = StatusSkipped, reason
			run.ID, err = s.insertRun(ctx, conn, obj, obj.Identity, StatusSkipped, reason)
			log.Info("sync skipped", "reason", reason, "run_id", run.ID)
			return run, err
		}
	}

	run.ID, err = s.insertRun(ctx, conn, obj, obj.Identity, StatusRunning, "")
	if err != nil {
		return run, err
	}
	log = log.With("run_id", run.ID)
	log.Info("sync started")

	err = s.apply(ctx, conn.Conn(), obj, &run)
	run.Finished = time.Now()
	var skip *skipError
	switch {
	case err == nil:
		run.Status = StatusSucceeded
		log.Info("sync succeeded", "received", run.Received, "inserted", run.Inserted, "updated", run.Updated,
			"deleted", run.Deleted, "restored", run.Restored, "unchanged", run.Unchanged,
			"duplicates", run.Duplicates, "invalid", run.Invalid, "seconds", run.Finished.Sub(run.Started).Seconds())
		return run, nil
	case errors.As(err, &skip):
		run.Status, run.Reason = StatusSkipped, skip.reason
		log.Info("sync skipped", "reason", skip.reason)
		err = nil
	default:
		run.Status, run.Reason = StatusFailed, err.Error()
		log.Error("sync failed", "error", err, "permanent", errors.Is(err, ErrRejected))
	}
	// The transaction is gone; record the outcome on its own, even when the
	// caller's context has expired (pgx closes the connection on cancel, so
	// take a fresh one).
	release()
	if rerr := s.finishRun(context.WithoutCancel(ctx), &run); rerr != nil {
		log.Error("record sync outcome", "error", rerr)
		if err == nil {
			err = rerr
		}
	}
	return run, err
}

func (s *Syncer) insertRun(ctx context.Context, conn *pgxpool.Conn, obj Object, id Identity, status, reason string) (int64, error) {
	var runID int64
	err := conn.QueryRow(ctx, `
		INSERT INTO sync_runs (entity, source, etag, version_id, sequencer, last_modified, status, error, finished)
		VALUES ($1, $2, nullif($3, ''), nullif($4, ''), nullif($5, ''), $6, $7, nullif($8, ''),
		        CASE WHEN $7 = 'running' THEN NULL ELSE clock_timestamp() END)
		RETURNING id`,
		string(obj.Entity), obj.Source, id.ETag, id.VersionID, id.Sequencer, nullTime(id.LastModified), status, reason,
	).Scan(&runID)
	if err != nil {
		return 0, fmt.Errorf("record sync run: %w", err)
	}
	return runID, nil
}

func (s *Syncer) finishRun(ctx context.Context, run *Run) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		UPDATE sync_runs SET status = $2, error = nullif($3, ''), finished = clock_timestamp(),
		       received = $4, invalid = $5, duplicates = $6, invalid_records = $7
		WHERE id = $1`,
		run.ID, run.Status, run.Reason, run.Received, run.Invalid, run.Duplicates, problemsJSON(run.Problems))
	if err != nil {
		return fmt.Errorf("record sync outcome: %w", err)
	}
	return nil
}

func problemsJSON(p []snapshot.Problem) any {
	if len(p) == 0 {
		return nil
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// lastApplied is the identity of the newest succeeded run of source.
func lastApplied(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, source string) (*Identity, error) {
	var etag, version, seq *string
	var lm *time.Time
	err := q.QueryRow(ctx, `
		SELECT etag, version_id, sequencer, last_modified FROM sync_runs
		WHERE source = $1 AND status = 'succeeded' ORDER BY id DESC LIMIT 1`, source).Scan(&etag, &version, &seq, &lm)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up last applied snapshot: %w", err)
	}
	id := &Identity{ETag: deref(etag), VersionID: deref(version), Sequencer: deref(seq)}
	if lm != nil {
		id.LastModified = *lm
	}
	return id, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// skipReason says why an object with identity id must not be applied after
// last (the newest applied snapshot of the same key), or "" to apply it.
func skipReason(id Identity, last *Identity) string {
	if last == nil || id.empty() {
		return ""
	}
	if id.Sequencer != "" && last.Sequencer != "" {
		switch c := compareSequencers(id.Sequencer, last.Sequencer); {
		case c < 0:
			return fmt.Sprintf("stale: event sequencer %s is older than the applied %s", id.Sequencer, last.Sequencer)
		case c == 0:
			return "duplicate event: sequencer " + id.Sequencer + " was already applied"
		}
	}
	if id.ETag != "" && unquote(id.ETag) == unquote(last.ETag) && id.VersionID == last.VersionID {
		return "identical to the last applied snapshot (same ETag and version)"
	}
	if id.Sequencer == "" && !id.LastModified.IsZero() && !last.LastModified.IsZero() && id.LastModified.Before(last.LastModified) {
		return fmt.Sprintf("stale: object last modified %s, before the applied %s",
			id.LastModified.UTC().Format(time.RFC3339), last.LastModified.UTC().Format(time.RFC3339))
	}
	return ""
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }

// compareSequencers orders two S3 event sequencers of one key: hex strings
// compared after left-padding the shorter with zeros.
func compareSequencers(a, b string) int {
	a, b = strings.ToUpper(a), strings.ToUpper(b)
	for len(a) < len(b) {
		a = "0" + a
	}
	for len(b) < len(a) {
		b = "0" + b
	}
	return strings.Compare(a, b)
}
