package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

func init() {
	register("version", "print the build: module version, VCS revision and time, Go version, platform", runVersion)
}

func runVersion(_ context.Context, args []string) error {
	fs := newFlagSet("version", "", `Prints what the binary says of its build (runtime/debug.ReadBuildInfo): the module version,
the VCS revision ("-dirty" when the tree had changes) and commit time, the Go version and
GOOS/GOARCH. A build without VCS information (go run, go test, -buildvcs=false, a git
worktree) shows "unknown"; a build outside a release shows the module version "(devel)".`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	printVersion(os.Stdout, info)
	return nil
}

// printVersion writes info as "key: value" lines; a nil info (a binary
// without build information) still tells the Go version and platform.
func printVersion(w io.Writer, info *debug.BuildInfo) {
	version, revision, modified, at := "(devel)", "unknown", false, "unknown"
	goVersion, goos, goarch := runtime.Version(), runtime.GOOS, runtime.GOARCH
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				at = s.Value
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
	}
	if modified {
		revision += "-dirty"
	}
	fmt.Fprintf(w, "patientsync %s\nrevision: %s\ntime:     %s\ngo:       %s\nplatform: %s/%s\n",
		version, revision, at, goVersion, goos, goarch)
}
