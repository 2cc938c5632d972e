package syncer_test

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/gen"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
)

// peakHeap syncs a generated patients snapshot of n records, streamed through
// a pipe (never on disk or in memory as a whole), and returns the largest
// live heap seen while it ran.
func peakHeap(t *testing.T, e *env, n int64) uint64 {
	t.Helper()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	obj := syncer.Object{
		Entity: snapshot.Patients,
		Source: "generated",
		Open: func(context.Context) (io.ReadCloser, syncer.Identity, error) {
			r, w := io.Pipe()
			go func() {
				w.CloseWithError(gen.WritePatients(w, gen.Options{Patients: n, Seed: uint64(n)}, false, false))
			}()
			return r, syncer.Identity{}, nil
		},
	}
	runtime.GC()
	run, err := e.s.Sync(context.Background(), obj)
	close(stop)
	<-done
	if err != nil || run.Inserted != n {
		t.Fatalf("sync of %d records: %+v, %v", n, run, err)
	}
	return peak.Load()
}

// Memory must not grow with the snapshot: 8x more records (about 4 MB vs
// 35 MB of JSON) may not raise the peak heap by more than a few MB.
func TestMemoryDoesNotGrowWithFileSize(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 400k records")
	}
	small := peakHeap(t, newEnv(t, syncer.Config{}), 50_000)
	large := peakHeap(t, newEnv(t, syncer.Config{}), 400_000)
	t.Logf("peak heap: %.1f MB for 50k records, %.1f MB for 400k", float64(small)/(1<<20), float64(large)/(1<<20))
	if large > small+8<<20 {
		t.Fatalf("peak heap grew from %d to %d bytes with the file size", small, large)
	}
}
