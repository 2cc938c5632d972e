package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path"
	"sync"

	"golang.org/x/term"

	"github.com/patientsync/patientsync/internal/progress"
	"github.com/patientsync/patientsync/internal/syncer"
)

// newProgress is a progress line on stderr when stderr is a terminal, else
// nil (which reports nothing): it is for someone watching, not for CI logs,
// pipes or the ECS runner's log stream.
func newProgress(o progress.Options) *progress.Reporter {
	fd := int(os.Stderr.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	if w, _, err := term.GetSize(fd); err == nil {
		o.Width = w
	}
	return progress.New(os.Stderr, o)
}

// readProgress shows how much of a snapshot the syncer has read. It wraps
// the object's Open, so the syncer itself knows nothing of it; it cannot
// count rows, which only the syncer's decoder sees, so it shows bytes/s.
type readProgress struct {
	rep  *progress.Reporter
	logs *logOutput
}

func watchRead(obj *syncer.Object, logs *logOutput) *readProgress {
	p := &readProgress{logs: logs}
	open := obj.Open
	label := path.Base(obj.Source)
	obj.Open = func(ctx context.Context) (io.ReadCloser, syncer.Identity, error) {
		body, id, err := open(ctx)
		if err != nil {
			return body, id, err
		}
		p.rep.Done() // a reader opened before, if any
		p.rep = newProgress(progress.Options{Label: label, Bytes: sizeOf(body)})
		if p.rep == nil {
			return body, id, nil
		}
		p.logs.set(p.rep)
		return &countingReader{ReadCloser: body, rep: p.rep}, id, nil
	}
	return p
}

// Done erases the line: the result is printed next.
func (p *readProgress) Done() {
	p.logs.set(nil)
	p.rep.Done()
}

// logOutput is stderr for the syncer's log, written through the progress
// line while there is one: a record (LOG_LEVEL=DEBUG shows each step)
// then replaces the line instead of continuing it.
type logOutput struct {
	mu  sync.Mutex
	rep *progress.Reporter
}

func (l *logOutput) set(rep *progress.Reporter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rep = rep
}

func (l *logOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	rep := l.rep
	l.mu.Unlock()
	if rep == nil {
		return os.Stderr.Write(p)
	}
	return rep.Write(p)
}

// sizeOf is the length of a snapshot body when known (a regular file, or
// an S3 object whose Content-Length came back), else 0.
func sizeOf(body io.Reader) int64 {
	switch b := body.(type) {
	case *os.File:
		if st, err := b.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	case interface{ Size() int64 }:
		return max(b.Size(), 0)
	}
	return 0
}

type countingReader struct {
	io.ReadCloser
	rep *progress.Reporter
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.rep.Add(int64(n), 0)
	if err == io.EOF {
		r.rep.Then("merging") // everything is read; the transaction goes on
	}
	return n, err
}

// countingWriter counts bytes, and lines as rows: snapgen writes one
// record a line (a JSON array's brackets add two lines, which a progress
// line can afford).
type countingWriter struct {
	w   io.Writer
	rep *progress.Reporter
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.rep.Add(int64(n), int64(bytes.Count(p[:n], []byte{'\n'})))
	return n, err
}
