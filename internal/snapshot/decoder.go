package snapshot

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// ErrMalformed marks a file that is not one complete JSON array: the whole
// snapshot is rejected.
var ErrMalformed = errors.New("malformed snapshot")

// Decoder streams the records of one snapshot.
type Decoder struct {
	dec      *jsontext.Decoder
	fields   []field
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
		fields: fieldsOf[entity],
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
		rec.Invalid = &InvalidRecord{Index: rec.Index, Reason: "array element is " + kindName(k) + ", want an object"}
		return nil
	}
}

// maxFields bounds an entity's known fields (one bit each in readObject).
const maxFields = 16

func (d *Decoder) readObject(rec *Record) error {
	if _, err := d.dec.ReadToken(); err != nil { // '{'
		return d.malformed(err)
	}
	var seen uint32
	var vals [maxFields]string
	for d.dec.PeekKind() != '}' {
		name, err := d.dec.ReadToken()
		if err != nil {
			return d.malformed(err)
		}
		if name.Kind() != '"' {
			return d.malformed(fmt.Errorf("object name expected"))
		}
		i := d.fieldIndex(name.String())
		if i < 0 { // unknown fields are ignored
			if err := d.dec.SkipValue(); err != nil {
				return d.malformed(err)
			}
			continue
		}
		f := &d.fields[i]
		if seen&(1<<i) != 0 {
			rec.invalid(f.name, "field appears more than once")
		}
		seen |= 1 << i
		kind := d.dec.PeekKind()
		switch {
		case kind == '"':
			tok, err := d.dec.ReadToken()
			if err != nil {
				return d.malformed(err)
			}
			vals[i] = tok.String()
		case kind == '0' && (f.kind == idKind || f.kind == amountKind):
			tok, err := d.dec.ReadToken()
			if err != nil {
				return d.malformed(err)
			}
			vals[i] = tok.String() // the number's literal text
			if f.kind == idKind && !isJSONInteger(vals[i]) {
				rec.invalid(f.name, fmt.Sprintf("id %s is not an integer or a string", vals[i]))
			}
		case kind == 'n' && f.kind == optionalTextKind: // null means none
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
			rec.invalid(f.name, "wrong JSON type: "+kindName(kind)+", want "+f.kind.want())
		}
	}
	if _, err := d.dec.ReadToken(); err != nil { // '}'
		return d.malformed(err)
	}
	for i := range d.fields {
		f := &d.fields[i]
		if seen&(1<<i) == 0 {
			if f.required {
				rec.invalid(f.name, "missing or empty")
			}
			continue
		}
		if reason := f.set(rec, vals[i]); reason != "" {
			rec.invalid(f.name, reason)
		}
	}
	if rec.Invalid != nil {
		rec.Invalid.ExternalID = rec.ExternalID
	}
	return nil
}

func (d *Decoder) fieldIndex(name string) int {
	for i := range d.fields {
		if d.fields[i].name == name {
			return i
		}
	}
	return -1
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
