package syncer_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

var quiet = slog.New(slog.DiscardHandler)

// make test runs this package twice: row by row (the small tests never
// reach the bulk threshold), and with SYNC_TEST_BULK=all, every sync in
// bulk. Bulk rewrites every row: row versions (xmin) then say nothing, and
// the rows' values must match all the same.
var bulkAll = os.Getenv("SYNC_TEST_BULK") == "all"

type env struct {
	t    *testing.T
	pool *pgxpool.Pool
	s    *syncer.Syncer
	dir  string
}

// newEnv is a syncer on a new database, with the default configuration
// changed by mods.
func newEnv(t *testing.T, mods ...func(*syncer.Config)) *env {
	t.Helper()
	pool, _ := testutil.DBPool(t)
	return &env{t: t, pool: pool, s: newSyncer(t, pool, mods...), dir: t.TempDir()}
}

func newSyncer(t *testing.T, pool *pgxpool.Pool, mods ...func(*syncer.Config)) *syncer.Syncer {
	t.Helper()
	cfg := syncer.DefaultConfig()
	if bulkAll {
		cfg.BulkMinRows, cfg.BulkShare = 0, 0
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := syncer.New(pool, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// file writes content under name (which decides the entity) in a fresh dir.
func (e *env) file(name, content string) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.dir, "snap")
	if err != nil {
		e.t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// sync applies content as a local file and fails the test on error.
func (e *env) sync(name, content string) syncer.Result {
	e.t.Helper()
	run, err := e.s.SyncFile(context.Background(), e.file(name, content))
	if err != nil {
		e.t.Fatalf("sync %s: %v", name, err)
	}
	if run.Status != syncer.StatusSucceeded {
		e.t.Fatalf("sync %s: status %s (%s)", name, run.Status, run.Reason)
	}
	return run
}

func (e *env) syncFile(path string) syncer.Result {
	e.t.Helper()
	run, err := e.s.SyncFile(context.Background(), path)
	if err != nil {
		e.t.Fatalf("sync %s: %v", path, err)
	}
	return run
}

// s3Object is an in-memory object with an S3 identity.
func s3Object(key string, content []byte, id syncer.Identity) syncer.Object {
	entity := "patients"
	if bytes.Contains([]byte(key), []byte("payments")) {
		entity = "payments"
	}
	return syncer.Object{
		Entity:   snapshot.Entity(entity),
		Source:   "s3://bucket/" + key,
		Identity: id,
		Open: func(context.Context) (io.ReadCloser, syncer.Identity, error) {
			return io.NopCloser(bytes.NewReader(content)), syncer.Identity{}, nil
		},
	}
}

type patientRow struct {
	ExternalID, First, Last string
	Middle                  string // "<null>" for none
	DOB                     string
	Total                   string
	Count                   int64
	Created, Updated        time.Time
	Deleted                 *time.Time
	Xmin                    uint32
}

func (e *env) patients() map[string]patientRow {
	e.t.Helper()
	return rowsByID(e, func(r *patientRow) { r.Xmin = 0 }, `
		SELECT external_id, first_name, last_name, coalesce(middle_name, '<null>'), date_of_birth::text, payments_total::text,
		       payments_count, created, updated, deleted, xmin::text::bigint FROM patients`,
		func(r patientRow) string { return r.ExternalID })
}

// rowsByID reads every row of sql into T (columns in field order), keyed by
// key; in bulk mode, noXmin forgets the row version.
func rowsByID[T any](e *env, noXmin func(*T), sql string, key func(T) string) map[string]T {
	e.t.Helper()
	rows, _ := e.pool.Query(context.Background(), sql)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[T])
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(map[string]T, len(list))
	for _, r := range list {
		if bulkAll {
			noXmin(&r)
		}
		out[key(r)] = r
	}
	return out
}

type paymentRow struct {
	ExternalID, Amount, PatientExternalID string
	PatientID                             *int64
	Created, Updated                      time.Time
	Deleted                               *time.Time
	Xmin                                  uint32
}

func (e *env) payments() map[string]paymentRow {
	e.t.Helper()
	return rowsByID(e, func(r *paymentRow) { r.Xmin = 0 }, `
		SELECT external_id, amount::text, patient_external_id, patient_id, created, updated, deleted, xmin::text::bigint FROM payments`,
		func(r paymentRow) string { return r.ExternalID })
}

// checkInvariants asserts what must hold after every sync: totals equal the
// sums of live payments, and every payment links to the patient with its
// patient external id when there is one (deleted or not), else to nothing.
func (e *env) checkInvariants() {
	e.t.Helper()
	var badTotals, badLinks int
	err := e.pool.QueryRow(context.Background(), `
		SELECT count(*) FROM patients t
		LEFT JOIN (SELECT patient_external_id, sum(amount) AS total, count(*) AS cnt FROM payments
		           WHERE deleted IS NULL GROUP BY patient_external_id) a ON a.patient_external_id = t.external_id
		WHERE (t.payments_total, t.payments_count) IS DISTINCT FROM (coalesce(a.total, 0), coalesce(a.cnt, 0))`).Scan(&badTotals)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.pool.QueryRow(context.Background(), `
		SELECT count(*) FROM payments p LEFT JOIN patients t ON t.external_id = p.patient_external_id
		WHERE p.patient_id IS DISTINCT FROM t.id`).Scan(&badLinks)
	if err != nil {
		e.t.Fatal(err)
	}
	if badTotals != 0 || badLinks != 0 {
		e.t.Fatalf("invariants broken: %d patients with wrong totals, %d payments with wrong links", badTotals, badLinks)
	}
}

func (e *env) lastRun() (status, errText string, invalidRecords []byte) {
	e.t.Helper()
	var errp *string
	err := e.pool.QueryRow(context.Background(),
		`SELECT status, error, invalid_records::text FROM sync_runs ORDER BY id DESC LIMIT 1`).Scan(&status, &errp, &invalidRecords)
	if err != nil {
		e.t.Fatal(err)
	}
	if errp != nil {
		errText = *errp
	}
	return status, errText, invalidRecords
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
