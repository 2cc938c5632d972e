package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

// Whatever a client sends gets a 4xx problem, never a 5xx.
func TestHostileRequestsAre4xx(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	h := newHandler(t, pool, api.Config{})
	tests := []struct {
		target string
		status int
	}{
		{"/payments?external_id=%00", 400},
		{"/payments?external_id=a%00b", 400},
		{"/payments?external_id=%FF", 400},
		{"/payments?external_id=%C3%28", 400},
		{"/payments?external_id=%ED%A0%80", 400},
		{"/payments?external_id=%20%20", 400},
		{"/payments?external_id=" + strings.Repeat("x", 256), 400},
		{"/payments?external_id=" + strings.Repeat("%C3%A9", 128), 400}, // 256 bytes
		{"/patients?cursor=%FF%FE", 400},
		{"/patients?payment_min=%00", 400},
		{"/patients?%FF=1", 400},
		{"/patients%00", 404},
		{"/payments?" + strings.Repeat("limit=1&", 20000), 414},
	}
	for _, tt := range tests {
		rec := get(t, h, tt.target)
		problem(t, rec, tt.status)
	}
	// The longest id the sync can store can be queried.
	if rec := get(t, h, "/payments?external_id="+strings.Repeat("%C3%A9", 127)+"x"); rec.Code != 200 {
		t.Fatalf("a 255-byte id: %d %s", rec.Code, rec.Body)
	}
	for _, method := range []string{"POST", "DELETE", "PROPFIND", "BREW"} {
		req := httptest.NewRequest(method, "/patients", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		problem(t, rec, http.StatusMethodNotAllowed)
	}
	req := httptest.NewRequest("GET", "/patients", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 64<<10))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	problem(t, rec, http.StatusRequestHeaderFieldsTooLarge)
}

// FuzzHandler sends arbitrary paths and query strings to the handler on a
// real database: nothing a client sends may be answered with a 5xx. `make
// test` runs the seeds; `go test -fuzz FuzzHandler ./internal/api` explores.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{"", "payment_min=9&payment_max=20", "external_id=%00", "external_id=%FF", "external_id=%C3%28",
		"external_id=%ED%A0%80", "cursor=eyJyIjoiL3BhdGllbnRzIn0", "limit=0", "limit=99999999999999999999", "payment_min=1e999",
		"payment_min=NaN", "patient_id=-1", "patient_id=9223372036854775808", "a=%zz", ";;;", "external_id=" + strings.Repeat("é", 300)} {
		f.Add("/patients", s)
		f.Add("/payments", s)
	}
	f.Add("/patients/../payments", "")
	f.Add("/", "x=1")
	seedPool, pool := setup(f)
	testutil.Seed(f, seedPool, samplePatients, samplePayments)
	h := api.New(pool, api.Config{}, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, path, query string) {
		u := &url.URL{Path: path, RawQuery: query}
		req, err := http.NewRequest(http.MethodGet, "http://api"+u.RequestURI(), nil)
		if err != nil {
			return // not a request a client could send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s: %d %s", u.RequestURI(), rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("GET %s: %d with Content-Type %q", u.RequestURI(), rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}

// A keyset walk tells the client when a sync changed the data between its
// pages: the page carries the last applied sync, the cursor the walk's.
func TestWalkNoticesANewerSync(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	h := newHandler(t, pool, api.Config{})
	first := decode[api.Patient](t, get(t, h, "/patients?limit=2"))
	if first.AsOf == 0 || first.ChangedDuringWalk || first.Next == nil {
		t.Fatalf("first page: asOf %d, changed %v, next %v", first.AsOf, first.ChangedDuringWalk, first.Next)
	}
	second := decode[api.Patient](t, get(t, h, *first.Next))
	if second.AsOf != first.AsOf || second.ChangedDuringWalk {
		t.Fatalf("second page without a sync: %+v", second)
	}
	// A payments sync moves totals, and so the order of the walk.
	dir := t.TempDir()
	b, _ := os.ReadFile(samplePayments)
	changed := filepath.Join(dir, "payments.json")
	_ = os.WriteFile(changed, []byte(strings.Replace(string(b), `"amount": 4.46`, `"amount": 44.60`, 1)), 0o644)
	testutil.Seed(t, seedPool, changed)
	third := decode[api.Patient](t, get(t, h, *first.Next))
	if third.AsOf <= first.AsOf || !third.ChangedDuringWalk {
		t.Fatalf("page after a sync: asOf %d (walk began at %d), changed %v", third.AsOf, first.AsOf, third.ChangedDuringWalk)
	}
	if third.Next != nil {
		fourth := decode[api.Patient](t, get(t, h, *third.Next))
		if !fourth.ChangedDuringWalk {
			t.Fatal("the walk forgot that it was disturbed")
		}
	}
}

// Runs of two entities may commit in the other order than they started
// (run ids): a payments run that began first and commits last still
// changes what a walk sees, and the walk must say so.
func TestWalkNoticesAnOlderRunCommittingLate(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	testutil.Seed(t, seedPool, samplePatients, samplePayments)
	h := newHandler(t, pool, api.Config{})
	s, err := syncer.New(seedPool, syncer.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	payments, _ := os.ReadFile(samplePayments)
	payments = []byte(strings.Replace(string(payments), `"amount": 4.46`, `"amount": 44.60`, 1))
	pr, pw := io.Pipe()
	older := make(chan error, 1)
	go func() {
		_, err := s.Sync(context.Background(), syncer.Object{Entity: "payments", Source: "api:older",
			Open: func(context.Context) (io.ReadCloser, syncer.Identity, error) { return pr, syncer.Identity{}, nil }})
		older <- err
	}()
	// The payments run is recorded (its id is the lower) and streaming.
	if _, err := pw.Write(payments[:10]); err != nil {
		t.Fatal(err)
	}
	// A patients run starts later and commits first.
	patients, _ := os.ReadFile(samplePatients)
	dir := t.TempDir()
	renamed := filepath.Join(dir, "patients.json")
	_ = os.WriteFile(renamed, []byte(strings.Replace(string(patients), `"Deckard"`, `"Deckard2"`, 1)), 0o644)
	testutil.Seed(t, seedPool, renamed)

	first := decode[api.Patient](t, get(t, h, "/patients?limit=2"))
	if first.Next == nil {
		t.Fatal("one page only")
	}
	// Now the older run commits: totals move.
	if _, err := pw.Write(payments[10:]); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if err := <-older; err != nil {
		t.Fatal(err)
	}
	second := decode[api.Patient](t, get(t, h, *first.Next))
	if !second.ChangedDuringWalk || second.AsOf == first.AsOf {
		t.Fatalf("page after the older run committed: asOf %d (walk began at %d), changed %v", second.AsOf, first.AsOf, second.ChangedDuringWalk)
	}
}
