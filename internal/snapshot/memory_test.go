package snapshot_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/testutil"
)

// repeated is n bytes of b, made as they are read: nothing is ever held.
type repeated struct {
	b byte
	n int64
}

func (r *repeated) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}

func rep(b byte, n int64) io.Reader { return &repeated{b: b, n: n} }
func str(s string) io.Reader        { return strings.NewReader(s) }

const okPatient = `{"externalId":"ok","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}`

// gzipBomb is about 2 MB of gzip that expands to n bytes of blanks: one
// member of 64 MiB of blanks, concatenated (a gzip file may hold many).
func gzipBomb(t testing.TB, n int64) io.Reader {
	const unit = 64 << 20
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, _ = io.Copy(zw, rep(' ', unit))
	_ = zw.Close()
	var parts []io.Reader
	for i := int64(0); i < n/unit; i++ {
		parts = append(parts, bytes.NewReader(member.Bytes()))
	}
	return io.MultiReader(parts...)
}

// TestDecoderMemoryIsBounded feeds hostile streams of gigabytes through the
// decoder and holds its live heap to a fixed budget, whatever the input.
func TestDecoderMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams several GiB")
	}
	const budget = 8 << 20
	const GiB, MiB = 1 << 30, 1 << 20
	tests := []struct {
		name   string
		entity snapshot.Entity
		input  func() io.Reader
		gzip   bool
		// want: the records' invalid fields ("" for a valid record), or a
		// malformed-file error containing wantErr.
		want    []string
		wantErr string
	}{
		{name: "2 GiB of blanks between records", entity: snapshot.Patients,
			input: func() io.Reader { return io.MultiReader(str("["+okPatient+","), rep(' ', 2*GiB), str(okPatient+"]")) },
			want:  []string{"", ""}},
		{name: "512 MiB of blanks inside an object", entity: snapshot.Patients,
			input: func() io.Reader {
				return io.MultiReader(str(`[{"externalId":"1",`), rep('\n', 512*MiB), str(`"firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`))
			},
			want: []string{""}},
		{name: "256 MiB string in an unknown field", entity: snapshot.Patients,
			input: func() io.Reader {
				return io.MultiReader(str(`[{"notes":"`), rep('x', 256*MiB), str(`","externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`))
			},
			want: []string{""}},
		{name: "256 MiB externalId", entity: snapshot.Patients,
			input: func() io.Reader {
				return io.MultiReader(str(`[{"externalId":"`), rep('7', 256*MiB), str(`","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"},`+okPatient+`]`))
			},
			want: []string{"externalId", ""}},
		{name: "256 MiB number in an unknown field", entity: snapshot.Payments,
			input: func() io.Reader {
				return io.MultiReader(str(`[{"n":1`), rep('0', 256*MiB), str(`,"externalId":"1","amount":"1.00","patientId":"2"}]`))
			},
			want: []string{""}},
		{name: "256 MiB amount", entity: snapshot.Payments,
			input: func() io.Reader {
				return io.MultiReader(str(`[{"externalId":"1","patientId":"2","amount":9`), rep('9', 256*MiB), str(`}]`))
			},
			want: []string{"amount"}},
		{name: "64 MiB of nested arrays in an unknown field", entity: snapshot.Patients,
			input:   func() io.Reader { return io.MultiReader(str(`[{"x":`), rep('[', 64*MiB)) },
			wantErr: "nested deeper than"},
		{name: "gzip of 2 GiB of blanks", entity: snapshot.Patients, gzip: true,
			input: func() io.Reader {
				return io.MultiReader(bytes.NewReader(testutil.Gzip([]byte("["+okPatient+","))), gzipBomb(t, 2*GiB), bytes.NewReader(testutil.Gzip([]byte(okPatient+"]"))))
			},
			want: []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var err error
			peak := testutil.PeakLiveHeap(func() {
				r := tt.input()
				if tt.gzip {
					var closeFn func() error
					if r, closeFn, err = snapshot.Decompress(r); err != nil {
						return
					}
					defer closeFn()
				}
				d := snapshot.NewDecoder(r, tt.entity)
				for {
					var rec snapshot.Record
					if err = d.Next(&rec); err != nil {
						break
					}
					field := ""
					if rec.Invalid != nil {
						field = rec.Invalid.Field
					}
					got = append(got, field)
				}
			})
			t.Logf("peak live heap %.1f MB", float64(peak)/(1<<20))
			if peak > budget {
				t.Errorf("peak live heap %d bytes, over the %d budget", peak, budget)
			}
			if tt.wantErr != "" {
				if !errors.Is(err, snapshot.ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want malformed: %s", err, tt.wantErr)
				}
				return
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("error %v", err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("records' invalid fields %q, want %q", got, tt.want)
			}
		})
	}
}
