package syncer

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The diff of a sync that is not a first load: which records are new,
// changed, restored or gone. It runs in the sync's process, not in the
// database. There it needed every record staged (a COPY of the whole
// snapshot) and a hash join of the whole snapshot with the whole table,
// about a microsecond per row whatever the change: 53-68 s of a 98-112 s
// drift at 30M payments.
//
// Here the snapshot's records and the table's compared columns (one COPY TO
// of the table, while the snapshot is still being read) are partitioned by
// a hash of the external id into files in TMPDIR, and each partition's
// records are compared with its rows in memory, each core taking one
// partition at a time. Only the differences go to the database, into the
// changes table that the rest of the merge reads. Values are compared as
// the binary COPY format encodes them: the snapshot's as encoded for
// staging, the table's as PostgreSQL sends them, which are the same bytes
// exactly when the values are equal (the encoders write PostgreSQL's
// canonical forms; TestAmountsArriveExactly and
// TestUnchangedRowsAreNotWritten diff stored values against themselves).
//
// A partition file holds records framed as a 4-byte length, then the
// external id's 64-bit hash, then
//   - snapshot: the record's index (8 bytes) and the record as kept
//     (recordSource.appendKept: id, validity, values);
//   - table: the row's COPY fields: id, external id, deleted, values.

// diffPartRows is how many table rows a partition is sized for, and
// diffMaxPartBytes how many bytes of snapshot records one holds in memory:
// a larger partition (a snapshot far larger than the table) is split into
// as many as it needs, by further bits of the hash, up to diffMaxDepth
// times. Vars, so that the tests can make partitions small.
var (
	diffPartRows     int64 = 100_000
	diffMaxPartBytes int64 = 24 << 20
)

const (
	diffMaxParts = 256 // two files each are open while partitioning or splitting
	diffMaxDepth = 3
	diffBufSize  = 16 << 10 // per open partition file
)

// diffCounts is what the diff found.
type diffCounts struct {
	inserts, updates, restores, deletes int64
	duplicates                          int64 // earlier occurrences of a repeated id, dropped
	validDropped                        int64 // how many of those were valid
}

// localDiff is one sync's diff: its partition files and what it found.
type localDiff struct {
	ent    *entity
	dir    string
	seed   maphash.Seed
	parts  int // a power of two
	snap   *partWriter
	target *partWriter
	n      diffCounts
}

// partCount is how many partitions hold about rows records at perPart
// each: a power of two (a hash's low bits pick one), at most diffMaxParts.
func partCount(rows, perPart int64) int {
	if rows <= perPart {
		return 1
	}
	return min(1<<bits.Len64(uint64((rows-1)/perPart)), diffMaxParts)
}

// newLocalDiff creates the partition files for a table of about rows rows.
func newLocalDiff(ent *entity, rows int64) (*localDiff, error) {
	parts := partCount(rows, diffPartRows)
	dir, err := os.MkdirTemp("", "patientsync-diff-")
	if err != nil {
		return nil, fmt.Errorf("diff: create a directory for its partitions (TMPDIR): %w", err)
	}
	d := &localDiff{ent: ent, dir: dir, seed: maphash.MakeSeed(), parts: parts}
	if d.snap, err = newPartWriter(dir, "snapshot", parts); err == nil {
		d.target, err = newPartWriter(dir, "table", parts)
	}
	if err != nil {
		d.remove()
		return nil, err
	}
	return d, nil
}

// remove deletes the partition files.
func (d *localDiff) remove() {
	if d == nil {
		return
	}
	for _, w := range []*partWriter{d.snap, d.target} {
		if w != nil {
			_ = w.close()
		}
	}
	_ = os.RemoveAll(d.dir)
}

