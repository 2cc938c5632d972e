package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Advisory lock keys, in namespace lockNamespace. Each entity has its own
// lock (entity.lock), held for the whole transaction, so that syncs of one
// entity are serialized and the "last applied" check cannot race. The merge
// lock is taken after the slow streaming phase, so that the two entities'
// merges (which read and write each other's tables: links and totals) never
// interleave.
const (
	lockNamespace = 0x5053 // "PS"
	lockMerge     = 3
)

// apply runs one sync's transaction on conn: everything it writes, and the
// run's success, commit together or not at all.
func (s *Syncer) apply(ctx context.Context, conn *pgx.Conn, ent *entity, obj Object, res *Result, log *slog.Logger) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if _, err := tx.Exec(ctx, s.sessionSettings(ctx)); err != nil {
		return fmt.Errorf("configure transaction: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", int32(lockNamespace), ent.lock); err != nil {
		return fmt.Errorf("wait for a concurrent %s sync: %w", ent.name, err)
	}

	// Under the lock the answer is final: a concurrent delivery of the same
	// event may have finished while this one waited.
	last, err := lastApplied(ctx, tx, obj.Source)
	if err != nil {
		return err
	}
	if reason := skipReason(obj.Identity, last); reason != "" {
		return &skipError{reason}
	}

	body, readID, err := obj.Open(ctx)
	if err != nil {
		if errors.Is(err, ErrRejected) {
			return err
		}
		return fmt.Errorf("open %s: %w", obj.Source, err)
	}
	defer body.Close()
	res.Identity = mergeIdentity(obj.Identity, readID)
	if reason := skipReason(res.Identity, last); reason != "" {
		return &skipError{reason}
	}

	tracker := &readErrTracker{r: body}
	r, closeGz, err := snapshot.Decompress(tracker)
	if err != nil {
		if tracker.err != nil {
			return fmt.Errorf("read %s: %w", obj.Source, tracker.err)
		}
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	defer closeGz()

	m := &merger{tx: tx, ent: ent, res: res, cfg: s.cfg, log: log}
	if err := m.stage(ctx, r, tracker); err != nil {
		return err
	}
	if err := m.merge(ctx); err != nil {
		return err
	}
	res.Status = StatusSucceeded
	if err := updateRun(ctx, tx, res); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sessionSettings bounds the transaction by the context's deadline: the
// lock wait, and every statement, so that the server gives up by itself
// (on cancel pgx drops the connection, but the server would finish the
// running statement first).
func (s *Syncer) sessionSettings(ctx context.Context) string {
	lockTimeout := s.cfg.LockTimeout
	dl, hasDeadline := ctx.Deadline()
	if hasDeadline && time.Until(dl) < lockTimeout {
		lockTimeout = max(time.Until(dl), time.Millisecond)
	}
	settings := fmt.Sprintf("SET LOCAL work_mem = '%s'; SET LOCAL lock_timeout = %d",
		sanitizeSetting(s.cfg.WorkMem), lockTimeout.Milliseconds())
	if hasDeadline {
		ms := max(time.Until(dl).Milliseconds(), 1)
		settings += fmt.Sprintf("; SET LOCAL statement_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d", ms, ms)
	}
	return settings
}

// readErrTracker remembers the first error of the underlying reader, so that
// a broken download (transient) is not mistaken for a malformed file (permanent).
type readErrTracker struct {
	r   io.Reader
	err error
}

func (t *readErrTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}
