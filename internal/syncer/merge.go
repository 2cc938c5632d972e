package syncer

import (
	"context"
	"fmt"
	"time"
)

func (m *merger) exec(ctx context.Context, what, sql string, args ...any) (int64, error) {
	start := time.Now()
	tag, err := m.tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	m.log.Debug("sync step", "step", what, "rows", tag.RowsAffected(), "seconds", time.Since(start).Seconds())
	return tag.RowsAffected(), nil
}

// merge writes what differs between stage and the target table.
func (m *merger) merge(ctx context.Context) error {
	if err := m.dedupe(ctx); err != nil {
		return err
	}
	// Autovacuum never analyzes temp tables; the join plans need the numbers.
	// A small sample is enough for row counts and join estimates.
	if _, err := m.exec(ctx, "analyze staging", "SET LOCAL default_statistics_target = 10; ANALYZE stage"); err != nil {
		return err
	}

	var firstLoad bool
	if err := m.tx.QueryRow(ctx, m.ent.isEmpty).Scan(&firstLoad); err != nil {
		return fmt.Errorf("inspect %s: %w", m.ent.name, err)
	}
	if !firstLoad {
		if _, err := m.exec(ctx, "diff snapshot", "CREATE TEMP TABLE changes ON COMMIT DROP AS "+m.ent.diff); err != nil {
			return err
		}
		// Usually small: with statistics the planner applies it through
		// index lookups instead of scanning the target again.
		if _, err := m.exec(ctx, "analyze changes", "ANALYZE changes"); err != nil {
			return err
		}
	}

	var staged int64
	if err := m.tx.QueryRow(ctx, "SELECT count(*) FILTER (WHERE valid) FROM stage").Scan(&staged); err != nil {
		return fmt.Errorf("count staged rows: %w", err)
	}
	var ins, upd, res, del int64
	if firstLoad {
		ins = staged
	} else if err := m.tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE action = 'i'), count(*) FILTER (WHERE action = 'u'),
		       count(*) FILTER (WHERE action = 'r'), count(*) FILTER (WHERE action = 'd') FROM changes`,
	).Scan(&ins, &upd, &res, &del); err != nil {
		return fmt.Errorf("count changes: %w", err)
	}

	if err := m.guardDeletes(ctx, del); err != nil {
		return err
	}

	// From here on the two entities' merges must not interleave.
	if _, err := m.exec(ctx, "wait for a concurrent merge", "SELECT pg_advisory_xact_lock($1, $2)", int32(lockNamespace), int32(lockMerge)); err != nil {
		return err
	}
	var err error
	insert, after := m.ent.insert, m.ent.after
	if firstLoad {
		insert, after = m.ent.firstLoad, m.ent.afterFirstLoad
	}
	if m.res.Inserted, err = m.exec(ctx, "insert new rows", insert); err != nil {
		return err
	}
	if upd+res > 0 {
		if _, err = m.exec(ctx, "update changed rows", m.ent.update); err != nil {
			return err
		}
	}
	if del > 0 {
		if m.res.Deleted, err = m.exec(ctx, "soft-delete missing rows", m.ent.delete); err != nil {
			return err
		}
	}
	m.res.Updated, m.res.Restored = upd, res
	m.res.Unchanged = staged - ins - upd - res

	for _, st := range after {
		if st.ifInserted && m.res.Inserted == 0 {
			continue
		}
		if _, err := m.exec(ctx, st.name, st.sql); err != nil {
			return err
		}
	}
	return nil
}

// dedupe applies "last occurrence wins": every earlier staged row of a
// repeated externalId is dropped. Only the filter's candidates can repeat,
// unless it overflowed.
func (m *merger) dedupe(ctx context.Context) error {
	var err error
	switch {
	case m.dups.overflow:
		m.res.Duplicates, err = m.exec(ctx, "remove duplicates", `
			DELETE FROM stage s USING (
				SELECT external_id, max(ord) AS keep FROM stage GROUP BY external_id HAVING count(*) > 1) d
			WHERE s.external_id = d.external_id AND s.ord < d.keep`)
	case len(m.dups.candidates) > 0:
		m.res.Duplicates, err = m.exec(ctx, "remove duplicates among candidates", `
			DELETE FROM stage s USING (
				SELECT external_id, max(ord) AS keep FROM stage WHERE external_id = ANY($1::text[])
				GROUP BY external_id HAVING count(*) > 1) d
			WHERE s.external_id = d.external_id AND s.ord < d.keep`, m.dups.candidates)
	}
	m.dups = nil
	return err
}

// guardDeletes refuses a snapshot that would soft-delete too much at once:
// an empty or truncated export must not wipe the database.
func (m *merger) guardDeletes(ctx context.Context, del int64) error {
	if m.cfg.AllowMassDelete || del == 0 || del < m.cfg.MinDeletes {
		return nil
	}
	var live int64
	if err := m.tx.QueryRow(ctx, m.ent.countLive).Scan(&live); err != nil {
		return fmt.Errorf("count live %s: %w", m.ent.name, err)
	}
	share := m.cfg.MaxDeleteShare
	if float64(del) > share*float64(live) {
		return fmt.Errorf("%w: mass-deletion guard: the snapshot would delete %d of %d live %s (more than %.4g%%); "+
			"set SYNC_ALLOW_MASS_DELETE=true (or -allow-mass-delete) to apply it anyway",
			ErrRejected, del, live, m.ent.name, share*100)
	}
	return nil
}
