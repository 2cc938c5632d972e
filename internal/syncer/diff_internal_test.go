package syncer

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

// The export's rows are partitioned the same whatever the chunks COPY TO
// delivers them in (pgconn writes one message at a time, one row each, but
// nothing in the format promises that).
func TestExportSplitterIgnoresChunking(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	stream := append([]byte{}, copySignature...)
	for i, ext := range []string{"a", "patient-2", ""} {
		stream = binary.BigEndian.AppendUint16(stream, 5)
		stream = appendInt8(stream, int64(i+1))
		stream = appendText(stream, ext)
		stream = appendBool(stream, i == 1)
		stream = appendNumeric(stream, int64(1000*i+5))
		stream = appendNull(stream)
	}
	stream = binary.BigEndian.AppendUint16(stream, 0xffff)

	split := func(chunk int) (int64, []byte) {
		t.Helper()
		d, err := newLocalDiff(&payments, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.remove()
		e := &exportSplitter{d: d}
		for at := 0; at < len(stream); at += chunk {
			if _, err := e.Write(stream[at:min(at+chunk, len(stream))]); err != nil {
				t.Fatalf("chunks of %d: %v", chunk, err)
			}
		}
		if err := d.target.close(); err != nil {
			t.Fatal(err)
		}
		table, err := os.ReadFile(d.target.path(0))
		if err != nil {
			t.Fatal(err)
		}
		// The hash depends on the diff's seed: compare the rows without it.
		var rows []byte
		for len(table) > 0 {
			n := binary.BigEndian.Uint32(table)
			rows = append(rows, table[12:4+n]...)
			table = table[4+n:]
		}
		return e.rows, rows
	}
	wantRows, want := split(len(stream))
	if wantRows != 3 || !bytes.Contains(want, []byte("patient-2")) {
		t.Fatalf("whole stream: %d rows, %q", wantRows, want)
	}
	for _, chunk := range []int{1, 2, 7, 19, 20} {
		if rows, got := split(chunk); rows != wantRows || !bytes.Equal(got, want) {
			t.Errorf("chunks of %d bytes: %d rows, %x; want %d, %x", chunk, rows, got, wantRows, want)
		}
	}
}
