// Package httpapi is the local stack's API Gateway HTTP API: it routes
// requests by method and path, turns each into a payload format 2.0 event
// for the route's function, and turns the function's answer back into an
// HTTP response, with API Gateway's rules for inferred and failed responses.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Invoker runs a function synchronously; a *rie.Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Route sends "Method Path" to a function. Path segments written {name}
// match any one segment, which the event carries in pathParameters, as
// API Gateway's route keys do (GET /syncs/{id}).
type Route struct {
	Method, Path string
	Function     Invoker
}

// match reports whether r takes method and path, and its path parameters.
func (r Route) match(method, path string) (map[string]string, bool) {
	if method != r.Method {
		return nil, false
	}
	want, got := strings.Split(r.Path, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return nil, false
	}
	var params map[string]string
	for i, w := range want {
		if name, ok := strings.CutPrefix(w, "{"); ok && strings.HasSuffix(name, "}") && got[i] != "" {
			if params == nil {
				params = map[string]string{}
			}
			params[strings.TrimSuffix(name, "}")] = got[i]
			continue
		}
		if w != got[i] {
			return nil, false
		}
	}
	return params, true
}

// Key is the route key, e.g. "GET /patients".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Config describes the API.
type Config struct {
	Routes    []Route
	APIID     string // requestContext.apiId (default "local")
	AccountID string // requestContext.accountId (default 123456789012)
	Logger    *slog.Logger
	Now       func() time.Time
	// IntegrationTimeout is API Gateway's 30s limit on a Lambda integration.
	IntegrationTimeout time.Duration
}

// Limits of API Gateway and Lambda that shape what the API returns.
const (
	maxRequestBody  = 10 << 20 // API Gateway payload quota
	maxLambdaResult = 6 << 20  // Lambda's synchronous response limit
)

// Gateway is an http.Handler.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	routes map[string]Route
}

// New builds the gateway.
func New(cfg Config) *Gateway {
	if cfg.APIID == "" {
		cfg.APIID = "local"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IntegrationTimeout <= 0 {
		cfg.IntegrationTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{cfg: cfg, log: log, routes: map[string]Route{}}
	for _, r := range cfg.Routes {
		g.routes[r.Key()] = r
	}
	return g
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := g.cfg.Now()
	reqID := requestID()
	w.Header().Set("Apigw-Requestid", reqID)
	route, params, ok := g.route(r.Method, r.URL.Path)
	if !ok {
		g.message(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		g.message(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxRequestBody {
		g.message(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	event := NewRequest(r, route.Key(), body, now, reqID, g.cfg.APIID, g.cfg.AccountID)
	event.PathParameters = params
	payload, err := json.Marshal(event)
	if err != nil {
		g.message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.IntegrationTimeout)
	defer cancel()
	start := time.Now()
	out, err := route.Function.Invoke(ctx, payload)
	log := g.log.With("route", route.Key(), "request_id", reqID)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (err != nil && ctx.Err() == context.DeadlineExceeded):
		log.Error("integration timed out", "after", g.cfg.IntegrationTimeout.String())
		g.message(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	case err != nil:
		log.Error("function failed", "error", err)
		g.message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	case len(out) > maxLambdaResult:
		log.Error("function response exceeds Lambda's 6 MB synchronous limit", "bytes", len(out))
		g.message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	resp, err := ParseResponse(out)
	if err != nil {
		log.Error("malformed function response", "error", err)
		g.message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if err := writeResponse(w, resp); err != nil {
		log.Error("malformed function response", "error", err)
		g.message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	log.Info("request", "method", r.Method, "path", r.URL.Path, "status", resp.StatusCode,
		"duration_ms", time.Since(start).Milliseconds())
}

// route finds the route of method and path: an exact one first, then one
// with path parameters.
func (g *Gateway) route(method, path string) (Route, map[string]string, bool) {
	if r, ok := g.routes[method+" "+path]; ok {
		return r, nil, true
	}
	for _, r := range g.cfg.Routes {
		if params, ok := r.match(method, path); ok && params != nil {
			return r, params, true
		}
	}
	return Route{}, nil, false
}

// message writes API Gateway's own error body.
func (g *Gateway) message(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

// NewRequest converts r into a payload format 2.0 event.
func NewRequest(r *http.Request, routeKey string, body []byte, now time.Time, reqID, apiID, accountID string) events.APIGatewayV2HTTPRequest {
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	host := r.Host
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	_, localPort, _ := net.SplitHostPort(localAddr(r))

	// Duplicate headers and query parameters are joined with commas; cookies
	// move from the Cookie header to their own field.
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = host
	if len(body) > 0 {
		headers["content-length"] = fmt.Sprint(len(body))
	}
	headers["x-forwarded-for"] = sourceIP
	headers["x-forwarded-proto"] = "http"
	if localPort != "" {
		headers["x-forwarded-port"] = localPort
	}
	headers["x-amzn-trace-id"] = traceID(now)

	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = make(map[string]string, len(q))
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    accountID,
			Stage:        "$default",
			RequestID:    reqID,
			APIID:        apiID,
			DomainName:   hostname,
			DomainPrefix: strings.SplitN(hostname, ".", 2)[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

func localAddr(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "+xml") ||
		mt == "application/xml" || mt == "application/x-www-form-urlencoded" || mt == "application/javascript"
}

// ParseResponse reads a function's answer under payload format 2.0: a JSON
// object with a statusCode is a response; anything else that is valid JSON
// is the body of a 200 application/json response.
func ParseResponse(out []byte) (events.APIGatewayV2HTTPResponse, error) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) == nil {
		if _, ok := probe["statusCode"]; ok {
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				return resp, fmt.Errorf("decode response: %w", err)
			}
			if resp.StatusCode < 100 || resp.StatusCode > 599 {
				return resp, fmt.Errorf("status code %d", resp.StatusCode)
			}
			return resp, nil
		}
	}
	if !json.Valid(out) {
		return events.APIGatewayV2HTTPResponse{}, errors.New("response is not JSON")
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(out),
	}, nil
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return fmt.Errorf("base64 body: %w", err)
		}
		body = b
	}
	h := w.Header()
	// Deterministic order for repeated keys differing only in case.
	keys := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Set(k, resp.Headers[k])
	}
	for k, vs := range resp.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	h.Del("Content-Length") // recomputed for the decoded body
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body) // a write error means the client went away
	return nil
}

// requestID looks like API Gateway's (base64 of 10 random bytes).
func requestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// traceID is an X-Ray trace header as API Gateway adds.
func traceID(now time.Time) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b))
}
