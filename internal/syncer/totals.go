package syncer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
)

// firstTotals sums a payments first load's valid records per patient
// external id in this process, while they stream into the staging table:
// the patients' build then joins the sums instead of the database
// aggregating every staged payment (a hash aggregate of 3M payments into
// 1M patients took 2.2-2.5 s here, most of the first load's overhead over
// the bulk-load floor). Bounded like the diff: the records go to partition
// files in TMPDIR by a hash of the patient's id, and one partition is
// summed at a time.
//
// The sums stand for the staged rows only while no repeated id dropped a
// valid record, no sum leaves int64 cents and no partition holds more
// than totalsMaxPatients ids; otherwise, or when a partition file cannot
// be written, the database sums the staging table instead (errTotalsInDB).
//
// The sums are made as they are copied, while the database only takes in
// the COPY. Made in the background during the payments build instead, they
// left the copy step 0.3-0.4 s instead of 1.0 s, but on a machine that
// shares its cores with the database they took those cores from the
// build's parallel workers: six paired first loads of 3M payments were
// 0.4 s slower (median).
type firstTotals struct {
	seed  maphash.Seed
	dir   string
	parts *partWriter
	n     int // partitions, a power of two: a hash's low bits pick one
	rec   []byte
	err   error // the first failure to write a partition
}

// errTotalsInDB: the sums are not to be had here; the database computes
// them.
var errTotalsInDB = errors.New("totals: sum in the database")

// totalsPartRows is how many patients a partition is sized for, and
// totalsMaxPatients how many ids one may hold (a map of ~80 bytes each).
var (
	totalsPartRows    int64 = 100_000
	totalsMaxPatients       = 500_000
)

// newFirstTotals creates the partition files for about patients ids.
func newFirstTotals(patients int64) (*firstTotals, error) {
	parts := partCount(patients, totalsPartRows)
	dir, err := os.MkdirTemp("", "patientsync-totals-")
	if err != nil {
		return nil, fmt.Errorf("totals: create a directory for its partitions (TMPDIR): %w", err)
	}
	t := &firstTotals{seed: maphash.MakeSeed(), dir: dir, n: parts}
	if t.parts, err = newPartWriter(dir, "totals", parts); err != nil {
		t.remove()
		return nil, err
	}
	return t, nil
}

// add counts one valid payment. Records: length, cents, then the id.
func (t *firstTotals) add(patient string, cents int64) {
	if t.err != nil {
		return
	}
	part := int(maphash.String(t.seed, patient) & uint64(t.n-1))
	t.rec = binary.BigEndian.AppendUint32(t.rec[:0], uint32(8+len(patient)))
	t.rec = binary.BigEndian.AppendUint64(t.rec, uint64(cents))
	t.rec = append(t.rec, patient...)
	t.err = t.parts.write(part, t.rec)
}

// remove deletes the partition files.
func (t *firstTotals) remove() {
	if t == nil {
		return
	}
	if t.parts != nil {
		_ = t.parts.close()
	}
	_ = os.RemoveAll(t.dir)
}

type patientSum struct{ cents, n int64 }

// copyTo writes the sums to w as a binary COPY of (patient external id,
// total, count), or fails with errTotalsInDB.
func (t *firstTotals) copyTo(w io.Writer) error {
	if err := t.parts.close(); err != nil || t.err != nil {
		return fmt.Errorf("%w: %w", errTotalsInDB, errors.Join(t.err, err))
	}
	if _, err := w.Write(copySignature); err != nil {
		return err
	}
	sums := map[string]patientSum{}
	out := make([]byte, 0, copyChunk+512)
	for i := range t.n {
		clear(sums)
		err := eachRecord(t.parts.path(i), func(rec []byte) error {
			cents, id := int64(binary.BigEndian.Uint64(rec)), rec[8:]
			s, ok := sums[string(id)]
			if !ok && len(sums) == totalsMaxPatients {
				return fmt.Errorf("%w: over %d patients in one partition", errTotalsInDB, totalsMaxPatients)
			}
			total, overflow := addInt64(s.cents, cents)
			if overflow {
				return fmt.Errorf("%w: a patient's total leaves int64 cents", errTotalsInDB)
			}
			sums[string(id)] = patientSum{total, s.n + 1}
			return nil
		})
		if err != nil && !errors.Is(err, errTotalsInDB) {
			err = fmt.Errorf("%w: %w", errTotalsInDB, err) // a local disk's failure
		}
		if err != nil {
			return err
		}
		for id, s := range sums {
			out = binary.BigEndian.AppendUint16(out, 3)
			out = appendText(out, id)
			out = appendNumeric(out, s.cents)
			out = appendInt8(out, s.n)
			if len(out) >= copyChunk {
				if _, err := w.Write(out); err != nil {
					return err
				}
				out = out[:0]
			}
		}
	}
	out = binary.BigEndian.AppendUint16(out, 0xffff) // the trailer
	_, err := w.Write(out)
	return err
}

// addInt64 is a + b, and whether it overflowed.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}
