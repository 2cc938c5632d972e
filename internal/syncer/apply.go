package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Advisory lock keys, in namespace lockNamespace. Each entity has its own
// lock (entity.lock), held by the session for the whole sync (see Sync), so
// that syncs of one entity are serialized and the "last applied" check
// cannot race. The merge lock is taken inside the transaction after the
// slow streaming phase, so that the two entities' merges (which read and
// write each other's tables: links and totals) never interleave.
const (
	lockNamespace = 0x5053 // "PS"
	lockMerge     = 3
)

// lockEntity takes the entity's session lock, waiting at most timeout. The
// session holds it until unlock, or until it ends: a process that dies
// releases it with its connection.
func lockEntity(ctx context.Context, conn *pgxpool.Conn, key int32, timeout time.Duration) (unlock func(), err error) {
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d", max(timeout.Milliseconds(), 1))); err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", int32(lockNamespace), key)
	if _, rerr := conn.Exec(context.WithoutCancel(ctx), "RESET lock_timeout"); rerr != nil && err == nil {
		// The lock may be held by a session in an unknown state: end it.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if conn.Conn().IsClosed() {
			return // the session, and its lock, are gone
		}
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", int32(lockNamespace), key); err != nil {
			// Never return a connection holding the lock to the pool.
			_ = conn.Conn().Close(ctx)
		}
	}, nil
}

// apply runs one sync's transaction on conn, which holds the entity's lock:
// everything it writes, and the run's success, commit together or not at
// all.
func (s *Syncer) apply(ctx context.Context, conn *pgx.Conn, ent *entity, obj Object, res *Result, log *slog.Logger) error {
	// A first load is staged in the database, from which the tables are
	// built; every other sync is diffed here (see diff.go). Only syncs of
	// this entity, which wait for its lock, add or remove its rows, so the
	// answer holds until the commit.
	var firstLoad bool
	if err := conn.QueryRow(ctx, ent.isEmpty).Scan(&firstLoad); err != nil {
		return fmt.Errorf("inspect %s: %w", ent.name, err)
	}
	body, readID, err := obj.Open(ctx)
	if err != nil {
		if errors.Is(err, ErrRejected) {
			return err
		}
		return fmt.Errorf("open %s: %w", obj.Source, err)
	}
	defer body.Close()
	// What the read learned (an ETag, a version) may show that this is
	// what was last applied.
	res.Identity = mergeIdentity(obj.Identity, readID)
	last, err := lastApplied(ctx, conn, obj.Source)
	if err != nil {
		return err
	}
	if code, reason := skipReason(res.Identity, last); reason != "" {
		return &skipError{code, reason}
	}

	tracker := &readErrTracker{r: body}
	r, closeGz, err := snapshot.Decompress(tracker)
	if err != nil {
		if tracker.err != nil {
			return fmt.Errorf("read %s: %w", obj.Source, tracker.err)
		}
		return Rejectf(CodeMalformed, "%w", err)
	}
	defer closeGz()

	m := &merger{ent: ent, res: res, cfg: s.cfg, log: log, firstLoad: firstLoad}
	if !firstLoad {
		// Before the transaction: the export of the table takes a lock on
		// it that ends with the export, not with the transaction, which
		// may lock no table before the merge lock (see lockMerge).
		err = m.diffSnapshot(ctx, conn, r, tracker)
		defer m.diff.remove()
		res.BytesRead = tracker.n
		if err != nil {
			return err
		}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, s.sessionSettings(ctx)); err != nil {
		return fmt.Errorf("configure transaction: %w", err)
	}
	m.begin(tx)
	if firstLoad {
		err = m.stage(ctx, r, tracker)
		defer m.totals.remove()
		res.BytesRead = tracker.n
		if err != nil {
			return err
		}
	}
	if err := m.merge(ctx); err != nil {
		return err
	}
	if err := m.dropScratch(ctx); err != nil {
		return err
	}
	res.Status, res.Finished = StatusSucceeded, time.Now()
	if err := updateRun(ctx, tx, res); err != nil {
		return err
	}
	// Last before the commit, so that the row lock it takes (which orders
	// the commits of concurrent runs of the two entities) is held briefly.
	if res.Inserted+res.Updated+res.Deleted+res.Restored > 0 {
		if _, err := tx.Exec(ctx, "UPDATE sync_state SET last_applied_run = $1", res.ID); err != nil {
			return fmt.Errorf("record the applied run: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sessionSettings bounds the transaction by the context's deadline: the
// lock wait, and every statement, so that the server gives up by itself
// (on cancel pgx drops the connection, but the server would finish the
// running statement first). random_page_cost 1.1 (SSD storage, as on RDS,
// instead of the spinning-disk default 4) lets the planner reach the
// changed rows through their primary key instead of hashing every row of
// the table: at 30M payments, 450k updates took 26 s instead of 35 s and
// 150k soft deletes 5 s instead of 8.
func (s *Syncer) sessionSettings(ctx context.Context) string {
	settings := fmt.Sprintf("SET LOCAL work_mem = '%s'; SET LOCAL random_page_cost = 1.1; SET LOCAL lock_timeout = %d",
		sanitizeSetting(s.cfg.WorkMem), s.lockTimeout(ctx).Milliseconds())
	if dl, ok := ctx.Deadline(); ok {
		ms := max(time.Until(dl).Milliseconds(), 1)
		settings += fmt.Sprintf("; SET LOCAL statement_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d", ms, ms)
	}
	return settings
}

// readErrTracker counts the bytes read and remembers the first error of the
// underlying reader, so that a broken download (transient) is not mistaken
// for a malformed file (permanent).
type readErrTracker struct {
	r   io.Reader
	n   int64
	err error
}

func (t *readErrTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}
