package syncer

import (
	"hash/maphash"
	"runtime"
)

// dupFilter spots externalIds that may repeat within one snapshot while it
// streams, in fixed memory: a blocked Bloom filter of 2^28 bits (32 MiB)
// with three bits per id, all in one 64-byte block (one cache line). An
// id whose bits are all set already is a candidate: every real repeat is
// one, and the false ones (0.0014% of ids at 3M, 0.67% at 30M, measured)
// are weeded out in SQL, which looks only at the staged rows whose
// hash is a candidate's (stage.h). This spares the merge a hash aggregate
// over the whole staging table (seconds at 3M rows, a minute at 30M).
//
// The bitmap is far larger than the CPU caches, so each lookup is a cache
// miss: one per id, as the three bits share a block (with three blocks it
// cost 0.5 s of a 3M-payment first load's 1.6 s of decoding and encoding);
// ids are hashed as they come and looked up in batches, whose independent
// loads the CPU overlaps.
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
	dupFilterBits      = 1 << 28
	dupFilterBlockBits = 28 - 9 // 2^19 blocks of 512 bits
	dupBatch           = 128
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

// flush looks up and sets the pending ids' bits, in their order. A 64-bit
// hash's top bits pick the block (8 words; the bitmap is page-aligned),
// three 9-bit fields of its low bits the bits in it.
func (f *dupFilter) flush() {
	for _, h := range f.pending[:f.n] {
		block := h >> (64 - dupFilterBlockBits) * 8
		seen := true
		for i := range uint64(3) {
			b := h >> (9 * i) & 511
			w, m := block+b>>6, uint64(1)<<(b&63)
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
