package syncer

import (
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/patientsync/patientsync/internal/snapshot"
)

var patients = entity{
	name: snapshot.Patients,
	lock: 1,

	stageDDL:     `first_name text, last_name text, middle_name text, date_of_birth date`,
	stageColumns: []string{"first_name", "last_name", "middle_name", "date_of_birth"},
	stageValues: func(dst []any, r *snapshot.Record) []any {
		var middle any
		if r.HasMiddleName {
			middle = r.MiddleName
		}
		return append(dst, r.FirstName, r.LastName, middle, pgtype.Date{Time: r.DateOfBirth, Valid: true})
	},

	isEmpty:   `SELECT NOT EXISTS (SELECT 1 FROM patients)`,
	countLive: `SELECT count(*) FROM patients WHERE deleted IS NULL`,

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
		FROM changes WHERE action = 'i'`,
	update: `
		UPDATE patients t SET first_name = c.first_name, last_name = c.last_name, middle_name = c.middle_name,
		       date_of_birth = c.date_of_birth, updated = now(), deleted = NULL
		FROM changes c WHERE c.action IN ('u', 'r') AND t.id = c.target_id`,
	delete: `UPDATE patients t SET deleted = now() FROM changes c WHERE c.action = 'd' AND t.id = c.target_id`,
	firstLoad: `
		INSERT INTO patients (external_id, first_name, last_name, middle_name, date_of_birth, created, updated)
		SELECT external_id, first_name, last_name, middle_name, date_of_birth, now(), now()
		FROM stage WHERE valid`,

	// Payments that arrived before their patient wait with patient_id null:
	// link them and give the new patients their totals.
	after: []step{
		{name: "link waiting payments", ifInserted: true, sql: `
			UPDATE payments p SET patient_id = t.id
			FROM changes c JOIN patients t ON t.external_id = c.external_id
			WHERE c.action = 'i' AND p.patient_external_id = c.external_id AND p.patient_id IS NULL`},
		{name: "total payments of new patients", ifInserted: true, sql: `
			UPDATE patients t SET payments_total = a.total, payments_count = a.cnt
			FROM (SELECT p.patient_external_id, sum(p.amount) AS total, count(*) AS cnt
			      FROM changes c JOIN payments p ON p.patient_external_id = c.external_id
			      WHERE c.action = 'i' AND p.deleted IS NULL
			      GROUP BY p.patient_external_id) a
			WHERE t.external_id = a.patient_external_id`},
	},
	// On a first load every patient is new.
	afterFirstLoad: []step{
		{name: "link waiting payments", ifInserted: true, sql: `
			UPDATE payments p SET patient_id = t.id
			FROM patients t
			WHERE p.patient_external_id = t.external_id AND p.patient_id IS NULL`},
		{name: "total payments of new patients", ifInserted: true, sql: `
			UPDATE patients t SET payments_total = a.total, payments_count = a.cnt
			FROM (SELECT patient_external_id, sum(amount) AS total, count(*) AS cnt
			      FROM payments WHERE deleted IS NULL
			      GROUP BY patient_external_id) a
			WHERE t.external_id = a.patient_external_id`},
	},
}
