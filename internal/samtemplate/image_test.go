package samtemplate_test

// runner/Dockerfile cannot be built where the tests run (no container
// engine), so what it relies on is checked here: it builds the CLI static
// for the architecture the Makefile pushes and the task definition runs,
// from a context that .dockerignore lets through, and runs it as the
// entrypoint; and the same build, from a copy of exactly that context,
// gives a static Linux executable of that architecture.

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/testutil"
)

// dockerfile is runner/Dockerfile as instructions: keyword and the rest of
// the line, continuation lines joined, comments dropped.
type instruction struct{ cmd, args string }

func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

var (
	makeRunnerPlatform = regexp.MustCompile(`(?m)^RUNNER_PLATFORM\s*:?=\s*linux/(\w+)\s*$`)
	goBuild            = regexp.MustCompile(`\bgo build\b.*-o (\S+) (\./cmd/patientsync)\s*$`)
)

// runnerImage is what the checks learn from the Dockerfile.
type runnerImage struct {
	copies     []string // build-context sources of the build stage
	buildOut   string   // go build -o
	finalBase  string   // FROM of the last stage
	entrypoint string
	problems   []string
}

func inspectDockerfile(ins []instruction, makefile string) runnerImage {
	var img runnerImage
	stages := 0
	var copiedBinary, copiedTo string
	env := map[string]string{}
	var targetArch string
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			stages++
			for _, f := range strings.Fields(in.args) { // [--platform=...] IMAGE [AS name]
				if !strings.HasPrefix(f, "--") {
					img.finalBase = f
					break
				}
			}
		case "ARG":
			if v, ok := strings.CutPrefix(in.args, "TARGETARCH="); ok {
				targetArch = v
			}
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "COPY":
			f := strings.Fields(in.args)
			if strings.HasPrefix(f[0], "--from=") {
				copiedBinary, copiedTo = f[1], f[2]
				continue
			}
			img.copies = append(img.copies, f[:len(f)-1]...)
		case "RUN":
			if m := goBuild.FindStringSubmatch(in.args); m != nil {
				img.buildOut = m[1]
				if !strings.Contains(in.args, "GOARCH=$TARGETARCH") || !strings.Contains(in.args, "GOOS=$TARGETOS") {
					img.problems = append(img.problems, "go build must cross-compile for GOOS=$TARGETOS GOARCH=$TARGETARCH")
				}
			}
		case "ENTRYPOINT":
			img.entrypoint = in.args
		}
	}
	if stages < 2 {
		img.problems = append(img.problems, fmt.Sprintf("%d stages, want a build stage and a minimal one", stages))
	}
	if env["CGO_ENABLED"] != "0" {
		img.problems = append(img.problems, "the build stage must set CGO_ENABLED=0 (a static binary for distroless/static)")
	}
	if img.buildOut == "" {
		img.problems = append(img.problems, "no `go build ... -o OUT ./cmd/patientsync`")
	}
	if copiedBinary != img.buildOut || img.entrypoint != fmt.Sprintf(`[%q]`, copiedTo) {
		img.problems = append(img.problems, fmt.Sprintf("the last stage copies %s to %s and runs %s; want the build's %s as the exec-form ENTRYPOINT",
			copiedBinary, copiedTo, img.entrypoint, img.buildOut))
	}
	if !strings.HasPrefix(img.finalBase, "gcr.io/distroless/static") {
		img.problems = append(img.problems, fmt.Sprintf("final base %s, want gcr.io/distroless/static (CA certificates, no libc needed)", img.finalBase))
	}
	m := makeRunnerPlatform.FindStringSubmatch(makefile)
	g := makeGOARCH.FindStringSubmatch(makefile)
	if m == nil || g == nil || m[1] != g[1] || targetArch != g[1] {
		img.problems = append(img.problems, fmt.Sprintf("the Makefile's RUNNER_PLATFORM (%v), the Dockerfile's default TARGETARCH (%s) and the Lambdas' GOARCH (%v) must agree",
			m, targetArch, g))
	}
	return img
}

