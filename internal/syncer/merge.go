package syncer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

func (m *merger) exec(ctx context.Context, what, sql string, args ...any) (int64, error) {
	start := time.Now()
	tag, err := m.tx.Exec(ctx, m.sql(sql), args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	m.log.Debug("sync step", "step", what, "rows", tag.RowsAffected(), "seconds", time.Since(start).Seconds())
	return tag.RowsAffected(), nil
}

// execAll runs steps in order.
func (m *merger) execAll(ctx context.Context, steps ...step) error {
	for _, st := range steps {
		if _, err := m.exec(ctx, st.name, st.sql); err != nil {
			return err
		}
	}
	return nil
}

// merge writes what differs between stage and the target table: row by
// row, or by building the table anew when the sync writes a large share of
// it (see bulk.go).
func (m *merger) merge(ctx context.Context) error {
	if err := m.lockMerge(ctx); err != nil {
		return err
	}
	if identical, err := m.identical(ctx); err != nil || identical {
		return err
	}
	if m.firstLoad {
		if err := m.dedupe(ctx); err != nil {
			return err
		}
		// Autovacuum never analyzes the staging table (no other session
		// sees it); the join plans need the numbers. A small sample is
		// enough for row counts and join estimates.
		if _, err := m.exec(ctx, "analyze staging", "SET LOCAL default_statistics_target = 10; ANALYZE {stage}"); err != nil {
			return err
		}
		m.res.Inserted = m.staged
	} else if err := m.diffChanges(ctx); err != nil {
		return err
	}
	ins, upd, res, del := m.res.Inserted, m.res.Updated, m.res.Restored, m.res.Deleted
	m.res.Unchanged = m.staged - ins - upd - res
	if err := m.guardDeletes(ctx); err != nil {
		return err
	}

	bulk, err := m.bulk(ctx, m.ent.table, ins+upd+res+del)
	if err != nil {
		return err
	}
	switch {
	case bulk && m.firstLoad:
		err = m.build(ctx, m.ent.table, m.ent.buildFirst)
	case bulk:
		err = m.build(ctx, m.ent.table, m.ent.build)
	default:
		err = m.applyRows(ctx, upd+res, del)
	}
	if err != nil {
		return err
	}
	m.built = bulk
	if err := m.ent.after(ctx, m); err != nil {
		return err
	}
	return m.swapBuilt(ctx)
}

// lockMerge takes the merge lock: from then on the two entities' merges
// must not interleave. They read and write each other's tables
// (links and totals), and a rebuild swaps a table, which must not wait for
// a reader that waits for this lock: a sync touches neither table before
// (its transaction would hold a lock on it until the end). The staging or
// partitioning of the snapshot before runs in parallel.
func (m *merger) lockMerge(ctx context.Context) error {
	_, err := m.exec(ctx, "wait for a concurrent merge", "SELECT pg_advisory_xact_lock($1, $2)", int32(lockNamespace), int32(lockMerge))
	return err
}

// identical reports whether the snapshot says what the last one applied to
// its entity said (any source: each is the entity's whole state), and then
// records it as changing nothing: the tables are that snapshot's result,
// and only syncs of the entity write its columns. Repeated ids make the
// order matter, and are diffed. It runs before the duplicates are looked
// for: the same records as a snapshot without repeated ids repeat none.
func (m *merger) identical(ctx context.Context) (bool, error) {
	if !m.cfg.SkipIdentical {
		return false, nil
	}
	var last *string
	var lastDups int64
	err := m.tx.QueryRow(ctx, `
		SELECT content_hash, duplicates FROM sync_runs WHERE entity = $1 AND status = 'succeeded' ORDER BY id DESC LIMIT 1`,
		string(m.ent.name)).Scan(&last, &lastDups)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && (last == nil || *last != m.res.ContentHash || lastDups > 0) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up the last applied snapshot: %w", err)
	}
	m.res.Identical = true
	m.res.Unchanged = m.res.Received - m.res.Invalid
	m.log.Debug("sync step", "step", "identical to the last applied snapshot: nothing to diff")
	return true, nil
}

// applyRows writes the changes row by row.
func (m *merger) applyRows(ctx context.Context, updates, deletes int64) error {
	insert := m.ent.insert
	if m.firstLoad {
		insert = m.ent.firstLoad
	}
	if _, err := m.exec(ctx, "insert new rows", insert); err != nil {
		return err
	}
	if updates > 0 {
		if _, err := m.exec(ctx, "update changed rows", m.ent.update); err != nil {
			return err
		}
	}
	if deletes > 0 {
		if _, err := m.exec(ctx, "soft-delete missing rows", m.ent.delete); err != nil {
			return err
		}
	}
	return nil
}

// bulk says whether writing n rows of table is better done by building the
// table anew: when n is at least BulkMinRows and BulkShare of its rows.
func (m *merger) bulk(ctx context.Context, table string, n int64) (bool, error) {
	if n == 0 || n < m.cfg.BulkMinRows {
		return false, nil
	}
	// The planner's estimate is enough for a threshold, and costs nothing;
	// a table never analyzed (-1) is counted.
	rows, err := estimateRows(ctx, m.tx, table)
	if err != nil {
		return false, err
	}
	if rows < 0 {
		if err := m.tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
			return false, fmt.Errorf("count %s: %w", table, err)
		}
	}
	return float64(n) >= m.cfg.BulkShare*float64(rows), nil
}

