package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/testutil"
)

// TestServe runs the serve subcommand on a free port against a test
// database, queries it, and stops it the way a signal does.
func TestServe(t *testing.T) {
	t.Setenv("DATABASE_URL", testutil.NewDB(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, []string{"-addr", addr, "-max-conns", "2", "-statement-timeout", "2s"}) }()

	var resp *http.Response
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(50 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/patients?payment_min=0"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("server did not answer: %v", err)
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
		Next  *string           `json:"next"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || page.Items == nil || len(page.Items) != 0 || page.Next != nil {
		t.Fatalf("empty database: status %d, %+v, %v", resp.StatusCode, page, err)
	}
	resp, err = http.Get("http://" + addr + "/patients?payment_min=x")
	if err != nil || resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("bad parameter: %v %+v", err, resp)
	}
	resp.Body.Close()

	// A push over HTTP, then the data, health and the document.
	resp, err = http.Post("http://"+addr+"/patients", "application/json",
		strings.NewReader(`[{"externalId":"7","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`))
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Status   string `json:"status"`
		Inserted int    `json:"inserted"`
	}
	err = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || run.Status != "succeeded" || run.Inserted != 1 {
		t.Fatalf("push: %d %+v %v", resp.StatusCode, run, err)
	}
	for path, want := range map[string]int{"/patients": 200, "/health": 200, "/openapi.json": 200, "/syncs": 200, "/uploads": 404} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != want {
			t.Errorf("GET %s: %v %v, want %d", path, err, resp, want)
		} else {
			resp.Body.Close()
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get("http://" + addr + "/patients"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{{"-max-conns", "0"}, {"extra"}, {"-statement-timeout", "soon"}} {
		if err := runServe(context.Background(), args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestServeHugeRequests: an oversized URL or header is a 4xx problem from
// the API, not the HTTP server's plain-text answer.
func TestServeHugeRequests(t *testing.T) {
	t.Setenv("DATABASE_URL", testutil.NewDB(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = runServe(ctx, []string{"-addr", addr}) }()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/patients"); err == nil {
			resp.Body.Close()
			break
		}
	}
	for name, req := range map[string]func() *http.Request{
		"2 MB URL": func() *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/payments?external_id="+strings.Repeat("x", 2<<20), nil)
			return r
		},
		"64 KB header": func() *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/patients", nil)
			r.Header.Set("X-Big", strings.Repeat("h", 64<<10))
			return r
		},
	} {
		resp, err := http.DefaultClient.Do(req())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode > 499 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q %.100s, want a 4xx problem", name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
