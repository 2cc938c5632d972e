package syncer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapgen"
	"github.com/patientsync/patientsync/internal/syncer"
)

// bulkThreshold makes syncs of 1,000 rows or more that write 10% of a
// table go in bulk.
func bulkThreshold(c *syncer.Config) { c.BulkMinRows, c.BulkShare = 1000, 0.1 }

func genFiles(t *testing.T, o snapgen.Options) (base, drift string) {
	t.Helper()
	dir := t.TempDir()
	write := func(sub string, drifted bool) string {
		d := filepath.Join(dir, sub)
		_ = os.MkdirAll(d, 0o755)
		for _, name := range []string{"patients.json", "payments.json"} {
			f, err := os.Create(filepath.Join(d, name))
			if err != nil {
				t.Fatal(err)
			}
			if name == "patients.json" {
				err = snapgen.WritePatients(f, o, drifted, false)
			} else {
				err = snapgen.WritePayments(f, o, drifted, false)
			}
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	return write("base", false), write("drift", true)
}

// schema is what a rebuild must keep: indexes, constraints, options, owner,
// grants, the identity, and each column's type, collation, nullability,
// storage, default and comment.
func schema(t *testing.T, pool *pgxpool.Pool, table string) string {
	t.Helper()
	var out string
	err := pool.QueryRow(context.Background(), `
		SELECT concat_ws(E'\n',
		  (SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = $1),
		  (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = $1::regclass),
		  (SELECT array_to_string(reloptions, ',') || ' ' || relowner::regrole::text || ' ' || coalesce(relacl::text, '') FROM pg_class WHERE oid = $1::regclass),
		  (SELECT string_agg(concat_ws(' ', attname, format_type(atttypid, atttypmod), attcollation::regcollation, attidentity, attnotnull,
		                               attstorage, pg_get_expr(d.adbin, d.adrelid), col_description(attrelid, attnum)), E'\n' ORDER BY attnum)
		   FROM pg_attribute LEFT JOIN pg_attrdef d ON d.adrelid = attrelid AND d.adnum = attnum
		   WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped),
		  pg_get_serial_sequence($1, 'id'))`, table).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Below the threshold rows are changed one by one; above it the table is
// built anew, keeping ids, timestamps and everything the schema says.
func TestBulkThresholdAndWhatABuildKeeps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bulkThreshold, func(c *syncer.Config) { c.AllowMassDelete = true })
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `DO $$ BEGIN CREATE ROLE patientsync_test_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
		GRANT SELECT ON patients, payments TO patientsync_test_reader;
		-- What no migration uses yet, but a build must keep too.
		ALTER TABLE patients ADD CONSTRAINT patients_count_sane CHECK (payments_count >= 0);
		ALTER TABLE payments ALTER COLUMN patient_external_id SET STORAGE MAIN;
		COMMENT ON COLUMN payments.amount IS 'exact, in the payment''s currency'`); err != nil {
		t.Fatal(err)
	}
	beforeSchema := map[string]string{"patients": schema(t, e.pool, "patients"), "payments": schema(t, e.pool, "payments")}
	base, drift := genFiles(t, snapgen.Options{Patients: 3000, Payments: 9000, Seed: 5, Change: 0.02, Delete: 0.01, Add: 0.01, OrphanShare: 0.02})

	// First loads: in bulk (every row is new).
	e.syncFile(filepath.Join(base, "payments.json"))
	e.syncFile(filepath.Join(base, "patients.json"))
	e.checkInvariants()
	for table, want := range beforeSchema {
		if got := schema(t, e.pool, table); got != want {
			t.Fatalf("%s after a build:\n%s\nwant\n%s", table, got, want)
		}
	}
	pts, pays := e.patients(), e.payments()

	// 2% drift: row by row; unchanged rows keep their row versions.
	res := e.syncFile(filepath.Join(drift, "patients.json"))
	if res.Updated == 0 {
		t.Fatalf("drift = %+v", res)
	}
	after := e.patients()
	kept := 0
	for id, p := range after {
		if old, ok := pts[id]; ok && old == p {
			kept++
		}
	}
	if kept < len(pts)*9/10 {
		t.Fatalf("a small drift rewrote rows: %d of %d kept their row version", kept, len(pts))
	}

	// A large change (half the payments move to another amount): built anew.
	var b strings.Builder
	b.WriteString("[")
	i := 0
	for id, p := range pays {
		if i > 0 {
			b.WriteString(",")
		}
		amount := p.Amount
		if i%2 == 0 {
			amount = "1.23"
		}
		fmt.Fprintf(&b, `{"externalId":%q,"amount":%q,"patientId":%q}`, id, amount, p.PatientExternalID)
		i++
	}
	b.WriteString(`,{"externalId":"brand-new","amount":"5.00","patientId":"0"}]`)
	beforeBig := e.payments()
	idsBefore := ids(t, e.pool, "payments")
	var xmin0 int64
	if err := e.pool.QueryRow(ctx, `SELECT max(xmin::text::bigint) FROM payments`).Scan(&xmin0); err != nil {
		t.Fatal(err)
	}
	res = e.sync("payments.json", b.String())
	if res.Updated < int64(len(pays))/3 || res.Inserted != 1 {
		t.Fatalf("large change = %+v", res)
	}
	e.checkInvariants()
	// Built anew: every row, changed or not, is a new row version.
	var old int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE xmin::text::bigint <= $1`, xmin0).Scan(&old); err != nil || old != 0 {
		t.Fatalf("%d rows of the old table after a large change (%v): not built anew", old, err)
	}
	afterBig := e.payments()
	// Ids are kept.
	idsAfter := ids(t, e.pool, "payments")
	for k, v := range idsBefore {
		if idsAfter[k] != v {
			t.Fatalf("payment %s changed id: %d -> %d", k, v, idsAfter[k])
		}
	}
	for id, old := range beforeBig {
		now := afterBig[id]
		if !now.Created.Equal(old.Created) || (now.Amount == old.Amount && !now.Updated.Equal(old.Updated)) {
			t.Fatalf("payment %s: created %v -> %v, updated %v -> %v (amount %s -> %s)", id, old.Created, now.Created, old.Updated, now.Updated, old.Amount, now.Amount)
		}
	}
	for table, want := range beforeSchema {
		if got := schema(t, e.pool, table); got != want {
			t.Fatalf("%s after a rebuild:\n%s\nwant\n%s", table, got, want)
		}
	}
	// The identity goes on after the largest id; grants survive.
	var next, maxID int64
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT max(id) FROM payments), nextval(pg_get_serial_sequence('payments', 'id'))`).Scan(&maxID, &next); err != nil {
		t.Fatal(err)
	}
	if next <= maxID {
		t.Fatalf("identity hands out %d, at or below the largest id %d", next, maxID)
	}
	var can bool
	if err := e.pool.QueryRow(ctx, `SELECT has_table_privilege('patientsync_test_reader', 'payments', 'SELECT')
		AND has_table_privilege('patientsync_test_reader', 'patients', 'SELECT')`).Scan(&can); err != nil || !can {
		t.Fatalf("grants lost: %v %v", can, err)
	}
}

