package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Advisory lock keys. Each entity has its own lock, held for the whole
// transaction, so that syncs of one entity are serialized and the
// "last applied" check cannot race. The merge lock is taken after the slow
// streaming phase, so that the two entities' merges (which read and write
// each other's tables: links and totals) never interleave.
const (
	lockNamespace = 0x5053 // "PS"
	lockPatients  = 1
	lockPayments  = 2
	lockMerge     = 3
)

func entityLock(e snapshot.Entity) int32 {
	if e == snapshot.Patients {
		return lockPatients
	}
	return lockPayments
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

func (s *Syncer) apply(ctx context.Context, conn *pgx.Conn, obj Object, run *Run) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	lockTimeout := s.cfg.LockTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < lockTimeout {
		lockTimeout = max(time.Until(dl), time.Millisecond)
	}
	settings := fmt.Sprintf("SET LOCAL work_mem = '%s'; SET LOCAL lock_timeout = %d",
		sanitizeSetting(s.cfg.WorkMem), lockTimeout.Milliseconds())
	if dl, ok := ctx.Deadline(); ok {
		// On cancel pgx drops the connection, but the server would finish the
		// running statement first; make it give up by itself at the deadline.
		ms := max(time.Until(dl).Milliseconds(), 1)
		settings += fmt.Sprintf("; SET LOCAL statement_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d", ms, ms)
	}
	if _, err := tx.Exec(ctx, settings); err != nil {
		return fmt.Errorf("configure transaction: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", int32(lockNamespace), entityLock(obj.Entity)); err != nil {
		return fmt.Errorf("wait for a concurrent %s sync: %w", obj.Entity, err)
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
	id := mergeIdentity(obj.Identity, readID)
	if reason := skipReason(id, last); reason != "" {
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

	m := merger{tx: tx, entity: obj.Entity, run: run, cfg: s.cfg, log: s.log}
	if err := m.stage(ctx, r, tracker); err != nil {
		return err
	}
	if err := m.merge(ctx); err != nil {
		return err
	}

	_, err = tx.Exec(ctx, `
		UPDATE sync_runs SET status = 'succeeded', finished = clock_timestamp(),
		       etag = nullif($2, ''), version_id = nullif($3, ''), sequencer = nullif($4, ''), last_modified = $5,
		       received = $6, inserted = $7, updated = $8, deleted = $9, restored = $10, unchanged = $11,
		       duplicates = $12, invalid = $13, invalid_records = $14
		WHERE id = $1`,
		run.ID, id.ETag, id.VersionID, id.Sequencer, nullTime(id.LastModified),
		run.Received, run.Inserted, run.Updated, run.Deleted, run.Restored, run.Unchanged,
		run.Duplicates, run.Invalid, problemsJSON(run.Problems))
	if err != nil {
		return fmt.Errorf("record sync run: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func mergeIdentity(event, read Identity) Identity {
	id := event
	if id.ETag == "" {
		id.ETag = read.ETag
	}
	if id.VersionID == "" {
		id.VersionID = read.VersionID
	}
	if id.LastModified.IsZero() {
		id.LastModified = read.LastModified
	}
	return id
}

// sanitizeSetting keeps a memory setting such as "256MB" from injecting SQL.
func sanitizeSetting(v string) string {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			out = append(out, c)
		}
	}
	return string(out)
}

// merger holds one sync's transaction state.
type merger struct {
	tx     pgx.Tx
	entity snapshot.Entity
	run    *Run
	cfg    Config
	log    *slog.Logger
	dups   *dupFilter
}

// copySource feeds decoded records to COPY. Invalid records go to staging
// too (valid = false) when they carry an externalId, so that their existing
// rows are neither updated nor deleted.
type copySource struct {
	dec      *snapshot.Decoder
	entity   snapshot.Entity
	run      *Run
	maxProbs int
	dups     *dupFilter
	rec      snapshot.Record
	vals     []any
	err      error
}

func (c *copySource) Next() bool {
	for {
		err := c.dec.Next(&c.rec)
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			c.err = err
			return false
		}
		if c.rec.Problem != nil {
			c.run.Invalid++
			if len(c.run.Problems) < c.maxProbs {
				c.run.Problems = append(c.run.Problems, *c.rec.Problem)
			}
			if c.rec.ExternalID == "" {
				continue
			}
		}
		c.dups.add(c.rec.ExternalID)
		return true
	}
}

func (c *copySource) Values() ([]any, error) {
	r := &c.rec
	valid := r.Problem == nil
	switch c.entity {
	case snapshot.Patients:
		c.vals = c.vals[:0]
		c.vals = append(c.vals, r.Index, r.ExternalID, valid)
		if !valid {
			return append(c.vals, nil, nil, nil, nil), nil
		}
		var middle any
		if r.HasMiddleName {
			middle = r.MiddleName
		}
		return append(c.vals, r.FirstName, r.LastName, middle, pgtype.Date{Time: r.DateOfBirth, Valid: true}), nil
	default:
		c.vals = c.vals[:0]
		c.vals = append(c.vals, r.Index, r.ExternalID, valid)
		if !valid {
			return append(c.vals, nil, nil), nil
		}
		return append(c.vals, r.AmountCents, r.PatientExternalID), nil
	}
}

func (c *copySource) Err() error { return c.err }

var stageColumns = map[snapshot.Entity][]string{
	snapshot.Patients: {"ord", "external_id", "valid", "first_name", "last_name", "middle_name", "date_of_birth"},
	snapshot.Payments: {"ord", "external_id", "valid", "amount_cents", "patient_external_id"},
}

// stage streams the snapshot into a temporary table. Nothing but the
// decoder's window and COPY's buffer is held in memory.
func (m *merger) stage(ctx context.Context, r io.Reader, tracker *readErrTracker) error {
	ddl := `CREATE TEMP TABLE stage (ord bigint NOT NULL, external_id text COLLATE "C" NOT NULL, valid boolean NOT NULL,
		first_name text, last_name text, middle_name text, date_of_birth date) ON COMMIT DROP`
	if m.entity == snapshot.Payments {
		ddl = `CREATE TEMP TABLE stage (ord bigint NOT NULL, external_id text COLLATE "C" NOT NULL, valid boolean NOT NULL,
			amount_cents bigint, patient_external_id text COLLATE "C") ON COMMIT DROP`
	}
	if _, err := m.tx.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	dec := snapshot.NewDecoder(r, m.entity)
	m.dups = newDupFilter()
	src := &copySource{dec: dec, entity: m.entity, run: m.run, maxProbs: m.cfg.MaxProblems, dups: m.dups}
	start := time.Now()
	_, err := m.tx.CopyFrom(ctx, pgx.Identifier{"stage"}, stageColumns[m.entity], src)
	m.run.Received = dec.Received()
	m.log.Debug("sync step", "step", "copy into staging", "rows", m.run.Received, "bytes", dec.Offset(), "seconds", time.Since(start).Seconds())
	if tracker.err != nil {
		return fmt.Errorf("read snapshot: %w", tracker.err)
	}
	if src.err != nil {
		err = src.err // COPY reports it only as the server's message
	}
	if errors.Is(err, snapshot.ErrMalformed) {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if err != nil {
		return fmt.Errorf("copy into staging: %w", err)
	}
	share := max(m.cfg.MaxInvalidShare, 0)
	if m.run.Invalid > 0 && float64(m.run.Invalid) > share*float64(m.run.Received) {
		first := ""
		if len(m.run.Problems) > 0 {
			first = "; first: " + m.run.Problems[0].Error()
		}
		return fmt.Errorf("%w: %d of %d records are invalid, more than the allowed %.4g%%%s",
			ErrRejected, m.run.Invalid, m.run.Received, share*100, first)
	}
	return nil
}
