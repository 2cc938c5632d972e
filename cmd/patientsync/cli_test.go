package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/testutil"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// cli builds bin/patientsync once per test binary: the commands are tested
// as a user runs them, as processes with arguments and an environment.
func cli(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "patientsync-cli")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "patientsync")
		// -buildvcs=auto stamps the revision where Go can (this machine's
		// GOFLAGS turns it off), for TestVersion; where git cannot answer
		// (e.g. a checkout of another owner), the build goes without.
		build := func(vcs string) ([]byte, error) {
			return exec.Command(testutil.GoTool(), "build", "-buildvcs="+vcs, "-o", cliPath, ".").CombinedOutput()
		}
		out, err := build("auto")
		if err != nil && bytes.Contains(out, []byte("error obtaining VCS status")) {
			out, err = build("false")
		}
		if err != nil {
			cliErr = &exec.ExitError{Stderr: out}
		}
	})
	if cliErr != nil {
		t.Fatalf("build CLI: %v", cliErr)
	}
	return cliPath
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the CLI with args and DATABASE_URL=dbURL.
func run(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	cmd := exec.Command(cli(t), args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "LOG_LEVEL=WARN")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func count(t *testing.T, dbURL, sql string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrateGenSync walks the CLI's data path end to end: migrate a
// database that does not exist, generate snapshots, sync them, re-sync them.
func TestMigrateGenSync(t *testing.T) {
	t.Parallel()
	dbURL := testutil.MissingDBURL(t)

	r := run(t, dbURL, "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "applied") {
		t.Fatalf("migrate: %+v", r)
	}
	if r = run(t, dbURL, "migrate"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Fatalf("second migrate: %+v", r)
	}

	dir := t.TempDir()
	if r = run(t, dbURL, "gen", "-patients", "200", "-payments", "600", "-seed", "7", "-out", dir); r.code != 0 {
		t.Fatalf("gen: %+v", r)
	}
	for name, n := range map[string]int{"patients.json": 200, "payments.json": 600} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var recs []map[string]any
		if err := json.Unmarshal(b, &recs); err != nil || len(recs) != n {
			t.Fatalf("%s: %d records (%v), want %d", name, len(recs), err, n)
		}
	}
	again := t.TempDir()
	run(t, dbURL, "gen", "-patients", "200", "-payments", "600", "-seed", "7", "-out", again)
	for _, name := range []string{"patients.json", "payments.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs between two runs with the same seed", name)
		}
	}

	r = run(t, dbURL, "sync", filepath.Join(dir, "patients.json"), filepath.Join(dir, "payments.json"))
	if r.code != 0 {
		t.Fatalf("sync: %+v", r)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`patients\.json: succeeded \(run \d+\) received=200 inserted=200 `),
		regexp.MustCompile(`payments\.json: succeeded \(run \d+\) received=600 inserted=600 `),
		regexp.MustCompile(`(?m)^peak RSS [0-9.]+ MB$`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("sync output lacks %s:\n%s", want, r.stdout)
		}
	}
	if n := count(t, dbURL, "SELECT count(*) FROM payments WHERE deleted IS NULL"); n != 600 {
		t.Fatalf("%d live payments, want 600", n)
	}
	r = run(t, dbURL, "sync", filepath.Join(dir, "patients.json"))
	if r.code != 0 || !strings.Contains(r.stdout, "inserted=0 updated=0 deleted=0 restored=0 unchanged=200") {
		t.Fatalf("re-sync: %+v", r)
	}
}

