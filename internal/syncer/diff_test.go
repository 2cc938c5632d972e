package syncer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/snapgen"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

// dump is everything the syncs decide about the tables, aside from
// timestamps and the ids of rows inserted row by row (which take them in
// the order the diff found them).
func (e *env) dump() string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT external_id, first_name, last_name, coalesce(middle_name, '<null>'), date_of_birth, payments_total, payments_count, deleted IS NULL
		 FROM patients ORDER BY external_id`,
		`SELECT p.external_id, p.amount, p.patient_external_id, t.external_id IS NOT DISTINCT FROM p.patient_external_id, p.deleted IS NULL
		 FROM payments p LEFT JOIN patients t ON t.id = p.patient_id ORDER BY p.external_id`,
	} {
		rows, err := e.pool.Query(context.Background(), q)
		if err != nil {
			e.t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				e.t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if rows.Err() != nil {
			e.t.Fatal(rows.Err())
		}
	}
	return b.String()
}

// However the diff partitions the snapshot (one partition or many, split
// once or twice; the duplicates test splits to the deepest), each sync finds the same changes and leaves
// the same tables.
func TestDiffPartitionsDoNotChangeTheOutcome(t *testing.T) {
	base, drift := genFiles(t, snapgen.Options{Patients: 3000, Payments: 9000, Seed: 11,
		Change: 0.05, Delete: 0.03, Add: 0.03, OrphanShare: 0.05})
	// Drift, then back (restores), each file of it diffed.
	steps := []string{base + "/patients.json", base + "/payments.json", drift + "/patients.json",
		drift + "/payments.json", base + "/payments.json", base + "/patients.json"}
	run := func(rows, bytes int64) (results []string, dump string) {
		defer syncer.SetDiffPartitions(rows, bytes)()
		e := newEnv(t, func(c *syncer.Config) { c.AllowMassDelete = true })
		for _, f := range steps {
			r := e.syncFile(f)
			results = append(results, fmt.Sprintf("%s: received %d inserted %d updated %d deleted %d restored %d unchanged %d",
				f, r.Received, r.Inserted, r.Updated, r.Deleted, r.Restored, r.Unchanged))
		}
		e.checkInvariants()
		return results, e.dump()
	}
	wantResults, wantDump := run(100_000, 24<<20)
	if !strings.Contains(strings.Join(wantResults, "\n"), "restored 2") {
		t.Logf("results:\n%s", strings.Join(wantResults, "\n"))
	}
	for _, tc := range []struct {
		name        string
		rows, bytes int64
	}{
		{"many partitions", 100, 24 << 20},
		{"one partition, split once", 1 << 40, 8 << 10},
		{"one partition, split twice", 1 << 40, 1 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results, dump := run(tc.rows, tc.bytes)
			if got, want := strings.Join(results, "\n"), strings.Join(wantResults, "\n"); got != want {
				t.Fatalf("results:\n%s\nwant:\n%s", got, want)
			}
			if dump != wantDump {
				t.Fatalf("the tables differ from the default partitioning's")
			}
		})
	}
}

// The diff's partition files, the staging table of a first load and the
// tables built are gone after every sync, whatever its end.
func TestSyncsLeaveNoFilesOrTables(t *testing.T) {
	base, drift := genFiles(t, snapgen.Options{Patients: 300, Payments: 900, Seed: 2, Change: 0.1, Delete: 0.1, Add: 0.1})
	for name, mode := range map[string]func(*syncer.Config){
		"row by row": func(c *syncer.Config) { c.BulkMinRows = 1 << 40 },
		"built anew": func(c *syncer.Config) { c.BulkMinRows, c.BulkShare = 1, 0 },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, mode, func(c *syncer.Config) { c.MinDeletes = 1 })
			malformed := e.file("payments.json", `[{"externalId":"1","amount":1,"patientId":"1"}, {"externalId":`)
			tooFew := e.file("payments.json", `[{"externalId":"1","amount":1,"patientId":"1"}]`)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			for _, step := range []struct {
				file string
				ok   bool
			}{
				{malformed, false},              // a first load that fails
				{base + "/patients.json", true}, // a first load: staged, no diff
				{base + "/payments.json", true}, // and the payments' totals
				{drift + "/payments.json", true},
				{malformed, false},
				{tooFew, false}, // the mass-deletion guard
			} {
				res, err := e.s.SyncFile(context.Background(), step.file)
				if (err == nil) != step.ok {
					t.Fatalf("%s: %+v, %v", step.file, res, err)
				}
				left, err := os.ReadDir(tmp)
				if err != nil || len(left) != 0 {
					t.Fatalf("after %s: %d files left in TMPDIR (%v)", filepath.Base(filepath.Dir(step.file)), len(left), err)
				}
				var tables []string
				err = e.pool.QueryRow(context.Background(), `
					SELECT coalesce(array_agg(relname::text), '{}') FROM pg_class
					WHERE relname ~ '^sync_(stage|totals)_[0-9]+$' OR relname LIKE '%\_build'`).Scan(&tables)
				if err != nil || len(tables) != 0 {
					t.Fatalf("after %s: tables left %v (%v)", filepath.Base(filepath.Dir(step.file)), tables, err)
				}
			}
		})
	}
}

// The diff holds one partition of the snapshot at a time: a re-sync of 8x
// more records does not need more memory.
func TestDiffMemoryDoesNotGrowWithFileSize(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 900k records")
	}
	defer syncer.SetDiffPartitions(20_000, 24<<20)()
	peak := func(n int64) uint64 {
		e := newEnv(t, func(c *syncer.Config) { c.SkipIdentical = false })
		obj := generatedPatients(n)
		if _, err := e.s.Sync(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		var res syncer.Result
		var err error
		peak := testutil.PeakLiveHeap(func() { res, err = e.s.Sync(context.Background(), obj) })
		if err != nil || res.Unchanged != n {
			t.Fatalf("re-sync of %d records: %+v, %v", n, res, err)
		}
		return peak
	}
	small, large := peak(50_000), peak(400_000)
	t.Logf("peak heap of a re-sync: %.1f MB for 50k records, %.1f MB for 400k", float64(small)/(1<<20), float64(large)/(1<<20))
	if large > small+8<<20 {
		t.Fatalf("peak heap grew from %d to %d bytes with the file size", small, large)
	}
}
