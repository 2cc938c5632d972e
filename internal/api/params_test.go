package api

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecimalSyntax(t *testing.T) {
	t.Parallel()
	ok := []string{"0", "9", "9.29", "-1", "+1.5", "00012.3", "12345678901234567890.12345678901234567890"}
	bad := []string{"", " ", "abc", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "1E2", "0x10", "0b1", ".5", "5.", "1,5",
		"1.2.3", " 5", "5 ", "--1", "1_000", "１", "123456789012345678901", "1.123456789012345678901", "9.29;DROP"}
	for _, v := range ok {
		if got, err := decimal("payment_min", v, true); err != nil || got != v {
			t.Errorf("%q rejected: %v", v, err)
		}
	}
	for _, v := range bad {
		_, err := decimal("payment_min", v, true)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != "payment_min" {
			t.Errorf("%q accepted (%v)", v, err)
		}
	}
	if got, err := decimal("payment_min", "", false); got != "" || err != nil {
		t.Errorf("absent: %q %v", got, err)
	}
}

func TestDecimalGreater(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want bool
	}{
		{"9", "20", false}, {"20", "9", true}, {"9.10", "9.1", false}, {"9.100000000000000000001", "9.1", true},
		{"-1", "0", false}, {"0.30", "0.3", false}, {"100", "99.999", true},
	}
	for _, c := range cases {
		if got := decimalGreater(c.a, c.b); got != c.want {
			t.Errorf("%s > %s = %v", c.a, c.b, got)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		headers []string
		want    bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"gzip, deflate, br"}, true},
		{[]string{"br", "gzip"}, true},
		{[]string{"br;q=1.0, gzip;q=0.8"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=abc"}, false},
		{[]string{"deflate, br, identity"}, false},
		{[]string{"gzipper"}, false},
	}
	for _, c := range cases {
		if got := acceptsGzip(c.headers); got != c.want {
			t.Errorf("%q: %v", c.headers, got)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := encodeCursor(PatientsPath, "9|20", 7, patientKey{Total: "17.22", ID: 42})
	var k patientKey
	if walk, err := decodeCursor(c, PatientsPath, "9|20", &k); err != nil || k != (patientKey{Total: "17.22", ID: 42}) || walk != 7 {
		t.Fatalf("round trip: %+v %d %v", k, walk, err)
	}
	for _, bad := range []struct{ cur, route, filter string }{
		{c, PaymentsPath, "9|20"},
		{c, PatientsPath, "9|"},
		{c[:len(c)-2], PatientsPath, "9|20"},
		{c + "=", PatientsPath, "9|20"},
		{"", PatientsPath, "9|20"},
	} {
		var pe *ParamError
		if _, err := decodeCursor(bad.cur, bad.route, bad.filter, &k); !errors.As(err, &pe) || pe.Param != "cursor" {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// parsePatientsQuery parses raw as the handler does GET /patients' query.
func parsePatientsQuery(raw string) (patientsParams, error) {
	q, err := parseQuery(raw, GetPatients.QueryParams()...)
	if err != nil {
		return patientsParams{}, err
	}
	return parsePatients(q)
}

func TestParsePatients(t *testing.T) {
	t.Parallel()
	p, err := parsePatientsQuery("payments_min=1.5&payment_max=20&limit=7")
	if err != nil || p.min != "1.5" || p.max != "20" || p.limit != 7 || p.after != nil {
		t.Fatalf("%+v %v", p, err)
	}
	p, err = parsePatientsQuery("")
	if err != nil || p.min != "" || p.max != "" || p.limit != DefaultLimit {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	// Equal bounds are a valid (exact) range.
	if _, err := parsePatientsQuery("payment_min=10&payment_max=10.00"); err != nil {
		t.Fatal(err)
	}
}

var update = flag.Bool("update", false, "rewrite the benchmark's pgbench scripts from the handler's SQL")

// TestPgbenchScripts keeps scripts/bench-api/*.sql identical to the SQL the
// handler sends, so that the pgbench floor measures the same statements.
// Run with -update after changing a query.
func TestPgbenchScripts(t *testing.T) {
	t.Parallel()
	ext := "x"
	scripts := []struct {
		file, doc string
		sql       string
		args      []any
		vars      []string // pgbench variable for each $n
	}{
		{file: "patients-all.sql", doc: "GET /patients"},
		{file: "patients-range.sql", doc: "GET /patients?payment_min=:min&payment_max=:max"},
		{file: "patients-after.sql", doc: "GET /patients?cursor=... (the keyset of page N-1's last row)"},
		{file: "payments-all.sql", doc: "GET /payments"},
		{file: "payments-external-id.sql", doc: "GET /payments?external_id=:external_id"},
	}
	scripts[0].sql, scripts[0].args = patientsSQL(patientsParams{limit: DefaultLimit})
	scripts[0].vars = []string{"limit1"}
	scripts[1].sql, scripts[1].args = patientsSQL(patientsParams{min: "1", max: "2", limit: DefaultLimit})
	scripts[1].vars = []string{"min", "max", "limit1"}
	scripts[2].sql, scripts[2].args = patientsSQL(patientsParams{after: &patientKey{Total: "1", ID: 1}, limit: DefaultLimit})
	scripts[2].vars = []string{"after_total", "after_id", "limit1"}
	scripts[3].sql, scripts[3].args = paymentsSQL(paymentsParams{limit: DefaultLimit})
	scripts[3].vars = []string{"limit1"}
	scripts[4].sql, scripts[4].args = paymentsSQL(paymentsParams{externalID: &ext, limit: DefaultLimit})
	scripts[4].vars = []string{"external_id", "limit1"}

	dir := filepath.Join("..", "..", "scripts", "bench-api")
	// What each request sends first, in the same pipeline (serve's default timeout).
	check(t, filepath.Join(dir, "session.sql"),
		"-- Sent before every query in the same pipeline (implicit transaction) by `patientsync serve` (-statement-timeout 5s):\n"+
			"-- the timeout, the time zone of the timestamps' text (UTC), and the last applied sync run (asOf).\n"+
			newStore(nil, 5*time.Second).sessionSQL+";\n")
	for _, s := range scripts {
		if len(s.args) != len(s.vars) {
			t.Fatalf("%s: %d args, %d vars", s.file, len(s.args), len(s.vars))
		}
		sql := s.sql
		for i := len(s.vars); i >= 1; i-- { // $10 before $1
			sql = strings.ReplaceAll(sql, fmt.Sprintf("$%d", i), ":"+s.vars[i-1])
		}
		check(t, filepath.Join(dir, s.file), fmt.Sprintf("-- %s: generated from internal/api (go test ./internal/api -run TestPgbenchScripts -update).\n-- :limit1 is the page size plus the probe row.\n%s;\n", s.doc, sql))
	}
}

// check compares a generated file with want, or writes it with -update.
func check(t *testing.T, path, want string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != want {
		t.Errorf("%s differs from the handler's SQL; run go test ./internal/api -run TestPgbenchScripts -update\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
