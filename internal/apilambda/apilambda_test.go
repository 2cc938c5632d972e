package apilambda_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/apilambda"
	"github.com/patientsync/patientsync/internal/testutil"
)

// seeded returns the URL of a test database holding the sync issue's sample
// files, applied by the real sync engine.
func seeded(t *testing.T) string {
	t.Helper()
	pool, url := testutil.DBPool(t)
	testutil.Seed(t, pool, filepath.Join("..", "..", "testdata", "patients.json"), filepath.Join("..", "..", "testdata", "payments.json"))
	return url
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invoke runs fn the way the Lambda runtime does: JSON bytes in, JSON out.
func invoke(t *testing.T, fn apilambda.Func, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out, err := lambda.NewHandler(fn).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

func newFunc(t *testing.T, url string, routes ...api.Route) apilambda.Func {
	t.Helper()
	env := map[string]string{"DATABASE_URL": url, "QUERY_STATEMENT_TIMEOUT": "2s"}
	fn, pool, err := apilambda.New(context.Background(), "test", routes, func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return fn
}

func TestEvents(t *testing.T) {
	t.Parallel()
	url := seeded(t)
	patients := newFunc(t, url, api.GetPatients)
	payments := newFunc(t, url, api.GetPayments)

	type item struct {
		ExternalID string          `json:"externalId"`
		Amount     json.RawMessage `json:"amount"`
		Total      json.RawMessage `json:"paymentsTotal"`
	}
	cases := []struct {
		event       string
		fn          apilambda.Func
		status      int
		contentType string
		requestID   string
		items       []string // external ids, for 200s
		check       func(t *testing.T, body string, items []item)
	}{
		{"api-patients.json", patients, 200, "application/json; charset=utf-8", "QxKpJhB5FiAEM7w=", []string{"4"},
			func(t *testing.T, _ string, items []item) {
				if string(items[0].Total) != "9.29" {
					t.Errorf("paymentsTotal %s", items[0].Total)
				}
			}},
		{"api-payments.json", payments, 200, "application/json; charset=utf-8", "QxKpTg3vliAEMxA=", []string{"701"},
			func(t *testing.T, _ string, items []item) {
				if string(items[0].Amount) != "9.29" {
					t.Errorf("amount %s", items[0].Amount)
				}
			}},
		{"api-error.json", patients, 400, "application/problem+json", "QxKpZ9WSliAEJ-g=", nil,
			func(t *testing.T, body string, _ []item) {
				var p api.Problem
				if err := json.Unmarshal([]byte(body), &p); err != nil || p.Param != "payment_min" || !strings.Contains(p.Detail, "NaN") || p.RequestID != "QxKpZ9WSliAEJ-g=" {
					t.Errorf("problem %+v (%v)", p, err)
				}
			}},
		// A function serves only its own route, whatever API Gateway sends it.
		{"api-payments.json", patients, 404, "application/problem+json", "QxKpTg3vliAEMxA=", nil, nil},
		{"api-patients.json", payments, 404, "application/problem+json", "QxKpJhB5FiAEM7w=", nil, nil},
	}
	for _, c := range cases {
		resp := invoke(t, c.fn, readEvent(t, c.event))
		if resp.StatusCode != c.status || resp.Headers["Content-Type"] != c.contentType || resp.IsBase64Encoded {
			t.Fatalf("%s: status %d, headers %v, base64 %v, body %s", c.event, resp.StatusCode, resp.Headers, resp.IsBase64Encoded, resp.Body)
		}
		if resp.Headers["X-Request-Id"] != c.requestID {
			t.Errorf("%s: request id %q, want API Gateway's %q", c.event, resp.Headers["X-Request-Id"], c.requestID)
		}
		var page struct {
			Items []item `json:"items"`
		}
		if c.status == 200 {
			if err := json.Unmarshal([]byte(resp.Body), &page); err != nil {
				t.Fatalf("%s: %v", c.event, err)
			}
			var ids []string
			for _, it := range page.Items {
				ids = append(ids, it.ExternalID)
			}
			if !slices.Equal(ids, c.items) {
				t.Fatalf("%s: items %v, want %v", c.event, ids, c.items)
			}
		}
		if c.check != nil {
			c.check(t, resp.Body, page.Items)
		}
	}
}

// TestGzipThroughGateway: a large body leaves the function gzipped and
// base64-encoded, which API Gateway decodes into binary for the client.
func TestGzipThroughGateway(t *testing.T) {
	t.Parallel()
	url := seeded(t)
	payments := newFunc(t, url, api.GetPayments)

	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(readEvent(t, "api-payments.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.RawQueryString, ev.QueryStringParameters = "limit=1000", map[string]string{"limit": "1000"}
	ev.Headers["x-request-id"] = "chosen-by-client" // API Gateway's own id wins
	payload, _ := json.Marshal(ev)

	resp := invoke(t, payments, payload)
	if resp.StatusCode != 200 || resp.Headers["Content-Encoding"] != "gzip" || !resp.IsBase64Encoded {
		t.Fatalf("status %d, headers %v, base64 %v", resp.StatusCode, resp.Headers, resp.IsBase64Encoded)
	}
	if resp.Headers["X-Request-Id"] != ev.RequestContext.RequestID {
		t.Errorf("request id %q, want API Gateway's %q", resp.Headers["X-Request-Id"], ev.RequestContext.RequestID)
	}
	raw, err := base64.StdEncoding.DecodeString(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var page api.Page[api.Payment]
	if err := json.Unmarshal(body, &page); err != nil || len(page.Items) != 9 || page.Next != nil {
		t.Fatalf("page %s: %v", body, err)
	}
}

func TestSettingsFromEnv(t *testing.T) {
	t.Parallel()
	cases := []struct {
		timeout string
		want    time.Duration
		wantErr bool
	}{
		{"", 5 * time.Second, false},
		{"1500ms", 1500 * time.Millisecond, false},
		{"soon", 0, true},
		{"-1s", 0, true},
		{"0s", 0, true},
	}
	for _, c := range cases {
		s, err := apilambda.SettingsFromEnv(func(k string) string {
			return map[string]string{"QUERY_STATEMENT_TIMEOUT": c.timeout}[k]
		})
		if c.wantErr {
			if err == nil || !strings.Contains(err.Error(), "QUERY_STATEMENT_TIMEOUT") {
				t.Errorf("%q: error %v, want one naming QUERY_STATEMENT_TIMEOUT", c.timeout, err)
			}
			continue
		}
		if err != nil || s.StatementTimeout != c.want {
			t.Errorf("%q: %+v, %v", c.timeout, s, err)
		}
	}
}

// TestInit: without a database source the function does not start; with an
// unreachable database it starts and answers 503 until the database is back.
func TestInit(t *testing.T) {
	t.Parallel()
	_, _, err := apilambda.New(context.Background(), "patients", []api.Route{api.GetPatients}, func(string) string { return "" }, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("no database configured: %v", err)
	}
	fn, pool, err := apilambda.New(context.Background(), "patients", []api.Route{api.GetPatients}, func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?connect_timeout=2"}[k]
	}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	resp := invoke(t, fn, readEvent(t, "api-patients.json"))
	if resp.StatusCode != 503 || resp.Headers["Content-Type"] != "application/problem+json" || resp.Headers["Retry-After"] == "" ||
		strings.Contains(resp.Body, "127.0.0.1") {
		t.Fatalf("unreachable database: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
}

// TestQueryHost: the query functions connect to DATABASE_QUERY_HOST (a
// reader endpoint) and the push function, which writes, to DATABASE_HOST.
// Pools connect lazily, so nothing listens there.
func TestQueryHost(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://app:pw@db.example:5432/ps?sslmode=disable",
		"DATABASE_HOST": "proxy.example", "DATABASE_QUERY_HOST": "reader.example:5433"}
	getenv := func(k string) string { return env[k] }
	_, pool, err := apilambda.New(context.Background(), "patients", []api.Route{api.GetPatients}, getenv, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if c := pool.Config().ConnConfig; c.Host != "reader.example" || c.Port != 5433 {
		t.Errorf("query function on %s:%d, want reader.example:5433", c.Host, c.Port)
	}
	_, pushPool, err := apilambda.NewPush(context.Background(), getenv, slog.Default(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer pushPool.Close()
	if c := pushPool.Config().ConnConfig; c.Host != "proxy.example" || c.Port != 5432 {
		t.Errorf("push function on %s:%d, want proxy.example:5432", c.Host, c.Port)
	}
	env["DATABASE_SSLMODE"] = "verfy-full"
	if _, _, err := apilambda.New(context.Background(), "patients", []api.Route{api.GetPatients}, getenv, slog.Default()); err == nil ||
		!strings.Contains(err.Error(), `DATABASE_SSLMODE="verfy-full"`) {
		t.Errorf("a wrong DATABASE_SSLMODE: err = %v", err)
	}
}
