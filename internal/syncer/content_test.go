package syncer

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// A snapshot's content hash is stored in sync_runs and compared with the
// next snapshot's: it must not change from one release to the next, or the
// first sync after an upgrade diffs what it could have skipped. These are
// the hashes of two small snapshots (valid, invalid, id-less and repeated
// records) as the releases since content hashes began computed them.
func TestContentHashIsStable(t *testing.T) {
	for _, tc := range []struct {
		ent  *entity
		body string
		want string
	}{
		{&patients, `[{"externalId":"p1","firstName":"Ann","lastName":"Lee","dateOfBirth":"1980-02-29"},
			{"externalId":"p2","firstName":"Bo","lastName":"Li","middleName":"Q","dateOfBirth":"2001-12-31"},
			{"externalId":"p3","firstName":"","lastName":"X","dateOfBirth":"2000-01-01"},
			{"firstName":"No","lastName":"Id","dateOfBirth":"2000-01-01"},
			{"externalId":"p1","firstName":"Ann","lastName":"Lee","dateOfBirth":"1980-02-29"}]`, "99d3f47556bc5264604d6b7d53c096b5-5"},
		{&payments, `[{"externalId":"a","amount":"10000.00","patientId":"p1"},
			{"externalId":"b","amount":-0.5,"patientId":"p2"},
			{"externalId":"c","amount":"999999999999.99","patientId":"nobody"},
			{"externalId":"d","amount":"1.234","patientId":"p1"}]`, "270a529d8d4ba9e35778ffd1bd71872b-4"},
	} {
		res := &Result{}
		src := newRecordSource(strings.NewReader(tc.body), tc.ent, res, 10)
		var b []byte
		for {
			r, err := src.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b = src.appendKept(b[:0], r)
		}
		if res.ContentHash != tc.want {
			t.Errorf("%s: content hash %s, want %s", tc.ent.name, res.ContentHash, tc.want)
		}
	}
}
