package syncer_test

import (
	"context"
	"io"
	"testing"

	"github.com/patientsync/patientsync/internal/snapgen"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

// peakHeap syncs a generated patients snapshot of n records, streamed through
// a pipe (never on disk or in memory as a whole), and returns the largest
// live heap seen while it ran.
func peakHeap(t *testing.T, e *env, n int64) uint64 {
	t.Helper()
	obj := generatedPatients(n)
	var res syncer.Result
	var err error
	peak := testutil.PeakLiveHeap(func() { res, err = e.s.Sync(context.Background(), obj) })
	if err != nil || res.Inserted != n {
		t.Fatalf("sync of %d records: %+v, %v", n, res, err)
	}
	return peak
}

// generatedPatients is a snapshot of n generated patients, streamed
// through a pipe each time it is opened.
func generatedPatients(n int64) syncer.Object {
	return syncer.Object{
		Entity: snapshot.Patients,
		Source: "generated",
		Open: func(context.Context) (io.ReadCloser, syncer.Identity, error) {
			r, w := io.Pipe()
			go func() {
				w.CloseWithError(snapgen.WritePatients(w, snapgen.Options{Patients: n, Seed: uint64(n)}, false, false))
			}()
			return r, syncer.Identity{}, nil
		},
	}
}

// Memory must not grow with the snapshot: 8x more records (about 4 MB vs
// 35 MB of JSON) may not raise the peak live heap by more than a few MB.
func TestMemoryDoesNotGrowWithFileSize(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 400k records")
	}
	small := peakHeap(t, newEnv(t), 50_000)
	large := peakHeap(t, newEnv(t), 400_000)
	t.Logf("peak heap: %.1f MB for 50k records, %.1f MB for 400k", float64(small)/(1<<20), float64(large)/(1<<20))
	if large > small+8<<20 {
		t.Fatalf("peak heap grew from %d to %d bytes with the file size", small, large)
	}
}
