package syncer

import "hash/maphash"

// dupFilter spots externalIds that may repeat within one snapshot while it
// streams, in fixed memory: one bit per hash value. An id whose bit is
// already set is a candidate; every real repeat is a candidate, and the few
// false ones are weeded out in SQL. This spares the merge a hash aggregate
// over the whole staging table (seconds at millions of rows) in the common
// case of a file without repeats.
type dupFilter struct {
	seed       maphash.Seed
	bits       []uint64
	candidates []string
	overflow   bool // too many candidates: dedupe the whole table in SQL
}

const (
	dupFilterBits       = 1 << 27 // 16 MiB; ~33k false candidates at 3M ids
	dupFilterCandidates = 200_000
)

func newDupFilter() *dupFilter {
	return &dupFilter{seed: maphash.MakeSeed(), bits: make([]uint64, dupFilterBits/64)}
}

func (f *dupFilter) add(id string) {
	i := maphash.String(f.seed, id) & (dupFilterBits - 1)
	w, b := i>>6, uint64(1)<<(i&63)
	if f.bits[w]&b != 0 && !f.overflow {
		if len(f.candidates) == dupFilterCandidates {
			f.overflow, f.candidates = true, nil
		} else {
			f.candidates = append(f.candidates, id)
		}
	}
	f.bits[w] |= b
}
