package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/testutil"
)

// BenchmarkPages serves full pages of the paging fixture; with -benchmem it
// watches the per-request allocations (rows are streamed, not collected).
// The load test is make bench-api.
func BenchmarkPages(b *testing.B) {
	seedPool, pool := setup(b)
	fx := filepath.Join("testdata", "paging")
	testutil.Seed(b, seedPool, filepath.Join(fx, "patients.json"), filepath.Join(fx, "payments.json"))
	h := api.New(pool, api.Config{}, slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	for _, target := range []string{"/patients", "/patients?payment_min=1&payment_max=100&limit=10", "/payments"} {
		b.Run(target, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Body)
				}
			}
		})
	}
}
