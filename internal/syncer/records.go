package syncer

import (
	"errors"
	"io"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// recordSource reads a snapshot's records as a sync keeps them, whether it
// stages them in the database (a first load) or diffs them itself: invalid
// records are counted and the first few kept, records without an id are
// dropped (they protect nothing), and what every record says is
// fingerprinted.
type recordSource struct {
	dec *snapshot.Decoder
	ent *entity
	res *Result
	max int // invalid records kept
	rec snapshot.Record
	sum contentSum
	// valid counts the valid records read (repeated ids included).
	valid int64
}

func newRecordSource(r io.Reader, ent *entity, res *Result, maxInvalid int) *recordSource {
	return &recordSource{dec: snapshot.NewDecoder(r, ent.name), ent: ent, res: res, max: maxInvalid}
}

// next returns the next record that has an id, or io.EOF after the last.
func (s *recordSource) next() (*snapshot.Record, error) {
	for {
		if err := s.dec.Next(&s.rec); err != nil {
			if errors.Is(err, io.EOF) {
				s.res.ContentHash = s.sum.String()
			}
			return nil, err
		}
		r := &s.rec
		if r.Invalid == nil {
			s.valid++
			return r, nil
		}
		s.res.Invalid++
		if len(s.res.InvalidRecords) < s.max {
			s.res.InvalidRecords = append(s.res.InvalidRecords, *r.Invalid)
		}
		if r.ExternalID != "" {
			return r, nil
		}
		s.sum.add(nil)
	}
}

// appendKept appends r as kept: its id (a binary COPY text field), its
// validity (a boolean field) and, when valid, the entity's values (NULLs
// when not), and adds it to the fingerprint.
func (s *recordSource) appendKept(b []byte, r *snapshot.Record) []byte {
	at := len(b)
	b = appendText(b, r.ExternalID)
	valid := r.Invalid == nil
	b = appendBool(b, valid)
	if valid {
		b = s.ent.encode(b, r)
	} else {
		for range s.ent.stageColumns {
			b = appendNull(b)
		}
	}
	s.sum.add(b[at:])
	return b
}