// estimateRows is the planner's estimate of table's rows: -1 for a table
// never analyzed.
func estimateRows(ctx context.Context, q queryRower, table string) (int64, error) {
	var rows int64
	if err := q.QueryRow(ctx, "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass", table).Scan(&rows); err != nil {
		return 0, fmt.Errorf("estimate %s's size: %w", table, err)
	}
	return rows, nil
}

// build fills <table>_build with fill (a query of the table's columns, in
// order: see createBuild), and indexes it; swapBuilt puts it
// in place at the end. When table is the entity's own, fill's $1 is the
// first free id, for its new rows.
func (m *merger) build(ctx context.Context, table, fill string) error {
	sh, err := readShape(ctx, m.tx, table)
	if err != nil {
		return err
	}
	// The build's statements read and write whole tables: parallel workers
	// pay for themselves, whatever the planner's default costs of starting
	// them and of passing rows to the leader say (with those, it keeps
	// every build's query in one process).
	settings := fmt.Sprintf("SET LOCAL maintenance_work_mem = '%s'; SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0",
		sanitizeSetting(m.cfg.MaintenanceWorkMem))
	if _, err := m.exec(ctx, "build settings", settings); err != nil {
		return err
	}
	var args []any
	if table == m.ent.table {
		args = append(args, sh.nextID)
	}
	if err := createBuild(ctx, m, table, sh, fill, args...); err != nil {
		return err
	}
	if table == m.ent.table {
		// New rows took ids below nextID + the records received (their record
		// index, or their rank in a first load of patients).
		sh.nextID += m.res.Received
	}
	if err := indexBuild(ctx, m, table, sh); err != nil {
		return err
	}
	if m.builds == nil {
		m.builds = map[string]tableShape{}
	}
	m.builds[table] = sh
	return nil
}

// swapBuilt swaps in the tables built, payments first (see swap).
func (m *merger) swapBuilt(ctx context.Context) error {
	for _, table := range []string{payments.table, patients.table} {
		if sh, ok := m.builds[table]; ok {
			start := time.Now()
			if err := swap(ctx, m, table, sh); err != nil {
				return err
			}
			m.log.Debug("sync step", "step", "swap in "+table, "seconds", time.Since(start).Seconds())
		}
	}
	return nil
}

// dedupe applies "last occurrence wins": every earlier staged row of a
// repeated externalId is dropped. Only the rows whose hash is a
// candidate's can repeat, unless the filter overflowed.
func (m *merger) dedupe(ctx context.Context) error {
	var del string
	var args []any
	switch {
	case m.dups.overflow:
		del = `
			d AS (DELETE FROM {stage} s USING (
			        SELECT external_id, max(ord) AS keep FROM {stage} GROUP BY external_id HAVING count(*) > 1) k
			      WHERE s.external_id = k.external_id AND s.ord < k.keep RETURNING s.valid)`
	case len(m.dups.candidates) > 0:
		// One scan of the staging table: the candidates' rows are collected
		// once, and the earlier occurrences are deleted by their ctid (a
		// second scan cost 0.2 s at 3M rows, seconds at 30M). The ctids go
		// in as an array, which makes it a TID scan whatever the planner
		// guesses of the candidates (as a join, it hashed all 30M staged
		// rows: 19 s).
		del = `
			c AS MATERIALIZED (SELECT ctid AS row, external_id, ord FROM {stage} WHERE h = ANY($1::bigint[])),
			k AS (SELECT external_id, max(ord) AS keep FROM c GROUP BY external_id HAVING count(*) > 1),
			d AS (DELETE FROM {stage} WHERE ctid = ANY (ARRAY(
			        SELECT c.row FROM c JOIN k ON k.external_id = c.external_id WHERE c.ord < k.keep))
			      RETURNING valid)`
		args = append(args, m.dups.candidates)
	}
	m.dups = nil
	if del == "" {
		return nil
	}
	// The rows dropped, and how many of them were valid: the count of valid
	// staged rows stays known without reading the staging table again.
	start := time.Now()
	var validDropped int64
	err := m.tx.QueryRow(ctx, m.sql("WITH "+del+" SELECT count(*), count(*) FILTER (WHERE valid) FROM d"), args...).
		Scan(&m.res.Duplicates, &validDropped)
	if err != nil {
		return fmt.Errorf("remove duplicates: %w", err)
	}
	m.staged -= validDropped
	if validDropped > 0 {
		// The sums counted every valid record (see firstTotals).
		m.totals.remove()
		m.totals = nil
	}
	m.log.Debug("sync step", "step", "remove duplicates", "rows", m.res.Duplicates, "seconds", time.Since(start).Seconds())
	return nil
}

// guardDeletes refuses a snapshot that would soft-delete too much at once:
// an empty or truncated export must not wipe the database.
func (m *merger) guardDeletes(ctx context.Context) error {
	del := m.res.Deleted
	if m.cfg.AllowMassDelete || del == 0 || del < m.cfg.MinDeletes {
		return nil
	}
	share := m.cfg.MaxDeleteShare
	// The rows the diff met live (kept, updated or deleted) are at most
	// the live rows: when the deletes are within the share of those, the
	// live rows need no count (a scan of the whole table).
	if float64(del) <= share*float64(m.res.Unchanged+m.res.Updated+del) {
		return nil
	}
	var live int64
	if err := m.tx.QueryRow(ctx, m.ent.countLive).Scan(&live); err != nil {
		return fmt.Errorf("count live %s: %w", m.ent.name, err)
	}
	if float64(del) > share*float64(live) {
		return Rejectf(CodeMassDelete, "mass-deletion guard: the snapshot would delete %d of %d live %s (more than %.4g%%); %s",
			del, live, m.ent.name, share*100, m.cfg.MassDeleteHint)
	}
	return nil
}
