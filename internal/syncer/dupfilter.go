package syncer

import (
	"hash/maphash"
	"runtime"
)

// dupFilter spots externalIds that may repeat within one snapshot while it
// streams, in fixed memory: a Bloom filter of 2^28 bits (32 MiB) with three
// bits per id. An id whose bits are all set already is a candidate: every
// real repeat is one, and the false ones (about 0.02% of ids at 3M, 2% at
// 30M) are weeded out in SQL, which looks only at the staged rows whose
// hash is a candidate's (stage.h). This spares the merge a hash aggregate
// over the whole staging table (seconds at 3M rows, a minute at 30M).
//
// The bitmap is far larger than the CPU caches, so each lookup is a cache
// miss; ids are hashed as they come and looked up in batches, whose
// independent loads the CPU overlaps.
type dupFilter struct {
	seed       maphash.Seed
	bits       []uint64
	pending    [dupBatch]uint64
	n          int
	candidates []int64 // hashes of the candidates, each once per repeat
	overflow   bool    // too many candidates: dedupe the whole table in SQL
	free       func()  // releases bits; idempotent
}

const (
	dupFilterBits = 1 << 28
	dupBatch      = 128
)

// dupFilterCandidates bounds the candidates kept (16 MiB of hashes); a var
// so that the tests can make it overflow.
var dupFilterCandidates = 2 << 20

func newDupFilter() *dupFilter {
	f := &dupFilter{seed: maphash.MakeSeed()}
	f.bits, f.free = newBitmap(dupFilterBits / 64)
	// Freed by release; should a sync end before, when f is collected.
	runtime.AddCleanup(f, func(free func()) { free() }, f.free)
	return f
}

// release frees the bitmap; the candidates stay.
func (f *dupFilter) release() {
	f.bits = nil
	f.free()
}

// hash is what the staging table stores in h.
func (f *dupFilter) hash(id string) int64 { return int64(maphash.String(f.seed, id)) }

// add records an id by its hash.
func (f *dupFilter) add(h int64) {
	f.pending[f.n] = uint64(h)
	f.n++
	if f.n == dupBatch {
		f.flush()
	}
}

// flush looks up and sets the pending ids' bits, in their order. The three
// bit positions come from one 64-bit hash (Kirsch-Mitzenmacher: h1 + i*h2).
func (f *dupFilter) flush() {
	for _, h := range f.pending[:f.n] {
		h1, h2 := h, h>>32|1
		seen := true
		for i := range uint64(3) {
			b := (h1 + i*h2) & (dupFilterBits - 1)
			w, m := b>>6, uint64(1)<<(b&63)
			if f.bits[w]&m == 0 {
				seen = false
				f.bits[w] |= m
			}
		}
		if seen && !f.overflow {
			if len(f.candidates) == dupFilterCandidates {
				f.overflow, f.candidates = true, nil
			} else {
				f.candidates = append(f.candidates, int64(h))
			}
		}
	}
	f.n = 0
}
