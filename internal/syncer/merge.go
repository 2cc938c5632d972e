package syncer

import (
	"context"
	"fmt"
	"time"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// SQL per entity. The staging table "stage" holds the snapshot; "changes"
// holds only what differs from the target: action i(nsert), u(pdate),
// r(estore), d(elete). Everything else is left untouched, so unchanged rows
// get no new row version and keep their updated timestamp.
type entitySQL struct {
	table string
	// diff selects, from "stage s FULL JOIN <table> t", the rows of changes.
	diff string
	// insert reads from %s: the changes table, or on a first load the valid
	// staged rows directly; update and delete read changes.
	insert string
	update string
	delete string
}

var sqlFor = map[snapshot.Entity]entitySQL{
	snapshot.Patients: {
		table: "patients",
		diff: `
			SELECT s.ord, coalesce(s.external_id, t.external_id) AS external_id,
			       s.first_name, s.last_name, s.middle_name, s.date_of_birth, t.id AS target_id,
			       CASE WHEN t.id IS NULL THEN 'i' WHEN s.ord IS NULL THEN 'd'
			            WHEN t.deleted IS NOT NULL THEN 'r' ELSE 'u' END AS action
			FROM stage s FULL JOIN patients t ON t.external_id = s.external_id
			WHERE CASE WHEN t.id IS NULL THEN s.valid
			           WHEN s.ord IS NULL THEN t.deleted IS NULL
			           WHEN NOT s.valid THEN false
			           WHEN t.deleted IS NOT NULL THEN true
			           ELSE (t.first_name, t.last_name, t.middle_name, t.date_of_birth)
			                IS DISTINCT FROM (s.first_name, s.last_name, s.middle_name, s.date_of_birth) END`,
		insert: `
			INSERT INTO patients (external_id, first_name, last_name, middle_name, date_of_birth, created, updated)
			SELECT external_id, first_name, last_name, middle_name, date_of_birth, now(), now()
			FROM %s c WHERE action = 'i'`,
		update: `
			UPDATE patients t SET first_name = c.first_name, last_name = c.last_name, middle_name = c.middle_name,
			       date_of_birth = c.date_of_birth, updated = now(), deleted = NULL
			FROM changes c WHERE c.action IN ('u', 'r') AND t.id = c.target_id`,
		delete: `UPDATE patients t SET deleted = now() FROM changes c WHERE c.action = 'd' AND t.id = c.target_id`,
	},
	snapshot.Payments: {
		table: "payments",
		diff: `
			SELECT s.ord, coalesce(s.external_id, t.external_id) AS external_id,
			       s.amount_cents, s.patient_external_id, t.id AS target_id,
			       t.patient_external_id AS old_patient_external_id,
			       CASE WHEN t.id IS NULL THEN 'i' WHEN s.ord IS NULL THEN 'd'
			            WHEN t.deleted IS NOT NULL THEN 'r' ELSE 'u' END AS action
			FROM stage s FULL JOIN payments t ON t.external_id = s.external_id
			WHERE CASE WHEN t.id IS NULL THEN s.valid
			           WHEN s.ord IS NULL THEN t.deleted IS NULL
			           WHEN NOT s.valid THEN false
			           WHEN t.deleted IS NOT NULL THEN true
			           ELSE (t.amount, t.patient_external_id)
			                IS DISTINCT FROM (s.amount_cents * 0.01, s.patient_external_id) END`,
		// patient_id links to the patient with that external id, deleted or not.
		insert: `
			INSERT INTO payments (external_id, amount, patient_external_id, patient_id, created, updated)
			SELECT c.external_id, c.amount_cents * 0.01, c.patient_external_id, p.id, now(), now()
			FROM %s c LEFT JOIN patients p ON p.external_id = c.patient_external_id
			WHERE c.action = 'i'`,
		update: `
			UPDATE payments t SET amount = c.amount_cents * 0.01, patient_external_id = c.patient_external_id,
			       patient_id = c.patient_id, updated = now(), deleted = NULL
			FROM (SELECT c.*, p.id AS patient_id FROM changes c LEFT JOIN patients p ON p.external_id = c.patient_external_id
			      WHERE c.action IN ('u', 'r')) c
			WHERE t.id = c.target_id`,
		delete: `UPDATE payments t SET deleted = now() FROM changes c WHERE c.action = 'd' AND t.id = c.target_id`,
	},
}

func (m *merger) exec(ctx context.Context, what, sql string, args ...any) (int64, error) {
	start := time.Now()
	tag, err := m.tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	m.log.Debug("sync step", "step", what, "rows", tag.RowsAffected(), "seconds", time.Since(start).Seconds())
	return tag.RowsAffected(), nil
}

func (m *merger) merge(ctx context.Context) error {
	q := sqlFor[m.entity]
	var err error

	// Last occurrence wins: drop every earlier row of a repeated externalId.
	// Only the filter's candidates can repeat, unless it overflowed.
	switch {
	case m.dups.overflow:
		m.run.Duplicates, err = m.exec(ctx, "remove duplicates", `
			DELETE FROM stage s USING (
				SELECT external_id, max(ord) AS keep FROM stage GROUP BY external_id HAVING count(*) > 1) d
			WHERE s.external_id = d.external_id AND s.ord < d.keep`)
	case len(m.dups.candidates) > 0:
		m.run.Duplicates, err = m.exec(ctx, "remove duplicates among candidates", `
			DELETE FROM stage s USING (
				SELECT external_id, max(ord) AS keep FROM stage WHERE external_id = ANY($1::text[])
				GROUP BY external_id HAVING count(*) > 1) d
			WHERE s.external_id = d.external_id AND s.ord < d.keep`, m.dups.candidates)
	}
	m.dups = nil
	if err != nil {
		return err
	}
	// Autovacuum never analyzes temp tables; the join plans need the numbers.
	// A small sample is enough for row counts and join estimates.
	if _, err := m.exec(ctx, "analyze staging", "SET LOCAL default_statistics_target = 10; ANALYZE stage"); err != nil {
		return err
	}

	var targetEmpty bool
	if err := m.tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+q.table+")").Scan(&targetEmpty); err != nil {
		return fmt.Errorf("inspect %s: %w", q.table, err)
	}
	changes := "changes"
	if targetEmpty {
		// First load: every valid staged row is an insert; skip the diff.
		cols := "ord, external_id, first_name, last_name, middle_name, date_of_birth"
		if m.entity == snapshot.Payments {
			cols = "ord, external_id, amount_cents, patient_external_id"
		}
		changes = "(SELECT " + cols + ", 'i' AS action FROM stage WHERE valid)"
	} else {
		if _, err := m.exec(ctx, "diff snapshot", `CREATE TEMP TABLE changes ON COMMIT DROP AS `+q.diff); err != nil {
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
	if targetEmpty {
		ins = staged
	} else if err := m.tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE action = 'i'), count(*) FILTER (WHERE action = 'u'),
		       count(*) FILTER (WHERE action = 'r'), count(*) FILTER (WHERE action = 'd') FROM changes`,
	).Scan(&ins, &upd, &res, &del); err != nil {
		return fmt.Errorf("count changes: %w", err)
	}

	if err := m.guardDeletes(ctx, q.table, del); err != nil {
		return err
	}

	// From here on the two entities' merges must not interleave.
	if _, err := m.exec(ctx, "wait for a concurrent merge", "SELECT pg_advisory_xact_lock($1, $2)", int32(lockNamespace), int32(lockMerge)); err != nil {
		return err
	}
	if m.run.Inserted, err = m.exec(ctx, "insert new rows", fmt.Sprintf(q.insert, changes)); err != nil {
		return err
	}
	if upd+res > 0 {
		if _, err = m.exec(ctx, "update changed rows", q.update); err != nil {
			return err
		}
	}
	if del > 0 {
		if m.run.Deleted, err = m.exec(ctx, "soft-delete missing rows", q.delete); err != nil {
			return err
		}
	}
	m.run.Updated, m.run.Restored = upd, res
	m.run.Unchanged = staged - ins - upd - res

	if m.entity == snapshot.Patients {
		return m.afterPatients(ctx, changes)
	}
	return m.afterPayments(ctx, changes, targetEmpty)
}

// guardDeletes refuses a snapshot that would soft-delete too much at once:
// an empty or truncated export must not wipe the database.
func (m *merger) guardDeletes(ctx context.Context, table string, del int64) error {
	if m.cfg.AllowMassDelete || del == 0 || del < max(m.cfg.MinDeletes, 0) {
		return nil
	}
	var live int64
	if err := m.tx.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE deleted IS NULL").Scan(&live); err != nil {
		return fmt.Errorf("count live %s: %w", table, err)
	}
	share := max(m.cfg.MaxDeleteShare, 0)
	if float64(del) > share*float64(live) {
		return fmt.Errorf("%w: mass-deletion guard: the snapshot would delete %d of %d live %s (more than %.4g%%); "+
			"set SYNC_ALLOW_MASS_DELETE=true (or -allow-mass-delete) to apply it anyway",
			ErrRejected, del, live, table, share*100)
	}
	return nil
}

// afterPatients links payments that were waiting for a newly inserted
// patient and gives those patients their totals.
func (m *merger) afterPatients(ctx context.Context, changes string) error {
	if m.run.Inserted == 0 {
		return nil
	}
	if _, err := m.exec(ctx, "link waiting payments", `
		UPDATE payments p SET patient_id = t.id
		FROM `+changes+` c JOIN patients t ON t.external_id = c.external_id
		WHERE c.action = 'i' AND p.patient_external_id = c.external_id AND p.patient_id IS NULL`); err != nil {
		return err
	}
	_, err := m.exec(ctx, "total payments of new patients", `
		UPDATE patients t SET payments_total = a.total, payments_count = a.cnt
		FROM (SELECT p.patient_external_id, sum(p.amount) AS total, count(*) AS cnt
		      FROM `+changes+` c JOIN payments p ON p.patient_external_id = c.external_id
		      WHERE c.action = 'i' AND p.deleted IS NULL
		      GROUP BY p.patient_external_id) a
		WHERE t.external_id = a.patient_external_id`)
	return err
}

// afterPayments recomputes the totals of every patient whose payments
// changed: the new and the old patient of each inserted, updated, restored
// or deleted payment. Recomputing (rather than adding deltas) keeps totals
// exactly equal to the sum of live payments whatever happened before.
func (m *merger) afterPayments(ctx context.Context, changes string, firstLoad bool) error {
	if firstLoad {
		// Every live payment is in staging: total it there, in integer cents.
		_, err := m.exec(ctx, "total payments of first load", `
			UPDATE patients t SET payments_total = a.cents * 0.01, payments_count = a.cnt
			FROM (SELECT patient_external_id, sum(amount_cents) AS cents, count(*) AS cnt
			      FROM stage WHERE valid GROUP BY patient_external_id) a
			WHERE t.external_id = a.patient_external_id`)
		return err
	}
	affected := `SELECT patient_external_id AS pext FROM changes WHERE action <> 'd'
	             UNION SELECT old_patient_external_id FROM changes WHERE action <> 'i'`
	_, err := m.exec(ctx, "recompute payment totals", `
		UPDATE patients t SET payments_total = a.total, payments_count = a.cnt
		FROM (SELECT x.pext, coalesce(sum(p.amount), 0) AS total, count(p.id) AS cnt
		      FROM (`+affected+`) x
		      LEFT JOIN payments p ON p.patient_external_id = x.pext AND p.deleted IS NULL
		      GROUP BY x.pext) a
		WHERE t.external_id = a.pext
		  AND (t.payments_total, t.payments_count) IS DISTINCT FROM (a.total, a.cnt)`)
	return err
}
