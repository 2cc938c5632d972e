package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestFailStatusesAreListed drives each case of fail and checks that its
// status is one of problemStatuses (which the OpenAPI document must
// describe), titled by http.StatusText, of ProblemType. A new case of fail
// belongs in this table.
func TestFailStatusesAreListed(t *testing.T) {
	t.Parallel()
	h := New(nil, Config{}, slog.New(slog.DiscardHandler))
	reason := "malformed"
	for _, c := range []struct {
		err    error
		status int
	}{
		{&ParamError{Param: "limit", Detail: "bad"}, http.StatusBadRequest},
		{fmt.Errorf("%w: text/plain", errNotJSON), http.StatusUnsupportedMediaType},
		{&TooLargeError{Limit: 1}, http.StatusRequestEntityTooLarge},
		{&RejectedError{Run: SyncRun{ID: 1, Reason: &reason}}, http.StatusUnprocessableEntity},
		{&BusyError{Entity: "patients", RetryAfter: 5e9}, http.StatusConflict},
		{&SyncFailedError{RunID: 1, Err: errors.New("x")}, http.StatusServiceUnavailable},
		{&UnhealthyError{Err: errors.New("x")}, http.StatusServiceUnavailable},
		{fmt.Errorf("%w: 1", errNoSuchRun), http.StatusNotFound},
		{errNotFound, http.StatusNotFound},
		{errURITooLong, http.StatusRequestURITooLong},
		{errHeadersLarge, http.StatusRequestHeaderFieldsTooLarge},
		{errMethod, http.StatusMethodNotAllowed},
		{&pgconn.PgError{Code: "57014"}, http.StatusServiceUnavailable},
		{&pgconn.PgError{Code: "08006"}, http.StatusServiceUnavailable},
		{errors.New("anything else"), http.StatusInternalServerError},
	} {
		rec := httptest.NewRecorder()
		res := h.fail(rec, httptest.NewRequest(http.MethodGet, "/patients", nil), c.err)
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if res.status != c.status || p.Status != c.status || !slices.Contains(problemStatuses, p.Status) ||
			p.Type != ProblemType || p.Title != http.StatusText(p.Status) {
			t.Errorf("%v: status %d, problem %+v; want %d, listed in problemStatuses", c.err, res.status, p, c.status)
		}
	}
	// A client that left gets a status nobody reads: not a listed one.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	res := h.fail(rec, httptest.NewRequest(http.MethodGet, "/patients", nil).WithContext(ctx), context.Canceled)
	if res.status != statusClientClosed || slices.Contains(problemStatuses, res.status) {
		t.Errorf("client closed: %d", res.status)
	}
}
