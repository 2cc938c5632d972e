package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/syncer"
)

// TestSyncs checks GET /syncs and /syncs/{id} on runs of real syncs: an
// applied one, a rejected one with its invalid records, a skipped one.
func TestSyncs(t *testing.T) {
	t.Parallel()
	seedPool, pool := setup(t)
	s, err := syncer.New(seedPool, syncer.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	syncFile := func(name, content string) syncer.Result {
		t.Helper()
		sub, err := os.MkdirTemp(dir, "s")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(sub, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := s.SyncFile(context.Background(), p)
		if err != nil && syncer.Code(err) == "" {
			t.Fatalf("sync %s: %v", name, err)
		}
		return res
	}
	applied := syncFile("patients.json", `[{"externalId":"p1","firstName":"A","lastName":"B","dateOfBirth":"1990-01-02"}]`)
	// Most records invalid: rejected, with the invalid ones named.
	rejected := syncFile("payments.json", `[{"externalId":"x1","patientId":"p1","amount":"abc","date":"2024-01-01"},
		{"externalId":"x2","patientId":"p1","amount":"1.00","date":"2024-01-01"}]`)
	if applied.Status != syncer.StatusSucceeded || rejected.Status != syncer.StatusFailed || rejected.Code != syncer.CodeInvalidShare {
		t.Fatalf("setup: applied %+v, rejected %+v", applied, rejected)
	}
	skipped, err := s.RecordSkipped(context.Background(), syncer.Object{Entity: "patients", Source: "s3://b/patients.json"}, syncer.CodeStale, "older than the applied snapshot")
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, pool, api.Config{})

	all := decode[api.SyncRun](t, get(t, h, "/syncs"))
	ids := func(runs []api.SyncRun) []int64 {
		out := make([]int64, len(runs))
		for i, r := range runs {
			out[i] = r.ID
		}
		return out
	}
	if want := []int64{skipped.ID, rejected.ID, applied.ID}; !slices.Equal(ids(all.Items), want) {
		t.Fatalf("GET /syncs ids %v, want newest first %v", ids(all.Items), want)
	}
	a, r, k := all.Items[2], all.Items[1], all.Items[0]
	if a.Entity != "patients" || a.Status != "succeeded" || a.Inserted != 1 || a.Received != 1 || a.Finished == nil || a.Reason != nil || a.Error != nil {
		t.Errorf("applied run %+v", a)
	}
	if r.Entity != "payments" || r.Status != "failed" || r.Reason == nil || *r.Reason != "invalid-share" || r.Error == nil ||
		r.Invalid != 1 || len(r.InvalidRecords) != 1 || r.InvalidRecords[0].Index != 0 || r.InvalidRecords[0].Field != "amount" {
		t.Errorf("rejected run %+v", r)
	}
	if k.Status != "skipped" || k.Reason == nil || *k.Reason != "stale" || k.Source != "s3://b/patients.json" {
		t.Errorf("skipped run %+v", k)
	}

	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"entity=patients", []int64{skipped.ID, applied.ID}},
		{"entity=payments", []int64{rejected.ID}},
		{"status=failed", []int64{rejected.ID}},
		{"entity=patients&status=succeeded", []int64{applied.ID}},
		{"entity=payments&status=skipped", []int64{}},
	} {
		if got := ids(decode[api.SyncRun](t, get(t, h, "/syncs?"+c.query)).Items); !slices.Equal(got, c.want) {
			t.Errorf("GET /syncs?%s: %v, want %v", c.query, got, c.want)
		}
	}

	// Keyset pages of one, following next, give the same runs in order.
	if got := ids(walk[api.SyncRun](t, h, "/syncs?limit=1", 1)); !slices.Equal(got, ids(all.Items)) {
		t.Errorf("walk: %v, want %v", got, ids(all.Items))
	}

	one := get(t, h, fmt.Sprintf("/syncs/%d", rejected.ID))
	if one.Code != http.StatusOK {
		t.Fatalf("GET /syncs/%d: %d %s", rejected.ID, one.Code, one.Body)
	}
	var got api.SyncRun
	if err := json.Unmarshal(one.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(r)
	gotJSON, _ := json.Marshal(got)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("GET /syncs/{id}\n got %s\nwant %s", gotJSON, wantJSON)
	}

	problem(t, get(t, h, "/syncs/999999"), http.StatusNotFound)
	page := decode[api.SyncRun](t, get(t, h, "/syncs?limit=1"))
	for _, c := range []struct{ target, param string }{
		{"/syncs?entity=doctors", "entity"},
		{"/syncs?status=ok", "status"},
		{"/syncs?limit=101", "limit"},
		{"/syncs?limit=0", "limit"},
		{"/syncs?since=1", "since"},
		{"/syncs?entity=payments&cursor=" + *page.NextCursor, "cursor"}, // other filter
		{"/syncs/abc", "id"},
		{"/syncs/0", "id"},
		{"/syncs/99999999999999999999", "id"},
	} {
		p := problem(t, get(t, h, c.target), http.StatusBadRequest)
		if p.Param != c.param || !strings.Contains(p.Detail, c.param) {
			t.Errorf("%s: param %q, detail %q; want %q", c.target, p.Param, p.Detail, c.param)
		}
	}
	// A handler limited to the data routes (a query Lambda) has no /syncs.
	only := newHandler(t, pool, api.Config{Routes: []api.Route{api.GetPatients}})
	problem(t, get(t, only, "/syncs"), http.StatusNotFound)
	problem(t, get(t, only, "/syncs/1"), http.StatusNotFound)

	// The CLI's reader sees the same runs.
	listed, err := api.ListSyncRuns(context.Background(), pool, "patients", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(listed), []int64{skipped.ID, applied.ID}) {
		t.Errorf("ListSyncRuns: %v", ids(listed))
	}
}
