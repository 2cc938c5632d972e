package snapshot

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads JSON text from a reader through one fixed buffer. Nothing it
// reads is kept beyond the current byte: string and number contents are
// copied into a caller's buffer only up to a limit and otherwise skipped, so
// that memory is bounded whatever the input (runs of blanks, strings of
// gigabytes, deep nesting). It checks the JSON grammar and UTF-8 as it goes.
type scanner struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	end  int   // end of the valid bytes in buf
	base int64 // input offset of buf[0]
	rerr error // the reader's error once seen (io.EOF at the end)
	// kinds is the stack of open containers while skipping a value: one bit
	// per level, set for an object.
	kinds [maxDepth/64 + 1]uint64
}

const (
	readBufSize = 64 << 10
	// maxDepth bounds nesting inside a record; deeper input is malformed.
	maxDepth = 10_000
)

// syntaxError is input that is not JSON text; it makes the file malformed.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, readBufSize)}
}

// offset is the number of input bytes consumed.
func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

func (s *scanner) errorf(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" at byte %d", s.offset())}
}

// endErr is the error for input that ends where more is needed.
func (s *scanner) endErr() error {
	if s.rerr != nil && !errors.Is(s.rerr, io.EOF) {
		return s.rerr
	}
	return io.ErrUnexpectedEOF
}

// more makes at least one unread byte available, reading into the emptied
// buffer; it is false at the end of the input or on a read error.
func (s *scanner) more() bool {
	if s.pos < s.end {
		return true
	}
	if s.rerr != nil {
		return false
	}
	s.base += int64(s.end)
	s.pos, s.end = 0, 0
	for empty := 0; s.end == 0 && s.rerr == nil; empty++ {
		n, err := s.r.Read(s.buf)
		s.end, s.rerr = n, err
		if n == 0 && err == nil && empty > 100 {
			s.rerr = io.ErrNoProgress
		}
	}
	return s.end > 0
}

// prefix returns the next n unread bytes (fewer at the end of the input)
// without consuming them, moving what is left of the buffer to its front.
func (s *scanner) prefix(n int) []byte {
	for s.end-s.pos < n && s.rerr == nil {
		copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.end -= s.pos
		s.pos = 0
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		s.rerr = err
	}
	return s.buf[s.pos:min(s.end, s.pos+n)]
}

// skipWS consumes blanks and returns the next byte, or false at the end.
func (s *scanner) skipWS() (byte, bool) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, true
			}
		}
		if !s.more() {
			return 0, false
		}
	}
}

// next consumes and returns one byte.
func (s *scanner) next() (byte, error) {
	if !s.more() {
		return 0, s.endErr()
	}
	c := s.buf[s.pos]
	s.pos++
	return c, nil
}

// keep appends b to dst while dst holds fewer than max bytes.
func keep(dst, b []byte, max int) []byte {
	if room := max - len(dst); room > 0 {
		dst = append(dst, b[:min(len(b), room)]...)
	}
	return dst
}

// str reads the rest of a string whose opening quote was consumed. It
// appends at most max bytes of the decoded content to dst and returns the
// content's full length in bytes.
func (s *scanner) str(dst []byte, max int) ([]byte, int64, error) {
	var n int64
	for {
		start := s.pos
		for s.pos < s.end {
			if c := s.buf[s.pos]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			s.pos++
		}
		if s.pos > start {
			dst = keep(dst, s.buf[start:s.pos], max)
			n += int64(s.pos - start)
		}
		if s.pos == s.end {
			if !s.more() {
				return dst, n, s.endErr()
			}
			continue
		}
		switch c := s.buf[s.pos]; {
		case c == '"':
			s.pos++
			return dst, n, nil
		case c == '\\':
			s.pos++
			r, err := s.escape()
			if err != nil {
				return dst, n, err
			}
			var enc [utf8.UTFMax]byte
			w := utf8.EncodeRune(enc[:], r)
			dst = keep(dst, enc[:w], max)
			n += int64(w)
		case c < 0x20:
			return dst, n, s.errorf("control character %#02x in a string", c)
		default:
			b, err := s.rune()
			if err != nil {
				return dst, n, err
			}
			dst = keep(dst, b, max)
			n += int64(len(b))
		}
	}
}

// rune consumes one multi-byte UTF-8 character and returns its bytes
// (valid until the next read).
func (s *scanner) rune() ([]byte, error) {
	if s.end-s.pos < utf8.UTFMax {
		s.prefix(utf8.UTFMax)
	}
	r, w := utf8.DecodeRune(s.buf[s.pos:s.end])
	if r == utf8.RuneError && w <= 1 {
		return nil, s.errorf("invalid UTF-8 (is the file UTF-8 encoded?)")
	}
	b := s.buf[s.pos : s.pos+w]
	s.pos += w
	return b, nil
}

// escape decodes an escape sequence after its backslash.
func (s *scanner) escape() (rune, error) {
	c, err := s.next()
	if err != nil {
		return 0, err
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A surrogate must be the first half of a pair.
		if b := s.prefix(2); len(b) == 2 && b[0] == '\\' && b[1] == 'u' {
			s.pos += 2
			r2, err := s.hex4()
			if err != nil {
				return 0, err
			}
			if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
				return p, nil
			}
		}
		return 0, s.errorf("unpaired surrogate in a \\u escape (not valid Unicode)")
	}
	return 0, s.errorf("invalid escape \\%c in a string", c)
}

