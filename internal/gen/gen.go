// Package gen writes synthetic snapshots of any size, deterministically from
// a seed, with an optional drift that changes, deletes and adds a share of
// the records: the same seed with and without drift gives a base snapshot
// and its successor.
package gen

import (
	"bufio"
	"io"
	"strconv"
)

// Options describe one pair of snapshots.
type Options struct {
	Patients int64
	Payments int64
	Seed     uint64
	// Drift shares, each of the base records: changed, deleted, and new ones added.
	Change, Delete, Add float64
	// OrphanShare of payments point at patients that do not exist.
	OrphanShare float64
}

var (
	firstNames = []string{"Rick", "Pris", "Roy", "Rachael", "Leon", "Zhora", "Eldon", "J.F.", "Hannibal", "Gaff", "Dave", "Holden", "Luv", "Joi", "Mariette", "Freysa"}
	lastNames  = []string{"Deckard", "Stratton", "Batty", "Tyrell", "Kowalski", "Salome", "Sebastian", "Chew", "Bryant", "Holden", "Wallace", "Sapper", "Morton", "Coco", "Joshi", "Niander"}
)

// splitmix64: a stateless hash, so that record i has the same base values
// in the base and in the drifted snapshot.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

type rnd struct{ seed uint64 }

func (r rnd) u(kind, i uint64) uint64 { return mix(r.seed ^ mix(kind<<56^i)) }

// frac is in [0, 1).
func (r rnd) frac(kind, i uint64) float64 { return float64(r.u(kind, i)>>11) / (1 << 53) }

const (
	kDelete = iota + 1
	kChange
	kFirst
	kLast
	kMiddle
	kDOB
	kAmount
	kPatient
	kChangeField
)

// drift says what happens to base record i: deleted, changed, or kept.
func (o Options) drift(r rnd, i uint64) (deleted, changed bool) {
	f := r.frac(kDelete, i)
	if f < o.Delete {
		return true, false
	}
	return false, r.frac(kChange, i) < o.Change
}

// WritePatients writes the patients snapshot; drifted selects the successor.
func WritePatients(w io.Writer, o Options, drifted bool) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rnd{o.Seed}
	added := int64(0)
	if drifted {
		added = int64(float64(o.Patients) * o.Add)
	}
	buf := make([]byte, 0, 256)
	bw.WriteString("[\n")
	first := true
	for i := uint64(1); i <= uint64(o.Patients+added); i++ {
		changed := false
		if drifted && int64(i) <= o.Patients {
			var del bool
			if del, changed = o.drift(r, i); del {
				continue
			}
		}
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		buf = buf[:0]
		fn := firstNames[r.u(kFirst, i)%uint64(len(firstNames))]
		ln := lastNames[r.u(kLast, i)%uint64(len(lastNames))]
		if changed {
			ln = lastNames[(r.u(kLast, i)+1+r.u(kChangeField, i)%7)%uint64(len(lastNames))]
		}
		d := r.u(kDOB, i)
		buf = append(buf, `{"firstName":"`...)
		buf = append(buf, fn...)
		buf = append(buf, `","lastName":"`...)
		buf = append(buf, ln...)
		buf = append(buf, '"')
		if r.u(kMiddle, i)%3 == 0 {
			buf = append(buf, `,"middleName":"`...)
			buf = append(buf, byte('A'+r.u(kMiddle, i)%26))
			buf = append(buf, '"')
		}
		buf = append(buf, `,"dateOfBirth":"`...)
		buf = strconv.AppendUint(buf, 1930+d%90, 10)
		buf = append(buf, '-')
		buf = append2(buf, 1+(d>>8)%12)
		buf = append(buf, '-')
		buf = append2(buf, 1+(d>>16)%28)
		buf = append(buf, `","externalId":"`...)
		buf = strconv.AppendUint(buf, i, 10)
		buf = append(buf, `"}`...)
		bw.Write(buf)
	}
	bw.WriteString("\n]\n")
	return bw.Flush()
}

// WritePayments writes the payments snapshot; drifted selects the successor.
func WritePayments(w io.Writer, o Options, drifted bool) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rnd{o.Seed ^ 0x5041594d}
	added := int64(0)
	if drifted {
		added = int64(float64(o.Payments) * o.Add)
	}
	patients := uint64(max(o.Patients, 1))
	buf := make([]byte, 0, 128)
	bw.WriteString("[\n")
	first := true
	for i := uint64(1); i <= uint64(o.Payments+added); i++ {
		changed := false
		if drifted && int64(i) <= o.Payments {
			var del bool
			if del, changed = o.drift(r, i); del {
				continue
			}
		}
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		cents := 1 + r.u(kAmount, i)%50000
		patient := 1 + r.u(kPatient, i)%patients
		if r.frac(kPatient, i^0xffff) < o.OrphanShare {
			patient += patients // a patient the patients snapshot does not have
		}
		if changed {
			if r.u(kChangeField, i)%2 == 0 {
				cents += 1 + r.u(kChangeField, i)%100
			} else {
				patient = 1 + (patient+r.u(kChangeField, i))%patients
			}
		}
		buf = buf[:0]
		buf = append(buf, `{"amount":`...)
		buf = strconv.AppendUint(buf, cents/100, 10)
		buf = append(buf, '.')
		buf = append2(buf, cents%100)
		buf = append(buf, `,"patientId":"`...)
		buf = strconv.AppendUint(buf, patient, 10)
		buf = append(buf, `","externalId":"`...)
		buf = strconv.AppendUint(buf, i, 10)
		buf = append(buf, `"}`...)
		bw.Write(buf)
	}
	bw.WriteString("\n]\n")
	return bw.Flush()
}

func append2(b []byte, v uint64) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}