// readSnapshot partitions the snapshot's records; stop ends it early.
func (d *localDiff) readSnapshot(src *recordSource, stop <-chan struct{}) error {
	var rec []byte
	for i := 0; ; i++ {
		if i&4095 == 0 {
			select {
			case <-stop:
				return errors.New("diff: stopped")
			default:
			}
		}
		r, err := src.next()
		if errors.Is(err, io.EOF) {
			return d.snap.close()
		}
		if err != nil {
			return err
		}
		h := maphash.String(d.seed, r.ExternalID)
		rec = binary.BigEndian.AppendUint32(rec[:0], 0)
		rec = binary.BigEndian.AppendUint64(rec, h)
		rec = binary.BigEndian.AppendUint64(rec, uint64(r.Index))
		rec = src.appendKept(rec, r)
		binary.BigEndian.PutUint32(rec, uint32(len(rec)-4))
		if err := d.snap.write(int(h&uint64(d.parts-1)), rec); err != nil {
			return err
		}
	}
}

// exportSplitter partitions the table's rows as COPY TO sends them (binary
// format: a header, then tuples of a field count and length-prefixed
// fields, then a trailer), whatever the chunks they arrive in.
type exportSplitter struct {
	d       *localDiff
	pending []byte
	header  bool
	rec     []byte
	rows    int64
}

var errExportFormat = errors.New("diff: unexpected COPY TO output")

func (e *exportSplitter) Write(p []byte) (int, error) {
	// COPY sends a row per message: parse p itself, and keep only what
	// a row split across writes leaves over.
	buf := p
	if len(e.pending) > 0 {
		e.pending = append(e.pending, p...)
		buf = e.pending
	}
	if !e.header {
		if len(buf) < len(copySignature) {
			e.pending = append(e.pending[:0], buf...)
			return len(p), nil
		}
		if !bytes.Equal(buf[:11], copySignature[:11]) {
			return 0, errExportFormat
		}
		ext := int(binary.BigEndian.Uint32(buf[15:19]))
		if len(buf) < 19+ext {
			e.pending = append(e.pending[:0], buf...)
			return len(p), nil
		}
		buf, e.header = buf[19+ext:], true
	}
	for len(buf) >= 2 {
		nf := int16(binary.BigEndian.Uint16(buf))
		if nf == -1 { // the trailer
			buf = buf[2:]
			break
		}
		end, ok := tupleEnd(buf, int(nf))
		if !ok {
			break
		}
		// id (8-byte int), then the external id.
		if nf < 3 || binary.BigEndian.Uint32(buf[2:]) != 8 {
			return 0, errExportFormat
		}
		idLen := int(binary.BigEndian.Uint32(buf[14:]))
		ext := buf[18 : 18+idLen]
		h := maphash.Bytes(e.d.seed, ext)
		e.rec = binary.BigEndian.AppendUint32(e.rec[:0], uint32(8+end-2))
		e.rec = binary.BigEndian.AppendUint64(e.rec, h)
		e.rec = append(e.rec, buf[2:end]...)
		if err := e.d.target.write(int(h&uint64(e.d.parts-1)), e.rec); err != nil {
			return 0, err
		}
		e.rows++
		buf = buf[end:]
	}
	e.pending = append(e.pending[:0], buf...)
	return len(p), nil
}

// tupleEnd is where the tuple at the start of buf, of nf fields, ends, if
// buf holds all of it.
func tupleEnd(buf []byte, nf int) (int, bool) {
	at := 2
	for range nf {
		if len(buf) < at+4 {
			return 0, false
		}
		n := int32(binary.BigEndian.Uint32(buf[at:]))
		at += 4
		if n > 0 {
			at += int(n)
		}
	}
	return at, len(buf) >= at
}

// compare diffs every partition, writing the changes to w as a binary
// COPY stream of the entity's changes table. Partitions are compared in
// parallel, one per core (the database is idle meanwhile), each worker with
// its own table and counts.
func (d *localDiff) compare(w io.Writer) error {
	out := &changeSink{w: w}
	if err := out.write(copySignature); err != nil {
		return err
	}
	workers := make([]*differ, min(runtime.GOMAXPROCS(0), d.parts, 4))
	var next atomic.Int64
	errs := make(chan error, len(workers))
	for i := range workers {
		c := &differ{ent: d.ent, out: out}
		workers[i] = c
		go func() {
			for p := int(next.Add(1) - 1); p < d.parts; p = int(next.Add(1) - 1) {
				if err := c.comparePart(d.snap.path(p), d.target.path(p), 32, 0); err != nil {
					next.Store(int64(d.parts)) // the others stop too
					errs <- err
					return
				}
			}
			errs <- c.flush()
		}()
	}
	var err error
	for range workers {
		err = cmp.Or(err, <-errs)
	}
	for _, c := range workers {
		d.n.add(c.n)
	}
	if err != nil {
		return err
	}
	return out.write([]byte{0xff, 0xff})
}

