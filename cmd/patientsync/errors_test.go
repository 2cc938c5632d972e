package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/testutil"
)

// TestErrorsPrintedOnce drives failing commands: each exits non-zero with
// nothing on stdout and its error once on stderr, as the last line
// ("patientsync COMMAND: ..."); a mistake in the command line (exit 2)
// has the command's usage before it, any other error (exit 1) is alone.
func TestErrorsPrintedOnce(t *testing.T) {
	t.Parallel()
	const unreachable = "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"
	dir := t.TempDir()
	missing := filepath.Join(dir, "patients.json")
	good := filepath.Join(testutil.RepoRoot(t), "testdata", "patients.json")
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const usage, other = 2, 1
	tests := []struct {
		args []string
		code int
		want string // in the error, once
	}{
		{[]string{"sync", "-bogus", good}, usage, "flag provided but not defined: -bogus"},
		{[]string{"sync", "-max-invalid-share", "2", good}, usage, "flags: "},
		{[]string{"sync"}, usage, "no snapshot given"},
		{[]string{"sync", filepath.Join(dir, "notes.txt")}, usage, "cannot tell the entity from the file name"},
		{[]string{"sync", "s3://bucket/patients.json?version=1"}, usage, `unknown parameter "version"`},
		{[]string{"sync", "s3://bucket/notes.txt"}, usage, "not a snapshot key"},
		{[]string{"sync", good, missing}, other, missing + ": no such file or directory"},
		{[]string{"sync", good}, other, "connection refused"},
		{[]string{"migrate"}, other, "connection refused"},
		{[]string{"migrate", "-create-db=false"}, other, "connection refused"},
		{[]string{"migrate", "now"}, usage, `unexpected arguments: ["now"]`},
		{[]string{"runs"}, other, "connection refused"},
		{[]string{"runs", "-n", "0"}, usage, "-n must be at least 1"},
		{[]string{"serve", "-addr", "127.0.0.1:0"}, other, "connection refused"},
		{[]string{"up", "-rie", missing}, other, "the Lambda runtime interface emulator is missing"},
		{[]string{"gen", "-out", filepath.Join(file, "sub")}, other, "not a directory"},
		{[]string{"probe"}, usage, "no URL given"},
		{[]string{"version", "-v"}, usage, "flag provided but not defined: -v"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, unreachable, tc.args...)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			ok := r.code == tc.code && r.stdout == "" && strings.Count(r.stderr, tc.want) == 1 &&
				strings.HasPrefix(last, "patientsync "+tc.args[0]+": ") && strings.Contains(last, tc.want)
			if tc.code == usage {
				ok = ok && strings.HasPrefix(r.stderr, "usage: patientsync "+tc.args[0]+" ")
			} else {
				ok = ok && len(lines) == 1
			}
			if !ok {
				t.Errorf("exit %d (want %d)\nstdout: %q\nstderr:\n%s\nwant %q once, in the last line", r.code, tc.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}
