package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

// The OpenAPI document (internal/api/openapi.json) against the code: these
// tests fail when one changes without the other. make lint-openapi checks
// that the document is valid OpenAPI 3.1.

// docURL names the document for the JSON Schema compiler; nothing is
// fetched from it.
const docURL = "https://patientsync.invalid/openapi.json"

// openAPI is the document, parsed, with a compiler for its schemas.
type openAPI struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v, want 3.1.0", doc["openapi"])
	}
	// The schemas as the tests read them: every object schema of
	// components/schemas without a word on other members is closed, so a
	// member the code sends and the document does not describe fails a
	// test. (The document leaves them open: clients should ignore members
	// they do not know, and new ones may come.)
	closed, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range closed.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any) {
		closeObjects(s)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(docURL, closed); err != nil {
		t.Fatal(err)
	}
	return &openAPI{doc: doc, compiler: c, schemas: map[string]*jsonschema.Schema{}}
}

// closeObjects sets additionalProperties false on s and its nested object
// schemas that list properties and say nothing of others.
func closeObjects(s any) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	if props, ok := m["properties"].(map[string]any); ok {
		if _, said := m["additionalProperties"]; !said {
			m["additionalProperties"] = false
		}
		for _, p := range props {
			closeObjects(p)
		}
	}
	if items, ok := m["items"]; ok {
		closeObjects(items)
	}
}

// pointer is a JSON pointer (RFC 6901) of tokens.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return b.String()
}

// at returns the value at ptr, following a $ref there (the document's own
// references only), and the pointer it was found at.
func (o *openAPI) at(t *testing.T, ptr string) (any, string) {
	t.Helper()
	var v any = o.doc
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, ptr
			}
			v = x[i]
		default:
			v = nil
		}
		if v == nil {
			return nil, ptr
		}
	}
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			if !strings.HasPrefix(ref, "#/") {
				t.Fatalf("%s: $ref %q is not in the document", ptr, ref)
			}
			return o.at(t, ref[1:])
		}
	}
	return v, ptr
}

func (o *openAPI) object(t *testing.T, ptr string) (map[string]any, string) {
	t.Helper()
	v, p := o.at(t, ptr)
	m, _ := v.(map[string]any)
	return m, p
}

// schema compiles the schema at ptr.
func (o *openAPI) schema(t *testing.T, ptr string) *jsonschema.Schema {
	t.Helper()
	if s, ok := o.schemas[ptr]; ok {
		return s
	}
	frag := strings.NewReplacer("{", "%7B", "}", "%7D").Replace(ptr)
	s, err := o.compiler.Compile(docURL + "#" + frag)
	if err != nil {
		t.Fatalf("compile the schema at %s: %v", ptr, err)
	}
	o.schemas[ptr] = s
	return s
}

// operations lists the document's operations as "METHOD /path" with their
// pointers.
func (o *openAPI) operations(t *testing.T) map[api.Route]string {
	t.Helper()
	ops := map[api.Route]string{}
	paths, _ := o.object(t, "/paths")
	for path, item := range paths {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops[api.Route(strings.ToUpper(method)+" "+path)] = pointer("paths", path, method)
			}
		}
	}
	return ops
}

// parameters are an operation's parameters of one kind (query, path,
// header) by name, with their pointers (path-level ones included).
func (o *openAPI) parameters(t *testing.T, op, in string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, list := range []string{op[:strings.LastIndex(op, "/")] + "/parameters", op + "/parameters"} {
		ps, _ := o.at(t, list)
		for i := range len(asSlice(ps)) {
			p, ptr := o.object(t, list+"/"+strconv.Itoa(i))
			if p["in"] == in {
				out[p["name"].(string)] = ptr
			}
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestOpenAPIRoutes: the document's operations are the routes the handler
// has, no more, no fewer; their path parameters are the routes' {names}.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	o := loadOpenAPI(t)
	ops := o.operations(t)
	if got, want := slices.Sorted(maps.Keys(ops)), slices.Sorted(slices.Values(api.AllRoutes)); !slices.Equal(got, want) {
		t.Fatalf("the document's operations\n  %q\nthe handler's routes (api.AllRoutes)\n  %q", got, want)
	}
	ids := map[string]api.Route{}
	for _, r := range api.AllRoutes {
		op, _ := o.object(t, ops[r])
		id, _ := op["operationId"].(string)
		if id == "" || ids[id] != "" {
			t.Errorf("%s: operationId %q missing or also %s's", r, id, ids[id])
		}
		ids[id] = r
		var want []string
		for _, seg := range strings.Split(r.Path(), "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				want = append(want, strings.TrimSuffix(name, "}"))
			}
		}
		got := slices.Sorted(maps.Keys(o.parameters(t, ops[r], "path")))
		if !slices.Equal(got, want) {
			t.Errorf("%s: path parameters %q documented, %q in the route", r, got, want)
		}
	}
}

