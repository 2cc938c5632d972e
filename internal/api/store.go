package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// store runs the two read queries. SQL is assembled from fixed fragments
// with only the predicates a request needs (a catch-all "$1 IS NULL OR ..."
// would defeat the indexes under generic plans); values are always bound.
type store struct {
	pool       *pgxpool.Pool
	timeout    time.Duration
	sessionSQL string
}

func newStore(pool *pgxpool.Pool, timeout time.Duration) *store {
	return &store{
		pool:    pool,
		timeout: timeout,
		// set_config(..., true) is local to the transaction. A pgx batch runs
		// in one implicit transaction, so the settings cover the query that
		// follows, end with it, cost no extra round trip and leave no session
		// state behind. (The server must enforce the timeout: behind RDS
		// Proxy a client cannot cancel a query, and startup parameters are
		// refused.) In UTC the timestamps' text is the one form
		// appendTimestamp passes through (DateStyle must be ISO, the
		// default, as for pgx's own parsing of text timestamps). The same
		// statement reads asOf: a one-row read needs no timeout of its own
		// (the context's deadline is the backstop), and as a FROM, not a
		// subquery, it plans cheapest.
		sessionSQL: fmt.Sprintf("SELECT set_config('statement_timeout', '%dms', true), set_config('TimeZone', 'UTC', true), last_applied_run FROM sync_state",
			max(timeout.Milliseconds(), 1)),
	}
}

// asOfSQL is the sync run that changed the data last (migration 00006:
// in commit order, not id order). Read before the page in the same
// pipeline, it is at most as new as the data the page shows, so a walk
// never misses that a sync came between two of its pages.
const asOfSQL = "SELECT last_applied_run FROM sync_state"

// asOf reads the sync run that changed the data last, alone (for
// conditional requests).
func (s *store) asOf(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var asOf int64
	if err := s.pool.QueryRow(ctx, asOfSQL).Scan(&asOf); err != nil {
		return 0, fmt.Errorf("read the last applied sync: %w", err)
	}
	return asOf, nil
}

// run executes one query under the statement timeout, calling scan per
// row, and returns the newest applied sync run.
func (s *store) run(ctx context.Context, sql string, args []any, scan func(pgx.Rows) error) (asOf int64, err error) {
	// Backstop for a server that stops answering: at the deadline pgx
	// abandons and closes the connection. The server's timeout fires first.
	ctx, cancel := context.WithTimeout(ctx, s.timeout+time.Second)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue(s.sessionSQL)
	b.Queue(sql, args...)
	br := s.pool.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("query: %w", cerr)
		}
	}()
	if err := br.QueryRow().Scan(nil, nil, &asOf); err != nil {
		return 0, fmt.Errorf("set the statement timeout and read the last applied sync: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return 0, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return 0, fmt.Errorf("scan: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("query: %w", err)
	}
	return asOf, nil
}

// patientRow and paymentRow are one row as the database sent it: text
// columns are the driver's own bytes, valid only until the next row (emit
// callbacks copy what they keep), so that a page is encoded without a
// string allocation per value. Timestamps too arrive as text
// ("2026-11-29 05:31:18.810436+00"): parsing and formatting them was a
// fifth of the server's CPU on a page of payments.
type patientRow struct {
	id                      int64
	externalID, first, last []byte
	middle                  []byte // nil when null
	dob                     []byte // YYYY-MM-DD
	total                   []byte // a plain decimal
	count                   int64
	created, updated        []byte // timestampText
}

type paymentRow struct {
	id                 int64
	externalID, amount []byte
	patientID          pgtype.Int8
	patientExternalID  []byte
	created, updated   []byte // timestampText
}

// sqlBuilder collects predicates and their bound arguments.
type sqlBuilder struct {
	where []string
	args  []any
}

// arg binds v and returns its placeholder.
func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *sqlBuilder) and(pred string) { b.where = append(b.where, pred) }

// Text renderings get aliases of their own: ORDER BY payments_total would
// otherwise bind to the text output column and sort "100.00" before "16.16".
const patientColumns = `id, external_id, first_name, last_name, middle_name,
	to_char(date_of_birth, 'YYYY-MM-DD') AS dob_text, payments_total::text AS total_text, payments_count,
	created::text AS created_text, updated::text AS updated_text`