// dockerignoreIncludes: whether the context keeps path (a top-level entry)
// under runner/Dockerfile's .dockerignore, which excludes everything and
// then lets some entries back in.
func dockerignoreIncludes(rules []string, path string) bool {
	in := true
	for _, r := range rules {
		neg := strings.HasPrefix(r, "!")
		pat := filepath.Clean(strings.TrimPrefix(r, "!"))
		if ok, _ := filepath.Match(pat, filepath.Clean(path)); ok {
			in = neg
		}
	}
	return in
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestRunnerImage(t *testing.T) {
	t.Parallel()
	s, _, root := load(t)
	dockerfile, err := os.ReadFile(filepath.Join(root, "runner", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	img := inspectDockerfile(parseDockerfile(string(dockerfile)), s.makefile)
	for _, p := range img.problems {
		t.Error(p)
	}
	ignore := readLines(t, filepath.Join(root, ".dockerignore"))
	if !slices.Contains(ignore, "**/*_test.go") {
		t.Error(".dockerignore must leave the tests out of the context")
	}
	for _, src := range img.copies {
		if !dockerignoreIncludes(ignore, src) {
			t.Errorf("the Dockerfile copies %s, which .dockerignore leaves out of the context", src)
		}
	}
	// Everything the CLI is built from is copied: its packages' directories.
	list := exec.Command(testutil.GoTool(), "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/patientsync")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module from the cache
		}
		top := strings.Split(rel, string(filepath.Separator))[0]
		if !slices.ContainsFunc(img.copies, func(c string) bool { return filepath.Clean(c) == top }) {
			t.Errorf("the CLI needs %s, which the Dockerfile does not copy", rel)
		}
	}
	if testing.Short() || t.Failed() {
		return
	}

	// The build stage's go build, in a copy of the context.
	ctx := t.TempDir()
	for _, src := range img.copies {
		copyTree(t, filepath.Join(root, src), filepath.Join(ctx, src), func(rel string, dir bool) bool {
			return !dir && strings.HasSuffix(rel, "_test.go") || dir && filepath.Base(rel) == "testdata"
		})
	}
	bin := filepath.Join(t.TempDir(), "patientsync")
	cmd := exec.Command(testutil.GoTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/patientsync")
	cmd.Dir = ctx
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+makeGOARCH.FindStringSubmatch(s.makefile)[1], "GOFLAGS=-mod=readonly", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the image's go build in a copy of its context: %v\n%s", err, b)
	}
	assertLambdaELF(t, bin, map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}[makeGOARCH.FindStringSubmatch(s.makefile)[1]])
}

// copyTree copies src to dst, leaving out what skip says.
func copyTree(t *testing.T, src, dst string, skip func(rel string, dir bool) bool) {
	t.Helper()
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if skip(rel, fi.IsDir()) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunnerImageChecksCatchBreakage: one realistic mistake per row in the
// real Dockerfile or Makefile, and the check that must notice it.
func TestRunnerImageChecksCatchBreakage(t *testing.T) {
	t.Parallel()
	s, _, root := load(t)
	dockerfile, err := os.ReadFile(filepath.Join(root, "runner", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, old, new, want string
	}{
		{"dockerfile", "ENV CGO_ENABLED=0 ", "ENV ", "CGO_ENABLED=0"},
		{"dockerfile", "ARG TARGETARCH=arm64", "ARG TARGETARCH=amd64", "must agree"},
		{"makefile", "RUNNER_PLATFORM := linux/arm64", "RUNNER_PLATFORM := linux/amd64", "must agree"},
		{"dockerfile", "GOOS=$TARGETOS GOARCH=$TARGETARCH go build", "go build", "cross-compile"},
		{"dockerfile", `ENTRYPOINT ["/usr/local/bin/patientsync"]`, `ENTRYPOINT ["/patientsync"]`, "ENTRYPOINT"},
		{"dockerfile", "ENTRYPOINT [\"/usr/local/bin/patientsync\"]", "ENTRYPOINT /usr/local/bin/patientsync", "exec-form"},
		{"dockerfile", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:bookworm-slim", "distroless"},
		{"dockerfile", "-o /out/patientsync ./cmd/patientsync", "-o /out/patientsync ./cmd/patientsync/...", "go build"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			df, mk := string(dockerfile), s.makefile
			src := &df
			if tc.file == "makefile" {
				src = &mk
			}
			if !strings.Contains(*src, tc.old) {
				t.Fatalf("%s no longer contains %q: update this row", tc.file, tc.old)
			}
			*src = strings.Replace(*src, tc.old, tc.new, 1)
			img := inspectDockerfile(parseDockerfile(df), mk)
			if !strings.Contains(strings.Join(img.problems, "\n"), tc.want) {
				t.Fatalf("not reported %q; problems: %q", tc.want, img.problems)
			}
		})
	}
	// And the context: a source the Dockerfile copies but .dockerignore
	// leaves out.
	if dockerignoreIncludes([]string{"*", "!go.mod", "!cmd"}, "internal") {
		t.Fatal("dockerignoreIncludes lets in what only * matches")
	}
	if !dockerignoreIncludes([]string{"*", "!go.mod", "!internal"}, "internal/") {
		t.Fatal("dockerignoreIncludes keeps out what ! lets back in")
	}
}
