package syncer

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// copyStream is the staging COPY's input: the snapshot's records encoded in
// PostgreSQL's binary COPY format as COPY reads them. Encoding straight from
// the decoded record (no row of interface values per record, no text to
// parse on the server) keeps the Go side of the stream cheaper than the
// server's.
type copyStream struct {
	src    *recordSource
	dups   *dupFilter
	totals *firstTotals // sums of valid payments, or nil
	buf    []byte       // encoded, from off on not yet read
	off    int
	done   bool
	err    error // the decoder's, when it stopped the stream
}

// copyChunk is how much is encoded between reads.
const copyChunk = 64 << 10

// copySignature starts a binary COPY stream: the signature, flags (none)
// and the header extension length (none).
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (c *copyStream) Read(p []byte) (int, error) {
	for c.off == len(c.buf) {
		if c.done {
			if c.err != nil {
				return 0, c.err
			}
			return 0, io.EOF
		}
		c.fill()
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

// fill encodes the next chunk of rows, in stagePrefix's order and then the
// entity's columns.
func (c *copyStream) fill() {
	c.buf, c.off = c.buf[:0], 0
	if c.src.dec.Received() == 0 && !c.done {
		c.buf = append(c.buf, copySignature...)
	}
	for len(c.buf) < copyChunk {
		r, err := c.src.next()
		if errors.Is(err, io.EOF) {
			c.dups.flush()
			c.dups.release()
			c.buf = binary.BigEndian.AppendUint16(c.buf, 0xffff) // the trailer
			c.done = true
			return
		}
		if err != nil {
			c.err, c.done = err, true
			return
		}
		h := c.dups.hash(r.ExternalID)
		c.dups.add(h)
		c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(len(stagePrefix)+len(c.src.ent.stageColumns)))
		c.buf = appendInt8(c.buf, r.Index)
		c.buf = appendInt8(c.buf, h)
		c.buf = c.src.appendKept(c.buf, r)
		if c.totals != nil && r.Invalid == nil {
			c.totals.add(r.PatientExternalID, r.AmountCents)
		}
	}
}

// copyFromWriter runs COPY sql on conn with what write writes, write
// running meanwhile in its own goroutine, and returns the COPY's tag and
// error and write's error. When write fails, the COPY fails too, but says
// only what the server said; when the COPY fails first, write's next
// write fails.
func copyFromWriter(ctx context.Context, conn *pgconn.PgConn, sql string, write func(io.Writer) error) (tag pgconn.CommandTag, copyErr, writeErr error) {
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		written <- err
	}()
	tag, copyErr = conn.CopyFrom(ctx, pr, sql)
	pr.CloseWithError(errors.New("the COPY ended")) // a writer still writing stops
	return tag, copyErr, <-written
}

// Binary COPY fields: a 4-byte length (-1 for NULL), then the value in the
// type's binary form.

func appendNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, 0xffffffff) }

func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendBool(b []byte, v bool) []byte {
	b = binary.BigEndian.AppendUint32(b, 1)
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// pgEpoch is day 0 of PostgreSQL's date.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400

func appendDate(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, uint32(int32(t.Unix()/86400-pgEpoch)))
}

// appendNumeric writes cents as a numeric with two decimals: base-10000
// digits, most significant first, without leading or trailing zero digits.
func appendNumeric(b []byte, cents int64) []byte {
	sign := uint16(0)
	abs := uint64(cents)
	if cents < 0 {
		sign, abs = 0x4000, uint64(-cents)
	}
	var digits [8]uint16
	n := 0
	ip, fp := abs/100, abs%100
	for v := ip; v > 0; v /= 10000 {
		n++
	}
	weight := n - 1 // of the first digit; -1 when only a fraction
	for i, v := n-1, ip; i >= 0; i, v = i-1, v/10000 {
		digits[i] = uint16(v % 10000)
	}
	if fp != 0 {
		digits[n] = uint16(fp * 100)
		n++
	}
	// No trailing zero digits either (10000.00 is one digit, 1, at weight
	// 1): the form PostgreSQL stores and sends, so that a staged amount and
	// a stored one are equal exactly when their bytes are (see diff.go).
	for n > 0 && digits[n-1] == 0 {
		n--
	}
	if n == 0 {
		weight = 0
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*n))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, 2) // display scale
	for _, d := range digits[:n] {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}
