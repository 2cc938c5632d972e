package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/localaws"
	"github.com/patientsync/patientsync/internal/testutil"
)

func TestSyncEnvFromEnviron(t *testing.T) {
	got := syncEnvFromEnviron([]string{
		"SYNC_MIN_DELETES=5", "SYNC_ALLOW_MASS_DELETE=true", "PATH=/bin", "AWS_PROFILE=x", "SYNC_WORK_MEM=a=b", "MY_SYNC_X=1",
	})
	want := map[string]string{"SYNC_MIN_DELETES": "5", "SYNC_ALLOW_MASS_DELETE": "true", "SYNC_WORK_MEM": "a=b"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("syncEnvFromEnviron = %v; want %v", got, want)
	}
}

func TestBannerRedactsPassword(t *testing.T) {
	var b strings.Builder
	printBanner(&b, "http://127.0.0.1:4566", "http://127.0.0.1:3000", "bkt", "postgres://app:s3cret@db:5432/x?sslmode=disable")
	out := b.String()
	if strings.Contains(out, "s3cret") {
		t.Errorf("banner shows the database password:\n%s", out)
	}
	for _, want := range []string{
		"aws --endpoint-url http://127.0.0.1:4566 s3 cp testdata/patients.json s3://bkt/patients.json",
		"curl 'http://127.0.0.1:3000/patients?payment_min=9&payment_max=20'",
		"AWS_ACCESS_KEY_ID=test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
}

// TestUpCommand runs `patientsync up` as a process, the way `make up` does:
// it must create and migrate a missing database, serve, and stop every
// emulator and function on Ctrl-C (SIGINT).
func TestUpCommand(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the CLI, the functions and the emulator")
	}
	root := testutil.RepoRoot(t)
	bin := t.TempDir()
	rieBin := testutil.RIE(t)
	for _, f := range localaws.Functions {
		testutil.BuildFunction(t, "./functions/"+f, filepath.Join(bin, "lambda", f))
	}
	cli := filepath.Join(bin, "patientsync")
	build := exec.Command(testutil.GoTool(), "build", "-o", cli, "./cmd/patientsync")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build CLI: %v\n%s", err, out)
	}

	dbURL := testutil.MissingDBURL(t)

	cmd := exec.Command(cli, "up", "-s3-addr", "127.0.0.1:0", "-api-addr", "127.0.0.1:0",
		"-bin-dir", bin, "-rie", rieBin, "-retry-delay", "100ms")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("patientsync up stderr:\n%s", stderr.String())
		}
	})

	// The banner names the real ports.
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if !sent && strings.HasPrefix(sc.Text(), "Sync history:") {
				banner <- b.String()
				sent = true
			}
		}
		if !sent {
			banner <- b.String()
		}
		exited <- cmd.Wait()
	}()
	var out string
	select {
	case out = <-banner:
	case <-time.After(2 * time.Minute):
		t.Fatal("no banner within 2 minutes")
	}
	m := regexp.MustCompile(`HTTP API\s+(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(out)
	s3m := regexp.MustCompile(`S3 endpoint\s+(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(out)
	if m == nil || s3m == nil {
		t.Fatalf("banner without endpoints:\n%s", out)
	}
	resp, err := http.Get(m[1] + "/patients?payment_min=9&payment_max=20")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"items":[]`) {
		t.Errorf("GET /patients on a new database: %d %s; want 200 with no items", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("patientsync up after SIGINT: %v; want exit status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("patientsync up still running 30s after SIGINT")
	}
	// Nothing of the stack survives: no emulator, no function process.
	if left := processesUnder(t, bin); len(left) > 0 {
		t.Errorf("processes left running after Ctrl-C: %v", left)
	}
	if _, err := http.Get(m[1] + "/patients"); err == nil {
		t.Error("the HTTP API still answers after Ctrl-C")
	}
}

// processesUnder lists running processes whose executable path is in dir.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(string(stat), ") Z ") {
			continue // a zombie is already dead
		}
		args := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if strings.Contains(args, dir) {
			out = append(out, e.Name()+": "+args)
		}
	}
	return out
}