func (s *scanner) hex4() (rune, error) {
	var r rune
	for range 4 {
		c, err := s.next()
		if err != nil {
			return 0, err
		}
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, s.errorf("invalid \\u escape in a string")
		}
	}
	return r, nil
}

// num reads a number starting at the next byte, checking JSON's grammar. It
// appends at most max bytes of its text to dst and returns its full length.
func (s *scanner) num(dst []byte, max int) ([]byte, int64, error) {
	var n int64
	// One state per place in -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
	const (
		start = iota
		sign
		zero
		intDigits
		dot
		fracDigits
		exp
		expSign
		expDigits
	)
	state := start
	for {
		if !s.more() {
			break
		}
		c := s.buf[s.pos]
		next := -1
		switch {
		case c == '-' && state == start:
			next = sign
		case c == '0' && (state == start || state == sign):
			next = zero
		case c >= '1' && c <= '9' && (state == start || state == sign):
			next = intDigits
		case c >= '0' && c <= '9' && state == intDigits:
			next = intDigits
		case c == '.' && (state == zero || state == intDigits):
			next = dot
		case c >= '0' && c <= '9' && (state == dot || state == fracDigits):
			next = fracDigits
		case (c == 'e' || c == 'E') && (state == zero || state == intDigits || state == fracDigits):
			next = exp
		case (c == '+' || c == '-') && state == exp:
			next = expSign
		case c >= '0' && c <= '9' && (state == exp || state == expSign || state == expDigits):
			next = expDigits
		}
		if next < 0 {
			break
		}
		state = next
		if len(dst) < max {
			dst = append(dst, c)
		}
		n++
		s.pos++
	}
	switch state {
	case zero, intDigits, fracDigits, expDigits:
		return dst, n, nil
	}
	if s.pos == s.end && s.rerr != nil {
		return dst, n, s.endErr()
	}
	return dst, n, s.errorf("invalid number")
}

// literal consumes the word (true, false or null) starting at the next byte.
func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, err := s.next()
		if err != nil {
			return err
		}
		if c != word[i] {
			return s.errorf("invalid literal, want %s", word)
		}
	}
	return nil
}

// skip consumes one whole value that starts with c, without keeping any of
// it, however large or deep.
func (s *scanner) skip(c byte) error {
	depth := 0
	for {
		// A value starts at c.
		switch {
		case c == '"':
			s.pos++
			if _, _, err := s.str(nil, 0); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if _, _, err := s.num(nil, 0); err != nil {
				return err
			}
		case c == 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		case c == '{' || c == '[':
			if depth == maxDepth {
				return s.errorf("values nested deeper than %d levels", maxDepth)
			}
			s.pos++
			w, b := depth/64, uint64(1)<<(depth%64)
			if c == '{' {
				s.kinds[w] |= b
			} else {
				s.kinds[w] &^= b
			}
			depth++
			var ok bool
			if c, ok = s.skipWS(); !ok {
				return s.endErr()
			}
			if c == '}' && s.isObject(depth) || c == ']' && !s.isObject(depth) {
				s.pos++
				depth--
				break
			}
			if s.isObject(depth) {
				if err := s.member(c); err != nil {
					return err
				}
				if c, ok = s.skipWS(); !ok {
					return s.endErr()
				}
			}
			continue // the first element or member value
		default:
			return s.errorf("unexpected %s", describe(c))
		}
		// A value ended: close containers or go on to the next element.
		for {
			if depth == 0 {
				return nil
			}
			c, ok := s.skipWS()
			if !ok {
				return s.endErr()
			}
			obj := s.isObject(depth)
			if c == '}' && obj || c == ']' && !obj {
				s.pos++
				depth--
				continue
			}
			if c != ',' {
				return s.errorf("unexpected %s after a value", describe(c))
			}
			s.pos++
			if c, ok = s.skipWS(); !ok {
				return s.endErr()
			}
			if obj {
				if err := s.member(c); err != nil {
					return err
				}
				if c, ok = s.skipWS(); !ok {
					return s.endErr()
				}
			}
			break
		}
		c, _ = s.skipWS()
	}
}

func (s *scanner) isObject(depth int) bool {
	d := depth - 1
	return s.kinds[d/64]&(uint64(1)<<(d%64)) != 0
}

// member consumes an object member's name (starting at c) and its colon.
func (s *scanner) member(c byte) error {
	if c != '"' {
		return s.errorf("unexpected %s, want an object member name", describe(c))
	}
	s.pos++
	if _, _, err := s.str(nil, 0); err != nil {
		return err
	}
	if c, ok := s.skipWS(); !ok {
		return s.endErr()
	} else if c != ':' {
		return s.errorf("unexpected %s after an object member name, want :", describe(c))
	}
	s.pos++
	return nil
}

// describe names the byte that starts something unexpected.
func describe(c byte) string {
	if c >= ' ' && c < utf8.RuneSelf {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte %#02x", c)
}

// kindName names the JSON type of a value starting with c.
func kindName(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "not JSON"
}
