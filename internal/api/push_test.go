package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

// pushEnv is a handler serving every route, pushes applied by a real
// syncer on the seed pool.
type pushEnv struct {
	t       *testing.T
	h       *api.Handler
	pool    *pgxpool.Pool
	s       *syncer.Syncer
	metrics *bytes.Buffer
}

func newPushEnv(t *testing.T, cfg api.Config, mods ...func(*syncer.Config)) *pushEnv {
	t.Helper()
	seedPool, pool := setup(t)
	sc := syncer.DefaultConfig()
	sc.MinDeletes = 1
	sc.MassDeleteHint = "ask the operator"
	for _, m := range mods {
		m(&sc)
	}
	s, err := syncer.New(seedPool, sc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Routes = api.AllRoutes
	metrics := &bytes.Buffer{}
	h := newHandler(t, pool, cfg).WithPush(s, metrics)
	return &pushEnv{t: t, h: h, pool: seedPool, s: s, metrics: metrics}
}

func (e *pushEnv) post(path string, body []byte, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *pushEnv) run(rec *httptest.ResponseRecorder) api.SyncRun {
	e.t.Helper()
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
		e.t.Fatalf("status %d, Cache-Control %q, body %s", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
	}
	var run api.SyncRun
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&run); err != nil {
		e.t.Fatal(err)
	}
	return run
}

func (e *pushEnv) count(sql string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestPush: a snapshot POSTed is applied like a file: the same run, guards
// and metrics; every refusal is a 4xx problem that names what to do.
func TestPush(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, api.Config{})
	patients, _ := os.ReadFile(samplePatients)
	payments, _ := os.ReadFile(samplePayments)

	rec := e.post("/patients", patients, "X-Request-Id", "push-1")
	run := e.run(rec)
	live := e.count("SELECT count(*) FROM patients WHERE deleted IS NULL")
	if run.Status != "succeeded" || run.Entity != "patients" || run.Source != "api:push-1" || run.Inserted != int64(live) || live == 0 {
		t.Fatalf("pushed patients: %+v (%d live)", run, live)
	}
	if !strings.Contains(e.metrics.String(), `"SnapshotsApplied":1`) || !strings.Contains(e.metrics.String(), `"runId":`+strconv.FormatInt(run.ID, 10)) {
		t.Errorf("no metrics line for run %d: %s", run.ID, e.metrics)
	}
	run = e.run(e.post("/payments", testutil.Gzip(payments), "Content-Encoding", "gzip", "Content-Type", "application/json; charset=utf-8"))
	if run.Status != "succeeded" || run.Inserted == 0 {
		t.Fatalf("gzip push: %+v", run)
	}
	// The same snapshot again changes nothing.
	if run = e.run(e.post("/patients", patients)); run.Inserted+run.Updated+run.Deleted != 0 || run.Status != "succeeded" {
		t.Fatalf("same snapshot again: %+v", run)
	}

	// Rejections: 422 with the run, its reason and the records.
	p := problem(t, e.post("/patients", patients[:len(patients)/2]), http.StatusUnprocessableEntity)
	if p.Reason != "malformed" || p.RunID == 0 || !strings.Contains(p.Detail, "truncated") {
		t.Errorf("truncated push: %+v", p)
	}
	p = problem(t, e.post("/payments", []byte(`[{"externalId":"x","patientId":"1","amount":"abc","date":"2024-01-01"}]`)), http.StatusUnprocessableEntity)
	if p.Reason != "invalid-share" || len(p.InvalidRecords) != 1 || p.InvalidRecords[0].Field != "amount" || p.InvalidRecords[0].Index != 0 {
		t.Errorf("invalid records: %+v", p)
	}
	p = problem(t, e.post("/patients", []byte("[]")), http.StatusUnprocessableEntity)
	if p.Reason != "mass-delete" || !strings.Contains(p.Detail, "ask the operator") {
		t.Errorf("mass deletion: %+v", p)
	}
	if n := e.count("SELECT count(*) FROM patients WHERE deleted IS NULL"); n != live {
		t.Fatalf("%d live patients after rejected pushes, want %d", n, live)
	}

	for _, c := range []struct {
		name, path string
		body       []byte
		header     []string
		status     int
	}{
		{"text/plain", "/patients", patients, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"no content type", "/patients", patients, []string{"Content-Type", ""}, http.StatusUnsupportedMediaType},
		{"brotli", "/patients", patients, []string{"Content-Encoding", "br"}, http.StatusUnsupportedMediaType},
		{"query", "/patients?dry_run=1", patients, nil, http.StatusBadRequest},
		{"sub-path", "/patients/1", patients, nil, http.StatusNotFound},
	} {
		rec := e.post(c.path, c.body, c.header...)
		problem(t, rec, c.status)
		if rec.Code == http.StatusUnsupportedMediaType && !strings.Contains(rec.Body.String(), "application/json") &&
			!strings.Contains(rec.Body.String(), "gzip") {
			t.Errorf("%s: %s does not say what to send", c.name, rec.Body)
		}
	}
	// PUT is not a route; Allow lists what is.
	req := httptest.NewRequest(http.MethodPut, "/patients", bytes.NewReader(patients))
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	problem(t, rec, http.StatusMethodNotAllowed)
	if got := rec.Header().Get("Allow"); got != "GET, HEAD, POST" {
		t.Errorf("Allow %q", got)
	}
	if runs := e.count("SELECT count(*) FROM sync_runs"); runs != 6 {
		t.Errorf("%d sync runs; want 6 (refused requests start none)", runs)
	}
}

