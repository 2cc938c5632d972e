// Package snapgen writes synthetic snapshots of any size, deterministically from
// a seed, with an optional drift that changes, deletes and adds a share of
// the records: the same seed with and without drift gives a base snapshot
// and its successor.
package snapgen

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

// walk visits the ids 1..n of a base snapshot; drifted, it skips the deleted
// ones, flags the changed ones and appends the added ones.
func (o Options) walk(r rnd, n int64, drifted bool, fn func(i uint64, changed bool)) {
	added := int64(0)
	if drifted {
		added = int64(float64(n) * o.Add)
	}
	for i := uint64(1); i <= uint64(n+added); i++ {
		changed := false
		if drifted && int64(i) <= n {
			var del bool
			if del, changed = o.drift(r, i); del {
				continue
			}
		}
		fn(i, changed)
	}
}

// Patient is one generated patient; Middle is empty for none.
type Patient struct {
	ExternalID          uint64
	First, Last, Middle string
	Year, Month, Day    uint64
}

// Payment is one generated payment.
type Payment struct {
	ExternalID, Patient, Cents uint64
}

// EachPatient calls fn for every patient of the base (or drifted) snapshot.
func EachPatient(o Options, drifted bool, fn func(*Patient)) {
	r := rnd{o.Seed}
	var p Patient
	o.walk(r, o.Patients, drifted, func(i uint64, changed bool) {
		p.ExternalID = i
		p.First = firstNames[r.u(kFirst, i)%uint64(len(firstNames))]
		p.Last = lastNames[r.u(kLast, i)%uint64(len(lastNames))]
		if changed {
			p.Last = lastNames[(r.u(kLast, i)+1+r.u(kChangeField, i)%7)%uint64(len(lastNames))]
		}
		p.Middle = ""
		if m := r.u(kMiddle, i); m%3 == 0 {
			p.Middle = string(rune('A' + m%26))
		}
		d := r.u(kDOB, i)
		p.Year, p.Month, p.Day = 1930+d%90, 1+(d>>8)%12, 1+(d>>16)%28
		fn(&p)
	})
}

// EachPayment calls fn for every payment of the base (or drifted) snapshot.
func EachPayment(o Options, drifted bool, fn func(*Payment)) {
	r := rnd{o.Seed ^ 0x5041594d}
	patients := uint64(max(o.Patients, 1))
	var p Payment
	o.walk(r, o.Payments, drifted, func(i uint64, changed bool) {
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
		p = Payment{ExternalID: i, Patient: patient, Cents: cents}
		fn(&p)
	})
}

func appendDate(b []byte, p *Patient) []byte {
	b = strconv.AppendUint(b, p.Year, 10)
	b = append(b, '-')
	b = append2(b, p.Month)
	b = append(b, '-')
	return append2(b, p.Day)
}

func appendAmount(b []byte, cents uint64) []byte {
	b = strconv.AppendUint(b, cents/100, 10)
	b = append(b, '.')
	return append2(b, cents%100)
}

// recordWriter frames records as a JSON array or as CSV lines.
type recordWriter struct {
	bw    *bufio.Writer
	csv   bool
	first bool
	buf   []byte
}

func newRecordWriter(w io.Writer, csv bool) *recordWriter {
	r := &recordWriter{bw: bufio.NewWriterSize(w, 1<<20), csv: csv, first: true, buf: make([]byte, 0, 256)}
	if !csv {
		r.bw.WriteString("[\n")
	}
	return r
}

// start returns the buffer for the next record, after the separator.
func (r *recordWriter) start() []byte {
	r.buf = r.buf[:0]
	if !r.csv && !r.first {
		r.buf = append(r.buf, ",\n"...)
	}
	r.first = false
	return r.buf
}

func (r *recordWriter) end(b []byte) {
	if r.csv {
		b = append(b, '\n')
	}
	r.buf = b
	r.bw.Write(b)
}

func (r *recordWriter) close() error {
	if !r.csv {
		r.bw.WriteString("\n]\n")
	}
	return r.bw.Flush()
}

// WritePatients writes the patients snapshot as JSON (or, with csv, as the
// CSV a COPY of the same rows reads: external_id,first,last,middle,dob).
func WritePatients(w io.Writer, o Options, drifted, csv bool) error {
	rw := newRecordWriter(w, csv)
	EachPatient(o, drifted, func(p *Patient) {
		buf := rw.start()
		if csv {
			buf = strconv.AppendUint(buf, p.ExternalID, 10)
			buf = append(buf, ',')
			buf = append(buf, p.First...)
			buf = append(buf, ',')
			buf = append(buf, p.Last...)
			buf = append(buf, ',')
			buf = append(buf, p.Middle...)
			buf = append(buf, ',')
			rw.end(appendDate(buf, p))
			return
		}
		buf = append(buf, `{"firstName":"`...)
		buf = append(buf, p.First...)
		buf = append(buf, `","lastName":"`...)
		buf = append(buf, p.Last...)
		buf = append(buf, '"')
		if p.Middle != "" {
			buf = append(buf, `,"middleName":"`...)
			buf = append(buf, p.Middle...)
			buf = append(buf, '"')
		}
		buf = append(buf, `,"dateOfBirth":"`...)
		buf = appendDate(buf, p)
		buf = append(buf, `","externalId":"`...)
		buf = strconv.AppendUint(buf, p.ExternalID, 10)
		rw.end(append(buf, `"}`...))
	})
	return rw.close()
}

// WritePayments writes the payments snapshot as JSON (or as CSV:
// external_id,amount,patient_external_id).
func WritePayments(w io.Writer, o Options, drifted, csv bool) error {
	rw := newRecordWriter(w, csv)
	EachPayment(o, drifted, func(p *Payment) {
		buf := rw.start()
		if csv {
			buf = strconv.AppendUint(buf, p.ExternalID, 10)
			buf = append(buf, ',')
			buf = appendAmount(buf, p.Cents)
			buf = append(buf, ',')
			rw.end(strconv.AppendUint(buf, p.Patient, 10))
			return
		}
		buf = append(buf, `{"amount":`...)
		buf = appendAmount(buf, p.Cents)
		buf = append(buf, `,"patientId":"`...)
		buf = strconv.AppendUint(buf, p.Patient, 10)
		buf = append(buf, `","externalId":"`...)
		buf = strconv.AppendUint(buf, p.ExternalID, 10)
		rw.end(append(buf, `"}`...))
	})
	return rw.close()
}

func append2(b []byte, v uint64) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}
