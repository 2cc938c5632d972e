package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/patientsync/patientsync/internal/localaws/httpapi"
)

// fn is an invoke target that records the events it gets and answers with
// a fixed reply (unit tests of the gateway's two conversions).
type fn struct {
	mu     sync.Mutex
	got    []events.APIGatewayV2HTTPRequest
	reply  string
	err    error
	block  bool
	called int
}

func (f *fn) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.got = append(f.got, ev)
	f.called++
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return []byte(f.reply), f.err
}

func (f *fn) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		t.Fatal("function not invoked")
	}
	return f.got[len(f.got)-1]
}

func serve(t *testing.T, routes ...httpapi.Route) *httptest.Server {
	t.Helper()
	g := httpapi.New(httpapi.Config{
		Routes: routes, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		IntegrationTimeout: 200 * time.Millisecond,
	})
	s := httptest.NewServer(g)
	t.Cleanup(s.Close)
	return s
}

func TestRequestEvent(t *testing.T) {
	t.Parallel()
	patients := &fn{reply: `{"statusCode":200,"body":"[]"}`}
	s := serve(t, httpapi.Route{Method: "GET", Path: "/patients", Function: patients})

	req, _ := http.NewRequest("GET", s.URL+"/patients?payment_min=9&payment_max=20&tag=a&tag=b%20c", nil)
	req.Header.Add("X-Custom", "one")
	req.Header.Add("X-Custom", "two")
	req.Header.Set("User-Agent", "curl/8")
	req.Header.Set("Cookie", "a=1; b=2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ev := patients.last(t)
	checks := []struct {
		what      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "GET /patients"},
		{"rawPath", ev.RawPath, "/patients"},
		{"rawQueryString", ev.RawQueryString, "payment_min=9&payment_max=20&tag=a&tag=b%20c"},
		{"query payment_min", ev.QueryStringParameters["payment_min"], "9"},
		{"query duplicates", ev.QueryStringParameters["tag"], "a,b c"},
		{"header duplicates", ev.Headers["x-custom"], "one,two"},
		{"user-agent header", ev.Headers["user-agent"], "curl/8"},
		{"cookie header removed", ev.Headers["cookie"], ""},
		{"cookies", strings.Join(ev.Cookies, "|"), "a=1|b=2"},
		{"x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1"},
		{"host", ev.Headers["host"], strings.TrimPrefix(s.URL, "http://")},
		{"ctx routeKey", ev.RequestContext.RouteKey, "GET /patients"},
		{"ctx stage", ev.RequestContext.Stage, "$default"},
		{"ctx method", ev.RequestContext.HTTP.Method, "GET"},
		{"ctx path", ev.RequestContext.HTTP.Path, "/patients"},
		{"ctx protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"ctx sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"ctx userAgent", ev.RequestContext.HTTP.UserAgent, "curl/8"},
		{"ctx domainName", ev.RequestContext.DomainName, "127.0.0.1"},
		{"ctx apiId", ev.RequestContext.APIID, "local"},
		{"ctx accountId", ev.RequestContext.AccountID, "123456789012"},
		{"base64", ev.IsBase64Encoded, false},
		{"body", ev.Body, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v; want %#v", c.what, c.got, c.want)
		}
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q not lowercased", k)
		}
	}
	if ev.RequestContext.RequestID == "" || resp.Header.Get("Apigw-Requestid") != ev.RequestContext.RequestID {
		t.Errorf("requestId %q, response apigw-requestid %q", ev.RequestContext.RequestID, resp.Header.Get("Apigw-Requestid"))
	}
	if !regexp.MustCompile(`^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$`).MatchString(ev.RequestContext.Time) || ev.RequestContext.TimeEpoch <= 0 {
		t.Errorf("time %q epoch %d", ev.RequestContext.Time, ev.RequestContext.TimeEpoch)
	}
}

