package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/patientsync/patientsync/internal/localaws/rie"
)

// RIE returns an aws-lambda-rie of the pinned version: bin/aws-lambda-rie
// when `make rie` built it, otherwise one installed from the Go module proxy
// into a temporary directory (fast once the build cache has it).
func RIE(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the Lambda runtime interface emulator runs on Linux only")
	}
	if p := filepath.Join(RepoRoot(t), "bin", "aws-lambda-rie"); fileExists(p) {
		if v, err := rie.BinaryVersion(p); err == nil && v == rie.Version {
			return p
		}
		t.Logf("testutil: %s is not %s; installing the pinned version", p, rie.Version)
	}
	p, err := rie.Install(context.Background(), GoTool(), t.TempDir())
	if err != nil {
		t.Fatalf("testutil: %v", err)
	}
	return p
}

// BuildFunction compiles the main package pkg (relative to the repository
// root, e.g. "./functions/sync") into dir/bootstrap for this machine, with
// the flags the Makefile uses for Lambda builds.
func BuildFunction(t testing.TB, pkg, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command(GoTool(), "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testutil: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}
