package rie

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BinaryVersion is the module version an aws-lambda-rie binary was built
// from, read from its embedded build information.
func BinaryVersion(path string) (string, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read build info of %s: %w", path, err)
	}
	return info.Main.Version, nil
}

// Install builds the pinned emulator from the Go module proxy into dir
// (go install with GOBIN=dir) and returns the binary's path.
func Install(ctx context.Context, goTool, dir string) (string, error) {
	if goTool == "" {
		goTool = "go"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goTool, "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", Module, Version, err, out)
	}
	return filepath.Join(dir, "aws-lambda-rie"), nil
}
