package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// Exit codes: 2 is a mistake in the command line, as with the flag package
// and most Unix tools; 1 is any other failure.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// execute runs a command line (without the program name) and returns the
// exit code. Every error is printed here, once; commands only return them.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		topUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		topUsage(stdout)
		return exitOK
	case "-version", "--version":
		args = []string{"version"}
	case "help": // help COMMAND is COMMAND -h
		switch len(args) {
		case 1:
			topUsage(stdout)
			return exitOK
		case 2:
			args = []string{args[1], "-h"}
		default:
			topUsage(stderr)
			fmt.Fprintf(stderr, "patientsync help: want one command, got %q\n", args[1:])
			return exitUsage
		}
	}
	name := args[0]
	cmd, ok := commands[name]
	if !ok {
		topUsage(stderr)
		fmt.Fprintf(stderr, "patientsync: unknown command %q\n", name)
		return exitUsage
	}
	err := cmd.run(ctx, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp) && errors.As(err, &ue):
		printUsage(stdout, ue.fs)
		return exitOK
	case errors.As(err, &ue):
		// The usage first: the error is then the last line, where the eye is.
		printUsage(stderr, ue.fs)
		fmt.Fprintf(stderr, "patientsync %s: %v\n", name, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "patientsync %s: %v\n", name, err)
		return exitError
	}
}

func topUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: patientsync COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'patientsync help COMMAND' (or COMMAND -h) for a command's flags; 'patientsync version' for the build.\nDATABASE_URL selects the database.")
}

// usageError is a mistake in how a command was called (or -h, wrapping
// flag.ErrHelp): execute prints the command's usage with it.
type usageError struct {
	fs  *flag.FlagSet
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// newFlagSet is the flag set of command name. Its usage is "usage:
// patientsync NAME [flags] ARGS", then about (by default the command's
// summary), then the flags. The flag package itself prints nothing:
// execute prints each error once, and the usage where it belongs (stdout
// for -h, stderr for a mistake).
func newFlagSet(name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	synopsis := "usage: patientsync " + name + " [flags]"
	if args != "" {
		synopsis += " " + args
	}
	fs.Usage = func() {
		text := about
		if text == "" {
			text = commands[name].summary
		}
		fmt.Fprintf(fs.Output(), "%s\n\n%s\n", synopsis, text)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs; a wrong flag, or -h, comes back as a
// *usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return &usageError{fs, err}
	}
	return nil
}

// usageErrorf reports a wrong argument or flag value found after parsing.
func usageErrorf(fs *flag.FlagSet, format string, a ...any) error {
	return &usageError{fs, fmt.Errorf(format, a...)}
}

// noArgs refuses positional arguments to a command that takes none.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected arguments: %q", fs.Args())
	}
	return nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fs.SetOutput(w)
	defer fs.SetOutput(io.Discard)
	fs.Usage()
}
