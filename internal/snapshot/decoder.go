package snapshot

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// ErrMalformed marks a file that is not one complete JSON array: the whole
// snapshot is rejected.
var ErrMalformed = errors.New("malformed snapshot")

// Decoder streams the records of one snapshot in bounded memory: a fixed
// read buffer, and at most a field's limit of each known value.
type Decoder struct {
	s        *scanner
	fields   []field
	next     int64
	state    int
	inRecord bool
	name     []byte // the current member name, up to maxName bytes
	val      []byte // the current value, up to its field's limit
}

// Decoder states: before the opening bracket, after it, after an element,
// after the closing bracket.
const (
	stateStart = iota
	stateFirst
	stateMore
	stateDone
)

// maxName bounds the member names compared with the known fields; longer
// names are unknown fields.
const maxName = 64

// NewDecoder reads a snapshot of entity from r.
func NewDecoder(r io.Reader, entity Entity) *Decoder {
	return &Decoder{s: newScanner(r), fields: fieldsOf[entity]}
}

// Received is the number of array elements read so far.
func (d *Decoder) Received() int64 { return d.next }

// Offset is the number of input bytes consumed.
func (d *Decoder) Offset() int64 { return d.s.offset() }

func (d *Decoder) malformed(err error) error {
	where := fmt.Sprintf("after %d complete records", d.next)
	if d.inRecord {
		where = fmt.Sprintf("in record %d, after %d complete records", d.next-1, d.next-1)
	}
	var syn *syntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: unexpected end of input at byte %d %s (truncated upload?)", ErrMalformed, d.s.offset(), where)
	case errors.As(err, &syn):
		return fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)
	}
	// The reader failed: a corrupt gzip stream, or a broken download (which
	// the syncer tells apart by watching the body itself).
	return fmt.Errorf("%w: %s: read at byte %d: %w", ErrMalformed, where, d.s.offset(), err)
}

// Next reads the next record into rec. It returns io.EOF after the closing
// bracket (and nothing but whitespace after it), and an error wrapping
// ErrMalformed when the input is not a complete JSON array.
func (d *Decoder) Next(rec *Record) error {
	s := d.s
	switch d.state {
	case stateDone:
		return io.EOF
	case stateStart:
		// A UTF-8 byte order mark, as Windows tools write, is not content.
		if b := s.prefix(3); len(b) == 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
			s.pos += 3
		}
		c, ok := s.skipWS()
		if !ok {
			if s.rerr != nil && !errors.Is(s.rerr, io.EOF) {
				return d.malformed(s.rerr)
			}
			return fmt.Errorf("%w: empty body, want a JSON array", ErrMalformed)
		}
		if c != '[' {
			return fmt.Errorf("%w: top-level value is %s, want a JSON array", ErrMalformed, kindName(c))
		}
		s.pos++
		d.state = stateFirst
	}
	c, ok := s.skipWS()
	if !ok {
		return d.malformed(s.endErr())
	}
	switch {
	case c == ']':
		if d.state == stateMore || d.next == 0 {
			s.pos++
			return d.end()
		}
	case d.state == stateMore:
		if c != ',' {
			return d.malformed(s.errorf("unexpected %s after a record, want , or ]", describe(c)))
		}
		s.pos++
		if c, ok = s.skipWS(); !ok {
			return d.malformed(s.endErr())
		}
	}
	if c == ']' {
		return d.malformed(s.errorf("unexpected ] after a comma"))
	}
	*rec = Record{Index: d.next}
	d.next++
	d.state = stateMore
	d.inRecord = true
	if c == '{' {
		if err := d.readObject(rec); err != nil {
			return d.malformed(err)
		}
	} else {
		if err := s.skip(c); err != nil {
			return d.malformed(err)
		}
		rec.Invalid = &InvalidRecord{Index: rec.Index, Reason: "array element is " + kindName(c) + ", want an object"}
	}
	d.inRecord = false
	return nil
}

// end checks that nothing but blanks follows the closing bracket.
func (d *Decoder) end() error {
	if c, ok := d.s.skipWS(); ok {
		return fmt.Errorf("%w: data after the closing bracket at byte %d (%s)", ErrMalformed, d.s.offset(), describe(c))
	}
	if d.s.rerr != nil && !errors.Is(d.s.rerr, io.EOF) {
		return d.malformed(d.s.rerr)
	}
	d.state = stateDone
	return io.EOF
}

// maxFields bounds an entity's known fields (one bit each in readObject).
const maxFields = 8

