package snapgen

import (
	"bytes"
	"encoding/json"
	"testing"
)

type rec struct {
	ExternalID string `json:"externalId"`
	LastName   string `json:"lastName"`
	Amount     json.Number
	PatientID  string `json:"patientId"`
}

func parse(t *testing.T, write func(*bytes.Buffer) error) map[string]rec {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	var recs []rec
	if err := json.Unmarshal(buf.Bytes(), &recs); err != nil {
		t.Fatalf("generated snapshot is not JSON: %v", err)
	}
	out := map[string]rec{}
	for _, r := range recs {
		out[r.ExternalID] = r
	}
	if len(out) != len(recs) {
		t.Fatalf("generated %d records with %d distinct ids", len(recs), len(out))
	}
	return out
}

// The drifted snapshot is the base with about the requested shares changed,
// deleted and added, and the same seed always gives the same files.
func TestDrift(t *testing.T) {
	o := Options{Patients: 20000, Payments: 20000, Seed: 9, Change: 0.02, Delete: 0.01, Add: 0.01}
	for name, write := range map[string]func(*bytes.Buffer, bool) error{
		"patients": func(b *bytes.Buffer, d bool) error { return WritePatients(b, o, d, false) },
		"payments": func(b *bytes.Buffer, d bool) error { return WritePayments(b, o, d, false) },
	} {
		base := parse(t, func(b *bytes.Buffer) error { return write(b, false) })
		again := parse(t, func(b *bytes.Buffer) error { return write(b, false) })
		drift := parse(t, func(b *bytes.Buffer) error { return write(b, true) })
		if len(base) != 20000 || len(again) != len(base) {
			t.Fatalf("%s: %d base records", name, len(base))
		}
		var changed, deleted, added int
		for id, r := range base {
			if again[id] != r {
				t.Fatalf("%s: same seed, different record %s", name, id)
			}
			d, ok := drift[id]
			switch {
			case !ok:
				deleted++
			case d != r:
				changed++
			}
		}
		for id := range drift {
			if _, ok := base[id]; !ok {
				added++
			}
		}
		for what, n := range map[string]int{"changed": changed, "deleted": deleted, "added": added} {
			want := 200
			if what == "changed" {
				want = 400
			}
			if n < want/2 || n > want*2 {
				t.Errorf("%s: %d %s, want about %d", name, n, what, want)
			}
		}
	}
}
