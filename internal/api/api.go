// Package api is the read side: GET /patients and GET /payments as one plain
// net/http handler, served by the query Lambdas and by `patientsync serve`.
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
)

// Route paths.
const (
	PatientsPath = "/patients"
	PaymentsPath = "/payments"
)

// Config tunes the handler; zero fields take their defaults.
type Config struct {
	// StatementTimeout bounds each query on the server (default 5s), so that
	// one slow query cannot hold a pooled connection for long.
	StatementTimeout time.Duration
	// GzipMinBytes: bodies at least this large are gzipped when the client
	// accepts it (default 1400, about one TCP segment; smaller gains nothing).
	GzipMinBytes int
	// Routes limits the handler to some of the paths (default all); each
	// query Lambda serves only its own route (SyncsPath includes
	// SyncsPath/{id}).
	Routes []string
}

func (c Config) withDefaults() Config {
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = 5 * time.Second
	}
	if c.GzipMinBytes <= 0 {
		c.GzipMinBytes = 1400
	}
	if len(c.Routes) == 0 {
		c.Routes = []string{PatientsPath, PaymentsPath, SyncsPath}
	}
	return c
}

// Handler serves the query API.
type Handler struct {
	store  *store
	cfg    Config
	log    *slog.Logger
	routes map[string]func(*http.Request, []byte) (response, error)
}

// New returns the API handler reading from pool. Open the pool in
// pgx.QueryExecModeExec, as the query Lambdas and serve do: in pgx's default
// mode a statement's first run is prepared before the timeout is in force.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	h := &Handler{store: newStore(pool, cfg.StatementTimeout), cfg: cfg, log: log, routes: map[string]func(*http.Request, []byte) (response, error){}}
	all := map[string]func(*http.Request, []byte) (response, error){
		PatientsPath: h.patients,
		PaymentsPath: h.payments,
		SyncsPath:    h.syncs,
	}
	for _, r := range cfg.Routes {
		if fn, ok := all[r]; ok {
			h.routes[r] = fn
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
	route, ok := h.route(r.URL.Path)
	if !ok {
		return h.fail(w, r, errNotFound)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return h.fail(w, r, errMethod)
	}
	bp := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBuffer {
			bodyPool.Put(bp)
		}
	}()
	resp, err := route(r, (*bp)[:0])
	if err != nil {
		return h.fail(w, r, err)
	}
	*bp = resp.body // keep the grown buffer
	if resp.next != "" {
		w.Header().Set("Link", "<"+resp.next+`>; rel="next"`)
	}
	n, err := h.write(w, r, http.StatusOK, contentTypeJSON, resp.body)
	return result{status: http.StatusOK, bytes: n, items: resp.items, err: err}
}

// route finds path's handler: an exact route, or SyncsPath/{id}.
func (h *Handler) route(path string) (func(*http.Request, []byte) (response, error), bool) {
	if fn, ok := h.routes[path]; ok {
		return fn, true
	}
	if id, ok := strings.CutPrefix(path, SyncsPath+"/"); ok && id != "" && !strings.Contains(id, "/") {
		if _, enabled := h.routes[SyncsPath]; enabled {
			return func(r *http.Request, _ []byte) (response, error) {
				if r.URL.RawQuery != "" {
					if _, err := parseQuery(r.URL.RawQuery); err != nil {
						return response{}, err
					}
				}
				return h.syncRun(r.Context(), id)
			}, true
		}
	}
	return nil, false
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

// allowedRoutes lists the paths for 404 details.
func (h *Handler) allowedRoutes() string {
	rs := make([]string, 0, len(h.routes))
	for r := range h.routes {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return strings.Join(rs, ", ")
}
