package main

import (
	"context"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

// flagsOf runs command name with -h in this process, which returns before
// the command does anything, to learn its flag set.
func flagsOf(t *testing.T, name string) (*flag.FlagSet, []string) {
	t.Helper()
	err := commands[name].run(context.Background(), []string{"-h"})
	var ue *usageError
	if !errors.As(err, &ue) || !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("%s -h returned %v, want a usage error wrapping flag.ErrHelp (parse flags with parseFlags before anything else)", name, err)
	}
	var names []string
	ue.fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return ue.fs, names
}

// TestHelpEveryCommand runs every registered command, as a process, with
// -h, --help and as `help COMMAND` (exit 0, the usage on stdout naming the
// command and each of its flags), and with a flag it does not have (exit 2,
// the usage and the error once on stderr). A new command is covered by
// registering it.
func TestHelpEveryCommand(t *testing.T) {
	t.Parallel()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Contains(names, "sync") || !slices.Contains(names, "version") {
		t.Fatalf("registered commands: %v", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, flags := flagsOf(t, name)
			for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {name, "-help"}, {"help", name}} {
				r := run(t, "", args...)
				if r.code != 0 || r.stderr != "" {
					t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", args, r.code, r.stderr)
				}
				if !strings.HasPrefix(r.stdout, "usage: patientsync "+name+" ") {
					t.Errorf("%q: usage does not start with the command's synopsis:\n%s", args, r.stdout)
				}
				for _, f := range flags {
					if !strings.Contains(r.stdout, "\n  -"+f+" ") && !strings.Contains(r.stdout, "\n  -"+f+"\n") {
						t.Errorf("%q: usage does not name -%s:\n%s", args, f, r.stdout)
					}
				}
			}
			r := run(t, "", name, "-no-such-flag")
			const msg = "flag provided but not defined: -no-such-flag"
			if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, msg) != 1 ||
				!strings.HasPrefix(r.stderr, "usage: patientsync "+name+" ") || !strings.HasSuffix(r.stderr, "patientsync "+name+": "+msg+"\n") {
				t.Errorf("%s -no-such-flag: exit %d, stdout %q, stderr:\n%s\nwant exit 2, the usage and the error once on stderr", name, r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestTopLevelUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		code   int
		stdout string // a substring; "" wants nothing
		stderr string // a substring, once
	}{
		{args: []string{"-h"}, stdout: "usage: patientsync COMMAND"},
		{args: []string{"--help"}, stdout: "usage: patientsync COMMAND"},
		{args: []string{"help"}, stdout: "usage: patientsync COMMAND"},
		{args: []string{"help", "sync"}, stdout: "usage: patientsync sync [flags] FILE"},
		{args: nil, code: 2, stderr: "usage: patientsync COMMAND"},
		{args: []string{"nosuch"}, code: 2, stderr: `patientsync: unknown command "nosuch"`},
		{args: []string{"help", "nosuch"}, code: 2, stderr: `patientsync: unknown command "nosuch"`},
		{args: []string{"help", "sync", "gen"}, code: 2, stderr: `patientsync help: want one command`},
	}
	for _, tc := range tests {
		r := run(t, "", tc.args...)
		ok := r.code == tc.code
		if tc.stdout == "" {
			ok = ok && r.stdout == ""
		} else {
			ok = ok && strings.Contains(r.stdout, tc.stdout) && r.stderr == ""
		}
		if tc.stderr != "" {
			ok = ok && strings.Count(r.stderr, tc.stderr) == 1
		}
		if tc.code == 0 {
			// Every command is listed.
			for name := range commands {
				if tc.args[0] != "help" || len(tc.args) == 1 {
					ok = ok && strings.Contains(r.stdout, "\n  "+name+" ")
				}
			}
		}
		if !ok {
			t.Errorf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, r.code, r.stdout, r.stderr)
		}
	}
}