// Readers of every kind keep reading while bulk syncs swap tables: each
// read sees one whole committed state, never an empty or missing table.
func TestReadersDuringSwaps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.BulkMinRows, c.BulkShare, c.AllowMassDelete = 0, 0, true })
	base, drift := genFiles(t, snapgen.Options{Patients: 5000, Payments: 15000, Seed: 9, Change: 0.3, Delete: 0.1, Add: 0.1})
	e.syncFile(filepath.Join(base, "patients.json"))
	e.syncFile(filepath.Join(base, "payments.json"))
	ctx := context.Background()
	counts := func() (patients, payments int64) {
		_ = e.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM patients WHERE deleted IS NULL), (SELECT count(*) FROM payments WHERE deleted IS NULL)").Scan(&patients, &payments)
		return
	}
	states := map[[2]int64]bool{}
	p0, q0 := counts()
	states[[2]int64{p0, q0}] = true

	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 100)
	// The query Lambdas' mode (exec), pgx's default (cached prepared
	// statements, whose plans must follow the swap) and the simple protocol.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		cfg, err := pgxpool.ParseConfig(e.pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.DefaultQueryExecMode = mode
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				var n int64
				var total string
				err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(payments_total), 0)::text FROM patients WHERE deleted IS NULL AND payments_total >= $1`, 0).Scan(&n, &total)
				if err != nil {
					errs <- fmt.Errorf("%v: %w", mode, err)
					return
				}
				if n == 0 {
					errs <- fmt.Errorf("%v: a reader saw no patients", mode)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for range 3 {
		for _, dir := range []string{drift, base} {
			e.syncFile(filepath.Join(dir, "patients.json"))
			e.syncFile(filepath.Join(dir, "payments.json"))
			p, q := counts()
			states[[2]int64{p, q}] = true
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.checkInvariants()
	t.Logf("%d reads during %d bulk syncs, %d states", reads.Load(), 12, len(states))
}

func ids(t *testing.T, pool *pgxpool.Pool, table string) map[string]int64 {
	t.Helper()
	rows, _ := pool.Query(context.Background(), "SELECT external_id, id FROM "+table)
	out := map[string]int64{}
	var k string
	var v int64
	_, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A first load built anew numbers and lays out patients in external id
// order, and the payments load that rebuilds them with their totals keeps
// that order: later totals, reached through the external id index, are
// then updated in table order.
func TestFirstLoadLaysPatientsOutInExternalIDOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bulkThreshold)
	base, _ := genFiles(t, snapgen.Options{Seed: 7, Patients: 3000, Payments: 9000})
	check := func(when string) {
		t.Helper()
		// Read in table order (a sequential scan): ids and external ids
		// must both ascend.
		var rows, outOfOrder int
		err := e.pool.QueryRow(context.Background(), `
			SELECT count(*), count(*) FILTER (WHERE id < prev_id OR external_id < prev_ext)
			FROM (SELECT id, external_id, lag(id) OVER w AS prev_id, lag(external_id) OVER w AS prev_ext
			      FROM (SELECT id, external_id, ctid FROM patients) p WINDOW w AS (ORDER BY ctid)) x`).Scan(&rows, &outOfOrder)
		if err != nil {
			t.Fatal(err)
		}
		if rows != 3000 || outOfOrder != 0 {
			t.Fatalf("%s: %d of %d patients out of external id order", when, outOfOrder, rows)
		}
	}
	if run := e.syncFile(filepath.Join(base, "patients.json")); run.Inserted != 3000 {
		t.Fatalf("patients: %+v", run)
	}
	check("after the first load")
	e.syncFile(filepath.Join(base, "payments.json"))
	check("after payments rebuilt patients with their totals")
	e.checkInvariants()
}
