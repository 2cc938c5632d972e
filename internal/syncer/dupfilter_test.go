package syncer

import (
	"fmt"
	"slices"
	"testing"
)

// Every real repeat is a candidate; false candidates stay rare.
func TestDupFilter(t *testing.T) {
	t.Parallel()
	f := newDupFilter()
	const n = 1_000_000
	var repeats []int64
	for i := range n {
		id := fmt.Sprint("p", i)
		f.add(f.hash(id))
		if i%100_000 == 7 { // the same id again, later
			repeats = append(repeats, f.hash(id))
			f.add(f.hash(id))
		}
	}
	f.flush()
	if f.overflow {
		t.Fatal("overflow at 1M ids")
	}
	for _, h := range repeats {
		if !slices.Contains(f.candidates, h) {
			t.Fatalf("repeat %x is not a candidate", h)
		}
	}
	if fp := len(f.candidates) - len(repeats); fp > n/1000 {
		t.Fatalf("%d false candidates at %d ids", fp, n)
	}
	t.Logf("%d candidates for %d repeats among %d ids", len(f.candidates), len(repeats), n)
}