// changeSink is the changes' COPY stream, shared by the workers, which
// write whole rows to it.
type changeSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *changeSink) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.Write(b)
	return err
}

func (n *diffCounts) add(o diffCounts) {
	n.inserts += o.inserts
	n.updates += o.updates
	n.restores += o.restores
	n.deletes += o.deletes
	n.duplicates += o.duplicates
	n.validDropped += o.validDropped
}

// differ compares partitions, one at a time.
type differ struct {
	ent   *entity
	table snapTable
	n     diffCounts
	rows  []byte // change rows not yet written to out
	out   *changeSink
}

// comparePart diffs one partition, split further, by the hash bits from
// shift on, when its snapshot records are too many to hold.
func (c *differ) comparePart(snapPath, tablePath string, shift, depth int) error {
	defer os.Remove(snapPath)
	defer os.Remove(tablePath)
	fi, err := os.Stat(snapPath)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	if fi.Size() > diffMaxPartBytes && depth < diffMaxDepth {
		k := min(bits.Len64(uint64((fi.Size()-1)/diffMaxPartBytes)), bits.Len(diffMaxParts)-1)
		snaps, err := splitPart(snapPath, shift, k)
		if err != nil {
			return err
		}
		tables, err := splitPart(tablePath, shift, k)
		if err != nil {
			return err
		}
		for i := range snaps {
			if err := c.comparePart(snaps[i], tables[i], shift+k, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.table.load(snapPath, fi.Size(), &c.n); err != nil {
		return err
	}
	if err := c.matchRows(tablePath); err != nil {
		return err
	}
	// What the table does not hold is new.
	for i := range c.table.entries {
		e := &c.table.entries[i]
		if e.seen || !e.valid {
			continue
		}
		c.n.inserts++
		if err := c.change('i', e.ord, c.table.id(e), c.table.vals(e), nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// matchRows reads one partition of the table's rows against the snapshot's
// records in c.table.
func (c *differ) matchRows(path string) error {
	return eachRecord(path, func(rec []byte) (err error) {
		// h, then the id, external id and deleted fields, then the values.
		t := rec[8:]
		id := t[4:12]
		idLen := int(binary.BigEndian.Uint32(t[12:]))
		ext := t[16 : 16+idLen]
		deleted := t[16+idLen+4] == 1
		old := t[16+idLen+5:]
		i, _ := c.table.find(binary.BigEndian.Uint64(rec), ext)
		if i < 0 {
			if !deleted {
				c.n.deletes++
				err = c.change('d', -1, ext, nil, id, old)
			}
		} else {
			e := &c.table.entries[i]
			e.seen = true
			switch vals := c.table.vals(e); {
			case !e.valid: // an invalid record leaves its row alone
			case deleted:
				c.n.restores++
				err = c.change('r', e.ord, ext, vals, id, old)
			case !bytes.Equal(vals, old):
				c.n.updates++
				err = c.change('u', e.ord, ext, vals, id, old)
			}
		}
		return err
	})
}

// change adds one row of changes: ord (-1: none), external_id, target_id
// (nil: none), action, the new values (nil: NULLs) and, when the entity
// keeps them, the old ones.
func (c *differ) change(action byte, ord int64, ext, vals, id, old []byte) error {
	ncols := len(c.ent.stageColumns)
	nf := 4 + ncols
	if c.ent.changesOld {
		nf += ncols
	}
	b := binary.BigEndian.AppendUint16(c.rows, uint16(nf))
	if ord < 0 {
		b = appendNull(b)
	} else {
		b = appendInt8(b, ord)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ext)))
	b = append(b, ext...)
	if id == nil {
		b = appendNull(b)
	} else {
		b = binary.BigEndian.AppendUint32(b, 8)
		b = append(b, id...)
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, action)
	b = appendVals(b, vals, ncols)
	if c.ent.changesOld {
		b = appendVals(b, old, ncols)
	}
	c.rows = b
	if len(c.rows) >= 64<<10 {
		return c.flush()
	}
	return nil
}

func (c *differ) flush() error {
	err := c.out.write(c.rows)
	c.rows = c.rows[:0]
	return err
}

// appendVals appends values as encoded, or ncols NULLs.
func appendVals(b, vals []byte, ncols int) []byte {
	if vals != nil {
		return append(b, vals...)
	}
	for range ncols {
		b = appendNull(b)
	}
	return b
}

// snapTable holds one partition's snapshot records, the last occurrence of
// each external id, in an open-addressing index keyed by the id's hash,
// which every record carries already (a Go map would hash each id again
// and hold a string header per key). Its memory is reused from partition
// to partition.
type snapTable struct {
	arena   []byte  // the records as kept, back to back
	slots   []int32 // entry index + 1 by hash, 0 when free; a power of two, at most half full
	entries []snapEntry
}

type snapEntry struct {
	h        uint64 // of the external id
	ord      int64
	off, end uint32 // of the record as kept, in arena
	valid    bool
	seen     bool // the table has its row
}

// diffMaxArena bounds a partition's records in memory: offsets are 32-bit.
const diffMaxArena = 1<<32 - 1

// id is the record's external id, vals its values.
func (t *snapTable) id(e *snapEntry) []byte {
	n := binary.BigEndian.Uint32(t.arena[e.off:])
	return t.arena[e.off+4 : e.off+4+n]
}

func (t *snapTable) vals(e *snapEntry) []byte {
	n := binary.BigEndian.Uint32(t.arena[e.off:])
	return t.arena[e.off+4+n+5 : e.end]
}

// find returns the index of the entry with external id ext (hash h), or -1
// and the free slot where it would go.
func (t *snapTable) find(h uint64, ext []byte) (entry, slot int) {
	// Fibonacci hashing: every bit of h counts, also where the partition's
	// records share their low (and split) bits.
	mask := uint64(len(t.slots) - 1)
	i := (h * 0x9e3779b97f4a7c15) >> (64 - bits.Len64(mask))
	for ; t.slots[i] != 0; i = (i + 1) & mask {
		e := &t.entries[t.slots[i]-1]
		if e.h == h && bytes.Equal(t.id(e), ext) {
			return int(t.slots[i] - 1), int(i)
		}
	}
	return -1, int(i)
}

// grow doubles the slots and indexes every entry again.
func (t *snapTable) grow() {
	t.slots = make([]int32, max(2*len(t.slots), 1024))
	mask := uint64(len(t.slots) - 1)
	for k := range t.entries {
		i := (t.entries[k].h * 0x9e3779b97f4a7c15) >> (64 - bits.Len64(mask))
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(k + 1)
	}
}

// load reads a snapshot partition of size bytes; later occurrences of an id
// replace earlier ones, which n counts.
func (t *snapTable) load(path string, size int64, n *diffCounts) error {
	clear(t.slots)
	if len(t.slots) == 0 {
		t.grow()
	}
	t.entries = t.entries[:0]
	// A quarter more than this partition, so that the next, a little
	// larger, does not leave this arena as garbage.
	if want := min(size, diffMaxPartBytes); int64(cap(t.arena)) < want {
		t.arena = make([]byte, 0, want+want/4)
	}
	t.arena = t.arena[:0]
	return eachRecord(path, func(rec []byte) error {
		kept := rec[16:]
		if len(t.arena)+len(kept) > cap(t.arena) {
			if err := t.compact(len(kept)); err != nil {
				return err
			}
		}
		h := binary.BigEndian.Uint64(rec)
		off := len(t.arena)
		t.arena = append(t.arena, kept...)
		e := snapEntry{h: h, ord: int64(binary.BigEndian.Uint64(rec[8:])), off: uint32(off), end: uint32(len(t.arena))}
		idLen := int(binary.BigEndian.Uint32(kept))
		e.valid = kept[4+idLen+4] == 1
		i, slot := t.find(h, kept[4:4+idLen])
		if i >= 0 {
			n.duplicates++
			if t.entries[i].valid {
				n.validDropped++
			}
			t.entries[i] = e
			return nil
		}
		t.entries = append(t.entries, e)
		t.slots[slot] = int32(len(t.entries))
		if 2*len(t.entries) > len(t.slots) {
			t.grow()
		}
		return nil
	})
}

// compact moves the records still held (not replaced by a later
// occurrence) to a new arena with room for need more bytes; the entries
// keep their slots. Only a partition that could not be split further grows
// past diffMaxPartBytes: one whose records repeat a few ids, which this
// keeps small.
func (t *snapTable) compact(need int) error {
	live := need
	for i := range t.entries {
		live += int(t.entries[i].end - t.entries[i].off)
	}
	if live > diffMaxArena/2 {
		return fmt.Errorf("diff: a partition holds more than %d bytes of records after every split", diffMaxArena/2)
	}
	arena := make([]byte, 0, max(2*live, int(diffMaxPartBytes)))
	for i := range t.entries {
		e := &t.entries[i]
		off := len(arena)
		arena = append(arena, t.arena[e.off:e.end]...)
		e.off, e.end = uint32(off), uint32(len(arena))
	}
	t.arena = arena
	return nil
}

// eachRecord calls fn with each record of a partition file (without its
// length), in a buffer that fn may not keep.
func eachRecord(path string, fn func(rec []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var rec []byte
	for {
		rec, err = readRecord(r, rec)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// readRecord reads one framed record into buf (without its length).
func readRecord(r *bufio.Reader, buf []byte) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return buf, err // io.EOF at a record boundary
	}
	n := int(binary.BigEndian.Uint32(l[:]))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, fmt.Errorf("diff: read a partition: %w", io.ErrUnexpectedEOF)
	}
	return buf, nil
}

// splitPart splits a partition file in 2^k by k hash bits from shift on,
// and removes it.
func splitPart(path string, shift, k int) ([]string, error) {
	w, err := newPartWriter(filepath.Dir(path), filepath.Base(path)+".", 1<<k)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 1<<k)
	for i := range paths {
		paths[i] = w.path(i)
	}
	var framed []byte
	err = eachRecord(path, func(rec []byte) error {
		h := binary.BigEndian.Uint64(rec)
		framed = append(binary.BigEndian.AppendUint32(framed[:0], uint32(len(rec))), rec...)
		return w.write(int(h>>shift)&(1<<k-1), framed)
	})
	if cerr := w.close(); err == nil {
		err = cerr
	}
	_ = os.Remove(path)
	return paths, err
}

// partWriter writes records to n partition files.
type partWriter struct {
	dir, name string
	files     []*os.File
	bufs      []*bufio.Writer
	bytes     int64 // written
}

func newPartWriter(dir, name string, n int) (*partWriter, error) {
	w := &partWriter{dir: dir, name: name}
	for i := range n {
		f, err := os.Create(w.path(i))
		if err != nil {
			_ = w.close()
			return nil, fmt.Errorf("diff: create a partition file (TMPDIR): %w", err)
		}
		w.files = append(w.files, f)
		w.bufs = append(w.bufs, bufio.NewWriterSize(f, diffBufSize))
	}
	return w, nil
}

func (w *partWriter) path(i int) string { return filepath.Join(w.dir, fmt.Sprintf("%s%d", w.name, i)) }

func (w *partWriter) write(part int, rec []byte) error {
	if _, err := w.bufs[part].Write(rec); err != nil {
		return fmt.Errorf("diff: write a partition file (TMPDIR): %w", err)
	}
	w.bytes += int64(len(rec))
	return nil
}

// close flushes and closes the files; once.
func (w *partWriter) close() error {
	var errs []error
	for i, f := range w.files {
		errs = append(errs, w.bufs[i].Flush(), f.Close())
	}
	w.files, w.bufs = nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("diff: write a partition file (TMPDIR): %w", err)
	}
	return nil
}

// diffSnapshot reads the snapshot into partitions while the table's rows
// are exported into theirs, on conn, outside the sync's transaction; the
// merge then compares them (diffChanges). The export's lock on the table
// (ACCESS SHARE) lasts as long as the export: a build of the other entity
// that swaps this table waits for it (and readers behind the swap), but no
// longer, and nothing that the export waits for waits for this sync. The
// table's compared columns and rows change only in syncs of this entity,
// which wait for its lock: the export is what the merge will find.
func (m *merger) diffSnapshot(ctx context.Context, conn *pgx.Conn, r io.Reader, tracker *readErrTracker) error {
	rows, err := estimateRows(ctx, conn, m.ent.table)
	if err != nil {
		return err
	}
	d, err := newLocalDiff(m.ent, rows)
	if err != nil {
		return err
	}
	m.diff = d
	src := newRecordSource(r, m.ent, m.res, m.cfg.MaxInvalidRecords)
	stop := make(chan struct{})
	read := make(chan error, 1)
	start := time.Now()
	go func() { read <- d.readSnapshot(src, stop) }()

	split := &exportSplitter{d: d}
	_, err = conn.PgConn().CopyTo(ctx, split, m.ent.export)
	if err == nil && !split.header {
		err = errExportFormat
	}
	if err == nil {
		err = d.target.close()
	}
	if err != nil {
		err = fmt.Errorf("export %s: %w", m.ent.table, err)
	}
	m.log.Debug("sync step", "step", "export table", "rows", split.rows, "seconds", time.Since(start).Seconds())
	if err != nil {
		close(stop)
	}
	rerr := <-read
	m.res.Received = src.dec.Received()
	m.staged = src.valid
	m.log.Debug("sync step", "step", "partition snapshot", "rows", m.res.Received, "bytes", src.dec.Offset(),
		"partitions", d.parts, "partition_bytes", d.snap.bytes+d.target.bytes, "seconds", time.Since(start).Seconds())
	if err != nil {
		return err
	}
	return m.readEnded(tracker, "partition snapshot", rerr)
}

// diffChanges compares the partitions into the changes table, in target id
// order: the updates and soft deletes that follow then walk the primary
// key in its order (and the table too where its rows lie in id order, as
// payments' do after a build) instead of at random.
func (m *merger) diffChanges(ctx context.Context) error {
	d := m.diff
	if _, err := m.tx.Exec(ctx, "CREATE TEMP TABLE diff ("+m.ent.changesDDL+") ON COMMIT DROP"); err != nil {
		return fmt.Errorf("create the diff table: %w", err)
	}
	start := time.Now()
	_, err, cerr := copyFromWriter(ctx, m.tx.Conn().PgConn(), "COPY diff FROM STDIN WITH (FORMAT binary)", d.compare)
	if cerr != nil && err != nil {
		err = cerr // COPY reports it only as the server's message
	}
	if err != nil {
		return fmt.Errorf("diff snapshot: %w", err)
	}
	n := d.n
	m.log.Debug("sync step", "step", "diff snapshot", "rows", n.inserts+n.updates+n.restores+n.deletes, "seconds", time.Since(start).Seconds())
	m.res.Duplicates = n.duplicates
	m.staged -= n.validDropped
	m.res.Inserted, m.res.Updated, m.res.Restored, m.res.Deleted = n.inserts, n.updates, n.restores, n.deletes
	return m.execAll(ctx,
		step{"order changes", "CREATE TEMP TABLE changes ON COMMIT DROP AS SELECT * FROM diff ORDER BY target_id; DROP TABLE diff"},
		// Usually small: with statistics the planner applies it through
		// index lookups instead of scanning the target again.
		step{"analyze changes", "ANALYZE changes"})
}
