package main

import (
	"bytes"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/testutil"
)

func TestPrintVersion(t *testing.T) {
	t.Parallel()
	platform := "platform: " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "GOARCH", Value: "arm64"}, {Key: "GOOS", Value: "linux"},
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1780e221faaa0e0528ee6cf87b5408d847f7c9f7"},
			{Key: "vcs.time", Value: "2026-11-30T03:55:53Z"}, {Key: "vcs.modified", Value: modified},
		}
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build information", nil,
			"patientsync (devel)\nrevision: unknown\ntime:     unknown\ngo:       " + runtime.Version() + "\n" + platform},
		{"go run or go test: no VCS", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/patientsync/patientsync", Version: "(devel)"}},
			"patientsync (devel)\nrevision: unknown\ntime:     unknown\ngo:       go1.26.8\n" + platform},
		{"a test binary's empty main module", &debug.BuildInfo{GoVersion: "go1.26.8"},
			"patientsync (devel)\nrevision: unknown\ntime:     unknown\ngo:       go1.26.8\n" + platform},
		{"clean checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261130035553-1780e221faaa"}, Settings: vcs("false")},
			"patientsync v0.0.0-20261130035553-1780e221faaa\nrevision: 1780e221faaa0e0528ee6cf87b5408d847f7c9f7\ntime:     2026-11-30T03:55:53Z\ngo:       go1.26.8\nplatform: linux/arm64\n"},
		{"modified checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3+dirty"}, Settings: vcs("true")},
			"patientsync v1.2.3+dirty\nrevision: 1780e221faaa0e0528ee6cf87b5408d847f7c9f7-dirty\ntime:     2026-11-30T03:55:53Z\ngo:       go1.26.8\nplatform: linux/arm64\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		printVersion(&b, tc.info)
		if b.String() != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, b.String(), tc.want)
		}
	}
}

// TestVersion runs `patientsync version` on the binary the tests built:
// the Go version is this toolchain's, and the revision is HEAD's (with
// -dirty as Go saw the tree) when the build is stamped, else "unknown".
// Whether it is stamped is the go command's own reading of the binary:
// it is not in a git worktree (golang/go#58218) or where git cannot answer.
func TestVersion(t *testing.T) {
	t.Parallel()
	bin := cli(t)
	out, err := exec.Command(testutil.GoTool(), "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	settings := map[string]string{}
	modVersion := ""
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case len(f) == 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			settings[k] = v
		case len(f) >= 3 && f[0] == "mod":
			modVersion = f[2]
		}
	}
	wantRev, wantTime := "unknown", "unknown"
	if rev, ok := settings["vcs.revision"]; ok {
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatalf("the build has revision %s, but git rev-parse HEAD fails: %v", rev, err)
		}
		if rev != strings.TrimSpace(string(head)) {
			t.Fatalf("the build is stamped with %s, HEAD is %s", rev, head)
		}
		wantRev, wantTime = rev, settings["vcs.time"]
		if settings["vcs.modified"] == "true" {
			wantRev += "-dirty"
		}
	} else {
		t.Log("the test build has no VCS information (a git worktree, or git unusable): expecting \"unknown\"")
	}
	r := run(t, "", "version")
	want := "patientsync " + modVersion + "\nrevision: " + wantRev + "\ntime:     " + wantTime +
		"\ngo:       " + runtime.Version() + "\nplatform: " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Fatalf("version: exit %d\n%s\nwant\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}
	for _, flag := range []string{"-version", "--version"} {
		if r := run(t, "", flag); r.code != 0 || r.stdout != want {
			t.Errorf("%s: exit %d\n%s", flag, r.code, r.stdout)
		}
	}
}
