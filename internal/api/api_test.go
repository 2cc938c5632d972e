package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/testutil"
)

// sample files of the sync issue, at the repository root.
var (
	samplePatients = filepath.Join("..", "..", "testdata", "patients.json")
	samplePayments = filepath.Join("..", "..", "testdata", "payments.json")
)

// setup makes a test database and two pools on it: one for the syncer, and
// one like the query Lambdas' (exec mode: no prepared statements) for the API.
func setup(t testing.TB) (seedPool, apiPool *pgxpool.Pool) {
	t.Helper()
	seedPool, url := testutil.DBPool(t)
	apiPool, err := db.Open(context.Background(), url, db.Options{MaxConns: 2, ExecMode: pgx.QueryExecModeExec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(apiPool.Close)
	return seedPool, apiPool
}

func newHandler(t *testing.T, pool *pgxpool.Pool, cfg api.Config) *api.Handler {
	return api.New(pool, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) api.Page[T] {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p api.Page[T]
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return p
}

func problem(t *testing.T, rec *httptest.ResponseRecorder, status int) api.Problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("decode problem %s: %v", rec.Body, err)
	}
	if p.Status != status || p.Title != http.StatusText(status) || p.Type != "about:blank" || p.Detail == "" {
		t.Fatalf("problem %+v", p)
	}
	if p.RequestID == "" || p.RequestID != rec.Header().Get("X-Request-Id") {
		t.Fatalf("problem request id %q, header %q", p.RequestID, rec.Header().Get("X-Request-Id"))
	}
	return p
}

func externalIDs[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func patientExt(p api.Patient) string { return p.ExternalID }
func paymentExt(p api.Payment) string { return p.ExternalID }

// TestSampleFiles checks the acceptance examples of the issue on the sync
// issue's sample files.
func TestSampleFiles(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	h := newHandler(t, pool, api.Config{})

	for _, target := range []string{
		"/patients?payment_min=9&payment_max=20",
		"/patients?payments_min=9&payments_max=20", // the spec's other spelling
		"/patients?payment_min=9.00&payments_max=20.000",
	} {
		rec := get(t, h, target)
		pg := decode[api.Patient](t, rec)
		if got := externalIDs(pg.Items, patientExt); !slices.Equal(got, []string{"4"}) {
			t.Fatalf("%s: external ids %v, want [4]", target, got)
		}
		p := pg.Items[0]
		if p.FirstName != "Pris" || p.LastName != "Stratton" || p.MiddleName == nil || *p.MiddleName != "Q" ||
			p.DateOfBirth != "2093-12-20" || p.PaymentsTotal != "9.29" || p.PaymentsCount != 1 {
			t.Fatalf("%s: patient %+v", target, p)
		}
		if !strings.Contains(rec.Body.String(), `"paymentsTotal":9.29,`) {
			t.Fatalf("total not an exact JSON number: %s", rec.Body)
		}
		if pg.Next != nil || pg.NextCursor != nil || rec.Header().Get("Link") != "" {
			t.Fatalf("single page has a next link: %+v %q", pg, rec.Header().Get("Link"))
		}
	}

	// Every patient is live; Roy has no payments and a total of 0.
	all := decode[api.Patient](t, get(t, h, "/patients"))
	if got := externalIDs(all.Items, patientExt); !slices.Equal(got, []string{"2", "6", "4", "5"}) {
		t.Fatalf("all patients by total: %v", got)
	}
	if all.Items[0].PaymentsTotal != "0.00" || all.Items[0].MiddleName != nil || all.Items[3].PaymentsTotal != "28.50" {
		t.Fatalf("totals: %+v", all.Items)
	}
	for _, p := range all.Items {
		if p.Created.Location() != time.UTC || p.Created.IsZero() || p.Updated.Before(p.Created) {
			t.Fatalf("timestamps of %s: %v %v", p.ExternalID, p.Created, p.Updated)
		}
	}
	if !strings.Contains(get(t, h, "/patients").Body.String(), `"middleName":null`) {
		t.Fatal("absent middle name is not null")
	}

	rec := get(t, h, "/payments?external_id=4")
	pays := decode[api.Payment](t, rec)
	if got := externalIDs(pays.Items, paymentExt); !slices.Equal(got, []string{"701"}) {
		t.Fatalf("payments of patient 4: %v", got)
	}
	if pays.Items[0].Amount != "9.29" || pays.Items[0].PatientID == nil || *pays.Items[0].PatientID != all.Items[2].ID ||
		pays.Items[0].PatientExternalID != "4" {
		t.Fatalf("payment 701: %+v", pays.Items[0])
	}
	byID := decode[api.Payment](t, get(t, h, "/payments?patient_id="+itoa(all.Items[2].ID)))
	if got := externalIDs(byID.Items, paymentExt); !slices.Equal(got, []string{"701"}) {
		t.Fatalf("payments by patient_id: %v", got)
	}

	// Payments of patients 1 and 3 wait with patientId null.
	orphans := []string{"501", "502", "503", "601", "602"}
	allPays := get(t, h, "/payments")
	for _, p := range decode[api.Payment](t, allPays).Items {
		if slices.Contains(orphans, p.ExternalID) != (p.PatientID == nil) {
			t.Fatalf("payment %s: patientId %v", p.ExternalID, p.PatientID)
		}
	}
	if !strings.Contains(allPays.Body.String(), `"amount":13.00,`) || !strings.Contains(allPays.Body.String(), `"patientId":null`) {
		t.Fatalf("amounts not exact or null patient missing: %s", allPays.Body)
	}

	// Once patients 1 and 3 arrive their payments link and count.
	testutil.Seed(t, seedPool, filepath.Join("testdata", "sample-later", "patients.json"))
	for _, p := range decode[api.Payment](t, get(t, h, "/payments")).Items {
		if p.PatientID == nil {
			t.Fatalf("payment %s still has no patient", p.ExternalID)
		}
	}
	// 4.46 + 13.00 + 2.10 = 19.56: patient 1 joins the range, after 4.
	pg := decode[api.Patient](t, get(t, h, "/patients?payment_min=9&payment_max=20"))
	if got := externalIDs(pg.Items, patientExt); !slices.Equal(got, []string{"4", "1"}) || pg.Items[1].PaymentsTotal != "19.56" {
		t.Fatalf("after patients 1 and 3: %+v", pg.Items)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fixture reads the paging fixture and computes what the API should answer,
// independently of the database.
type fixture struct {
	live   map[string]bool
	totals map[string]*big.Rat // by patient external id
	pays   map[string][]string // payment external ids by patient external id
	all    []string            // payment external ids
}

func loadFixture(t *testing.T, patientsFile string) fixture {
	t.Helper()
	var pats []struct {
		ExternalID string `json:"externalId"`
	}
	var pays []struct {
		ExternalID string `json:"externalId"`
		Amount     string `json:"amount"`
		PatientID  string `json:"patientId"`
	}
	read := func(name string, v any) {
		b, err := os.ReadFile(filepath.Join("testdata", "paging", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	read(patientsFile, &pats)
	read("payments.json", &pays)
	f := fixture{live: map[string]bool{}, totals: map[string]*big.Rat{}, pays: map[string][]string{}}
	for _, p := range pats {
		f.live[p.ExternalID] = true
		f.totals[p.ExternalID] = new(big.Rat)
	}
	for _, p := range pays {
		a, ok := new(big.Rat).SetString(p.Amount)
		if !ok {
			t.Fatalf("fixture amount %q", p.Amount)
		}
		if tot, ok := f.totals[p.PatientID]; ok {
			tot.Add(tot, a)
		}
		f.pays[p.PatientID] = append(f.pays[p.PatientID], p.ExternalID)
		f.all = append(f.all, p.ExternalID)
	}
	return f
}

// inRange lists the live patients whose total lies in [min, max] ("" = open).
func (f fixture) inRange(min, max string) []string {
	var out []string
	for ext, tot := range f.totals {
		if min != "" {
			if m, _ := new(big.Rat).SetString(min); tot.Cmp(m) < 0 {
				continue
			}
		}
		if max != "" {
			if m, _ := new(big.Rat).SetString(max); tot.Cmp(m) > 0 {
				continue
			}
		}
		out = append(out, ext)
	}
	slices.Sort(out)
	return out
}

// walk follows next links from target and returns every item; it checks
// that the Link header and the body agree on each page.
func walk[T any](t *testing.T, h http.Handler, target string, limit int) []T {
	t.Helper()
	var all []T
	for pages := 0; target != ""; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		rec := get(t, h, target)
		pg := decode[T](t, rec)
		if len(pg.Items) > limit || pg.Limit != limit {
			t.Fatalf("%s: %d items, limit %d, want at most %d", target, len(pg.Items), pg.Limit, limit)
		}
		all = append(all, pg.Items...)
		target = ""
		if pg.Next != nil {
			if len(pg.Items) != limit || pg.NextCursor == nil || !strings.Contains(*pg.Next, "cursor="+*pg.NextCursor) {
				t.Fatalf("next page link on a short page or without its cursor: %+v", pg)
			}
			if link := rec.Header().Get("Link"); link != "<"+*pg.Next+`>; rel="next"` {
				t.Fatalf("Link %q, next %q", link, *pg.Next)
			}
			target = *pg.Next
		} else if rec.Header().Get("Link") != "" {
			t.Fatalf("Link header on the last page")
		}
	}
	return all
}

func TestPatientsPagination(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	fx := filepath.Join("testdata", "paging")
	testutil.Seed(t, seedPool, filepath.Join(fx, "patients.json"), filepath.Join(fx, "payments.json"))
	h := newHandler(t, pool, api.Config{})

	check := func(t *testing.T, f fixture, min, max string, limit int) {
		target := "/patients?limit=" + itoa(int64(limit))
		if min != "" {
			target += "&payment_min=" + min
		}
		if max != "" {
			target += "&payment_max=" + max
		}
		items := walk[api.Patient](t, h, target, limit)
		got := externalIDs(items, patientExt)
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if want := f.inRange(min, max); !slices.Equal(sorted, want) {
			t.Fatalf("%s: got %v, want %v", target, sorted, want)
		}
		// Keyset order: (total, id) strictly increasing, so no row twice.
		for i := 1; i < len(items); i++ {
			a, _ := new(big.Rat).SetString(string(items[i-1].PaymentsTotal))
			b, _ := new(big.Rat).SetString(string(items[i].PaymentsTotal))
			if c := a.Cmp(b); c > 0 || c == 0 && items[i-1].ID >= items[i].ID {
				t.Fatalf("%s: order broken at %d: %+v then %+v", target, i, items[i-1], items[i])
			}
		}
		for _, it := range items {
			if want := f.totals[it.ExternalID].FloatString(2); string(it.PaymentsTotal) != want {
				t.Fatalf("total of %s: %s, want %s", it.ExternalID, it.PaymentsTotal, want)
			}
		}
	}
	f := loadFixture(t, "patients.json")
	cases := []struct {
		min, max string
		limit    int
	}{
		{"", "", 100},
		{"", "", 1},
		{"", "", 3},
		{"", "", 7},
		{"10", "10", 2},     // four patients tie at 10.00
		{"0.30", "0.30", 1}, // 0.10 + 0.20 is exactly 0.30
		{"0", "9.99", 4},
		{"10.00", "", 3},
		{"", "20", 5},
		{"1000", "", 10},
		{"-5", "0", 2},
	}
	for _, c := range cases {
		check(t, f, c.min, c.max, c.limit)
	}

	// Soft-deleted patients disappear from every page.
	testutil.Seed(t, seedPool, filepath.Join(fx, "patients-v2.json"))
	f2 := loadFixture(t, "patients-v2.json")
	if len(f2.live) != len(f.live)-2 {
		t.Fatalf("fixture: %d live after v2, want %d", len(f2.live), len(f.live)-2)
	}
	for _, c := range cases {
		check(t, f2, c.min, c.max, c.limit)
	}
}

func TestPaymentsPagination(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	fx := filepath.Join("testdata", "paging")
	testutil.Seed(t, seedPool, filepath.Join(fx, "patients.json"), filepath.Join(fx, "payments.json"))
	h := newHandler(t, pool, api.Config{})
	f := loadFixture(t, "patients.json")

	check := func(target string, limit int, want []string) []api.Payment {
		t.Helper()
		items := walk[api.Payment](t, h, target+"&limit="+itoa(int64(limit)), limit)
		for i := 1; i < len(items); i++ {
			if items[i-1].ID >= items[i].ID {
				t.Fatalf("%s: ids not increasing: %d then %d", target, items[i-1].ID, items[i].ID)
			}
		}
		got := externalIDs(items, paymentExt)
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s limit %d: got %v, want %v", target, limit, got, want)
		}
		return items
	}
	for _, limit := range []int{1, 2, 5, 1000} {
		check("/payments?", limit, f.all)
		check("/payments?external_id=P15", limit, f.pays["P15"])
		orphans := check("/payments?external_id=P99", limit, f.pays["P99"])
		for _, p := range orphans {
			if p.PatientID != nil {
				t.Fatalf("orphan payment %s has patient %d", p.ExternalID, *p.PatientID)
			}
		}
		check("/payments?external_id=nobody", limit, nil)
	}
	// patient_id and external_id of one patient give the same payments.
	pat := decode[api.Patient](t, get(t, h, "/patients?payment_min=10&payment_max=10&limit=1")).Items[0]
	byExt := check("/payments?external_id="+pat.ExternalID, 1, f.pays[pat.ExternalID])
	check("/payments?patient_id="+itoa(pat.ID), 1, f.pays[pat.ExternalID])
	check("/payments?patient_id="+itoa(pat.ID)+"&external_id="+pat.ExternalID, 1, f.pays[pat.ExternalID])
	check("/payments?patient_id="+itoa(pat.ID)+"&external_id=P01", 1, nil)
	for _, p := range byExt {
		if p.PatientID == nil || *p.PatientID != pat.ID || p.PatientExternalID != pat.ExternalID {
			t.Fatalf("payment %+v of patient %+v", p, pat)
		}
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	h := newHandler(t, pool, api.Config{})

	// Real cursors to misuse.
	page := decode[api.Patient](t, get(t, h, "/patients?limit=1"))
	patientsCursor := *page.NextCursor
	payCursor := *decode[api.Payment](t, get(t, h, "/payments?limit=1")).NextCursor

	cases := []struct {
		target, param string
	}{
		{"/patients?payment_min=abc", "payment_min"},
		{"/patients?payment_min=NaN", "payment_min"},
		{"/patients?payment_max=Infinity", "payment_max"},
		{"/patients?payment_max=-Inf", "payment_max"},
		{"/patients?payment_min=1e999", "payment_min"},
		{"/patients?payment_min=1E2", "payment_min"},
		{"/patients?payment_min=0x10", "payment_min"},
		{"/patients?payment_min=", "payment_min"},
		{"/patients?payment_min=+", "payment_min"},
		{"/patients?payment_min=.5", "payment_min"},
		{"/patients?payment_min=5.", "payment_min"},
		{"/patients?payment_min=1,5", "payment_min"},
		{"/patients?payment_min=%205", "payment_min"},
		{"/patients?payment_min=123456789012345678901", "payment_min"},
		{"/patients?payments_max=x", "payments_max"},
		{"/patients?payment_min=20&payment_max=9", "payment_min"},
		{"/patients?payment_min=9.01&payments_max=9.009", "payment_min"},
		{"/patients?payment_max=1&payments_max=2", "payments_max"},
		{"/patients?payment_min=1&payment_min=2", "payment_min"},
		{"/patients?paymentmin=9", "paymentmin"},
		{"/patients?external_id=4", "external_id"},
		{"/patients?limit=0", "limit"},
		{"/patients?limit=1001", "limit"},
		{"/patients?limit=-1", "limit"},
		{"/patients?limit=+5", "limit"},
		{"/patients?limit=ten", "limit"},
		{"/patients?limit=99999999999999999999", "limit"},
		{"/patients?cursor=", "cursor"},
		{"/patients?cursor=not-a-cursor", "cursor"},
		{"/patients?cursor=" + payCursor, "cursor"},                    // other route
		{"/patients?payment_min=1&cursor=" + patientsCursor, "cursor"}, // other filter
		{"/patients?cursor=" + strings.Repeat("A", 600), "cursor"},     // oversized
		{"/patients?cursor=eyJyIjoiL3BhdGllbnRzIn0", "cursor"},         // {"r":"/patients"} without filter hash
		{"/payments?external_id=", "external_id"},
		{"/payments?external_id=" + strings.Repeat("x", 257), "external_id"},
		{"/payments?patient_id=0", "patient_id"},
		{"/payments?patient_id=abc", "patient_id"},
		{"/payments?patient_id=1.5", "patient_id"},
		{"/payments?patient_id=99999999999999999999", "patient_id"},
		{"/payments?patientId=1", "patientId"},
		{"/payments?payment_min=1", "payment_min"},
		{"/payments?cursor=" + patientsCursor, "cursor"},
		{"/payments?external_id=4&cursor=" + payCursor, "cursor"},
		{"/payments?limit=1001", "limit"},
		{"/payments?a=%zz", ""}, // malformed escape
	}
	for _, c := range cases {
		rec := get(t, h, c.target)
		p := problem(t, rec, http.StatusBadRequest)
		if p.Param != c.param || c.param != "" && !strings.Contains(p.Detail, c.param) {
			t.Errorf("%s: param %q, detail %q; want param %q named", c.target, p.Param, p.Detail, c.param)
		}
	}
}

func TestRoutingAndHeaders(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	h := newHandler(t, pool, api.Config{})

	for _, path := range []string{"/", "/patients/", "/patient", "/payments/701", "/PATIENTS"} {
		p := problem(t, get(t, h, path), http.StatusNotFound)
		if !strings.Contains(p.Detail, "/patients") || !strings.Contains(p.Detail, "/payments") {
			t.Errorf("%s: 404 detail %q does not point to the routes", path, p.Detail)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/payments?external_id=4", strings.NewReader("{}")))
		problem(t, rec, http.StatusMethodNotAllowed)
		if rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", m, rec.Header().Get("Allow"))
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/payments", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "0" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}

	// A caller's request id is kept; an unusable one is replaced.
	rec = get(t, h, "/patients", "X-Request-Id", "abc-123")
	if rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id %q", rec.Header().Get("X-Request-Id"))
	}
	rec = get(t, h, "/patients?limit=x", "X-Request-Id", "bad id\n")
	if p := problem(t, rec, http.StatusBadRequest); p.RequestID == "bad id\n" || len(p.RequestID) < 16 {
		t.Errorf("request id %q", p.RequestID)
	}

	// A handler limited to one route, as a query Lambda is, 404s the other.
	only := newHandler(t, pool, api.Config{Routes: []api.Route{api.GetPayments}})
	problem(t, get(t, only, "/patients"), http.StatusNotFound)
	decode[api.Payment](t, get(t, only, "/payments"))
}

func TestGzip(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	fx := filepath.Join("testdata", "paging")
	testutil.Seed(t, seedPool, filepath.Join(fx, "patients.json"), filepath.Join(fx, "payments.json"))
	h := newHandler(t, pool, api.Config{GzipMinBytes: 2000})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	fetch := func(path, acceptEncoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding) // disables the client's transparent gunzip
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: Vary %q", path, resp.Header.Get("Vary"))
		}
		return resp, b
	}
	_, plain := fetch("/payments?limit=1000", "identity")
	if len(plain) < 2000 {
		t.Fatalf("fixture page too small to test gzip: %d bytes", len(plain))
	}
	for _, ae := range []string{"gzip", "br, gzip;q=0.5", "deflate, GZIP"} {
		resp, body := fetch("/payments?limit=1000", ae)
		if resp.Header.Get("Content-Encoding") != "gzip" || len(body) >= len(plain) {
			t.Fatalf("%q: Content-Encoding %q, %d bytes of %d", ae, resp.Header.Get("Content-Encoding"), len(body), len(plain))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(unzipped, plain) {
			t.Fatalf("%q: gunzipped body differs from the plain one", ae)
		}
	}
	for _, c := range []struct{ path, ae string }{
		{"/payments?limit=1000", "gzip;q=0"},
		{"/payments?limit=1000", "br"},
		{"/payments?limit=1", "gzip"},   // small body
		{"/payments?limit=abc", "gzip"}, // small problem
	} {
		resp, body := fetch(c.path, c.ae)
		if resp.Header.Get("Content-Encoding") != "" || !json.Valid(body) {
			t.Errorf("%s with %q: Content-Encoding %q", c.path, c.ae, resp.Header.Get("Content-Encoding"))
		}
	}
}

// TestStatementTimeout holds a lock that the query must wait for, so the
// per-request statement_timeout fires on the server.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	var logs testutil.LogBuffer
	h := api.New(pool, api.Config{StatementTimeout: 200 * time.Millisecond}, slog.New(slog.NewJSONHandler(&logs, nil)))
	ctx := context.Background()

	tx, err := seedPool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE patients IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "/patients?payment_min=9")
	_ = tx.Rollback(ctx)
	p := problem(t, rec, http.StatusServiceUnavailable)
	if rec.Header().Get("Retry-After") == "" || strings.Contains(p.Detail, "statement") || strings.Contains(p.Detail, "SQLSTATE") {
		t.Fatalf("timeout problem %+v, Retry-After %q", p, rec.Header().Get("Retry-After"))
	}
	if !strings.Contains(logs.String(), p.RequestID) || !strings.Contains(logs.String(), "57014") {
		t.Fatalf("timeout not logged with request id %s: %s", p.RequestID, logs.String())
	}
	// The timeout was local to that query: the pool's connections serve on,
	// and a plain session still has no statement_timeout.
	for range 3 {
		decode[api.Patient](t, get(t, h, "/patients?payment_min=9"))
	}
	var setting string
	if err := pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&setting); err != nil || setting != "0" {
		t.Fatalf("session statement_timeout %q, %v", setting, err)
	}
}

// TestTimestampsWhateverTheTimeZone: created and updated pass through as
// the database's text, so they must read the same instants under any
// session TimeZone a pool may bring, and leave it as found. (DateStyle
// must be ISO, in either field order: pgx parses no other either.)
func TestTimestampsWhateverTheTimeZone(t *testing.T) {
	t.Parallel()
	seedPool, url := testutil.DBPool(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	ctx := context.Background()
	// Whole seconds, a trimmed fraction, all six digits; a date on which
	// Kathmandu's +05:45 is the next day.
	if _, err := seedPool.Exec(ctx, `UPDATE patients SET created = '2026-01-02 23:04:05+00', updated = '2026-01-03 03:04:05.5+00' WHERE external_id = '4';
		UPDATE payments SET created = '0001-02-03 04:05:06.000001+00', updated = '9999-12-31 23:59:59.123456+00' WHERE external_id = '701'`); err != nil {
		t.Fatal(err)
	}
	for _, params := range []map[string]string{nil, {"TimeZone": "Asia/Kathmandu", "DateStyle": "ISO, DMY"}, {"TimeZone": "America/St_Johns"}} {
		pool, err := db.Open(ctx, url, db.Options{MaxConns: 1, ExecMode: pgx.QueryExecModeExec, RuntimeParams: params})
		if err != nil {
			t.Fatal(err)
		}
		h := newHandler(t, pool, api.Config{})
		pat := get(t, h, "/patients?payment_min=9&payment_max=10").Body.String()
		pay := get(t, h, "/payments?external_id=4").Body.String()
		if want := `"created":"2026-01-02T23:04:05Z","updated":"2026-01-03T03:04:05.5Z"`; !strings.Contains(pat, want) {
			t.Errorf("session %v: patient 4 lacks %s: %s", params, want, pat)
		}
		if want := `"created":"0001-02-03T04:05:06.000001Z","updated":"9999-12-31T23:59:59.123456Z"`; !strings.Contains(pay, want) {
			t.Errorf("session %v: payment 701 lacks %s: %s", params, want, pay)
		}
		if tz, ok := params["TimeZone"]; ok {
			var got string
			if err := pool.QueryRow(ctx, "SHOW TimeZone").Scan(&got); err != nil || got != tz {
				t.Errorf("the session's TimeZone is %q after requests (%v), want %q", got, err, tz)
			}
		}
		pool.Close()
	}
}

// TestInternalErrorsDoNotLeak breaks the schema under the handler: the client
// gets a bare 500 with the request id, the log gets the database error.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	_, pool := setup(t)
	var logs testutil.LogBuffer
	h := api.New(pool, api.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if _, err := pool.Exec(context.Background(), "ALTER TABLE payments RENAME COLUMN amount TO amount_gone"); err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "/payments?external_id=4")
	p := problem(t, rec, http.StatusInternalServerError)
	for _, leak := range []string{"amount", "SELECT", "SQLSTATE", "column", "42703"} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Fatalf("500 body leaks %q: %s", leak, rec.Body)
		}
	}
	var entry struct {
		Level     string `json:"level"`
		RequestID string `json:"request_id"`
		Status    int    `json:"status"`
		Error     string `json:"error"`
	}
	if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
		t.Fatalf("log %s: %v", logs.String(), err)
	}
	if entry.Level != "ERROR" || entry.RequestID != p.RequestID || entry.Status != 500 || !strings.Contains(entry.Error, "42703") {
		t.Fatalf("log entry %+v", entry)
	}
}

// TestConcurrentPages walks pages from many goroutines over a small pool.
func TestConcurrentPages(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t) // the API pool has 2 connections
	fx := filepath.Join("testdata", "paging")
	testutil.Seed(t, seedPool, filepath.Join(fx, "patients.json"), filepath.Join(fx, "payments.json"))
	h := newHandler(t, pool, api.Config{})
	want := externalIDs(walk[api.Patient](t, h, "/patients?limit=4", 4), patientExt)
	if len(want) != 30 {
		t.Fatalf("walked %d patients, want 30", len(want))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			// t.Fatal may not run here: follow the links by hand.
			var got []string
			for target := "/patients?limit=4"; target != ""; {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
				var pg api.Page[api.Patient]
				if err := json.Unmarshal(rec.Body.Bytes(), &pg); rec.Code != http.StatusOK || err != nil {
					errs <- rec.Body.String()
					return
				}
				got = append(got, externalIDs(pg.Items, patientExt)...)
				target = ""
				if pg.Next != nil {
					target = *pg.Next
				}
			}
			if !slices.Equal(got, want) {
				errs <- strings.Join(got, ",")
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent walk got %s, want %v", e, want)
	}
}
