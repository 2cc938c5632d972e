package testutil

import (
	"bytes"
	"compress/gzip"
)

// Gzip is b compressed, as an uploader would send a .json.gz snapshot.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b) // a bytes.Buffer does not fail
	_ = w.Close()
	return buf.Bytes()
}
