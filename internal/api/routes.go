package api

import (
	"net/http"
	"slices"
	"strings"
)

// Route is one route of the API, "METHOD /path"; a {name} segment matches
// any one non-empty segment (read with Request.PathValue). GET routes
// answer HEAD too.
type Route string

// The routes. A handler serves the ones its Config lists: each Lambda
// function serves its own (template.yaml), `patientsync serve` all.
const (
	GetPatients  Route = "GET " + PatientsPath
	GetPayments  Route = "GET " + PaymentsPath
	ListSyncs    Route = "GET " + SyncsPath
	GetSync      Route = "GET " + SyncsPath + "/{id}"
	GetOpenAPI   Route = "GET " + OpenAPIPath
	GetHealth    Route = "GET " + HealthPath
	PushPatients Route = "POST " + PatientsPath
	PushPayments Route = "POST " + PaymentsPath
	CreateUpload Route = "POST " + UploadsPath
)

// ReadRoutes are the routes that only read (the default).
var ReadRoutes = []Route{GetPatients, GetPayments, ListSyncs, GetSync, GetOpenAPI, GetHealth}

// AllRoutes are every route the API has.
var AllRoutes = append(slices.Clone(ReadRoutes), PushPatients, PushPayments, CreateUpload)

// Method and Path split the route.
func (r Route) Method() string { m, _, _ := strings.Cut(string(r), " "); return m }
func (r Route) Path() string   { _, p, _ := strings.Cut(string(r), " "); return p }

// routeFunc answers one request; b is a pooled buffer for the body.
type routeFunc func(r *http.Request, b []byte) (response, error)

type routeEntry struct {
	route    Route
	segments []string
	fn       routeFunc
}

// match reports whether path matches e's pattern, setting the path values
// of r when it does.
func (e routeEntry) match(r *http.Request, path string) bool {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) != len(e.segments) {
		return false
	}
	for i, s := range e.segments {
		if strings.HasPrefix(s, "{") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if s != segs[i] {
			return false
		}
	}
	for i, s := range e.segments {
		if name, ok := strings.CutPrefix(s, "{"); ok {
			r.SetPathValue(strings.TrimSuffix(name, "}"), segs[i])
		}
	}
	return true
}

// find returns the route for r, or the methods allowed on its path (none:
// no such path).
func (h *Handler) find(r *http.Request) (routeFunc, []string) {
	var allowed []string
	for _, e := range h.routes {
		if !e.match(r, r.URL.Path) {
			continue
		}
		m := e.route.Method()
		if m == r.Method || m == http.MethodGet && r.Method == http.MethodHead {
			return e.fn, nil
		}
		allowed = append(allowed, m)
		if m == http.MethodGet {
			allowed = append(allowed, http.MethodHead)
		}
	}
	return nil, allowed
}

// servedRoutes lists the routes for 404 details.
func (h *Handler) servedRoutes() string {
	rs := make([]string, 0, len(h.routes))
	for _, e := range h.routes {
		rs = append(rs, string(e.route))
	}
	return strings.Join(rs, ", ")
}

func segments(r Route) []string { return strings.Split(strings.TrimPrefix(r.Path(), "/"), "/") }
