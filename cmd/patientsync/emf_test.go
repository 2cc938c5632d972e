package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/testutil"
)

// TestSyncEMF: with SYNC_EMF=true (as the ECS runner's task sets it) or
// -emf, each run's CloudWatch metrics follow its result on stdout as one
// Embedded Metric Format line, the same metrics as the sync function's, so
// that snapshots synced by the runner count for the freshness and
// rejection alarms; without it, stdout has none.
func TestSyncEMF(t *testing.T) {
	t.Parallel()
	dbURL := testutil.NewDB(t)
	dir := t.TempDir()
	if r := run(t, dbURL, "gen", "-patients", "20", "-payments", "0", "-out", dir); r.code != 0 {
		t.Fatalf("gen: %+v", r)
	}
	file := filepath.Join(dir, "patients.json")

	emfLines := func(stdout string) []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(stdout, "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("stdout line %q: %v", line, err)
			}
			out = append(out, m)
		}
		return out
	}

	if r := run(t, dbURL, "sync", file); r.code != 0 || len(emfLines(r.stdout)) != 0 {
		t.Fatalf("sync without -emf: %+v", r)
	}
	for _, c := range []struct {
		name string
		args []string
		env  []string
	}{
		{"flag", []string{"sync", "-emf", file}, nil},
		{"env", []string{"sync", file}, []string{"SYNC_EMF=true"}},
	} {
		r := runEnv(t, append(c.env, "DATABASE_URL="+dbURL, "LOG_LEVEL=WARN"), c.args...)
		if r.code != 0 {
			t.Fatalf("%s: %+v", c.name, r)
		}
		lines := emfLines(r.stdout)
		if len(lines) != 1 {
			t.Fatalf("%s: %d EMF lines in %q", c.name, len(lines), r.stdout)
		}
		m := lines[0]
		aws, _ := m["_aws"].(map[string]any)
		if aws == nil || m["Entity"] != "patients" || m["SnapshotsApplied"] != 1.0 || m["status"] != "succeeded" {
			t.Errorf("%s: EMF line %v", c.name, m)
		}
	}
	if r := runEnv(t, []string{"SYNC_EMF=maybe", "DATABASE_URL=" + dbURL}, "sync", file); r.code != 2 || !strings.Contains(r.stderr, "SYNC_EMF") {
		t.Errorf("SYNC_EMF=maybe: %+v", r)
	}
}
