package syncer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patientsync/patientsync/internal/snapshot"
)

var payments = entity{
	name:  snapshot.Payments,
	table: "payments",
	lock:  2,

	// Amounts are staged as the target's exact numeric, encoded from
	// integer cents (never a float).
	stageDDL:     `amount numeric(14,2), patient_external_id text COLLATE "C"`,
	stageColumns: []string{"amount", "patient_external_id"},
	encode: func(b []byte, r *snapshot.Record) []byte {
		b = appendNumeric(b, r.AmountCents)
		return appendText(b, r.PatientExternalID)
	},

	isEmpty:   `SELECT NOT EXISTS (SELECT 1 FROM payments)`,
	countLive: `SELECT count(*) FROM payments WHERE deleted IS NULL`,

	export: `COPY (SELECT id, external_id, deleted IS NOT NULL, amount, patient_external_id FROM payments) TO STDOUT (FORMAT binary)`,
	changesDDL: `ord bigint, external_id text COLLATE "C" NOT NULL, target_id bigint, action text NOT NULL,
		amount numeric(14,2), patient_external_id text COLLATE "C",
		old_amount numeric(14,2), old_patient_external_id text COLLATE "C"`,
	changesOld: true,

	// Row by row. patient_id links to the patient with that external id,
	// deleted or not. New payments go in in patient external id order: the
	// patient lookups and the entries of the payments' patient index then
	// follow the indexes' order (150k new payments into 30M: 3.1 s instead
	// of 4.5-5.5 s).
	insert: `
		INSERT INTO payments (external_id, amount, patient_external_id, patient_id, created, updated)
		SELECT c.external_id, c.amount, c.patient_external_id, p.id, now(), now()
		FROM changes c LEFT JOIN patients p ON p.external_id = c.patient_external_id
		WHERE c.action = 'i' ORDER BY c.patient_external_id`,
	// A change that keeps its patient keeps its link; only the others look
	// their patient up (half of the updates of a typical drift, each a
	// random probe of the patients' external id index).
	update: `
		UPDATE payments t SET amount = c.amount, patient_external_id = c.patient_external_id,
		       patient_id = CASE WHEN c.patient_external_id = t.patient_external_id THEN t.patient_id
		                         ELSE (SELECT p.id FROM patients p WHERE p.external_id = c.patient_external_id) END,
		       updated = now(), deleted = NULL
		FROM changes c
		WHERE c.action IN ('u', 'r') AND t.id = c.target_id`,
	delete: `UPDATE payments t SET deleted = now() FROM changes c WHERE c.action = 'd' AND t.id = c.target_id`,
	firstLoad: `
		INSERT INTO payments (external_id, amount, patient_external_id, patient_id, created, updated)
		SELECT s.external_id, s.amount, s.patient_external_id, p.id, now(), now()
		FROM {stage} s LEFT JOIN patients p ON p.external_id = s.patient_external_id
		WHERE s.valid`,

	// Built anew ($1 is the first free id: a new row's id is $1 + its
	// record index).
	build: `
		SELECT t.id, t.external_id,
		       CASE WHEN c.action IN ('u', 'r') THEN c.amount ELSE t.amount END,
		       CASE WHEN c.action IN ('u', 'r') THEN c.patient_external_id ELSE t.patient_external_id END,
		       CASE WHEN c.action IN ('u', 'r') THEN p.id ELSE t.patient_id END,
		       t.created,
		       CASE WHEN c.action IN ('u', 'r') THEN now() ELSE t.updated END,
		       CASE WHEN c.action = 'd' THEN now() WHEN c.action IN ('u', 'r') THEN NULL ELSE t.deleted END
		FROM payments t LEFT JOIN changes c ON c.target_id = t.id
		LEFT JOIN patients p ON c.action IN ('u', 'r') AND p.external_id = c.patient_external_id
		UNION ALL
		SELECT $1 + c.ord, c.external_id, c.amount, c.patient_external_id, p.id, now(), now(), NULL
		FROM changes c LEFT JOIN patients p ON p.external_id = c.patient_external_id
		WHERE c.action = 'i'`,
	buildFirst: `
		SELECT $1 + s.ord, s.external_id, s.amount, s.patient_external_id, p.id, now(), now(), NULL
		FROM {stage} s LEFT JOIN patients p ON p.external_id = s.patient_external_id
		WHERE s.valid`,

	after: paymentsAfter,
}

