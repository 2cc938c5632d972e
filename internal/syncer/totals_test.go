package syncer_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/snapgen"
	"github.com/patientsync/patientsync/internal/syncer"
)

// Wherever a first load's payments are summed (this process, in one
// partition or many, or the database), row by row or built anew, the
// tables come out the same, with exact totals.
func TestFirstLoadTotalsWhereverSummed(t *testing.T) {
	base, _ := genFiles(t, snapgen.Options{Patients: 3000, Payments: 9000, Seed: 23, OrphanShare: 0.05})
	run := func(rows int64, maxPatients int, mode func(*syncer.Config)) (string, string) {
		defer syncer.SetFirstTotals(rows, maxPatients)()
		e := newEnv(t, mode)
		var results []string
		for _, f := range []string{"patients.json", "payments.json"} {
			r := e.syncFile(filepath.Join(base, f))
			results = append(results, fmt.Sprintf("%s: inserted %d", f, r.Inserted))
		}
		e.checkInvariants()
		return strings.Join(results, "\n"), e.dump()
	}
	rowByRow := func(c *syncer.Config) { c.BulkMinRows = 1 << 40 }
	builtAnew := func(c *syncer.Config) { c.BulkMinRows, c.BulkShare = 1, 0 }
	wantResults, want := run(100_000, 500_000, rowByRow)
	for _, tc := range []struct {
		name        string
		rows        int64
		maxPatients int
	}{
		{"here, one partition", 100_000, 500_000},
		{"here, 32 partitions", 100, 500_000},
		{"in the database", 100_000, 0},
	} {
		for mode, f := range map[string]func(*syncer.Config){"row by row": rowByRow, "built anew": builtAnew} {
			t.Run(tc.name+", "+mode, func(t *testing.T) {
				results, got := run(tc.rows, tc.maxPatients, f)
				if results != wantResults || got != want {
					t.Fatalf("results:\n%s\nwant:\n%s\n(tables equal: %v)", results, wantResults, got == want)
				}
			})
		}
	}
}

// A repeated payment id counts once in its patient's total, as its last
// occurrence says, though the sync summed every occurrence as it streamed.
func TestFirstLoadTotalsCountTheLastOccurrence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.MaxInvalidShare = 1 })
	e.sync("patients.json", patientsJSON(4))
	e.sync("payments.json", `[
		{"amount": 1.00, "patientId": "1", "externalId": "9"},
		{"amount": 2.00, "patientId": "1", "externalId": "8"},
		{"amount": 3.00, "patientId": "2", "externalId": "9"},
		{"amount": 5.00, "patientId": "3", "externalId": "7"},
		{"amount": "x", "patientId": "3", "externalId": "7"}]`)
	e.checkInvariants()
	p := e.patients()
	if p["1"].Total != "2.00" || p["2"].Total != "3.00" || p["3"].Total != "0.00" {
		t.Fatalf("totals: 1 %s, 2 %s, 3 %s; want 2.00, 3.00, 0.00", p["1"].Total, p["2"].Total, p["3"].Total)
	}
}
