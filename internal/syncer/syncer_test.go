package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
)

const samplePatients = "../../testdata/patients.json"
const samplePayments = "../../testdata/payments.json"

func TestSampleFilesInEitherOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Payments first: their patients are unknown yet.
	run := e.syncFile(samplePayments)
	if run.Inserted != 9 || run.Received != 9 {
		t.Fatalf("payments run = %+v", run)
	}
	for id, p := range e.payments() {
		if p.PatientID != nil {
			t.Fatalf("payment %s linked to %d before any patient exists", id, *p.PatientID)
		}
	}
	e.checkInvariants()
	run = e.syncFile(samplePatients)
	if run.Inserted != 4 {
		t.Fatalf("patients run = %+v", run)
	}
	e.checkInvariants()
	pts := e.patients()
	want := map[string]string{"2": "0.00", "4": "9.29", "5": "28.50", "6": "8.99"}
	for id, total := range want {
		if pts[id].Total != total {
			t.Errorf("patient %s total = %s, want %s", id, pts[id].Total, total)
		}
	}
	if pts["4"].Middle != "Q" || pts["6"].Middle != "<null>" {
		t.Errorf("middle names: 4=%v 6=%v", pts["4"].Middle, pts["6"].Middle)
	}
	pays := e.payments()
	for _, id := range []string{"501", "502", "503", "601", "602"} {
		if pays[id].PatientID != nil {
			t.Errorf("payment %s of an absent patient is linked", id)
		}
	}
	if pays["503"].Amount != "2.10" || pays["601"].Amount != "30.00" {
		t.Errorf("amounts not exact: 503=%s 601=%s", pays["503"].Amount, pays["601"].Amount)
	}

	// Patients 1 and 3 arrive later: their waiting payments link and count.
	e.sync("patients.json", readFile(t, samplePatients)[:len(readFile(t, samplePatients))-2]+`,
	  {"firstName": "Leon", "lastName": "Kowalski", "dateOfBirth": "2093-03-03", "externalId": "1"},
	  {"firstName": "Zhora", "lastName": "Salome", "dateOfBirth": "2093-04-04", "externalId": "3"}]`)
	e.checkInvariants()
	pts = e.patients()
	if pts["1"].Total != "19.56" || pts["1"].Count != 3 || pts["3"].Total != "31.25" {
		t.Fatalf("late patients' totals: 1=%s/%d 3=%s", pts["1"].Total, pts["1"].Count, pts["3"].Total)
	}
}

// The diff compares values as encoded for the database (see diff.go): a
// snapshot that says what the tables hold finds every row unchanged.
func TestUnchangedRowsAreNotWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.SkipIdentical = false })
	e.syncFile(samplePatients)
	e.syncFile(samplePayments)
	beforePts, beforePays := e.patients(), e.payments()
	run := e.syncFile(samplePatients)
	if run.Unchanged != 4 || run.Inserted+run.Updated+run.Deleted+run.Restored != 0 {
		t.Fatalf("no-op patients run = %+v", run)
	}
	run = e.syncFile(samplePayments)
	if run.Unchanged != 9 || run.Inserted+run.Updated+run.Deleted+run.Restored != 0 {
		t.Fatalf("no-op payments run = %+v", run)
	}
	for id, after := range e.patients() {
		if after != beforePts[id] { // xmin equal: no new row version
			t.Errorf("patient %s rewritten:\n before %+v\n after  %+v", id, beforePts[id], after)
		}
	}
	for id, after := range e.payments() {
		b := beforePays[id]
		if after.Xmin != b.Xmin || !after.Updated.Equal(b.Updated) {
			t.Errorf("payment %s rewritten", id)
		}
	}
}

func TestUpdateDeleteRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1 := `[{"firstName":"Rick","lastName":"Deckard","dateOfBirth":"2094-02-01","externalId":"5"},
	        {"firstName":"Pris","lastName":"Stratton","middleName":"Q","dateOfBirth":"2093-12-20","externalId":"4"},
	        {"firstName":"Roy","lastName":"Batty","dateOfBirth":"2093-01-08","externalId":"2"}]`
	e.sync("patients.json", v1)
	p1 := e.patients()

	// 5 changes, 4 loses its middle name, 2 disappears, 7 is new.
	v2 := `[{"firstName":"Richard","lastName":"Deckard","dateOfBirth":"2094-02-01","externalId":"5"},
	        {"firstName":"Pris","lastName":"Stratton","dateOfBirth":"2093-12-20","externalId":"4"},
	        {"firstName":"Leon","lastName":"Kowalski","dateOfBirth":"2093-03-03","externalId":"7"}]`
	run := e.sync("patients.json", v2)
	if run.Inserted != 1 || run.Updated != 2 || run.Deleted != 1 || run.Unchanged != 0 {
		t.Fatalf("v2 run = %+v", run)
	}
	p2 := e.patients()
	if p2["5"].First != "Richard" || !p2["5"].Updated.After(p1["5"].Updated) || !p2["5"].Created.Equal(p1["5"].Created) {
		t.Errorf("changed patient 5: %+v", p2["5"])
	}
	if p2["4"].Middle != "<null>" {
		t.Errorf("middle name of 4 not cleared")
	}
	if p2["2"].Deleted == nil || p2["2"].First != "Roy" {
		t.Errorf("patient 2 must be soft-deleted and kept: %+v", p2["2"])
	}
	if p2["7"].Created != p2["7"].Updated || p2["7"].Deleted != nil {
		t.Errorf("new patient 7: %+v", p2["7"])
	}

	// 2 reappears unchanged: restored, updated moves, created stays.
	v3 := strings.Replace(v2, `[`, `[{"firstName":"Roy","lastName":"Batty","dateOfBirth":"2093-01-08","externalId":"2"},`, 1)
	run = e.sync("patients.json", v3)
	if run.Restored != 1 || run.Unchanged != 3 || run.Updated != 0 || run.Inserted != 0 {
		t.Fatalf("v3 run = %+v", run)
	}
	p3 := e.patients()
	if p3["2"].Deleted != nil || !p3["2"].Updated.After(p2["2"].Updated) || !p3["2"].Created.Equal(p1["2"].Created) {
		t.Errorf("restored patient 2: %+v", p3["2"])
	}
	for _, id := range []string{"4", "5", "7"} {
		if p3[id].Xmin != p2[id].Xmin {
			t.Errorf("unchanged patient %s was rewritten", id)
		}
	}
}

// Not parallel: one case changes the duplicate filter's candidate limit.
// A first load dedupes in the database (the staging table), every other
// sync in the diff: both keep the last occurrence of a repeated id.
func TestDuplicatesLastOccurrenceWins(t *testing.T) {
	for _, tc := range []struct {
		name    string
		resync  bool // the target holds payment 6 first: the diff's way
		limit   int  // candidates the filter keeps; 0: the default
		partMax int64
	}{
		{name: "first load: among the filter's candidates"},
		{name: "first load: filter overflowed, the whole staging table", limit: 1},
		{name: "re-sync: diffed", resync: true},
		{name: "re-sync: diffed in partitions split to their deepest", resync: true, partMax: 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.limit > 0 {
				defer syncer.SetDupCandidateLimit(tc.limit)()
			}
			if tc.partMax > 0 {
				defer syncer.SetDiffPartitions(1, tc.partMax)()
			}
			e := newEnv(t, func(c *syncer.Config) { c.MaxInvalidShare = 1 })
			if tc.resync {
				e.sync("payments.json", `[{"amount": 7.00, "patientId": "1", "externalId": "6"}]`)
			}
			// 9 three times, the last wins; 6 twice, the last is invalid
			// (and leaves the stored row alone); 7 twice, the first invalid.
			run := e.sync("payments.json", `[
				{"amount": 1.00, "patientId": "1", "externalId": "9"},
				{"amount": 7.00, "patientId": "1", "externalId": "6"},
				{"amount": 2.00, "patientId": "1", "externalId": "8"},
				{"amount": "x", "patientId": "1", "externalId": "7"},
				{"amount": 3.00, "patientId": "2", "externalId": "9"},
				{"amount": 1.00, "patientId": "1", "externalId": "7"},
				{"amount": 4.00, "patientId": "3", "externalId": "9"},
				{"amount": "y", "patientId": "1", "externalId": "6"}]`)
			if run.Duplicates != 4 || run.Inserted != 3 || run.Invalid != 2 || run.Unchanged != 0 || run.Deleted != 0 {
				t.Fatalf("run = %+v", run)
			}
			p := e.payments()
			if p["9"].Amount != "4.00" || p["9"].PatientExternalID != "3" || p["7"].Amount != "1.00" || p["8"].Amount != "2.00" {
				t.Fatalf("payments = %+v, want the last occurrences", p)
			}
			if six, ok := p["6"]; ok != tc.resync || ok && six.Amount != "7.00" {
				t.Fatalf("payment 6 = %+v (stored %v), want it as it was", six, ok)
			}
			var dups int64
			if err := e.pool.QueryRow(context.Background(), "SELECT duplicates FROM sync_runs ORDER BY id DESC LIMIT 1").Scan(&dups); err != nil || dups != 4 {
				t.Fatalf("sync_runs.duplicates = %d, %v", dups, err)
			}
			e.checkInvariants()
		})
	}
}

func TestInvalidRecordsAreSkippedAndKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.MaxInvalidShare = 1 })
	e.sync("patients.json", `[
		{"firstName":"A","lastName":"A","dateOfBirth":"2000-01-01","externalId":"1"},
		{"firstName":"B","lastName":"B","dateOfBirth":"2000-01-02","externalId":"2"},
		{"firstName":"C","lastName":"C","dateOfBirth":"2000-01-03","externalId":"3"}]`)
	before := e.patients()
	// 1 turns invalid (would otherwise change), 2 is missing its id entirely
	// (so it cannot be protected and is deleted), 3 has an impossible date.
	run := e.sync("patients.json", `[
		{"firstName":"","lastName":"Changed","dateOfBirth":"2000-01-01","externalId":"1"},
		{"firstName":"B","lastName":"B","dateOfBirth":"2000-01-02"},
		{"firstName":"C","lastName":"C","dateOfBirth":"2020-13-45","externalId":"3"}]`)
	if run.Invalid != 3 || run.Deleted != 1 || run.Updated != 0 {
		t.Fatalf("run = %+v", run)
	}
	after := e.patients()
	for _, id := range []string{"1", "3"} {
		if after[id] != before[id] {
			t.Errorf("invalid record %s changed its row:\n before %+v\n after  %+v", id, before[id], after[id])
		}
	}
	if after["2"].Deleted == nil {
		t.Errorf("patient 2 (absent: its record has no id) must be deleted")
	}
	_, _, recs := e.lastRun()
	for _, want := range []string{`"index": 0, "field": "firstName", "reason": "missing or empty", "externalId": "1"`,
		`"index": 2, "field": "dateOfBirth"`, `"index": 1, "field": "externalId"`} {
		for _, part := range strings.Split(want, ", ") {
			if !strings.Contains(string(recs), part) {
				t.Errorf("invalid_records %s lacks %s", recs, part)
			}
		}
	}
}

func TestTooManyInvalidRecordsRejectsTheSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // default: at most 1% invalid
	e.syncFile(samplePayments)
	before := e.payments()
	path := e.file("payments.json", `[{"amount": 12.345, "patientId": "1", "externalId": "501"},{"amount": 1, "patientId": "1", "externalId": "777"}]`)
	run, err := e.s.SyncFile(context.Background(), path)
	if !errors.Is(err, syncer.ErrRejected) || run.Status != syncer.StatusFailed {
		t.Fatalf("err = %v, status %s; want rejection", err, run.Status)
	}
	if !strings.Contains(err.Error(), "1 of 2 records are invalid") || !strings.Contains(err.Error(), "record 0 (externalId \"501\"): field amount") {
		t.Fatalf("error does not say what is wrong: %v", err)
	}
	if after := e.payments(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a rejected snapshot changed payments")
	}
	if status, errText, _ := e.lastRun(); status != "failed" || !strings.Contains(errText, "invalid") {
		t.Fatalf("sync_runs: %s %q", status, errText)
	}
}

func TestMalformedFilesChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.AllowMassDelete = true })
	e.syncFile(samplePayments)
	before := e.payments()
	sample := readFile(t, samplePayments)
	tests := []struct{ name, content, want string }{
		{"truncated", sample[:len(sample)/2], "unexpected end of input"},
		{"empty body", "", "empty body"},
		{"object", `{"amount": 1, "patientId": "1", "externalId": "1"}`, "want a JSON array"},
		{"syntax", `[{"amount": 1 "patientId": "1"}]`, "in record 0"},
		{"not gzip inside", "\x1f\x8bnot really gzip", "gzip"},
	}
	for _, tt := range tests {
		path := e.file("payments.json", tt.content)
		run, err := e.s.SyncFile(context.Background(), path)
		if !errors.Is(err, syncer.ErrRejected) {
			t.Errorf("%s: err = %v, want ErrRejected", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || run.Status != syncer.StatusFailed {
			t.Errorf("%s: err = %v (status %s), want it to mention %q", tt.name, err, run.Status, tt.want)
		}
		if status, errText, _ := e.lastRun(); status != "failed" || errText == "" {
			t.Errorf("%s: sync_runs has %s %q", tt.name, status, errText)
		}
	}
	if after := e.payments(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a malformed snapshot changed payments")
	}
}

func TestMassDeletionGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("[")
	for i := range 30 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"amount": %d, "patientId": "1", "externalId": "%d"}`, i+1, i)
	}
	b.WriteString("]")
	full := b.String()
	e.sync("payments.json", full)
	before := e.payments()

	for name, content := range map[string]string{
		"empty array":  "[]",
		"five records": `[{"amount": 1, "patientId": "1", "externalId": "0"},{"amount": 2, "patientId": "1", "externalId": "1"}]`,
	} {
		_, err := e.s.SyncFile(context.Background(), e.file("payments.json", content))
		if !errors.Is(err, syncer.ErrRejected) || !strings.Contains(err.Error(), "mass-deletion guard") {
			t.Fatalf("%s: err = %v, want the mass-deletion guard", name, err)
		}
	}
	if fmt.Sprint(e.payments()) != fmt.Sprint(before) {
		t.Fatal("a guarded snapshot changed payments")
	}
	// Invalid records protect their rows without being met live by the
	// diff: 15 deletes of 30 live rows are within the share (50%), though
	// above half the 18 rows the diff met live (3 kept, 15 deleted).
	protected := newEnv(t, func(c *syncer.Config) { c.MaxInvalidShare = 1 })
	protected.sync("payments.json", full)
	var p strings.Builder
	p.WriteString("[")
	for i := range 15 {
		if i > 0 {
			p.WriteString(",")
		}
		if i < 3 {
			fmt.Fprintf(&p, `{"amount": %d, "patientId": "1", "externalId": "%d"}`, i+1, i)
		} else {
			fmt.Fprintf(&p, `{"amount": "bad", "patientId": "1", "externalId": "%d"}`, i)
		}
	}
	p.WriteString("]")
	if run := protected.sync("payments.json", p.String()); run.Deleted != 15 || run.Unchanged != 3 || run.Invalid != 12 {
		t.Fatalf("protected run = %+v", run)
	}
	// Deleting fewer than the minimum (10) passes whatever the share.
	small := newEnv(t)
	small.syncFile(samplePayments)
	run := small.sync("payments.json", "[]")
	if run.Deleted != 9 {
		t.Fatalf("small delete run = %+v", run)
	}
	// The override applies it.
	over := newSyncer(t, e.pool, func(c *syncer.Config) { c.AllowMassDelete = true })
	run, err := over.SyncFile(context.Background(), e.file("payments.json", "[]"))
	if err != nil || run.Deleted != 30 {
		t.Fatalf("override: %+v %v", run, err)
	}
	e.checkInvariants()
}

func TestTotalsFollowEveryPaymentChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.MinDeletes = 100 })
	e.syncFile(samplePatients)
	steps := []string{
		readFile(t, samplePayments),
		// 701 grows, 801 moves from 5 to 4, 802 is deleted, 901 moves to an unknown patient.
		`[{"amount": 9.30, "patientId": "4", "externalId": "701"},{"amount": 25.50, "patientId": "4", "externalId": "801"},
		  {"amount": 8.99, "patientId": "99", "externalId": "901"},{"amount": 4.46, "patientId": "1", "externalId": "501"}]`,
		// 802 comes back (restored), 901 returns to 6, negative refund on 5.
		`[{"amount": 9.30, "patientId": "4", "externalId": "701"},{"amount": 25.50, "patientId": "4", "externalId": "801"},
		  {"amount": 3.00, "patientId": "5", "externalId": "802"},{"amount": 8.99, "patientId": 6, "externalId": "901"},
		  {"amount": -1.50, "patientId": "5", "externalId": "803"}]`,
		"[]",
	}
	for i, content := range steps {
		e.sync("payments.json", content)
		e.checkInvariants()
		if i == 1 {
			p := e.patients()
			if p["4"].Total != "34.80" || p["5"].Total != "0.00" || p["6"].Total != "0.00" {
				t.Fatalf("step 1 totals: 4=%s 5=%s 6=%s", p["4"].Total, p["5"].Total, p["6"].Total)
			}
			if e.payments()["901"].PatientID != nil {
				t.Fatal("payment moved to an unknown patient keeps its old link")
			}
		}
		if i == 2 {
			if p := e.patients(); p["5"].Total != "1.50" || p["5"].Count != 2 {
				t.Fatalf("step 2 total of 5 = %s/%d", p["5"].Total, p["5"].Count)
			}
		}
	}
	// A deleted patient keeps its link and its (live) payments' total.
	e.sync("payments.json", readFile(t, samplePayments))
	e.sync("patients.json", `[{"firstName":"Rick","lastName":"Deckard","dateOfBirth":"2094-02-01","externalId":"5"}]`)
	e.checkInvariants()
	if p := e.patients()["4"]; p.Deleted == nil || p.Total != "9.29" {
		t.Fatalf("deleted patient 4: %+v", p)
	}
}

// Amounts travel to the database as binary numerics built from integer
// cents; each must arrive as exactly the decimal it was.
func TestAmountsArriveExactly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cents := []int64{0, 1, -1, 9, 10, 99, 100, 101, 999, 1000, 9999, 10000, 10001, 123456, 1000000, 99999999,
		100000000, 123456789012, 99999999999999, -99999999999999, -100, -10000, 500000000000}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		cents = append(cents, r.Int64N(2*99999999999999)-99999999999999)
	}
	var b strings.Builder
	b.WriteString("[")
	for i, c := range cents {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"externalId":"%d","amount":"%s","patientId":"p"}`, i, snapshot.FormatCents(c))
	}
	b.WriteString("]")
	e.sync("payments.json", b.String())
	got := e.payments()
	for i, c := range cents {
		if want := snapshot.FormatCents(c); got[fmt.Sprint(i)].Amount != want {
			t.Errorf("amount %s arrived as %s", want, got[fmt.Sprint(i)].Amount)
		}
	}
	// The diff compares each amount as encoded with the amount as stored:
	// the same amounts again are all unchanged.
	full := newSyncer(t, e.pool, func(c *syncer.Config) { c.SkipIdentical = false })
	res, err := full.SyncFile(context.Background(), e.file("payments.json", b.String()))
	if err != nil || res.Updated != 0 || res.Unchanged != int64(len(cents)) {
		t.Fatalf("the same amounts again: %+v, %v", res, err)
	}
}

