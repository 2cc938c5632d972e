package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// merger holds one sync's transaction state.
type merger struct {
	tx   pgx.Tx
	ent  *entity
	res  *Result
	cfg  Config
	log  *slog.Logger
	dups *dupFilter

	diff *localDiff // the diff of a sync that is not a first load

	names  *strings.Replacer // the scratch tables' names (see begin)
	totals *firstTotals      // a payments first load's sums per patient, if made

	staged    int64                 // valid records: as read, then without repeats
	firstLoad bool                  // the target was empty
	built     bool                  // the target is being built anew, in <table>_build
	builds    map[string]tableShape // tables built anew, to swap in at the end
}

// Every staging table starts with these columns; the entity's own follow.
// ord is the record's index in the file, h the hash of its externalId (for
// the duplicate filter). Invalid records are staged too (valid = false)
// when they carry an externalId, so that they take part in "last
// occurrence wins". In the order the COPY sends them (see copyStream.fill).
var stagePrefix = []string{"ord", "h", "external_id", "valid"}

const stagePrefixDDL = `ord bigint NOT NULL, external_id text COLLATE "C" NOT NULL, h bigint NOT NULL, valid boolean NOT NULL`

// stage streams the snapshot into the staging table, {stage}. Nothing but
// the decoder's window and COPY's buffer is held in memory.
func (m *merger) stage(ctx context.Context, r io.Reader, tracker *readErrTracker) error {
	if _, err := m.tx.Exec(ctx, m.sql("CREATE UNLOGGED TABLE {stage} ("+stagePrefixDDL+", "+m.ent.stageDDL+")")); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	m.dups = newDupFilter()
	src := &copyStream{src: newRecordSource(r, m.ent, m.res, m.cfg.MaxInvalidRecords), dups: m.dups}
	if m.ent == &payments {
		// Sized for the patients that the payments name, mostly.
		n, err := estimateRows(ctx, m.tx, patients.table)
		if err != nil {
			return err
		}
		if m.totals, err = newFirstTotals(n); err != nil {
			return err
		}
		src.totals = m.totals
	}
	start := time.Now()
	columns := append(append([]string{}, stagePrefix...), m.ent.stageColumns...)
	copySQL := m.sql("COPY {stage} (" + strings.Join(columns, ", ") + ") FROM STDIN WITH (FORMAT binary)")
	_, err := m.tx.Conn().PgConn().CopyFrom(ctx, src, copySQL)
	m.res.Received = src.src.dec.Received()
	m.staged = src.src.valid
	m.log.Debug("sync step", "step", "copy into staging", "rows", m.res.Received, "bytes", src.src.dec.Offset(), "seconds", time.Since(start).Seconds())
	if src.err != nil {
		err = src.err // COPY reports it only as the server's message
	}
	return m.readEnded(tracker, "copy into staging", err)
}

// readEnded says how reading the snapshot ended, err being the reading
// step's error: a broken download is transient, a malformed file is
// rejected (permanent), and so is a snapshot with too many invalid records.
func (m *merger) readEnded(tracker *readErrTracker, step string, err error) error {
	switch {
	case tracker.err != nil:
		return fmt.Errorf("read snapshot: %w", tracker.err)
	case errors.Is(err, snapshot.ErrMalformed):
		return Rejectf(CodeMalformed, "%w", err)
	case err != nil:
		return fmt.Errorf("%s: %w", step, err)
	}
	return m.guardInvalid()
}

// guardInvalid rejects a snapshot with too large a share of invalid records.
func (m *merger) guardInvalid() error {
	share := m.cfg.MaxInvalidShare
	if m.res.Invalid > 0 && float64(m.res.Invalid) > share*float64(m.res.Received) {
		first := ""
		if len(m.res.InvalidRecords) > 0 {
			first = "; first: " + m.res.InvalidRecords[0].Error()
		}
		return Rejectf(CodeInvalidShare, "%d of %d records are invalid, more than the allowed %.4g%%%s",
			m.res.Invalid, m.res.Received, share*100, first)
	}
	return nil
}

// begin makes tx the merge's transaction.
//
// A first load reads and writes whole tables in scratch tables: {stage},
// the snapshot, and {totals}, the payments' totals per patient. They are
// UNLOGGED tables, not temporary ones: the database's parallel workers
// cannot read a session's temporary tables, and the builds read them in
// parallel (see createBuild). Created in the sync's transaction, they are
// visible to no other session and vanish with a rollback; dropScratch
// drops them before the commit. They are named for the session (backend
// pid), so that concurrent syncs do not wait on each other's catalog
// entries.
func (m *merger) begin(tx pgx.Tx) {
	m.tx = tx
	pid := tx.Conn().PgConn().PID()
	m.names = strings.NewReplacer("{stage}", fmt.Sprintf("sync_stage_%d", pid), "{totals}", fmt.Sprintf("sync_totals_%d", pid))
}

// sql names the scratch tables in a statement.
func (m *merger) sql(s string) string {
	return m.names.Replace(s)
}

// dropScratch drops a first load's scratch tables: last before the commit.
func (m *merger) dropScratch(ctx context.Context) error {
	if !m.firstLoad {
		return nil
	}
	_, err := m.exec(ctx, "drop scratch tables", "DROP TABLE IF EXISTS {stage}, {totals}")
	return err
}