// TestOpenAPIQueryParameters: each route's documented query parameters
// are the ones its handler takes (Route.QueryParams, which the router
// enforces, as the second half checks), with the handler's limits.
func TestOpenAPIQueryParameters(t *testing.T) {
	t.Parallel()
	o := loadOpenAPI(t)
	ops := o.operations(t)
	for _, r := range api.AllRoutes {
		if ops[r] == "" {
			t.Errorf("%s: not documented", r)
			continue
		}
		got := slices.Sorted(maps.Keys(o.parameters(t, ops[r], "query")))
		if want := slices.Sorted(slices.Values(r.QueryParams())); !slices.Equal(got, want) {
			t.Errorf("%s: query parameters %q documented, %q taken by the handler", r, got, want)
		}
	}

	// The limits each parameter's schema states, from the code's constants.
	for _, c := range []struct {
		route   api.Route
		param   string
		keyword string
		want    any
	}{
		{api.GetPatients, "limit", "minimum", 1},
		{api.GetPatients, "limit", "maximum", api.MaxLimit},
		{api.GetPatients, "limit", "default", api.DefaultLimit},
		{api.GetPayments, "limit", "minimum", 1},
		{api.GetPayments, "limit", "maximum", api.MaxLimit},
		{api.GetPayments, "limit", "default", api.DefaultLimit},
		{api.ListSyncs, "limit", "minimum", 1},
		{api.ListSyncs, "limit", "maximum", api.MaxSyncsLimit},
		{api.ListSyncs, "limit", "default", api.DefaultSyncsLimit},
		{api.GetPatients, "payment_min", "pattern", api.DecimalPattern},
		{api.GetPatients, "payment_max", "pattern", api.DecimalPattern},
		{api.GetPatients, "payments_min", "pattern", api.DecimalPattern},
		{api.GetPatients, "payments_max", "pattern", api.DecimalPattern},
		{api.GetPayments, "external_id", "minLength", 1},
		{api.GetPayments, "external_id", "maxLength", snapshot.MaxIDBytes},
		{api.GetPayments, "patient_id", "minimum", 1},
		{api.GetPatients, "cursor", "maxLength", api.MaxCursor},
		{api.GetPayments, "cursor", "maxLength", api.MaxCursor},
		{api.ListSyncs, "cursor", "maxLength", api.MaxCursor},
		{api.ListSyncs, "entity", "enum", api.SyncEntities},
		{api.ListSyncs, "status", "enum", api.SyncStatuses},
	} {
		ptr, ok := "", false
		if ops[c.route] != "" {
			ptr, ok = o.parameters(t, ops[c.route], "query")[c.param]
		}
		if !ok {
			t.Errorf("%s %s: not documented", c.route, c.param)
			continue
		}
		schema, _ := o.object(t, ptr+"/schema")
		if got, want := jsonText(schema[c.keyword]), jsonText(c.want); got != want {
			t.Errorf("%s %s: %s is %s in the document, %s in the code", c.route, c.param, c.keyword, got, want)
		}
	}
	if got, _ := o.at(t, pointer("paths", "/syncs/{id}", "get", "parameters", "0", "schema", "minimum")); jsonText(got) != "1" {
		t.Errorf("GET /syncs/{id}: id minimum %v", got)
	}

	// The handler refuses a parameter its route does not take, before the
	// route runs (no database, push or uploads needed to see it).
	h := api.New(nil, api.Config{Routes: api.AllRoutes}, quiet)
	for _, r := range api.AllRoutes {
		target := strings.ReplaceAll(r.Path(), "{id}", "1") + "?undocumented=1"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(r.Method(), target, strings.NewReader("[]")))
		var p api.Problem
		if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Param != "undocumented" {
			t.Errorf("%s %s: %d %s; want a 400 naming the parameter", r.Method(), target, rec.Code, rec.Body)
		}
	}
}