// TestPushTooLarge: 413 before any work for a declared, a streamed and an
// inflating body, pointing to POST /uploads.
func TestPushTooLarge(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, api.Config{MaxPushBytes: 1000})
	big := []byte("[" + strings.Repeat(`{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"},`, 20) + "]")
	p := problem(t, e.post("/patients", big), http.StatusRequestEntityTooLarge)
	if !strings.Contains(p.Detail, "POST /uploads") || !strings.Contains(p.Detail, "1000") {
		t.Errorf("413 detail %q", p.Detail)
	}
	// Chunked: no Content-Length.
	req := httptest.NewRequest(http.MethodPost, "/patients", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	problem(t, rec, http.StatusRequestEntityTooLarge)

	// 65 MiB of blanks gzip to a few dozen KB.
	bomb := newPushEnv(t, api.Config{})
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write([]byte("["))
	blank := bytes.Repeat([]byte(" "), 1<<20)
	for range 65 {
		_, _ = zw.Write(blank)
	}
	_, _ = zw.Write([]byte("]"))
	_ = zw.Close()
	p = problem(t, bomb.post("/patients", buf.Bytes(), "Content-Encoding", "gzip"), http.StatusRequestEntityTooLarge)
	if !strings.Contains(p.Detail, "decompressed") {
		t.Errorf("gzip bomb: %q", p.Detail)
	}
	if n := e.count("SELECT count(*) FROM sync_runs") + bomb.count("SELECT count(*) FROM sync_runs"); n != 0 {
		t.Errorf("%d runs started by oversized bodies", n)
	}
}

// TestPushWhileASyncRuns: a push does not wait past its budget for a
// running sync of its entity: 409 with a Retry-After.
func TestPushWhileASyncRuns(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, api.Config{}, func(c *syncer.Config) { c.LockTimeout = 300 * time.Millisecond })
	patients, _ := os.ReadFile(samplePatients)
	rec := pushWhileSyncing(t, e, patients)
	p := problem(t, rec, http.StatusConflict)
	ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || ra < 1 || ra > 900 || !strings.Contains(p.Detail, "nothing was applied") {
		t.Errorf("409: Retry-After %q, detail %q", rec.Header().Get("Retry-After"), p.Detail)
	}
	// Once it is done, the same push goes through.
	if run := e.run(e.post("/patients", patients)); run.Status != "succeeded" {
		t.Errorf("push after the sync: %+v", run)
	}
}

