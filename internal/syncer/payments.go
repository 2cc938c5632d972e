package syncer

import (
	"github.com/patientsync/patientsync/internal/snapshot"
)

var payments = entity{
	name: snapshot.Payments,
	lock: 2,

	// Amounts are staged as exact integer cents.
	stageDDL:     `amount_cents bigint, patient_external_id text COLLATE "C"`,
	stageColumns: []string{"amount_cents", "patient_external_id"},
	stageValues: func(dst []any, r *snapshot.Record) []any {
		return append(dst, r.AmountCents, r.PatientExternalID)
	},

	isEmpty:   `SELECT NOT EXISTS (SELECT 1 FROM payments)`,
	countLive: `SELECT count(*) FROM payments WHERE deleted IS NULL`,

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
		FROM changes c LEFT JOIN patients p ON p.external_id = c.patient_external_id
		WHERE c.action = 'i'`,
	update: `
		UPDATE payments t SET amount = c.amount_cents * 0.01, patient_external_id = c.patient_external_id,
		       patient_id = c.patient_id, updated = now(), deleted = NULL
		FROM (SELECT c.*, p.id AS patient_id FROM changes c LEFT JOIN patients p ON p.external_id = c.patient_external_id
		      WHERE c.action IN ('u', 'r')) c
		WHERE t.id = c.target_id`,
	delete: `UPDATE payments t SET deleted = now() FROM changes c WHERE c.action = 'd' AND t.id = c.target_id`,
	firstLoad: `
		INSERT INTO payments (external_id, amount, patient_external_id, patient_id, created, updated)
		SELECT s.external_id, s.amount_cents * 0.01, s.patient_external_id, p.id, now(), now()
		FROM stage s LEFT JOIN patients p ON p.external_id = s.patient_external_id
		WHERE s.valid`,

	// Totals are recomputed, not adjusted by deltas, so that they equal the
	// sum of live payments whatever happened before: for the new and the
	// old patient of every inserted, updated, restored or deleted payment.
	after: []step{{name: "recompute payment totals", sql: `
		UPDATE patients t SET payments_total = a.total, payments_count = a.cnt
		FROM (SELECT x.pext, coalesce(sum(p.amount), 0) AS total, count(p.id) AS cnt
		      FROM (SELECT patient_external_id AS pext FROM changes WHERE action <> 'd'
		            UNION SELECT old_patient_external_id FROM changes WHERE action <> 'i') x
		      LEFT JOIN payments p ON p.patient_external_id = x.pext AND p.deleted IS NULL
		      GROUP BY x.pext) a
		WHERE t.external_id = a.pext
		  AND (t.payments_total, t.payments_count) IS DISTINCT FROM (a.total, a.cnt)`}},
	// On a first load every live payment is staged: total it there, in
	// integer cents.
	afterFirstLoad: []step{{name: "total payments of first load", sql: `
		UPDATE patients t SET payments_total = a.cents * 0.01, payments_count = a.cnt
		FROM (SELECT patient_external_id, sum(amount_cents) AS cents, count(*) AS cnt
		      FROM stage WHERE valid GROUP BY patient_external_id) a
		WHERE t.external_id = a.patient_external_id`}},
}
