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
		dob: []byte(p.DateOfBirth), total: []byte(p.PaymentsTotal), count: p.PaymentsCount, created: pgTimestamp(p.Created), updated: pgTimestamp(p.Updated)}
	if p.MiddleName != nil {
		r.middle = append([]byte{}, *p.MiddleName...) // non-nil even when empty
	}
	return r
}

func paymentRowOf(p *Payment) paymentRow {
	r := paymentRow{id: p.ID, externalID: []byte(p.ExternalID), amount: []byte(p.Amount),
		patientExternalID: []byte(p.PatientExternalID), created: pgTimestamp(p.Created), updated: pgTimestamp(p.Updated)}
	if p.PatientID != nil {
		r.patientID.Int64, r.patientID.Valid = *p.PatientID, true
	}
	return r
}

// pgTimestamp is t as PostgreSQL prints a timestamptz under the session
// settings of the store (TimeZone UTC, DateStyle ISO): trailing zeros of
// the fraction dropped, as PostgreSQL does.
func pgTimestamp(t time.Time) []byte {
	return []byte(t.UTC().Format("2006-01-02 15:04:05.999999") + "+00")
}

func TestTimestampText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string // want "": refused
	}{
		{"2026-11-29 05:31:18.810436+00", `"2026-11-29T05:31:18.810436Z"`},
		{"2026-11-29 05:31:18.81+00", `"2026-11-29T05:31:18.81Z"`},
		{"2026-11-29 05:31:18.5+00", `"2026-11-29T05:31:18.5Z"`},
		{"2026-11-29 05:31:18+00", `"2026-11-29T05:31:18Z"`},
		{"2026-11-29 05:31:18.810000+00", `"2026-11-29T05:31:18.81Z"`}, // not PostgreSQL's form, still the same instant
		{"2026-11-29 05:31:18.000000+00", `"2026-11-29T05:31:18Z"`},
		{"0001-01-01 00:00:00+00", `"0001-01-01T00:00:00Z"`},
		{"9999-12-31 23:59:59.999999+00", `"9999-12-31T23:59:59.999999Z"`},
		{"2026-11-29 05:31:18.810436+01", ""},    // another time zone
		{"2026-11-29 05:31:18.810436+05:30", ""}, // another time zone
		{"2026-11-29 05:31:18.810436", ""},       // no zone
		{"2026-11-29T05:31:18Z", ""},             // not PostgreSQL's text
		{"11/29/2026 05:31:18.810436 UTC", ""},   // DateStyle SQL
		{"Sun Nov 29 05:31:18.810436 2026 UTC", ""},
		{"10000-01-01 00:00:00+00", ""},   // beyond what encoding/json writes
		{"0001-01-01 00:00:00+00 BC", ""}, // before year 1
		{"infinity", ""},
		{"2026-11-29 05:31:18.+00", ""},
		{"2026-11-29 05:31:18.1234567+00", ""},
		{"2026-11-29 05:31:1a+00", ""},
		{"", ""},
	} {
		in := []byte(tc.in)
		if ok := timestampText(in); ok != (tc.want != "") {
			t.Errorf("timestampText(%q) = %v", tc.in, ok)
			continue
		}
		if tc.want == "" {
			continue
		}
		if got := string(appendTimestamp([]byte("x"), in)); got != "x"+tc.want {
			t.Errorf("appendTimestamp(%q) = %s, want x%s", tc.in, got, tc.want)
		}
		// encoding/json of the same instant, where it is PostgreSQL's form.
		if want, err := time.Parse("2006-01-02 15:04:05.999999-07", tc.in); err == nil && bytes.Count(in, []byte("0+")) == 0 {
			if j := string(stdJSON(t, want.UTC())); j != tc.want+"\n" {
				t.Errorf("%q: encoding/json writes %s, appendTimestamp %s", tc.in, j, tc.want)
			}
		}
	}
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
