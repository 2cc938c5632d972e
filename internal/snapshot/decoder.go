package snapshot

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// ErrMalformed marks a file that is not one complete JSON array: the whole
// snapshot is rejected.
var ErrMalformed = errors.New("malformed snapshot")

// Record is one element of a snapshot. Fields of the other entity stay zero.
// When Problem is non-nil the record is invalid and must not be applied;
// ExternalID is still set when the record carried a usable one.
type Record struct {
	Index      int64
	ExternalID string

	FirstName     string
	LastName      string
	MiddleName    string
	HasMiddleName bool
	DateOfBirth   time.Time

	AmountCents       int64
	PatientExternalID string

	Problem *Problem
}

// Problem says why a record is invalid: which record, which field, why.
type Problem struct {
	Index      int64  `json:"index"`
	ExternalID string `json:"externalId,omitempty"`
	Field      string `json:"field,omitempty"`
	Reason     string `json:"reason"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "record %d", p.Index)
	if p.ExternalID != "" {
		fmt.Fprintf(&b, " (externalId %q)", p.ExternalID)
	}
	if p.Field != "" {
		fmt.Fprintf(&b, ": field %s", p.Field)
	}
	b.WriteString(": " + p.Reason)
	return b.String()
}

// Decoder streams the records of one snapshot.
type Decoder struct {
	dec      *jsontext.Decoder
	entity   Entity
	next     int64
	started  bool
	done     bool
	inRecord bool
}

// NewDecoder reads a snapshot of entity from r. r should be buffered or
// fast; the decoder keeps only a small window of it in memory.
func NewDecoder(r io.Reader, entity Entity) *Decoder {
	return &Decoder{
		// Duplicate field names are checked per known field below, which is
		// cheaper than the decoder's per-object name set.
		dec:    jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true)),
		entity: entity,
	}
}

// Received is the number of array elements read so far.
func (d *Decoder) Received() int64 { return d.next }

// Offset is the number of input bytes consumed.
func (d *Decoder) Offset() int64 { return d.dec.InputOffset() }

func (d *Decoder) malformed(err error) error {
	where := fmt.Sprintf("after %d complete records", d.next)
	if d.inRecord {
		where = fmt.Sprintf("in record %d, after %d complete records", d.next-1, d.next-1)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected end of input at byte %d %s (truncated upload?)", ErrMalformed, d.dec.InputOffset(), where)
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
}

// Next reads the next record into rec. It returns io.EOF after the closing
// bracket (and nothing but whitespace after it), and an error wrapping
// ErrMalformed when the input is not a complete JSON array.
func (d *Decoder) Next(rec *Record) error {
	if d.done {
		return io.EOF
	}
	if !d.started {
		tok, err := d.dec.ReadToken()
		if err != nil {
			if errors.Is(err, io.EOF) && d.dec.InputOffset() == 0 {
				return fmt.Errorf("%w: empty body, want a JSON array", ErrMalformed)
			}
			return d.malformed(err)
		}
		if tok.Kind() != '[' {
			return fmt.Errorf("%w: top-level value is %s, want a JSON array", ErrMalformed, kindName(tok.Kind()))
		}
		d.started = true
	}
	switch d.dec.PeekKind() {
	case ']':
		if _, err := d.dec.ReadToken(); err != nil {
			return d.malformed(err)
		}
		if _, err := d.dec.ReadToken(); !errors.Is(err, io.EOF) {
			if err == nil {
				return fmt.Errorf("%w: data after the closing bracket at byte %d", ErrMalformed, d.dec.InputOffset())
			}
			return d.malformed(err)
		}
		d.done = true
		return io.EOF
	case '{':
		*rec = Record{Index: d.next}
		d.next++
		d.inRecord = true
		err := d.readObject(rec)
		if err == nil {
			d.inRecord = false
		}
		return err
	case 0:
		_, err := d.dec.ReadToken() // surfaces the syntax error or EOF
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return d.malformed(err)
	default:
		*rec = Record{Index: d.next}
		d.next++
		k := d.dec.PeekKind()
		if err := d.dec.SkipValue(); err != nil {
			return d.malformed(err)
		}
		rec.Problem = &Problem{Index: rec.Index, Reason: "array element is " + kindName(k) + ", want an object"}
		return nil
	}
}

// field bits, to detect missing and repeated fields.
const (
	fExternalID = 1 << iota
	fFirstName
	fLastName
	fMiddleName
	fDateOfBirth
	fAmount
	fPatientID
)

func (d *Decoder) readObject(rec *Record) error {
	if _, err := d.dec.ReadToken(); err != nil { // '{'
		return d.malformed(err)
	}
	var seen int
	var dob, amount string
	for d.dec.PeekKind() != '}' {
		name, err := d.dec.ReadToken()
		if err != nil {
			return d.malformed(err)
		}
		if name.Kind() != '"' {
			return d.malformed(fmt.Errorf("object name expected"))
		}
		var bit int
		var target *string
		field := name.String()
		switch d.entity {
		case Patients:
			switch field {
			case "externalId":
				bit, target = fExternalID, &rec.ExternalID
			case "firstName":
				bit, target = fFirstName, &rec.FirstName
			case "lastName":
				bit, target = fLastName, &rec.LastName
			case "middleName":
				bit, target = fMiddleName, &rec.MiddleName
			case "dateOfBirth":
				bit, target = fDateOfBirth, &dob
			}
		case Payments:
			switch field {
			case "externalId":
				bit, target = fExternalID, &rec.ExternalID
			case "amount":
				bit, target = fAmount, &amount
			case "patientId":
				bit, target = fPatientID, &rec.PatientExternalID
			}
		}
		if bit == 0 { // unknown fields are ignored
			if err := d.dec.SkipValue(); err != nil {
				return d.malformed(err)
			}
			continue
		}
		if seen&bit != 0 {
			rec.invalid(field, "field appears more than once")
		}
		seen |= bit
		kind := d.dec.PeekKind()
		switch {
		case kind == '"':
			tok, err := d.dec.ReadToken()
			if err != nil {
				return d.malformed(err)
			}
			*target = tok.String()
			if bit == fMiddleName {
				rec.HasMiddleName = true
			}
		case kind == '0' && (bit == fExternalID || bit == fPatientID || bit == fAmount):
			tok, err := d.dec.ReadToken()
			if err != nil {
				return d.malformed(err)
			}
			*target = tok.String() // the number's literal text
			if bit != fAmount && !isJSONInteger(*target) {
				rec.invalid(field, fmt.Sprintf("id %s is not an integer or a string", *target))
			}
		case kind == 'n' && bit == fMiddleName: // null middle name means none
			if _, err := d.dec.ReadToken(); err != nil {
				return d.malformed(err)
			}
		default:
			if kind == 0 {
				_, err := d.dec.ReadToken()
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return d.malformed(err)
			}
			if err := d.dec.SkipValue(); err != nil {
				return d.malformed(err)
			}
			want := "a string"
			switch bit {
			case fExternalID, fPatientID:
				want = "a string or an integer"
			case fAmount:
				want = "a number or a decimal string"
			case fMiddleName:
				want = "a string or null"
			}
			rec.invalid(field, "wrong JSON type: "+kindName(kind)+", want "+want)
		}
	}
	if _, err := d.dec.ReadToken(); err != nil { // '}'
		return d.malformed(err)
	}
	if seen&fExternalID == 0 || rec.ExternalID == "" {
		rec.ExternalID = "" // not usable as an identity
		rec.invalid("externalId", "missing or empty")
	} else if strings.IndexByte(rec.ExternalID, 0) >= 0 {
		rec.ExternalID = ""
		rec.invalid("externalId", "contains a NUL character")
	}
	switch d.entity {
	case Patients:
		rec.requireText("firstName", rec.FirstName, seen&fFirstName != 0)
		rec.requireText("lastName", rec.LastName, seen&fLastName != 0)
		if rec.HasMiddleName {
			if strings.IndexByte(rec.MiddleName, 0) >= 0 {
				rec.invalid("middleName", "contains a NUL character")
			}
			if strings.TrimSpace(rec.MiddleName) == "" {
				// An empty middle name is no middle name.
				rec.HasMiddleName, rec.MiddleName = false, ""
			}
		}
		if seen&fDateOfBirth == 0 || dob == "" {
			rec.invalid("dateOfBirth", "missing or empty")
		} else if t, err := parseDate(dob); err != nil {
			rec.invalid("dateOfBirth", err.Error())
		} else {
			rec.DateOfBirth = t
		}
	case Payments:
		rec.requireText("patientId", rec.PatientExternalID, seen&fPatientID != 0)
		if seen&fAmount == 0 || amount == "" {
			rec.invalid("amount", "missing or empty")
		} else if c, err := ParseCents(strings.TrimSpace(amount)); err != nil {
			rec.invalid("amount", fmt.Sprintf("%q is %v", amount, err))
		} else {
			rec.AmountCents = c
		}
	}
	rec.finish()
	return nil
}

func (r *Record) requireText(field, v string, present bool) {
	switch {
	case !present || strings.TrimSpace(v) == "":
		r.invalid(field, "missing or empty")
	case strings.IndexByte(v, 0) >= 0:
		r.invalid(field, "contains a NUL character")
	}
}

// invalid records the first problem of a record; later ones add nothing.
func (r *Record) invalid(field, reason string) {
	if r.Problem == nil {
		r.Problem = &Problem{Index: r.Index, Field: field, Reason: reason}
	}
}

// finish fills in the external id once the whole object is read.
func (r *Record) finish() {
	if r.Problem != nil {
		r.Problem.ExternalID = r.ExternalID
	}
}

func parseDate(s string) (time.Time, error) {
	if len(s) != 10 {
		return time.Time{}, fmt.Errorf("%q is not a date in YYYY-MM-DD form", s)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid date (YYYY-MM-DD)", s)
	}
	return t, nil
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "nothing"
}

// Decompress returns r, transparently gunzipped when it starts with the gzip
// magic bytes: files may be .json.gz or stored with Content-Encoding: gzip,
// and the SDK may or may not have decoded them already.
func Decompress(r io.Reader) (io.Reader, func() error, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("read snapshot: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: bad gzip header: %v", ErrMalformed, err)
		}
		return bufio.NewReaderSize(zr, 256<<10), zr.Close, nil
	}
	return br, func() error { return nil }, nil
}
