package syncer

import (
	"fmt"
	"hash/crc32"
)

// contentSum fingerprints what a snapshot says, whatever its layout: each
// record's id, validity and values as staged are hashed (two hardware
// CRCs, then a non-linear mixer, so that changes cannot cancel out) and the
// hashes are summed, so that the order of the records does not matter. Two
// snapshots with equal sums say the same thing (a false match needs two
// independent 64-bit sums to collide).
type contentSum struct {
	a, b, n uint64
}

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	ieee       = crc32.MakeTable(crc32.IEEE)
)

// add counts a record: its id (length-prefixed), then its values
// (validity and the entity's columns), as staged; nil for a record without
// a usable id.
func (s *contentSum) add(rec []byte) {
	x := uint64(0x9e3779b97f4a7c15) // records without an id count too
	if rec != nil {
		x = uint64(crc32.Update(0, castagnoli, rec))<<32 | uint64(crc32.Update(0, ieee, rec))
	}
	s.a += mix64(x)
	s.b += mix64(x ^ 0xd6e8feb86659fd93)
	s.n++
}

// String is the sum as stored in sync_runs.content_hash.
func (s contentSum) String() string { return fmt.Sprintf("%016x%016x-%d", s.a, s.b, s.n) }

// mix64 is splitmix64's finalizer, a bijection that spreads every input bit.
func mix64(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
