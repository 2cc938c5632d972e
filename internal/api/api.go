// Package api is the HTTP API as one plain net/http handler: the reads
// (GET /patients, /payments, /syncs), snapshot pushes (POST /patients,
// /payments), upload URLs (POST /uploads), its OpenAPI document and a
// health check; served by the Lambda functions (each its own routes) and by
// `patientsync serve`.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Route paths.
const (
	PatientsPath = "/patients"
	PaymentsPath = "/payments"
	OpenAPIPath  = "/openapi.json"
	HealthPath   = "/health"
	UploadsPath  = "/uploads"
)

// Config tunes the handler; zero fields take their defaults.
type Config struct {
	// StatementTimeout bounds each query on the server (default 5s), so that
	// one slow query cannot hold a pooled connection for long.
	StatementTimeout time.Duration
	// GzipMinBytes: bodies at least this large are gzipped when the client
	// accepts it (default 1400, about one TCP segment; smaller gains nothing).
	GzipMinBytes int
	// Routes are the routes served (default ReadRoutes); each Lambda
	// function serves its own. The push routes need WithPush, the upload
	// route WithUploads.
	Routes []Route
	// MaxPushBytes bounds a pushed snapshot's body as sent (default
	// DefaultMaxPushBytes); a larger one is answered 413, pointing to
	// POST /uploads.
	MaxPushBytes int64
}

func (c Config) withDefaults() Config {
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = 5 * time.Second
	}
	if c.GzipMinBytes <= 0 {
		c.GzipMinBytes = 1400
	}
	if len(c.Routes) == 0 {
		c.Routes = ReadRoutes
	}
	if c.MaxPushBytes <= 0 {
		c.MaxPushBytes = DefaultMaxPushBytes
	}
	return c
}

// Handler serves the API.
type Handler struct {
	store  *store
	cfg    Config
	log    *slog.Logger
	routes []routeEntry
	push   *pusher   // nil without WithPush
	upload Presigner // nil without WithUploads
}

// New returns the API handler reading from pool. Open the pool in
// pgx.QueryExecModeExec, as the query Lambdas and serve do: in pgx's default
// mode a statement's first run is prepared before the timeout is in force.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	h := &Handler{store: newStore(pool, cfg.StatementTimeout), cfg: cfg, log: log}
	all := map[Route]routeFunc{
		GetPatients:  h.patients,
		GetPayments:  h.payments,
		ListSyncs:    h.syncs,
		GetSync:      h.syncRun,
		GetOpenAPI:   h.openAPI,
		GetHealth:    h.health,
		PushPatients: h.pushRoute(snapshot.Patients),
		PushPayments: h.pushRoute(snapshot.Payments),
		CreateUpload: h.createUpload,
	}
	for _, r := range cfg.Routes {
		if fn, ok := all[r]; ok && !slices.ContainsFunc(h.routes, func(e routeEntry) bool { return e.route == r }) {
			h.routes = append(h.routes, routeEntry{route: r, segments: segments(r), params: queryParams[r], fn: fn})
		}
	}
	return h
}

// RequestIDHeader carries the request id in and out; a caller (the Lambda
// wrapper, a proxy) may set it, otherwise one is generated.
const RequestIDHeader = "X-Request-Id"

type ctxKey struct{}

// RequestID returns the id of the request being served, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r.Header.Get(RequestIDHeader))
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
	w.Header().Set(RequestIDHeader, id)

	res := h.serve(w, r)

	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("query", truncate(r.URL.RawQuery, maxLoggedQuery)),
		slog.Int("status", res.status),
		slog.Int("bytes", res.bytes),
		slog.Int("items", res.items),
		slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
	}
	level := slog.LevelInfo
	if res.err != nil {
		attrs = append(attrs, slog.String("error", res.err.Error()))
		if res.status >= 500 {
			level = slog.LevelError
		}
	}
	h.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// result is what the access log needs to know about a response.
type result struct {
	status, bytes, items int
	err                  error
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = h.fail(w, r, fmt.Errorf("panic: %v", p))
		}
	}()
	if len(r.RequestURI) > maxURIBytes || len(r.URL.RawQuery) > maxURIBytes {
		return h.fail(w, r, errURITooLong)
	}
	if headerBytes(r.Header) > maxHeaderBytes {
		return h.fail(w, r, errHeadersLarge)
	}
	route, allowed := h.find(r)
	if route == nil && allowed == nil {
		return h.fail(w, r, errNotFound)
	}
	if route == nil {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return h.fail(w, r, errMethod)
	}
	q, err := parseQuery(r.URL.RawQuery, route.params...)
	if err != nil {
		return h.fail(w, r, err)
	}
	bp := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBuffer {
			bodyPool.Put(bp)
		}
	}()
	resp, err := route.fn(r, q, (*bp)[:0])
	if err != nil {
		return h.fail(w, r, err)
	}
	*bp = resp.body // keep the grown buffer
	hdr := w.Header()
	if resp.next != "" {
		hdr.Set("Link", "<"+resp.next+`>; rel="next"`)
	}
	hdr.Set("Cache-Control", resp.cache)
	if resp.etag != "" {
		hdr.Set("ETag", resp.etag)
		if etagMatch(r.Header.Values("If-None-Match"), resp.etag) {
			w.WriteHeader(http.StatusNotModified)
			return result{status: http.StatusNotModified, items: resp.items}
		}
	}
	status := resp.status
	if status == 0 {
		status = http.StatusOK
	}
	n, err := h.write(w, r, status, contentTypeJSON, resp.body)
	return result{status: status, bytes: n, items: resp.items, err: err}
}

// maxLoggedQuery bounds the query string in the access log.
const maxLoggedQuery = 1 << 10

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// requestID keeps a caller's id when it is short and printable (it goes into
// logs and headers) and makes one otherwise.
func requestID(in string) string {
	if in != "" && len(in) <= 128 && !strings.ContainsFunc(in, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return in
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
