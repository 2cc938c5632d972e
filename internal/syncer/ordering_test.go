package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/snapgen"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

func TestS3IdentityIdempotencyAndOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	v1 := []byte(`[{"firstName":"Rick","lastName":"Deckard","dateOfBirth":"2094-02-01","externalId":"5"}]`)
	v2 := []byte(`[{"firstName":"Richard","lastName":"Deckard","dateOfBirth":"2094-02-01","externalId":"5"}]`)
	id1 := syncer.Identity{ETag: "e1", VersionID: "v1", Sequencer: "0055AED6DCD90281E5"}
	id2 := syncer.Identity{ETag: "e2", VersionID: "v2", Sequencer: "0055AED6DCD90281E6"}
	id3 := syncer.Identity{ETag: "e1", VersionID: "v3", Sequencer: "0055AED6DCD90281F0"} // v1's content uploaded again

	steps := []struct {
		name   string
		obj    syncer.Object
		status string
		first  string
	}{
		{"first event", s3Object("patients.json", v1, id1), syncer.StatusSucceeded, "Rick"},
		{"redelivered event", s3Object("patients.json", v1, id1), syncer.StatusSkipped, "Rick"},
		{"newer version", s3Object("patients.json", v2, id2), syncer.StatusSucceeded, "Richard"},
		{"late delivery of the old event", s3Object("patients.json", v1, id1), syncer.StatusSkipped, "Richard"},
		{"older sequencer, shorter string", s3Object("patients.json", v1, syncer.Identity{ETag: "e0", Sequencer: "55AED6DCD90281"}), syncer.StatusSkipped, "Richard"},
		{"old content re-uploaded", s3Object("patients.json", v1, id3), syncer.StatusSucceeded, "Rick"},
		{"another key is another source", s3Object("clinic/patients.json", v2, id1), syncer.StatusSucceeded, "Richard"},
	}
	for _, st := range steps {
		run, err := e.s.Sync(ctx, st.obj)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if run.Status != st.status {
			t.Fatalf("%s: status %s (%s), want %s", st.name, run.Status, run.Reason, st.status)
		}
		if got := e.patients()["5"].First; got != st.first {
			t.Fatalf("%s: first name %q, want %q", st.name, got, st.first)
		}
	}
	var skipped int
	_ = e.pool.QueryRow(ctx, "SELECT count(*) FROM sync_runs WHERE status = 'skipped' AND error LIKE 'stale%'").Scan(&skipped)
	if skipped != 2 {
		t.Fatalf("%d stale runs recorded, want 2", skipped)
	}
}

func TestGzipSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "payments-2026.json.gz")
	if err := os.WriteFile(path, testutil.Gzip([]byte(readFile(t, samplePayments))), 0o644); err != nil {
		t.Fatal(err)
	}
	if run := e.syncFile(path); run.Inserted != 9 {
		t.Fatalf("run = %+v", run)
	}
}

// A snapshot is applied in one transaction: a reader polling during the sync
// sees the old state or the new one, never a mix.
func TestReadersSeeBeforeOrAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.AllowMassDelete = true })
	dir := t.TempDir()
	o := snapgen.Options{Patients: 30000, Payments: 1, Seed: 7, Change: 0.2, Delete: 0.1, Add: 0.1}
	write := func(name string, drifted bool) string {
		p := filepath.Join(dir, name, "patients.json")
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		f, _ := os.Create(p)
		defer f.Close()
		if err := snapgen.WritePatients(f, o, drifted, false); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base, drift := write("base", false), write("drift", true)
	e.syncFile(base)

	state := func() string {
		var live int64
		var h string
		err := e.pool.QueryRow(context.Background(), `SELECT count(*), md5(string_agg(last_name, ',' ORDER BY external_id))
			FROM patients WHERE deleted IS NULL`).Scan(&live, &h)
		if err != nil {
			t.Error(err)
		}
		return fmt.Sprint(live, h)
	}
	before := state()
	seen := map[string]int{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
				seen[state()]++
			}
		}
	}()
	run := e.syncFile(drift)
	close(done)
	wg.Wait()
	after := state()
	if run.Updated == 0 || run.Deleted == 0 || run.Inserted == 0 || before == after {
		t.Fatalf("drift run changed too little to test: %+v", run)
	}
	for s, n := range seen {
		if s != before && s != after {
			t.Fatalf("a reader saw an intermediate state %d times: %s", n, s)
		}
	}
	t.Logf("reader polled %d times during the sync", len(seen))
}