func TestRequestBody(t *testing.T) {
	t.Parallel()
	f := &fn{reply: `{"statusCode":204}`}
	s := serve(t, httpapi.Route{Method: "POST", Path: "/x", Function: f})
	cases := []struct {
		ctype, body string
		wantB64     bool
	}{
		{"application/json", `{"a":1}`, false},
		{"text/plain; charset=utf-8", "héllo", false},
		{"application/octet-stream", "\x00\x01\xff", true},
	}
	for _, c := range cases {
		resp, err := http.Post(s.URL+"/x", c.ctype, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ev := f.last(t)
		body := ev.Body
		if ev.IsBase64Encoded {
			b, _ := base64.StdEncoding.DecodeString(body)
			body = string(b)
		}
		if ev.IsBase64Encoded != c.wantB64 || body != c.body {
			t.Errorf("%s: base64=%v body=%q; want %v %q", c.ctype, ev.IsBase64Encoded, body, c.wantB64, c.body)
		}
	}
}

func TestResponses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		reply      string
		err        error
		block      bool
		wantStatus int
		wantBody   string
		wantHeader map[string]string
		wantCookie []string
	}{
		{
			name:       "full response",
			reply:      `{"statusCode":201,"headers":{"Content-Type":"application/json","X-Page":"2"},"body":"{\"ok\":true}"}`,
			wantStatus: 201, wantBody: `{"ok":true}`,
			wantHeader: map[string]string{"Content-Type": "application/json", "X-Page": "2"},
		},
		{
			name:       "base64 body, cookies, multi-value headers",
			reply:      `{"statusCode":200,"multiValueHeaders":{"X-Multi":["a","b"]},"cookies":["s=1; HttpOnly","t=2"],"isBase64Encoded":true,"body":"` + base64.StdEncoding.EncodeToString([]byte("binary\x00")) + `"}`,
			wantStatus: 200, wantBody: "binary\x00",
			wantHeader: map[string]string{"X-Multi": "a"},
			wantCookie: []string{"s=1; HttpOnly", "t=2"},
		},
		{
			name:       "problem response",
			reply:      `{"statusCode":400,"headers":{"Content-Type":"application/problem+json"},"body":"{\"title\":\"bad\"}"}`,
			wantStatus: 400, wantBody: `{"title":"bad"}`,
			wantHeader: map[string]string{"Content-Type": "application/problem+json"},
		},
		{
			name:       "inferred: JSON without statusCode",
			reply:      `{"items":[1,2]}`,
			wantStatus: 200, wantBody: `{"items":[1,2]}`,
			wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{name: "not JSON", reply: `oops`, wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "bad status", reply: `{"statusCode":42}`, wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "bad base64", reply: `{"statusCode":200,"isBase64Encoded":true,"body":"%%%"}`, wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "function error", err: errors.New("function error errorString: boom"), wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "integration timeout", block: true, wantStatus: 503, wantBody: `{"message":"Service Unavailable"}`},
		{
			name:       "response over 6 MB",
			reply:      `{"statusCode":200,"body":"` + strings.Repeat("x", 6<<20) + `"}`,
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, httpapi.Route{Method: "GET", Path: "/payments", Function: &fn{reply: c.reply, err: c.err, block: c.block}})
			resp, err := http.Get(s.URL + "/payments?external_id=4")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.wantStatus || string(body) != c.wantBody {
				t.Errorf("got %d %q; want %d %q", resp.StatusCode, body, c.wantStatus, c.wantBody)
			}
			for k, v := range c.wantHeader {
				if resp.Header.Get(k) != v {
					t.Errorf("header %s = %q; want %q", k, resp.Header.Get(k), v)
				}
			}
			if c.wantHeader["X-Multi"] != "" && strings.Join(resp.Header.Values("X-Multi"), ",") != "a,b" {
				t.Errorf("X-Multi = %v; want a,b", resp.Header.Values("X-Multi"))
			}
			if strings.Join(resp.Header.Values("Set-Cookie"), "|") != strings.Join(c.wantCookie, "|") {
				t.Errorf("Set-Cookie %v; want %v", resp.Header.Values("Set-Cookie"), c.wantCookie)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	patients := &fn{reply: `{"statusCode":200,"body":"patients"}`}
	payments := &fn{reply: `{"statusCode":200,"body":"payments"}`}
	s := serve(t,
		httpapi.Route{Method: "GET", Path: "/patients", Function: patients},
		httpapi.Route{Method: "GET", Path: "/payments", Function: payments})
	cases := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"GET", "/patients", 200, "patients"},
		{"GET", "/payments?external_id=4", 200, "payments"},
		{"POST", "/patients", 404, `{"message":"Not Found"}`},
		{"HEAD", "/patients", 404, ""},
		{"GET", "/patients/", 404, `{"message":"Not Found"}`},
		{"GET", "/Patients", 404, `{"message":"Not Found"}`},
		{"GET", "/", 404, `{"message":"Not Found"}`},
		{"DELETE", "/payments", 404, `{"message":"Not Found"}`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, s.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.wantStatus || string(body) != c.wantBody {
			t.Errorf("%s %s: %d %q; want %d %q", c.method, c.path, resp.StatusCode, body, c.wantStatus, c.wantBody)
		}
		if c.wantStatus == 404 && c.method != "HEAD" && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: content-type %q", c.method, c.path, resp.Header.Get("Content-Type"))
		}
	}
	if patients.called != 1 || payments.called != 1 {
		t.Errorf("invocations patients=%d payments=%d; want 1 each", patients.called, payments.called)
	}
}