// Totals equal the sum and count of each patient's live payments (see
// checkInvariants in the tests).
const (
	// What each sync's changes move each patient's totals by: a change
	// moves its new patient's totals by its new amount and its old
	// patient's by minus its old one (an insert or a restore has no old
	// live row, a delete no new one); patients whose totals do not move are
	// left out. Every sync keeps the totals equal to the sums of live
	// payments, so adding what changed keeps them so without reading each
	// patient's payments again (a 30M-row aggregate at 10M patients). In
	// external id order, so that the row-by-row adjustment walks the
	// patients' external id index in its order.
	totalDeltas = `
		CREATE TEMP TABLE deltas ON COMMIT DROP AS
		SELECT pext, sum(amount) AS total, sum(n) AS cnt
		FROM (SELECT patient_external_id AS pext, amount, 1 AS n FROM changes WHERE action IN ('i', 'u', 'r')
		      UNION ALL
		      SELECT old_patient_external_id, -old_amount, -1 FROM changes WHERE action IN ('u', 'd')) x
		GROUP BY pext HAVING sum(amount) <> 0 OR sum(n) <> 0
		ORDER BY pext`
	adjustTotals = `
		UPDATE patients t SET payments_total = t.payments_total + d.total, payments_count = t.payments_count + d.cnt
		FROM deltas d WHERE t.external_id = d.pext`
	buildAdjustedTotals = `
		SELECT t.id, t.external_id, t.first_name, t.last_name, t.middle_name, t.date_of_birth,
		       t.payments_total + coalesce(d.total, 0), t.payments_count + coalesce(d.cnt, 0),
		       t.created, t.updated, t.deleted
		FROM patients t LEFT JOIN deltas d ON d.pext = t.external_id`
	// A first load's totals per patient external id, in the scratch table
	// {totals} (see merger.begin): summed by this process as the records
	// stream in (firstTotals), or else from the staging table.
	totalsDDL  = `CREATE UNLOGGED TABLE {totals} (patient_external_id text COLLATE "C", total numeric, cnt bigint)`
	totalsInDB = `
		CREATE UNLOGGED TABLE {totals} AS
		SELECT patient_external_id, sum(amount) AS total, count(*) AS cnt
		FROM {stage} WHERE valid GROUP BY patient_external_id`
	// Row by row, or into a new patients table, built in id order (as their
	// first load laid them out: see patients.buildFirst).
	totalFirstLoad = `
		UPDATE patients t SET payments_total = a.total, payments_count = a.cnt
		FROM {totals} a WHERE t.external_id = a.patient_external_id`
	buildTotals = `
		SELECT t.id, t.external_id, t.first_name, t.last_name, t.middle_name, t.date_of_birth,
		       coalesce(a.total, 0), coalesce(a.cnt, 0), t.created, t.updated, t.deleted
		FROM patients t LEFT JOIN {totals} a ON a.patient_external_id = t.external_id
		ORDER BY t.id`
)

func paymentsAfter(ctx context.Context, m *merger) error {
	switch {
	case m.firstLoad:
		if err := m.firstLoadTotals(ctx); err != nil {
			return err
		}
		if m.built {
			return m.build(ctx, "patients", buildTotals)
		}
		_, err := m.exec(ctx, "total payments of first load", totalFirstLoad)
		return err
	}
	n, err := m.exec(ctx, "total deltas", totalDeltas)
	if err != nil || n == 0 {
		return err
	}
	bulk, err := m.bulk(ctx, "patients", n)
	if err != nil {
		return err
	}
	if bulk {
		return m.build(ctx, "patients", buildAdjustedTotals)
	}
	_, err = m.exec(ctx, "adjust payment totals", adjustTotals)
	return err
}

// firstLoadTotals fills {totals}: from the sums this process made while
// staging, or, when it has none (see firstTotals), in the database. In a
// savepoint, which a failed attempt at the former rolls back.
func (m *merger) firstLoadTotals(ctx context.Context) error {
	if m.totals != nil {
		err := m.copyTotals(ctx)
		if !errors.Is(err, errTotalsInDB) {
			return err
		}
		m.log.Debug("sync step", "step", "total payments in the database", "reason", err.Error())
	}
	// Analyzed, or the planner joins the totals in one process.
	return m.execAll(ctx, step{"total payments", totalsInDB}, step{"analyze totals", "ANALYZE {totals}"})
}

// copyTotals copies this process's sums into {totals}.
func (m *merger) copyTotals(ctx context.Context) error {
	sp, err := m.tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("total payments: %w", err)
	}
	defer func() { _ = sp.Rollback(ctx) }() // after a commit, a no-op
	if _, err := sp.Exec(ctx, m.sql(totalsDDL)); err != nil {
		return fmt.Errorf("total payments: %w", err)
	}
	start := time.Now()
	tag, err, serr := copyFromWriter(ctx, sp.Conn().PgConn(), m.sql("COPY {totals} FROM STDIN (FORMAT binary)"), m.totals.copyTo)
	if errors.Is(serr, errTotalsInDB) {
		return serr
	}
	if err != nil {
		return fmt.Errorf("total payments: %w", err)
	}
	m.log.Debug("sync step", "step", "copy totals", "rows", tag.RowsAffected(), "seconds", time.Since(start).Seconds())
	if _, err := sp.Exec(ctx, m.sql("ANALYZE {totals}")); err != nil {
		return fmt.Errorf("analyze totals: %w", err)
	}
	return sp.Commit(ctx)
}
