package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/patientsync/patientsync/internal/testutil"
)

type sized struct{ io.Reader }

func (sized) Size() int64 { return 42 }

type unsized struct{ io.Reader }

func (unsized) Size() int64 { return -1 }

func TestSizeOf(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "patients.json")
	if err := os.WriteFile(file, []byte("[]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name string
		r    io.Reader
		want int64
	}{
		{"regular file", f, 3},
		{"not a regular file", d, 0},
		{"an S3 body with its length", sized{}, 42},
		{"an S3 body without", unsized{}, 0},
		{"a reader with a Size method", strings.NewReader("[]"), 2},
		{"any other reader", io.MultiReader(), 0},
	} {
		if got := sizeOf(tc.r); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSyncProgress syncs a snapshot that arrives slowly through a FIFO, so
// that the sync is still reading after the first redraw interval: with
// stderr on a pseudo-terminal, a progress line is drawn there, log records
// (LOG_LEVEL=DEBUG) replace it rather than continue it, and it is erased
// before the result (on stdout) is printed; with stderr on a pipe, there
// is none.
func TestSyncProgress(t *testing.T) {
	t.Parallel()
	const (
		first = `[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"},`
		rest  = `{"externalId":"2","firstName":"C","lastName":"D","dateOfBirth":"2001-02-03"}]`
	)
	progressLine := regexp.MustCompile(`\rpatients\.json: \d+ B, [0-9.]+ k?B/s, \d+s`)
	for _, onTTY := range []bool{true, false} {
		name := "pipe"
		if onTTY {
			name = "terminal"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL := testutil.NewDB(t)
			fifo := filepath.Join(t.TempDir(), "patients.json")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			cmd := exec.Command(cli(t), "sync", fifo)
			cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "LOG_LEVEL=DEBUG")
			var stdout bytes.Buffer
			stderr := &testutil.LogBuffer{} // written by the pseudo-terminal's reader goroutine
			cmd.Stdout = &stdout
			readDone := make(chan struct{})
			if onTTY {
				ptm, pts, err := pty.Open()
				if err != nil {
					t.Skipf("no pseudo-terminal: %v", err)
				}
				defer ptm.Close()
				_ = pty.Setsize(ptm, &pty.Winsize{Rows: 24, Cols: 120})
				cmd.Stderr = pts
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pts.Close() // the child holds its own
				go func() {
					defer close(readDone)
					_, _ = io.Copy(stderr, ptm) // ends with EIO when the child is gone
				}()
			} else {
				cmd.Stderr = stderr
				close(readDone)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
			}
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for the sync to open it
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.WriteString(first); err != nil {
				t.Fatal(err)
			}
			if onTTY {
				for start := time.Now(); !progressLine.MatchString(stderr.String()); time.Sleep(20 * time.Millisecond) {
					if time.Since(start) > 30*time.Second {
						t.Fatalf("no progress line on the terminal:\n%q", stderr.String())
					}
				}
			} else {
				time.Sleep(4 * 250 * time.Millisecond) // several redraw intervals
			}
			_, _ = w.WriteString(rest)
			w.Close()
			err = cmd.Wait()
			<-readDone
			out := stderr.String()
			if err != nil || !strings.Contains(stdout.String(), "patients.json: succeeded") {
				t.Fatalf("sync: %v\nstdout:\n%s\nstderr:\n%q", err, stdout.String(), out)
			}
			if !strings.Contains(out, "level=DEBUG") {
				t.Fatalf("no debug log on stderr:\n%q", out)
			}
			if !onTTY {
				if strings.Contains(out, "\r") {
					t.Fatalf("stderr is a pipe, yet it got a progress line:\n%q", out)
				}
				return
			}
			if regexp.MustCompile(`[^\r\n]time=`).MatchString(out) {
				t.Errorf("a log record continues the progress line:\n%q", out)
			}
			// The last progress line is erased.
			last := out[strings.LastIndex(out, "\rpatients.json: "):]
			if !regexp.MustCompile(`^\rpatients\.json: [^\r\n]*\r +\r`).MatchString(last) {
				t.Fatalf("the progress line is not erased:\n%q", out)
			}
			if strings.Contains(stdout.String(), "\r") {
				t.Fatalf("progress on stdout:\n%q", stdout.String())
			}
		})
	}
}
