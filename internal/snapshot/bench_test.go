package snapshot

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/patientsync/patientsync/internal/snapgen"
)

func benchDecode(b *testing.B, entity Entity) {
	var buf bytes.Buffer
	o := snapgen.Options{Patients: 100000, Payments: 100000, Seed: 1}
	if entity == Patients {
		_ = snapgen.WritePatients(&buf, o, false, false)
	} else {
		_ = snapgen.WritePayments(&buf, o, false, false)
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