// Every run records what it read and how fast, which the sync Lambda uses
// to tell whether a snapshot can finish in time.
func TestRunsRecordThroughput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.syncFile(samplePayments)
	var bytes int64
	var bps, rps float64
	if err := e.pool.QueryRow(context.Background(), `SELECT bytes_read, bytes_per_second, rows_per_second FROM sync_runs WHERE id = $1`, res.ID).Scan(&bytes, &bps, &rps); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(samplePayments)
	if bytes != st.Size() || bps <= 0 || rps <= 0 || res.BytesRead != bytes {
		t.Fatalf("bytes_read %d (file %d), %f bytes/s, %f rows/s", bytes, st.Size(), bps, rps)
	}
}

// A snapshot that says what the last applied one said (in any order and
// layout) changes nothing and is not diffed; any change is.
func TestIdenticalSnapshotsAreNotDiffed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.sync("patients.json", `[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"},
		{"externalId":"2","firstName":"C","lastName":"D","middleName":"M","dateOfBirth":"2001-02-03"}]`)
	if first.Identical || first.ContentHash == "" {
		t.Fatalf("first load: %+v", first)
	}
	before := e.patients()
	// The same content, reordered, ids as numbers, fields in another order.
	same := e.sync("patients-clinic.json", `[ {"middleName":"M","lastName":"D","externalId":2,"dateOfBirth":"2001-02-03","firstName":"C","extra":1},
		{"dateOfBirth":"2000-01-01","lastName":"B","firstName":"A","externalId":1} ]`)
	if !same.Identical || same.ContentHash != first.ContentHash || same.Unchanged != 2 || same.Inserted+same.Updated+same.Deleted != 0 {
		t.Fatalf("identical snapshot: %+v", same)
	}
	if after := e.patients(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("an identical snapshot wrote rows")
	}
	// A payments sync in between changes nothing of patients' columns.
	e.syncFile(samplePayments)
	if again := e.sync("patients.json", `[{"externalId":"2","firstName":"C","lastName":"D","middleName":"M","dateOfBirth":"2001-02-03"},{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`); !again.Identical {
		t.Fatalf("identical after a payments sync: %+v", again)
	}
	// One changed character is a change.
	changed := e.sync("patients.json", `[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"},
		{"externalId":"2","firstName":"C","lastName":"D","middleName":"N","dateOfBirth":"2001-02-03"}]`)
	if changed.Identical || changed.Updated != 1 {
		t.Fatalf("changed snapshot: %+v", changed)
	}
	// Repeated ids make the order matter: the same records in another
	// order are diffed, and the last occurrence wins again.
	e.sync("payments.json", `[{"amount": 1.00, "patientId": "1", "externalId": "9"},{"amount": 2.00, "patientId": "1", "externalId": "9"}]`)
	swapped := e.sync("payments.json", `[{"amount": 2.00, "patientId": "1", "externalId": "9"},{"amount": 1.00, "patientId": "1", "externalId": "9"}]`)
	if swapped.Identical || swapped.Duplicates != 1 || swapped.Updated != 1 || e.payments()["9"].Amount != "1.00" {
		t.Fatalf("repeated ids in another order: %+v, payment 9 = %+v", swapped, e.payments()["9"])
	}
	// Without the shortcut, the same snapshot is diffed (and repairs a row
	// changed outside syncs).
	if _, err := e.pool.Exec(context.Background(), `UPDATE patients SET last_name = 'edited' WHERE external_id = '1'`); err != nil {
		t.Fatal(err)
	}
	full := newSyncer(t, e.pool, func(c *syncer.Config) { c.SkipIdentical = false })
	res, err := full.SyncFile(context.Background(), e.file("patients.json", `[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"},
		{"externalId":"2","firstName":"C","lastName":"D","middleName":"N","dateOfBirth":"2001-02-03"}]`))
	if err != nil || res.Identical || res.Updated != 1 || e.patients()["1"].Last != "B" {
		t.Fatalf("full diff: %+v %v", res, err)
	}
}