// pushWhileSyncing pushes patients while a sync of patients holds the
// entity's lock and streams, lets that sync finish, and returns the push's
// response.
func pushWhileSyncing(t *testing.T, e *pushEnv, patients []byte) *httptest.ResponseRecorder {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := e.s.Sync(context.Background(), syncer.Object{Entity: "patients", Source: "s3://b/patients.json",
			Open: func(context.Context) (io.ReadCloser, syncer.Identity, error) { return pr, syncer.Identity{}, nil }})
		done <- err
	}()
	if _, err := pw.Write(patients[:10]); err != nil { // the sync holds the lock and streams
		t.Fatal(err)
	}
	rec := e.post("/patients", patients)
	_, _ = pw.Write(patients[10:])
	_ = pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestHealth: 200 while the database answers, 503 when it does not.
func TestHealth(t *testing.T) {
	t.Parallel()
	_, pool := setup(t)
	rec := get(t, newHandler(t, pool, api.Config{}), "/health")
	var body struct {
		Status   string
		Database struct {
			Status string
			MS     float64
		}
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Status != "ok" || body.Database.Status != "ok" ||
		rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("healthy: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	rec = get(t, newHandler(t, down, api.Config{}), "/health")
	p := problem(t, rec, http.StatusServiceUnavailable)
	if rec.Header().Get("Retry-After") == "" || strings.Contains(p.Detail, "127.0.0.1") {
		t.Errorf("unhealthy: %v %+v", rec.Header(), p)
	}
	problem(t, get(t, newHandler(t, pool, api.Config{}), "/health?verbose=1"), http.StatusBadRequest)
}

// TestCaching: pages of data revalidate against the sync they reflect;
// what changes without a sync is not stored; the document is public.
func TestCaching(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, api.Config{})
	patients, _ := os.ReadFile(samplePatients)
	e.run(e.post("/patients", patients))

	first := get(t, e.h, "/patients?limit=2")
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || first.Header().Get("Cache-Control") != "no-cache" || !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("page: %d %v", first.Code, first.Header())
	}
	for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `"other", ` + etag, "*"} {
		rec := get(t, e.h, "/patients?limit=2", "If-None-Match", inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q", inm, rec.Code, rec.Body)
		}
	}
	if rec := get(t, e.h, "/payments", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("payments reflect the same sync: %d", rec.Code)
	}
	// A push that changes data changes the tag; one that changes nothing not.
	e.run(e.post("/patients", patients))
	if rec := get(t, e.h, "/patients?limit=2", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("after an unchanged snapshot: %d", rec.Code)
	}
	e.run(e.post("/patients", []byte(strings.Replace(string(patients), "Deckard", "Deckhard", 1))))
	rec := get(t, e.h, "/patients?limit=2", "If-None-Match", etag)
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") == etag {
		t.Errorf("after a change: %d, ETag %q (was %q)", rec.Code, rec.Header().Get("ETag"), etag)
	}
	// Bad parameters are 400 even for a matching tag.
	problem(t, get(t, e.h, "/patients?limit=x", "If-None-Match", "*"), http.StatusBadRequest)

	if rec := get(t, e.h, "/syncs"); rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("ETag") != "" {
		t.Errorf("/syncs: %v", rec.Header())
	}
	doc := get(t, e.h, "/openapi.json")
	if doc.Code != http.StatusOK || !strings.HasPrefix(doc.Header().Get("Cache-Control"), "public") || doc.Header().Get("ETag") == "" ||
		!bytes.Equal(doc.Body.Bytes(), api.OpenAPIDocument()) {
		t.Errorf("/openapi.json: %d %v", doc.Code, doc.Header())
	}
	if rec := get(t, e.h, "/openapi.json", "If-None-Match", doc.Header().Get("ETag")); rec.Code != http.StatusNotModified {
		t.Errorf("/openapi.json revalidated: %d", rec.Code)
	}
	if rec := get(t, e.h, "/patients?limit=0"); rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("problem Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
}
