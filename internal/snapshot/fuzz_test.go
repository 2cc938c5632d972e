package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// FuzzDecode checks that no input panics the decoder, that input which is not
// JSON is always rejected (and JSON only for a reason of ours), and that
// every accepted record is complete.
// `make test` runs the seed corpus; `make fuzz` explores.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"../../testdata/patients.json", "../../testdata/payments.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `[]`, `{}`, `[1]`, `[{"externalId":"1"}]`, `[{"amount":"1e-2","patientId":1,"externalId":2}]`,
		`[{"firstName":"A","lastName":"B","dateOfBirth":"2000-02-29","externalId":"1","middleName":null}]`, `[{"amount":12.345}`, `[{"a":[{"b":{}}]}]`,
		"\xEF\xBB\xBF[]", `[{"externalId":"\ud83d\ude00"}]`, `[{"externalId":"\ud83d"}]`, `[{"x":1e5,"y":-0.5E-3,"z":[true,false,null]}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, entity := range []Entity{Patients, Payments} {
			d := NewDecoder(strings.NewReader(string(data)), entity)
			var n int64
			var err error
			for {
				var r Record
				if err = d.Next(&r); err != nil {
					break
				}
				if r.Index != n {
					t.Fatalf("index %d, want %d", r.Index, n)
				}
				n++
				if r.Invalid != nil {
					if r.Invalid.Reason == "" || r.Invalid.Index != r.Index {
						t.Fatalf("incomplete problem %+v", r.Invalid)
					}
					continue
				}
				if r.ExternalID == "" || strings.ContainsRune(r.ExternalID, 0) {
					t.Fatalf("valid record without usable externalId: %+v", r)
				}
				switch entity {
				case Patients:
					if strings.TrimSpace(r.FirstName) == "" || strings.TrimSpace(r.LastName) == "" || r.DateOfBirth.Year() < 1 || r.DateOfBirth.Year() > 9999 {
						t.Fatalf("valid patient missing a field: %+v", r)
					}
				case Payments:
					if strings.TrimSpace(r.PatientExternalID) == "" {
						t.Fatalf("valid payment without patientId: %+v", r)
					}
					// The stored amount reads back as itself: exact, no rounding.
					if back, err := ParseCents(FormatCents(r.AmountCents)); err != nil || back != r.AmountCents {
						t.Fatalf("amount %d formats as %q, which parses as %d (%v)", r.AmountCents, FormatCents(r.AmountCents), back, err)
					}
				}
			}
			if errors.Is(err, io.EOF) {
				if !json.Valid(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))) { // a BOM is allowed
					t.Fatalf("accepted input that is not JSON: %q", data)
				}
				if d.Received() != n {
					t.Fatalf("received %d, read %d", d.Received(), n)
				}
			} else if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			} else if json.Valid(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))) && !acceptableRefusal(err) {
				t.Fatalf("valid JSON refused: %v\n%q", err, data)
			}
		}
	})
}

// acceptableRefusal: valid JSON that is still not a snapshot.
func acceptableRefusal(err error) bool {
	for _, why := range []string{"want a JSON array", "empty body", "nested deeper than", "surrogate", "UTF-8", "data after the closing bracket"} {
		if strings.Contains(err.Error(), why) {
			return true
		}
	}
	return false
}
