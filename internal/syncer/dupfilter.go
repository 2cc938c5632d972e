package syncer

import "hash/maphash"

// dupFilter spots externalIds that may repeat within one snapshot while it
// streams, in fixed memory: one bit per hash value. An id whose bit is
// already set is a candidate; every real repeat is a candidate, and the few
// false ones are weeded out in SQL. This spares the merge a hash aggregate
// over the whole staging table (seconds at millions of rows) in the common
// case of a file without repeats.
//
// The bitmap is far larger than the CPU caches, so each lookup is a cache
// miss; ids are hashed as they come and looked up in batches, whose
// independent loads the CPU overlaps (one at a time, the misses cost more
// than decoding the record).
type dupFilter struct {
	seed       maphash.Seed
	bits       []uint64
	pending    [dupBatch]uint64
	ids        [dupBatch]string
	n          int
	candidates []string
	overflow   bool // too many candidates: dedupe the whole table in SQL
}

const (
	dupFilterBits       = 1 << 27 // 16 MiB; ~33k false candidates at 3M ids
	dupFilterCandidates = 200_000
	dupBatch            = 128
)

func newDupFilter() *dupFilter {
	return &dupFilter{seed: maphash.MakeSeed(), bits: make([]uint64, dupFilterBits/64)}
}

func (f *dupFilter) add(id string) {
	f.pending[f.n] = maphash.String(f.seed, id) & (dupFilterBits - 1)
	f.ids[f.n] = id
	f.n++
	if f.n == dupBatch {
		f.flush()
	}
}

// flush looks up and sets the pending ids' bits, in their order.
func (f *dupFilter) flush() {
	for i := range f.n {
		h := f.pending[i]
		w, b := h>>6, uint64(1)<<(h&63)
		if f.bits[w]&b != 0 && !f.overflow {
			if len(f.candidates) == dupFilterCandidates {
				f.overflow, f.candidates = true, nil
			} else {
				f.candidates = append(f.candidates, f.ids[i])
			}
		}
		f.bits[w] |= b
		f.ids[i] = ""
	}
	f.n = 0
}
