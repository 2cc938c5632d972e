package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func stdJSON(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var trickyStrings = []string{
	"", "plain", `"quoted"`, `back\slash`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "Zoë Ångström", "日本語", "emoji 🙂",
	"bad utf-8 \xff\xfe", "line\u2028sep\u2029", "<b>&amp;</b>", `\u003c`, "a\"b\\c",
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 11, 29, 5, 31, 18, 810436000, time.UTC)
	cur, next := "eyJyIjoi", "/patients?cursor=eyJyIjoi&limit=2"
	var pats []Patient
	var pays []Payment
	for i, s := range trickyStrings {
		mid := s
		pid := int64(i * 1000)
		p := Patient{ID: int64(i + 1), ExternalID: s, FirstName: s, LastName: "L" + s, DateOfBirth: "2093-12-20",
			PaymentsTotal: json.Number([]string{"0.00", "17.22", "-1.50", "9999999999999999.99"}[i%4]), PaymentsCount: int64(i),
			Created: ts, Updated: ts.Add(time.Duration(i) * time.Second)}
		q := Payment{ID: int64(i + 1), ExternalID: s, Amount: p.PaymentsTotal, PatientExternalID: s, Created: ts.Truncate(time.Second), Updated: ts}
		if i%2 == 0 {
			p.MiddleName = &mid
			q.PatientID = &pid
		}
		pats = append(pats, p)
		pays = append(pays, q)
	}
	for _, pg := range []Page[Patient]{{Items: pats, Limit: 100, AsOf: 3}, {Items: pats[:2], Limit: 2, NextCursor: &cur, Next: &next, AsOf: 9, ChangedDuringWalk: true}, {Items: []Patient{}, Limit: 1}} {
		if got, want := streamPage(pg, patientRowOf, appendPatient), stdJSON(t, pg); !bytes.Equal(got, want) {
			t.Errorf("patients:\n got %s\nwant %s", got, want)
		}
	}
	for _, pg := range []Page[Payment]{{Items: pays, Limit: 100}, {Items: pays[:1], Limit: 1, NextCursor: &cur, Next: &next}, {Items: []Payment{}, Limit: 5}} {
		if got, want := streamPage(pg, paymentRowOf, appendPayment), stdJSON(t, pg); !bytes.Equal(got, want) {
			t.Errorf("payments:\n got %s\nwant %s", got, want)
		}
	}
}

// streamPage encodes pg the way the handler does: items as database rows,
// through a pager.
func streamPage[T, R any](pg Page[T], row func(*T) R, item func([]byte, *R) []byte) []byte {
	var p pager
	b := appendPageHead(nil)
	for i := range pg.Items {
		if p.add(pg.Limit) {
			r := row(&pg.Items[i])
			b = item(p.sep(b), &r)
		}
	}
	return appendPageTail(b, pg.Limit, pg.NextCursor, pg.Next, pg.AsOf, pg.ChangedDuringWalk)
}

func patientRowOf(p *Patient) patientRow {
	r := patientRow{id: p.ID, externalID: []byte(p.ExternalID), first: []byte(p.FirstName), last: []byte(p.LastName),
		dob: []byte(p.DateOfBirth), total: []byte(p.PaymentsTotal), count: p.PaymentsCount, created: p.Created, updated: p.Updated}
	if p.MiddleName != nil {
		r.middle = append([]byte{}, *p.MiddleName...) // non-nil even when empty
	}
	return r
}

func paymentRowOf(p *Payment) paymentRow {
	r := paymentRow{id: p.ID, externalID: []byte(p.ExternalID), amount: []byte(p.Amount),
		patientExternalID: []byte(p.PatientExternalID), created: p.Created, updated: p.Updated}
	if p.PatientID != nil {
		r.patientID.Int64, r.patientID.Valid = *p.PatientID, true
	}
	return r
}

func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := append(appendString(nil, s), '\n')
		if want := stdJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

func TestJSONDecimal(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"0": true, "0.00": true, "17.22": true, "-1.50": true, "100": true, "9999999999999999.99": true,
		"": false, "-": false, "+1": false, "01": false, "1.": false, ".5": false, "1e5": false, "NaN": false, "Infinity": false, "1.2.3": false, "--1": false,
	} {
		if got := jsonDecimal(s); got != want {
			t.Errorf("jsonDecimal(%q) = %v", s, got)
		}
		if want && !json.Valid([]byte(s)) {
			t.Errorf("%q accepted but not JSON", s)
		}
	}
}