var quiet = slog.New(slog.DiscardHandler)

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestOpenAPIProblems: the problem types and statuses the handler answers
// (api.ProblemType, problemStatuses, which TestFailStatusesAreListed holds
// to fail's cases) are the ones the document describes, each titled as the
// handler titles it.
func TestOpenAPIProblems(t *testing.T) {
	t.Parallel()
	o := loadOpenAPI(t)
	problem, _ := o.object(t, "/components/schemas/Problem")
	props := problem["properties"].(map[string]any)
	if got, want := jsonText(props["type"].(map[string]any)["enum"]), jsonText([]string{api.ProblemType}); got != want {
		t.Errorf("problem types %s documented, %s in the code", got, want)
	}
	want := slices.Sorted(slices.Values(api.ProblemStatuses))
	if got := jsonText(props["status"].(map[string]any)["enum"]); got != jsonText(want) {
		t.Errorf("Problem.status enum %s, the code's statuses %v", got, want)
	}
	// Each problem response of components/responses: its status and title.
	var got []int
	responses, _ := o.object(t, "/components/responses")
	for name := range responses {
		schema, _ := o.at(t, pointer("components", "responses", name, "content", "application/problem+json", "schema"))
		if schema == nil {
			continue
		}
		var status int
		var title string
		for _, part := range asSlice(schema.(map[string]any)["allOf"]) {
			p, _ := part.(map[string]any)["properties"].(map[string]any)
			if s, ok := p["status"].(map[string]any); ok {
				n, _ := s["const"].(float64)
				status, title = int(n), constString(p["title"])
			}
		}
		if status == 0 || title != http.StatusText(status) {
			t.Errorf("components/responses/%s: status %d, title %q; want the status as a const and http.StatusText of it", name, status, title)
		}
		got = append(got, status)
	}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Errorf("problem responses for statuses %v documented, %v answered by the code", got, want)
	}
	// Every 4xx and 5xx an operation documents is one of them.
	for r, op := range o.operations(t) {
		codes, _ := o.object(t, op+"/responses")
		for code := range codes {
			if n, _ := strconv.Atoi(code); n >= 400 {
				if _, ptr := o.at(t, op+"/responses/"+code); !strings.HasPrefix(ptr, "/components/responses/") || !slices.Contains(want, n) {
					t.Errorf("%s: response %s is not one of the problem responses", r, code)
				}
			}
		}
	}
}

// constString is the const of a schema, when a string.
func constString(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["const"].(string)
	return s
}

// exchange is one request and the response the handler gave.
type exchange struct {
	name string
	op   string // the operation's pointer; "" for a component response
	resp string // the response's pointer when op is ""
	rec  *httptest.ResponseRecorder
	head bool
}

// check holds a real response to what the document says of it: the
// status is documented, the media type is, the body validates against the
// schema, each required header is there, and every documented header sent
// validates against its schema.
func (o *openAPI) check(t *testing.T, x exchange) {
	t.Helper()
	rec := x.rec
	respPtr := x.resp
	if x.op == "" && x.resp == "" {
		return // not documented: reported already
	}
	if x.op != "" {
		respPtr = x.op + "/responses/" + strconv.Itoa(rec.Code)
	}
	resp, respPtr := o.object(t, respPtr)
	if resp == nil {
		t.Errorf("%s: status %d is not documented (%s); body %s", x.name, rec.Code, respPtr, rec.Body)
		return
	}
	headers, _ := resp["headers"].(map[string]any)
	for name := range headers {
		h, hptr := o.object(t, respPtr+pointer("headers", name))
		v := rec.Header().Get(name)
		if v == "" {
			if h["required"] == true {
				t.Errorf("%s: header %s missing", x.name, name)
			}
			continue
		}
		var value any = v
		if s, _ := o.object(t, hptr+"/schema"); s["type"] == "integer" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Errorf("%s: header %s: %q is not an integer", x.name, name, v)
				continue
			}
			value = json.Number(strconv.FormatInt(n, 10))
		}
		if err := o.schema(t, hptr+"/schema").Validate(value); err != nil {
			t.Errorf("%s: header %s: %q: %v", x.name, name, v, err)
		}
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil || x.head {
		if rec.Body.Len() != 0 {
			t.Errorf("%s: a body where none is documented: %s", x.name, rec.Body)
		}
		return
	}
	mt, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if err != nil || content[mt] == nil {
		t.Errorf("%s: Content-Type %q; documented: %v", x.name, rec.Header().Get("Content-Type"), slices.Collect(maps.Keys(content)))
		return
	}
	body, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Errorf("%s: body %s: %v", x.name, rec.Body, err)
		return
	}
	if err := o.schema(t, respPtr+pointer("content", mt, "schema")).Validate(body); err != nil {
		t.Errorf("%s: the body does not validate against %s: %v\nbody: %.2000s", x.name, respPtr, err, rec.Body)
	}
}