// Every rejection and skip carries a short, stable reason code, in the
// result and in sync_runs, for S3 tags and metrics.
func TestReasonCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.MinDeletes = 1 })
	ctx := context.Background()
	e.syncFile(samplePayments)
	id1 := syncer.Identity{ETag: "e1", VersionID: "v1", Sequencer: "0A"}
	steps := []struct {
		name string
		obj  syncer.Object
		code string
	}{
		{"malformed", s3Object("payments.json", []byte(`[{"amount":1`), syncer.Identity{}), syncer.CodeMalformed},
		{"invalid share", s3Object("payments.json", []byte(`[{"amount":"x","patientId":"1","externalId":"1"}]`), syncer.Identity{}), syncer.CodeInvalidShare},
		{"mass delete", s3Object("payments.json", []byte(`[]`), syncer.Identity{}), syncer.CodeMassDelete},
		{"applied", s3Object("patients.json", []byte(`[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`), id1), ""},
		{"duplicate", s3Object("patients.json", []byte(`[]`), id1), syncer.CodeDuplicate},
		{"stale", s3Object("patients.json", []byte(`[]`), syncer.Identity{ETag: "e0", Sequencer: "09"}), syncer.CodeStale},
	}
	for _, st := range steps {
		res, _ := e.s.Sync(ctx, st.obj)
		var stored *string
		if err := e.pool.QueryRow(ctx, `SELECT reason_code FROM sync_runs WHERE id = $1`, res.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if res.Code != st.code || (stored == nil) != (st.code == "") || stored != nil && *stored != st.code {
			t.Errorf("%s: code %q, stored %v, want %q (%s)", st.name, res.Code, stored, st.code, res.Reason)
		}
	}
}
