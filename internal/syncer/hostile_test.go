package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
)

// randomID is n random printable ASCII characters: it compresses badly, as
// a real over-long id would, so PostgreSQL cannot fit it in an index entry.
func randomID(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		c := byte(' ' + 1 + r.IntN(94))
		if c == '"' || c == '\\' {
			c = 'q'
		}
		b[i] = c
	}
	return string(b)
}

func patientsJSON(n int, extra ...string) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		fmt.Fprintf(&b, `{"externalId":"%d","firstName":"F%d","lastName":"L","dateOfBirth":"2000-01-01"},`, i, i)
	}
	for _, x := range extra {
		b.WriteString(x + ",")
	}
	return strings.TrimSuffix(b.String(), ",") + "]"
}

// An over-long id is one invalid record, never a failed snapshot: on a
// first load and on an incremental sync, for each id field.
func TestOverlongIDsAreInvalidRecords(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	long := randomID(r, 3000)
	e := newEnv(t)
	for _, step := range []string{"first load", "incremental"} {
		res := e.sync("patients.json", patientsJSON(200, `{"externalId":"`+long+`","firstName":"X","lastName":"Y","dateOfBirth":"2000-01-01"}`))
		if res.Invalid != 1 || res.InvalidRecords[0].Field != "externalId" {
			t.Fatalf("%s: %+v", step, res)
		}
		if len(res.InvalidRecords[0].Error()) > 512 {
			t.Fatalf("%s: the invalid record's report holds the id: %d bytes", step, len(res.InvalidRecords[0].Error()))
		}
	}
	var b strings.Builder
	b.WriteString("[")
	for i := range 200 {
		fmt.Fprintf(&b, `{"externalId":"p%d","amount":"1.00","patientId":"%d"},`, i, i)
	}
	fmt.Fprintf(&b, `{"externalId":"%s","amount":"1.00","patientId":"1"},`, long)
	fmt.Fprintf(&b, `{"externalId":"x","amount":"1.00","patientId":"%s"}]`, randomID(r, 3000))
	res := e.sync("payments.json", b.String())
	if res.Invalid != 2 || res.Inserted != 200 {
		t.Fatalf("payments: %+v", res)
	}
	e.checkInvariants()
}

// Totals hold any valid input: 10,001 payments of the largest amount for one
// patient, synced before and after the patient is known.
func TestTotalsCannotOverflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 10_001
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"externalId":"%d","amount":"999999999999.99","patientId":"rich"}`, i)
	}
	b.WriteString("]")
	e.sync("payments.json", b.String()) // the patient is not known yet
	e.sync("patients.json", patientsJSON(1, `{"externalId":"rich","firstName":"R","lastName":"R","dateOfBirth":"2000-01-01"}`))
	want := new(big.Int).Mul(big.NewInt(n), big.NewInt(99999999999999)) // in cents
	got := e.patients()["rich"].Total
	if got != snapshotCents(want) {
		t.Fatalf("total %s, want %s", got, snapshotCents(want))
	}
	// And through an incremental payments sync as well.
	e.sync("payments.json", strings.Replace(b.String(), `"externalId":"0","amount":"999999999999.99"`, `"externalId":"0","amount":"-999999999999.99"`, 1))
	e.checkInvariants()
}

func snapshotCents(c *big.Int) string {
	s := c.String()
	return s[:len(s)-2] + "." + s[len(s)-2:]
}

// A data error raised by the content (here a constraint the snapshot
// breaks) is a permanent rejection naming the row, not a retryable failure.
func TestDataErrorsArePermanent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.pool.Exec(context.Background(), `ALTER TABLE patients ADD CONSTRAINT no_forbidden CHECK (first_name <> 'Forbidden')`); err != nil {
		t.Fatal(err)
	}
	res, err := e.s.SyncFile(context.Background(), e.file("patients.json",
		patientsJSON(3, `{"externalId":"f","firstName":"Forbidden","lastName":"L","dateOfBirth":"2000-01-01"}`)))
	if !errors.Is(err, syncer.ErrRejected) || res.Status != syncer.StatusFailed {
		t.Fatalf("err = %v, status %s: want a permanent rejection", err, res.Status)
	}
	if !strings.Contains(err.Error(), "no_forbidden") || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("the error does not say which constraint and row: %v", err)
	}
	if n := len(e.patients()); n != 0 {
		t.Fatalf("%d patients after a rejected snapshot", n)
	}
}

// A run whose process died (kill -9, out of memory) is left 'running'; the
// next sync of the entity settles it, and there is never more than one live
// run of an entity.
func TestAbandonedRunsAreSettled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var dead int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO sync_runs (entity, source, status) VALUES ('patients', '/gone/patients.json', 'running') RETURNING id`).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	// A live sync holds the entity while its body streams.
	release := make(chan struct{})
	obj := syncer.Object{Entity: snapshot.Patients, Source: "slow/patients.json",
		Open: func(context.Context) (io.ReadCloser, syncer.Identity, error) {
			r, w := io.Pipe()
			go func() {
				_, _ = io.WriteString(w, `[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}`)
				<-release
				_, _ = io.WriteString(w, "]")
				_ = w.Close()
			}()
			return r, syncer.Identity{}, nil
		}}
	done := make(chan error, 1)
	go func() { _, err := e.s.Sync(ctx, obj); done <- err }()
	var once sync.Once
	finish := func() { once.Do(func() { close(release) }) }
	defer finish() // the sync holds a pooled connection until its body ends
	var live int
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		var status string
		_ = e.pool.QueryRow(ctx, `SELECT status FROM sync_runs WHERE id = $1`, dead).Scan(&status)
		_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM sync_runs WHERE entity = 'patients' AND status = 'running'`).Scan(&live)
		if status == "failed" {
			break
		}
	}
	if live != 1 {
		t.Fatalf("%d live patients runs while one sync streams, want 1", live)
	}
	finish()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var status, reason string
	if err := e.pool.QueryRow(ctx, `SELECT status, coalesce(error, '') FROM sync_runs WHERE id = $1`, dead).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.HasPrefix(reason, "abandoned:") {
		t.Fatalf("dead run: %s %q, want failed with an abandoned reason", status, reason)
	}
}
