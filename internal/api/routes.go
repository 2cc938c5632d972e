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

// queryParams are the query parameters each route takes, the one list of
// them: the handler refuses any other parameter before the route runs
// (a 400 naming it), and the OpenAPI document must list exactly these
// (TestOpenAPIMatchesHandler). A route missing here takes none.
var queryParams = map[Route][]string{
	GetPatients: {"payment_min", "payment_max", "payments_min", "payments_max", "limit", "cursor"},
	GetPayments: {"external_id", "patient_id", "limit", "cursor"},
	ListSyncs:   {"entity", "status", "limit", "cursor"},
}

// QueryParams are the query parameters r takes; any other is a 400.
func (r Route) QueryParams() []string { return slices.Clone(queryParams[r]) }

// ReadRoutes are the routes that only read (the default).
var ReadRoutes = []Route{GetPatients, GetPayments, ListSyncs, GetSync, GetOpenAPI, GetHealth}

// AllRoutes are every route the API has.
var AllRoutes = append(slices.Clone(ReadRoutes), PushPatients, PushPayments, CreateUpload)

// Method and Path split the route.
func (r Route) Method() string { m, _, _ := strings.Cut(string(r), " "); return m }
func (r Route) Path() string   { _, p, _ := strings.Cut(string(r), " "); return p }

// routeFunc answers one request; q is its query, already checked against
// the route's parameters, and b a pooled buffer for the body.
type routeFunc func(r *http.Request, q query, b []byte) (response, error)

type routeEntry struct {
	route    Route
	segments []string
	params   []string // queryParams[route]
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
func (h *Handler) find(r *http.Request) (*routeEntry, []string) {
	var allowed []string
	for i := range h.routes {
		e := &h.routes[i]
		if !e.match(r, r.URL.Path) {
			continue
		}
		m := e.route.Method()
		if m == r.Method || m == http.MethodGet && r.Method == http.MethodHead {
			return e, nil
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
