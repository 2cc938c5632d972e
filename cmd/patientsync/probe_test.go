package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()
	r := run(t, "", "probe", "-c", "2", "-duration", "500ms", srv.URL+"/patients", srv.URL+"/payments")
	m := regexp.MustCompile(`requests=(\d+) errors=(\d+) .* p50_ms=[0-9.]+ p99_ms=[0-9.]+ max_ms=[0-9.]+`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("probe: %+v", r)
	}
	reqs, _ := strconv.Atoi(m[1])
	errs, _ := strconv.Atoi(m[2])
	if reqs < 20 || errs == 0 || errs > reqs/5 {
		t.Fatalf("probe counted %d requests, %d errors (every 10th answer is a 503):\n%s", reqs, errs, r.stdout)
	}
}

// -slow lists the slow requests, with when they started, and only those.
func TestProbeListsSlowRequests(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/payments" {
			time.Sleep(30 * time.Millisecond)
		}
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()
	r := run(t, "", "probe", "-c", "1", "-duration", "400ms", "-slow", "25ms", srv.URL+"/patients", srv.URL+"/payments")
	slow := regexp.MustCompile(`(?m)^slow: \S+Z (\d+\.\d)ms (\S+)$`).FindAllStringSubmatch(r.stdout, -1)
	if r.code != 0 || len(slow) == 0 {
		t.Fatalf("probe: %+v", r)
	}
	for _, m := range slow {
		if ms, _ := strconv.ParseFloat(m[1], 64); ms < 25 || !strings.HasSuffix(m[2], "/payments") {
			t.Fatalf("listed as slow: %q", m[0])
		}
	}
}