// TestOpenAPIResponses sends real requests to every route, on a real
// database, and checks each response against the document: the success
// of each route, its 304s, and each kind of problem that can be caused
// from outside. The snapshots it pushes validate against the documented
// request bodies, and GET /openapi.json serves the file byte for byte.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	o := loadOpenAPI(t)
	ops := o.operations(t)
	e := newPushEnv(t, api.Config{}, func(c *syncer.Config) { c.LockTimeout = 300 * time.Millisecond })
	patients, _ := os.ReadFile(samplePatients)
	payments, _ := os.ReadFile(samplePayments)

	// The sample snapshots are valid request bodies.
	for _, c := range []struct {
		route api.Route
		body  []byte
	}{{api.PushPatients, patients}, {api.PushPayments, payments}} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.schema(t, ops[c.route]+pointer("requestBody", "content", "application/json", "schema")).Validate(v); err != nil {
			t.Errorf("%s: the sample snapshot does not validate against the request body: %v", c.route, err)
		}
	}

	var xs []exchange
	do := func(h http.Handler, route api.Route, name, method, target string, body []byte, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req := httptest.NewRequest(method, target, r)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		x := exchange{name: name, rec: rec, head: method == http.MethodHead}
		if route != "" {
			if x.op = ops[route]; x.op == "" {
				t.Errorf("%s: %s is not documented", name, route)
			}
		}
		xs = append(xs, x)
		return rec
	}
	// want fails the test unless the last exchange had status.
	want := func(status int) {
		t.Helper()
		if x := xs[len(xs)-1]; x.rec.Code != status {
			t.Fatalf("%s: status %d, want %d; body %s", x.name, x.rec.Code, status, x.rec.Body)
		}
	}

	// Pushes: applied, gzip, rejected, refused.
	do(e.h, api.PushPatients, "push patients", "POST", "/patients", patients)
	want(200)
	do(e.h, api.PushPayments, "push payments gzip", "POST", "/payments", testutil.Gzip(payments), "Content-Encoding", "gzip")
	want(200)
	do(e.h, api.PushPayments, "push invalid payments", "POST", "/payments", []byte(`[{"externalId":"x","patientId":"1","amount":"abc"}]`))
	want(422)
	do(e.h, api.PushPatients, "push truncated", "POST", "/patients", patients[:len(patients)/2])
	want(422)
	do(e.h, api.PushPatients, "push text", "POST", "/patients", patients, "Content-Type", "text/plain")
	want(415)
	do(e.h, api.PushPatients, "push too large", "POST", "/patients", bytes.Repeat([]byte(" "), api.DefaultMaxPushBytes+1))
	want(413)
	do(e.h, api.PushPayments, "push with a query", "POST", "/payments?dry_run=1", payments)
	want(400)
	xs = append(xs, busyPush(t, e, ops[api.PushPatients], patients))

	// Reads.
	page := do(e.h, api.GetPatients, "patients", "GET", "/patients", nil)
	want(200)
	etag := page.Header().Get("ETag")
	do(e.h, api.GetPatients, "patients page 1 of many", "GET", "/patients?limit=2&payment_min=0&payment_max=100.5", nil)
	want(200)
	do(e.h, api.GetPatients, "patients not modified", "GET", "/patients?limit=2", nil, "If-None-Match", etag)
	want(304)
	do(e.h, api.GetPatients, "patients HEAD", "HEAD", "/patients", nil)
	want(200)
	do(e.h, api.GetPatients, "patients bad limit", "GET", "/patients?limit=0", nil)
	want(400)
	do(e.h, api.GetPayments, "payments", "GET", "/payments?limit=3", nil)
	want(200)
	do(e.h, api.GetPayments, "payments of a patient", "GET", "/payments?external_id=1", nil)
	want(200)
	do(e.h, api.GetPayments, "payments of an unknown patient id", "GET", "/payments?patient_id=999999", nil)
	want(200)
	do(e.h, api.GetPayments, "payments not modified", "GET", "/payments", nil, "If-None-Match", etag)
	want(304)
	do(e.h, api.GetPayments, "payments bad external id", "GET", "/payments?external_id=", nil)
	want(400)
	do(e.h, api.ListSyncs, "syncs", "GET", "/syncs", nil)
	want(200)
	do(e.h, api.ListSyncs, "syncs page 1 of many", "GET", "/syncs?limit=1", nil)
	want(200)
	do(e.h, api.ListSyncs, "syncs filtered", "GET", "/syncs?entity=payments&status=failed", nil)
	want(200)
	do(e.h, api.ListSyncs, "syncs bad status", "GET", "/syncs?status=done", nil)
	want(400)
	var runs api.Page[api.SyncRun]
	_ = json.Unmarshal(do(e.h, api.ListSyncs, "syncs of patients", "GET", "/syncs?entity=patients", nil).Body.Bytes(), &runs)
	want(200)
	for _, run := range runs.Items {
		do(e.h, api.GetSync, "sync run "+run.Status, "GET", "/syncs/"+strconv.FormatInt(run.ID, 10), nil)
		want(200)
	}
	do(e.h, api.GetSync, "sync run not there", "GET", "/syncs/999999", nil)
	want(404)
	do(e.h, api.GetSync, "sync run bad id", "GET", "/syncs/x", nil)
	want(400)
	doc := do(e.h, api.GetOpenAPI, "openapi.json", "GET", "/openapi.json", nil)
	want(200)
	do(e.h, api.GetOpenAPI, "openapi.json not modified", "GET", "/openapi.json", nil, "If-None-Match", doc.Header().Get("ETag"))
	want(304)
	do(e.h, api.GetHealth, "health", "GET", "/health", nil)
	want(200)
	do(e.h, api.GetHealth, "health HEAD", "HEAD", "/health", nil)
	want(200)
	do(e.h, api.GetHealth, "health with a query", "GET", "/health?verbose=1", nil)
	want(400)
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	do(api.New(down, api.Config{}, quiet), api.GetHealth, "health, database down", "GET", "/health", nil)
	want(503)
	do(api.New(down, api.Config{}, quiet), api.GetPatients, "patients, database down", "GET", "/patients", nil)
	want(503)

	// Uploads, on a local S3.
	client, _ := testutil.S3(t, "snapshots", nil)
	uh := api.New(nil, api.Config{Routes: []api.Route{api.CreateUpload}}, quiet).
		WithUploads(s3source.NewUploads(client, "snapshots", "incoming/", 10*time.Minute))
	do(uh, api.CreateUpload, "upload", "POST", "/uploads", []byte(`{"entity":"patients"}`))
	want(200)
	do(uh, api.CreateUpload, "upload gzip", "POST", "/uploads", []byte(`{"entity":"payments","gzip":true}`))
	want(200)
	do(uh, api.CreateUpload, "upload of doctors", "POST", "/uploads", []byte(`{"entity":"doctors"}`))
	want(400)
	do(uh, api.CreateUpload, "upload too large", "POST", "/uploads", bytes.Repeat([]byte(" "), api.MaxUploadRequest+1))
	want(413)
	do(uh, api.CreateUpload, "upload text", "POST", "/uploads", []byte(`{"entity":"patients"}`), "Content-Type", "text/plain")
	want(415)

	// What any route answers before it runs.
	do(e.h, api.GetPayments, "URI too long", "GET", "/payments?external_id="+strings.Repeat("x", 9000), nil)
	want(414)
	do(e.h, api.ListSyncs, "headers too large", "GET", "/syncs", nil, "X-Big", strings.Repeat("x", 17<<10))
	want(431)
	do(e.h, "", "method not allowed", "DELETE", "/patients", nil)
	want(405)
	xs[len(xs)-1].resp = "/components/responses/MethodNotAllowed"
	do(e.h, "", "no such path", "GET", "/patient", nil)
	want(404)
	xs[len(xs)-1].resp = "/components/responses/NotFound"

	for _, x := range xs {
		o.check(t, x)
	}

	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc.Body.Bytes(), file) || !bytes.Equal(api.OpenAPIDocument(), file) {
		t.Errorf("GET /openapi.json serves %d bytes, not openapi.json's %d", doc.Body.Len(), len(file))
	}
}

// busyPush pushes while another sync of the entity holds its lock: a 409.
func busyPush(t *testing.T, e *pushEnv, op string, patients []byte) exchange {
	t.Helper()
	rec := pushWhileSyncing(t, e, patients)
	if rec.Code != http.StatusConflict {
		t.Fatalf("push while a sync runs: %d %s", rec.Code, rec.Body)
	}
	return exchange{name: fmt.Sprintf("push while a sync runs (%d)", rec.Code), op: op, rec: rec}
}