func TestSyncFailures(t *testing.T) {
	t.Parallel()
	dbURL := testutil.NewDB(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "patients.json")
	if err := os.WriteFile(bad, []byte(`[{"externalId": "1", "firstName": "A"`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dbURL, "sync", bad)
	if r.code != 1 || !strings.Contains(r.stdout, "failed") || !strings.Contains(r.stderr, "truncated") {
		t.Fatalf("truncated file: %+v", r)
	}
	if n := strings.Count(r.stderr, "truncated"); n != 1 {
		t.Errorf("the error is printed %d times on stderr, want once:\n%s", n, r.stderr)
	}
	for _, args := range [][]string{
		{"sync", "-max-delete-share", "NaN", bad},
		{"sync", "-max-invalid-share", "2", bad},
		{"sync", "-min-deletes", "-1", bad},
	} {
		r := run(t, dbURL, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "flags:") {
			t.Errorf("%v: %+v, want a refusal naming the flag", args, r)
		}
	}
	if n := count(t, dbURL, "SELECT count(*) FROM sync_runs WHERE status = 'failed'"); n != 1 {
		t.Fatalf("%d failed runs, want 1 (refused flags start nothing)", n)
	}
	if r := run(t, dbURL, "sync", filepath.Join(dir, "notes.txt")); r.code != 2 || !strings.Contains(r.stderr, "cannot tell the entity") {
		t.Fatalf("file without entity: %+v", r)
	}

	// runs: the table of what happened, newest first, filtered.
	good := filepath.Join(t.TempDir(), "payments.json")
	if err := os.WriteFile(good, []byte(`[{"externalId":"9","patientId":"1","amount":"1.50","date":"2024-01-01"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dbURL, "sync", good); r.code != 0 {
		t.Fatalf("sync: %+v", r)
	}
	r = run(t, dbURL, "runs")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) < 3 || !strings.HasPrefix(lines[0], "ID ") ||
		!regexp.MustCompile(`^\d+ +payments +succeeded +- .* 1 +1 +0 +0 +0 +0 +.*payments\.json$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^\d+ +patients +failed +malformed `).MatchString(lines[2]) ||
		!strings.Contains(r.stdout, "truncated") {
		t.Errorf("runs:\n%s%s", r.stdout, r.stderr)
	}
	if r := run(t, dbURL, "runs", "-status", "failed", "-n", "5"); r.code != 0 || strings.Contains(r.stdout, "payments") || !strings.Contains(r.stdout, "malformed") {
		t.Errorf("runs -status failed:\n%s%s", r.stdout, r.stderr)
	}
	// The guard's hint is the CLI's flag.
	empty := filepath.Join(t.TempDir(), "payments.json")
	_ = os.WriteFile(empty, []byte("[]"), 0o644)
	if r := run(t, dbURL, "sync", "-min-deletes", "1", empty); r.code != 1 || !strings.Contains(r.stderr, "mass-deletion guard") ||
		!strings.Contains(r.stderr, "rerun with -allow-mass-delete") {
		t.Errorf("mass deletion: %+v", r)
	}
	if r := run(t, dbURL, "runs", "-entity", "doctors"); r.code != 2 && r.code != 1 || !strings.Contains(r.stderr, "-entity") {
		t.Errorf("runs -entity doctors: %+v", r)
	}
}

// TestKilledSyncIsSettled kills `patientsync sync` with SIGKILL while it
// streams (as an out-of-memory kill would): the run it leaves 'running' is
// settled as failed by the next sync of that entity.
func TestKilledSyncIsSettled(t *testing.T) {
	t.Parallel()
	dbURL := testutil.NewDB(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "patients.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(cli(t), "sync", fifo)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.WriteString(`[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"},`)
	for start := time.Now(); count(t, dbURL, "SELECT count(*) FROM sync_runs WHERE status = 'running'") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("the sync never started")
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	w.Close()
	if n := count(t, dbURL, "SELECT count(*) FROM sync_runs WHERE status = 'running'"); n != 1 {
		t.Fatalf("%d running runs after the kill, want the 1 it left", n)
	}
	good := filepath.Join(t.TempDir(), "patients.json")
	_ = os.WriteFile(good, []byte(`[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`), 0o644)
	if r := run(t, dbURL, "sync", good); r.code != 0 {
		t.Fatalf("next sync: %+v", r)
	}
	if n := count(t, dbURL, "SELECT count(*) FROM sync_runs WHERE status = 'running'"); n != 0 {
		t.Fatalf("%d runs still 'running'", n)
	}
	if n := count(t, dbURL, "SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error LIKE 'abandoned:%'"); n != 1 {
		t.Fatalf("%d abandoned runs recorded, want 1", n)
	}
}