func (d *Decoder) readObject(rec *Record) error {
	s := d.s
	s.pos++ // '{'
	var seen, unusable uint32
	var vals [maxFields]string
	c, ok := s.skipWS()
	if !ok {
		return s.endErr()
	}
	for c != '}' {
		if c != '"' {
			return s.errorf("unexpected %s, want an object member name", describe(c))
		}
		s.pos++
		var n int64
		var err error
		if d.name, n, err = s.str(d.name[:0], maxName); err != nil {
			return err
		}
		if c, ok = s.skipWS(); !ok {
			return s.endErr()
		} else if c != ':' {
			return s.errorf("unexpected %s after an object member name, want :", describe(c))
		}
		s.pos++
		if c, ok = s.skipWS(); !ok {
			return s.endErr()
		}
		i := -1
		if n <= maxName {
			i = d.fieldIndex(d.name)
		}
		if i < 0 { // unknown fields are ignored
			if err := s.skip(c); err != nil {
				return err
			}
		} else {
			bit := uint32(1) << i
			if seen&bit != 0 {
				rec.invalid(d.fields[i].name, "field appears more than once")
			}
			seen |= bit
			v, usable, err := d.readField(rec, &d.fields[i], c)
			if err != nil {
				return err
			}
			vals[i] = v
			if !usable {
				unusable |= bit
			}
		}
		if c, ok = s.skipWS(); !ok {
			return s.endErr()
		}
		switch c {
		case ',':
			s.pos++
			if c, ok = s.skipWS(); !ok {
				return s.endErr()
			}
			if c == '}' {
				return s.errorf("unexpected } after a comma")
			}
		case '}':
		default:
			return s.errorf("unexpected %s after an object member, want , or }", describe(c))
		}
	}
	s.pos++ // '}'
	for i := range d.fields {
		f := &d.fields[i]
		bit := uint32(1) << i
		switch {
		case seen&bit == 0:
			if f.required {
				rec.invalid(f.name, "missing or empty")
			}
		case unusable&bit == 0:
			if reason := f.set(rec, vals[i]); reason != "" {
				rec.invalid(f.name, reason)
			}
		}
	}
	if rec.Invalid != nil {
		rec.Invalid.ExternalID = rec.ExternalID
	}
	return nil
}

// readField reads the value of a known field starting at c. A value of the
// wrong JSON type or over the field's limit makes the record invalid and is
// not usable.
func (d *Decoder) readField(rec *Record, f *field, c byte) (v string, usable bool, err error) {
	s := d.s
	var n int64
	switch {
	case c == '"':
		s.pos++
		if d.val, n, err = s.str(d.val[:0], f.max); err != nil {
			return "", false, err
		}
	case (c == '-' || c >= '0' && c <= '9') && (f.kind == idKind || f.kind == amountKind):
		if d.val, n, err = s.num(d.val[:0], f.max); err != nil {
			return "", false, err
		}
		if n <= int64(f.max) && f.kind == idKind && !isJSONInteger(string(d.val)) {
			rec.invalid(f.name, fmt.Sprintf("id %s is not an integer or a string", d.val))
			return string(d.val), true, nil
		}
	case c == 'n' && f.kind == optionalTextKind: // null means none
		return "", true, s.literal("null")
	default:
		if err := s.skip(c); err != nil {
			return "", false, err
		}
		rec.invalid(f.name, "wrong JSON type: "+kindName(c)+", want "+f.kind.want())
		return "", false, nil
	}
	if n > int64(f.max) {
		rec.invalid(f.name, fmt.Sprintf("longer than %d bytes (%d bytes, starting %q)", f.max, n, truncate(d.val, 24)))
		return "", false, nil
	}
	return string(d.val), true, nil
}

func (d *Decoder) fieldIndex(name []byte) int {
	for i := range d.fields {
		if string(name) == d.fields[i].name {
			return i
		}
	}
	return -1
}

// truncate cuts b to at most n bytes, on a character boundary.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}

// parseDate reads a calendar date YYYY-MM-DD from 0001-01-01 to 9999-12-31.
// (Year 0 does not exist in the calendar PostgreSQL uses: it would be
// stored as 1 BC.)
func parseDate(s string) (time.Time, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, fmt.Errorf("%q is not a date in YYYY-MM-DD form", s)
	}
	n := func(i, j int) int {
		v := 0
		for ; i < j; i++ {
			if s[i] < '0' || s[i] > '9' {
				return -1
			}
			v = v*10 + int(s[i]-'0')
		}
		return v
	}
	y, m, d := n(0, 4), n(5, 7), n(8, 10)
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	// time.Date normalizes (February 30 is March 2): a real date comes back as itself.
	if y < 1 || m < 1 || d < 1 || t.Year() != y || t.Month() != time.Month(m) || t.Day() != d {
		return time.Time{}, fmt.Errorf("%q is not a valid date (YYYY-MM-DD, from 0001-01-01 to 9999-12-31)", s)
	}
	return t, nil
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