// Patients and payments syncs racing each other, and repeated syncs of one
// entity, end in the same state as applying the newest files one by one.
func TestConcurrentSyncsConverge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *syncer.Config) { c.AllowMassDelete = true })
	dir := t.TempDir()
	o := snapgen.Options{Patients: 2000, Payments: 6000, Seed: 3, Change: 0.1, Delete: 0.05, Add: 0.05, OrphanShare: 0.1}
	files := map[string]string{}
	for _, drifted := range []bool{false, true} {
		sub := filepath.Join(dir, fmt.Sprint(drifted))
		_ = os.MkdirAll(sub, 0o755)
		for _, name := range []string{"patients.json", "payments.json"} {
			f, _ := os.Create(filepath.Join(sub, name))
			if name == "patients.json" {
				_ = snapgen.WritePatients(f, o, drifted, false)
			} else {
				_ = snapgen.WritePayments(f, o, drifted, false)
			}
			f.Close()
			files[fmt.Sprint(name, drifted)] = f.Name()
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for round := range 3 {
		for _, name := range []string{"patients.json", "payments.json"} {
			for _, drifted := range []bool{false, true} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(time.Duration(round) * 5 * time.Millisecond)
					if _, err := e.s.SyncFile(context.Background(), files[fmt.Sprint(name, drifted)]); err != nil {
						errs <- err
					}
				}()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent sync: %v", err)
	}
	e.checkInvariants()
	// Settle on the drifted files in either order; the invariants hold and
	// the result is the same as a fresh sequential load.
	e.syncFile(files["payments.jsontrue"])
	e.syncFile(files["patients.jsontrue"])
	e.checkInvariants()

	fresh := newEnv(t)
	fresh.syncFile(files["patients.jsontrue"])
	fresh.syncFile(files["payments.jsontrue"])
	for id, want := range fresh.patients() {
		got := e.patients()[id]
		if got.Deleted != nil || got.First != want.First || got.Last != want.Last || got.Total != want.Total || got.Count != want.Count {
			t.Fatalf("patient %s: concurrent %+v, sequential %+v", id, got, want)
		}
	}
}

// blockingReader delivers some bytes and then waits for its context.
type blockingReader struct {
	ctx  context.Context
	data io.Reader
}

func (b *blockingReader) Read(p []byte) (int, error) {
	n, err := b.data.Read(p)
	if n > 0 {
		return n, nil
	}
	if err != nil {
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	return 0, nil
}

func (b *blockingReader) Close() error { return nil }

// A sync that runs out of time (a stalled download, a Lambda deadline) rolls
// back, is recorded as failed, and is reported as transient so that Lambda retries.
func TestDeadlineRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.syncFile(samplePatients)
	before := e.patients()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	obj := syncer.Object{
		Entity:   snapshot.Patients,
		Source:   "s3://bucket/patients.json",
		Identity: syncer.Identity{ETag: "x"},
		Open: func(ctx context.Context) (io.ReadCloser, syncer.Identity, error) {
			return &blockingReader{ctx: ctx, data: strings.NewReader(`[{"firstName":"A","lastName":"B","dateOfBirth":"2000-01-01","externalId":"77"},`)}, syncer.Identity{}, nil
		},
	}
	run, err := e.s.Sync(ctx, obj)
	if err == nil || errors.Is(err, syncer.ErrRejected) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if run.Status != syncer.StatusFailed {
		t.Fatalf("status %s", run.Status)
	}
	if fmt.Sprint(e.patients()) != fmt.Sprint(before) {
		t.Fatal("an interrupted sync changed patients")
	}
	if status, _, _ := e.lastRun(); status != "failed" {
		t.Fatalf("sync_runs status %s", status)
	}
}
