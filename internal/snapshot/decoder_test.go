package snapshot

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func decodeAll(t testing.TB, entity Entity, input string) ([]Record, error) {
	t.Helper()
	d := NewDecoder(strings.NewReader(input), entity)
	var out []Record
	for {
		var r Record
		err := d.Next(&r)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

func TestDecodeValidRecords(t *testing.T) {
	t.Parallel()
	recs, err := decodeAll(t, Patients, `[{"firstName": "Rick", "lastName": "Deckard", "dateOfBirth": "2094-02-01", "externalId": "5"},
	 {"firstName": "Pris", "lastName": "Stratton", "middleName": "Q", "dateOfBirth": "2093-12-20", "externalId": 4, "extra": {"x": [1,2]}},
	 {"firstName": "Roy", "lastName": "Batty", "middleName": null, "dateOfBirth": "2093-01-08", "externalId": "2"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	for _, r := range recs {
		if r.Invalid != nil {
			t.Fatalf("record %d unexpectedly invalid: %v", r.Index, r.Invalid)
		}
	}
	if recs[1].ExternalID != "4" || !recs[1].HasMiddleName || recs[1].MiddleName != "Q" || recs[1].DateOfBirth.Format("2006-01-02") != "2093-12-20" {
		t.Fatalf("record 1 = %+v", recs[1])
	}
	if recs[2].HasMiddleName {
		t.Fatalf("null middle name must mean none: %+v", recs[2])
	}

	pays, err := decodeAll(t, Payments, `[{"amount": 4.46, "patientId": "1", "externalId": "501"},{"amount": "9.29", "patientId": 4, "externalId": 701},{"amount": 1e2, "patientId": "4", "externalId": "702"}]`)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id, patient string
		cents       int64
	}{{"501", "1", 446}, {"701", "4", 929}, {"702", "4", 10000}}
	for i, w := range want {
		p := pays[i]
		if p.Invalid != nil || p.ExternalID != w.id || p.PatientExternalID != w.patient || p.AmountCents != w.cents {
			t.Errorf("payment %d = %+v (problem %v), want %+v", i, p, p.Invalid, w)
		}
	}
}

func TestDecodeInvalidRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, entity, input string
		field, reason       string
		externalID          string
	}{
		{"missing first name", "patients", `{"lastName":"A","dateOfBirth":"2000-01-01","externalId":"1"}`, "firstName", "missing or empty", "1"},
		{"empty last name", "patients", `{"firstName":"A","lastName":"  ","dateOfBirth":"2000-01-01","externalId":"1"}`, "lastName", "missing or empty", "1"},
		{"impossible date", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2020-13-45","externalId":"1"}`, "dateOfBirth", "not a valid date", "1"},
		{"february 30", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2021-02-30","externalId":"1"}`, "dateOfBirth", "not a valid date", "1"},
		{"date with time", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2021-02-03T00:00:00Z","externalId":"1"}`, "dateOfBirth", "YYYY-MM-DD", "1"},
		{"number as name", "patients", `{"firstName":7,"lastName":"B","dateOfBirth":"2000-01-01","externalId":"1"}`, "firstName", "wrong JSON type: a number", "1"},
		{"missing id", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}`, "externalId", "missing or empty", ""},
		{"fractional id", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2000-01-01","externalId":1.5}`, "externalId", "not an integer", "1.5"},
		{"object id", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2000-01-01","externalId":{"a":1}}`, "externalId", "wrong JSON type: an object", ""},
		{"NUL in name", "patients", `{"firstName":"A\u0000","lastName":"B","dateOfBirth":"2000-01-01","externalId":"1"}`, "firstName", "NUL", "1"},
		{"repeated field", "patients", `{"firstName":"A","firstName":"C","lastName":"B","dateOfBirth":"2000-01-01","externalId":"1"}`, "firstName", "more than once", "1"},
		{"non-numeric amount", "payments", `{"amount":"abc","patientId":"1","externalId":"9"}`, "amount", "not a decimal number", "9"},
		{"three decimals", "payments", `{"amount":12.345,"patientId":"1","externalId":"9"}`, "amount", "more than 2 decimal places", "9"},
		{"huge amount", "payments", `{"amount":1e999,"patientId":"1","externalId":"9"}`, "amount", "out of range", "9"},
		{"boolean amount", "payments", `{"amount":true,"patientId":"1","externalId":"9"}`, "amount", "wrong JSON type: a boolean", "9"},
		{"NaN amount", "payments", `{"amount":"NaN","patientId":"1","externalId":"9"}`, "amount", "not a decimal number", "9"},
		{"missing patient", "payments", `{"amount":1,"externalId":"9"}`, "patientId", "missing or empty", "9"},
		{"not an object", "payments", `"hello"`, "", "array element is a string, want an object", ""},
		{"blank id", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2000-01-01","externalId":" \t "}`, "externalId", "missing or empty", ""},
		{"blank patient id", "payments", `{"amount":1,"patientId":"  ","externalId":"9"}`, "patientId", "missing or empty", "9"},
		{"over-long id", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"2000-01-01","externalId":"` + strings.Repeat("x", 3000) + `"}`, "externalId", "longer than 255 bytes", ""},
		{"over-long integer id", "payments", `{"amount":1,"patientId":"1","externalId":` + strings.Repeat("9", 300) + `}`, "externalId", "longer than 255 bytes", ""},
		{"over-long patient id", "payments", `{"amount":1,"patientId":"` + strings.Repeat("p", 256) + `","externalId":"9"}`, "patientId", "longer than 255 bytes", "9"},
		{"over-long name", "patients", `{"firstName":"` + strings.Repeat("é", 501) + `","lastName":"B","dateOfBirth":"2000-01-01","externalId":"1"}`, "firstName", "longer than 1000 bytes", "1"},
		{"year 0000", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"0000-02-29","externalId":"1"}`, "dateOfBirth", "not a valid date", "1"},
		{"year 0000, January", "patients", `{"firstName":"A","lastName":"B","dateOfBirth":"0000-01-01","externalId":"1"}`, "dateOfBirth", "not a valid date", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := decodeAll(t, Entity(tt.entity), "["+tt.input+`,{"amount":1,"patientId":"1","externalId":"ok","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 {
				t.Fatalf("got %d records, want 2", len(recs))
			}
			p := recs[0].Invalid
			if p == nil {
				t.Fatalf("record accepted: %+v", recs[0])
			}
			if p.Field != tt.field || !strings.Contains(p.Reason, tt.reason) || p.ExternalID != tt.externalID || p.Index != 0 {
				t.Fatalf("problem = %+v, want field %q reason containing %q externalId %q", p, tt.field, tt.reason, tt.externalID)
			}
			if recs[1].Invalid != nil {
				t.Fatalf("the record after an invalid one must decode: %v", recs[1].Invalid)
			}
		})
	}
}

func TestDecodeLimitsAndBOM(t *testing.T) {
	t.Parallel()
	// The extremes of what is valid, behind a UTF-8 byte order mark (which
	// exports from Windows tools often carry).
	recs, err := decodeAll(t, Patients, "\xEF\xBB\xBF"+`[{"externalId":"`+strings.Repeat("i", 255)+`","firstName":"`+strings.Repeat("é", 500)+
		`","lastName":"B","dateOfBirth":"0001-01-01"},{"externalId":"2","firstName":"A","lastName":"B","dateOfBirth":"9999-12-31"}]`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Invalid != nil {
			t.Fatalf("record %d invalid: %v", r.Index, r.Invalid)
		}
	}
	if len(recs) != 2 || len(recs[0].ExternalID) != 255 || recs[0].DateOfBirth.Year() != 1 || recs[1].DateOfBirth.Year() != 9999 {
		t.Fatalf("records = %+v", recs)
	}
	// An invalid record's report is bounded whatever the value's size.
	recs, err = decodeAll(t, Payments, `[{"amount":"`+strings.Repeat("1", 10<<20)+`","patientId":"1","externalId":"`+strings.Repeat("e", 10<<20)+`"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if p := recs[0].Invalid; p == nil || len(p.Error()) > 512 {
		t.Fatalf("invalid record report of %d bytes: %.200v", len(recs[0].Invalid.Error()), recs[0].Invalid)
	}
}

func TestDecodeMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, input, want string }{
		{"empty body", ``, "empty body"},
		{"whitespace only", "  \n", "empty body"},
		{"object instead of array", `{"externalId":"1"}`, "top-level value is an object"},
		{"truncated", `[{"amount":1,"patientId":"1","externalId":"9"},{"amount":2,"pat`, "truncated"},
		{"missing bracket", `[{"amount":1,"patientId":"1","externalId":"9"}`, "unexpected end of input"},
		{"syntax error", `[{"amount":1,,}]`, "in record 0"},
		{"trailing data", `[] []`, "after the closing bracket"},
		{"trailing comma", `[{"amount":1,"patientId":"1","externalId":"9"},]`, "after 1 complete records"},
		{"invalid UTF-8", "[{\"amount\":1,\"patientId\":\"1\",\"externalId\":\"\xff\"}]", "UTF-8"},
		{"control character in a string", "[{\"amount\":1,\"patientId\":\"1\",\"externalId\":\"a\x01\"}]", "in record 0"},
		{"deep nesting", `[{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]`, "nested deeper than"},
		{"BOM only", "\xEF\xBB\xBF", "empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(t, Payments, tt.input)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDecompress(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../testdata/payments.json")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	for name, in := range map[string][]byte{"plain": raw, "gzip": gz.Bytes()} {
		r, closeFn, err := Decompress(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, _ := io.ReadAll(r)
		_ = closeFn()
		if !bytes.Equal(got, raw) {
			t.Fatalf("%s: content differs", name)
		}
	}
	truncated := gz.Bytes()[:gz.Len()/2]
	r, _, err := Decompress(bytes.NewReader(truncated))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAll(t, Payments, mustRead(t, r)); err == nil {
		t.Fatal("truncated gzip decoded without error")
	}
}

func mustRead(t *testing.T, r io.Reader) string {
	b, _ := io.ReadAll(r) // a truncated gzip stream yields its prefix and an error
	return string(b)
}

func TestEntityFromKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want Entity
		ok   bool
	}{
		{"patients.json", Patients, true},
		{"clinic a/2026/patients-2026-11-29.json.gz", Payments[:0] + Patients, true},
		{"exports/PAYMENTS.json", Payments, true},
		{"payments.json.gz", Payments, true},
		{"payments.csv", "", false},
		{"patients.json/readme.txt", "", false},
		{"notes/readme.txt", "", false},
		{"doctors.json", "", false},
	}
	for _, tt := range tests {
		got, ok := EntityFromKey(tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("EntityFromKey(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseCents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"4.46", 446, nil}, {"0", 0, nil}, {"-1.5", -150, nil}, {"12.340", 1234, nil}, {"1e2", 10000, nil},
		{"125e-2", 125, nil}, {"0.00", 0, nil}, {"999999999999.99", 99999999999999, nil},
		{"12.345", 0, errTooPrecise}, {"1000000000000", 0, errOutOfRange}, {"1e999", 0, errOutOfRange},
		{"abc", 0, errNotDecimal}, {"1.", 0, errNotDecimal}, {".5", 0, errNotDecimal}, {"+1", 0, errNotDecimal},
		{"0x10", 0, errNotDecimal}, {"Infinity", 0, errNotDecimal}, {"1e", 0, errNotDecimal}, {"", 0, errEmptyDecimal},
	}
	for _, tt := range tests {
		got, err := ParseCents(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseCents(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if s := FormatCents(-105); s != "-1.05" {
		t.Errorf("FormatCents(-105) = %q", s)
	}
}
