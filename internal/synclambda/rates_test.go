package synclambda

import (
	"context"
	"slices"
	"testing"

	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

// TestRecentRates: which runs the prediction learns from.
func TestRecentRates(t *testing.T) {
	t.Parallel()
	pool, _ := testutil.DBPool(t)
	ctx := context.Background()
	const mib = 1 << 20
	rows := []struct {
		entity, source, status string
		bytes                  int64
		rate                   float64
	}{
		{"patients", "s3://b/patients.json", "succeeded", 100 * mib, 1}, // oldest: beyond the last 5
		{"patients", "s3://b/patients.json", "succeeded", 100 * mib, 2},
		{"patients", "s3://b/patients.json", "succeeded", 100 * mib, 3},
		{"patients", "s3://b/patients.json", "failed", 100 * mib, 0.5},          // not a success
		{"patients", "s3://b/patients.json", "succeeded", 1 * mib, 0.1},         // too small to tell
		{"payments", "s3://b/payments.json", "succeeded", 100 * mib, 0.2},       // another entity
		{"patients", "s3://b/patients.json.gz", "succeeded", 100 * mib, 0.3},    // gzip: apart
		{"patients", "s3://b/clinic-2/patients.json", "succeeded", 16 * mib, 4}, // any key of the entity, at the minimum size
		{"patients", "s3://b/patients.json", "succeeded", 100 * mib, 5},
		{"patients", "s3://b/patients.json", "succeeded", 100 * mib, 6},
	}
	for _, r := range rows {
		if _, err := pool.Exec(ctx, `INSERT INTO sync_runs (entity, source, status, bytes_read, bytes_per_second) VALUES ($1, $2, $3, $4, $5)`,
			r.entity, r.source, r.status, r.bytes, r.rate); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		entity snapshot.Entity
		source string
		want   []float64
	}{
		{"patients", "s3://b/other/patients.json", []float64{6, 5, 4, 3, 2}},
		{"patients", "s3://b/patients.json.gz", []float64{0.3}},
		{"payments", "s3://b/payments.json", []float64{0.2}},
		{"payments", "s3://b/payments.json.gz", nil},
	} {
		got, err := recentRates(ctx, pool, tt.entity, tt.source)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("recentRates(%s, %s) = %v, want %v", tt.entity, tt.source, got, tt.want)
		}
	}
}

// TestRunnerBusyAndHandledBefore: the two looks at earlier hand-offs.
func TestRunnerBusyAndHandledBefore(t *testing.T) {
	t.Parallel()
	pool, _ := testutil.DBPool(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	busy := func(entity snapshot.Entity) bool {
		t.Helper()
		b, err := runnerBusy(ctx, pool, entity)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	handled := func(source string, id syncer.Identity) string {
		t.Helper()
		r, err := handledBefore(ctx, pool, syncer.Object{Source: source, Identity: id})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const src = "s3://b/patients.json"
	v1 := syncer.Identity{ETag: "e1", VersionID: "v1", Sequencer: "01"}

	// A Lambda's own live run is not the runner's.
	exec(`INSERT INTO sync_runs (entity, source, etag, version_id, sequencer, status) VALUES ('patients', $1, 'e0', 'v0', '00', 'running')`, src)
	if busy("patients") || handled(src, v1) != "" {
		t.Fatal("a Lambda's run counted as the runner's, or v1 as handled")
	}
	exec(`UPDATE sync_runs SET status = 'failed'`)

	// Handed off, then the runner's run starts (its URL carries the
	// version and the sequencer; the ETag comes with the read).
	exec(`INSERT INTO sync_runs (entity, source, etag, version_id, sequencer, status, error) VALUES ('patients', $1, 'e1', 'v1', '01', 'skipped', $2)`,
		src, handOffPrefix+"predicted 1,840 s > 840 s left (...); task arn:aws:ecs:us-east-1:1:task/c/t")
	if got := handled(src, v1); got != "duplicate event: already handed to the ECS runner by run 2" {
		t.Fatalf("handled v1 = %q", got)
	}
	if got := handled(src, syncer.Identity{ETag: "e1", VersionID: "v1"}); got == "" {
		t.Fatal("without a sequencer, the version and ETag must find the hand-off")
	}
	if handled(src, syncer.Identity{ETag: "e2", VersionID: "v2", Sequencer: "02"}) != "" || handled("s3://b/other/patients.json", v1) != "" {
		t.Fatal("another version or key counted as handled")
	}
	if busy("patients") {
		t.Fatal("busy before the runner's run started")
	}
	exec(`INSERT INTO sync_runs (entity, source, version_id, sequencer, status) VALUES ('patients', $1, 'v1', '01', 'running')`, src)
	if !busy("patients") || busy("payments") {
		t.Fatal("the runner's live run of patients not seen, or seen for payments")
	}
	exec(`UPDATE sync_runs SET status = 'succeeded', etag = 'e1' WHERE id = 3`)
	if busy("patients") {
		t.Fatal("busy after the runner's run ended")
	}
	if got := handled(src, v1); got != "duplicate event: already applied by run 3" {
		t.Fatalf("handled v1 after the runner applied it = %q", got)
	}
}