// patientsSQL builds the GET /patients query. Every shape is a range scan of
// patients_live_total_idx (payments_total, id) WHERE deleted IS NULL, in
// index order, so page 10,000 costs what page 1 does. The benchmark's
// pgbench scripts hold the same SQL (checked by a test).
func patientsSQL(p patientsParams) (string, []any) {
	b := &sqlBuilder{where: []string{"deleted IS NULL"}}
	if p.min != "" {
		b.and("payments_total >= " + b.arg(p.min) + "::numeric")
	}
	if p.max != "" {
		b.and("payments_total <= " + b.arg(p.max) + "::numeric")
	}
	if p.after != nil {
		b.and("(payments_total, id) > (" + b.arg(p.after.Total) + "::numeric, " + b.arg(p.after.ID) + "::bigint)")
	}
	// One row more than the page tells whether there is a next page.
	sql := "SELECT " + patientColumns + " FROM patients WHERE " + strings.Join(b.where, " AND ") +
		" ORDER BY payments_total, id LIMIT " + b.arg(p.limit+1)
	return sql, b.args
}

// patients calls emit for each row, reusing one patientRow.
func (s *store) patients(ctx context.Context, p patientsParams, emit func(*patientRow)) (asOf int64, err error) {
	sql, args := patientsSQL(p)
	var x patientRow
	var ext, first, last, middle, dob, total, created, updated pgtype.DriverBytes
	// One destination list for all rows: a per-row variadic slice was the
	// largest allocation left.
	dest := []any{&x.id, &ext, &first, &last, &middle, &dob, &total, &x.count, &created, &updated}
	return s.run(ctx, sql, args, func(rows pgx.Rows) error {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		x.externalID, x.first, x.last, x.middle, x.dob, x.total, x.created, x.updated = ext, first, last, middle, dob, total, created, updated
		if !jsonDecimal(total) {
			return fmt.Errorf("payments_total %q of patient %d is not a plain decimal", total, x.id)
		}
		if err := checkTimestamps(created, updated); err != nil {
			return fmt.Errorf("patient %d: %w", x.id, err)
		}
		emit(&x)
		return nil
	})
}

const paymentColumns = `id, external_id, amount::text AS amount_text, patient_id, patient_external_id,
	created::text AS created_text, updated::text AS updated_text`

// paymentsSQL builds the GET /payments query, in id order: by the primary
// key without filters, payments_patient_external_id_idx (patient_external_id,
// id) for external_id and, through the patient's external id, for patient_id.
func paymentsSQL(p paymentsParams) (string, []any) {
	b := &sqlBuilder{where: []string{"deleted IS NULL"}}
	if p.externalID != nil {
		b.and("patient_external_id = " + b.arg(*p.externalID))
	}
	if p.patientID != 0 {
		// patient_id always mirrors patient_external_id (the sync keeps the
		// link), so the external-id index serves this filter too and the
		// payments table carries one index less to maintain.
		id := b.arg(p.patientID)
		b.and("patient_external_id = (SELECT external_id FROM patients WHERE id = " + id + "::bigint)")
		b.and("patient_id = " + id + "::bigint")
	}
	if p.after != nil {
		b.and("id > " + b.arg(p.after.ID) + "::bigint")
	}
	sql := "SELECT " + paymentColumns + " FROM payments WHERE " + strings.Join(b.where, " AND ") +
		" ORDER BY id LIMIT " + b.arg(p.limit+1)
	return sql, b.args
}

// payments calls emit for each row, reusing one paymentRow.
func (s *store) payments(ctx context.Context, p paymentsParams, emit func(*paymentRow)) (asOf int64, err error) {
	sql, args := paymentsSQL(p)
	var x paymentRow
	var ext, amount, pext, created, updated pgtype.DriverBytes
	dest := []any{&x.id, &ext, &amount, &x.patientID, &pext, &created, &updated}
	return s.run(ctx, sql, args, func(rows pgx.Rows) error {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		x.externalID, x.amount, x.patientExternalID, x.created, x.updated = ext, amount, pext, created, updated
		if !jsonDecimal(amount) {
			return fmt.Errorf("amount %q of payment %d is not a plain decimal", amount, x.id)
		}
		if err := checkTimestamps(created, updated); err != nil {
			return fmt.Errorf("payment %d: %w", x.id, err)
		}
		emit(&x)
		return nil
	})
}

// checkTimestamps reports a created or updated value that is not
// timestampText (a server that ignores the session's settings, a year
// encoding/json could not write either).
func checkTimestamps(created, updated []byte) error {
	if !timestampText(created) {
		return fmt.Errorf("created %q is not a timestamp in UTC in ISO form (DateStyle must be ISO)", created)
	}
	if !timestampText(updated) {
		return fmt.Errorf("updated %q is not a timestamp in UTC in ISO form (DateStyle must be ISO)", updated)
	}
	return nil
}
