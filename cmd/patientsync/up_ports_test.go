package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/localaws"
	"github.com/patientsync/patientsync/internal/testutil"
)

// TestUpBusyPort: a taken port stops `patientsync up` with a message that
// names the flag and the make variable to choose another, and a free port.
func TestUpBusyPort(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	// up only checks that these exist: the listeners fail before any runs.
	bin := t.TempDir()
	files := []string{"aws-lambda-rie"}
	for _, f := range localaws.Functions {
		files = append(files, "lambda/"+f+"/bootstrap")
	}
	for _, p := range files {
		p = filepath.Join(bin, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"DATABASE_URL=" + testutil.NewDB(t)}
	common := []string{"up", "-bin-dir", bin, "-rie", filepath.Join(bin, "aws-lambda-rie")}
	for _, c := range []struct {
		args              []string
		service, flag, mk string
	}{
		{[]string{"-s3-addr", "127.0.0.1:0", "-api-addr", addr}, "HTTP API", "api-addr", "API_ADDR"},
		{[]string{"-s3-addr", addr, "-api-addr", "127.0.0.1:0"}, "S3 endpoint", "s3-addr", "S3_ADDR"},
	} {
		o := runEnv(t, env, append(common, c.args...)...)
		want := regexp.MustCompile(`^patientsync up: ` + c.service + `: listen ` + regexp.QuoteMeta(addr) +
			`: address already in use; choose another with -` + c.flag + ` \(make up ` + c.mk + `=(127\.0\.0\.1:\d+)\)\n$`)
		m := want.FindStringSubmatch(o.stderr)
		if o.code != 1 || m == nil {
			t.Errorf("up with %s taken: exit %d, stderr %q; want exit 1 and %s", c.flag, o.code, o.stderr, want)
			continue
		}
		if m[1] == addr {
			t.Errorf("suggested the taken address %s", addr)
		}
	}
}

// TestMakeLocalStackVariables: make up and make reset pass S3_ADDR,
// API_ADDR, UP_FLAGS and RESET_FLAGS on, and the defaults are up's own.
func TestMakeLocalStackVariables(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root := testutil.RepoRoot(t)
	d := localaws.Defaults()
	for _, c := range []struct {
		args []string // target and variables
		want string   // the end of the patientsync command line
	}{
		{[]string{"up"}, "up -bin-dir " + root + "/bin -rie " + root + "/bin/aws-lambda-rie -s3-addr '" + d.S3Addr + "' -api-addr '" + d.APIAddr + "'"},
		{[]string{"up", "S3_ADDR=127.0.0.1:4567", "API_ADDR=0.0.0.0:3001", "UP_FLAGS=-retry-delay 5s"},
			"-s3-addr '127.0.0.1:4567' -api-addr '0.0.0.0:3001' -retry-delay 5s"},
		{[]string{"reset"}, "reset -s3-addr '" + d.S3Addr + "'"},
		{[]string{"reset", "S3_ADDR=127.0.0.1:4567", "RESET_FLAGS=-force"}, "reset -s3-addr '127.0.0.1:4567' -force"},
	} {
		cmd := exec.Command("make", append([]string{"-n", "--no-print-directory"}, c.args...)...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("make -n %v: %v\n%s", c.args, err, out)
		}
		var cmdline string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, root+"/bin/patientsync ") {
				cmdline = strings.TrimSpace(l)
			}
		}
		if !strings.HasSuffix(cmdline, c.want) {
			t.Errorf("make %v runs %q; want it to end with %q", c.args, cmdline, c.want)
		}
	}
}
