package testutil

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// PeakLiveHeap runs fn and returns the largest live heap (what the garbage
// collector found reachable, as of each collection) seen meanwhile. Unlike
// HeapAlloc, it does not count garbage waiting for the next collection, so
// it measures what code keeps, not when the collector happened to run.
func PeakLiveHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	runtime.GC() // counts what fn kept until its end
	close(stop)
	<-done
	return peak.Load()
}
