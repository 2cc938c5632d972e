package snapshot

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/patientsync/patientsync/internal/gen"
)

func benchDecode(b *testing.B, entity Entity) {
	var buf bytes.Buffer
	o := gen.Options{Patients: 100000, Payments: 100000, Seed: 1}
	if entity == Patients {
		_ = gen.WritePatients(&buf, o, false, false)
	} else {
		_ = gen.WritePayments(&buf, o, false, false)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(data), entity)
		var r Record
		for {
			if err := d.Next(&r); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

func BenchmarkDecodePatients(b *testing.B) { benchDecode(b, Patients) }
func BenchmarkDecodePayments(b *testing.B) { benchDecode(b, Payments) }
