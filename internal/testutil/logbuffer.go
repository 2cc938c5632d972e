// Package testutil holds what tests across packages share: a database per
// test, the repository's layout, Lambda binaries and the runtime interface
// emulator, and a log buffer. Only tests import it.
package testutil

import (
	"bytes"
	"sync"
)

// LogBuffer collects output written from several goroutines (loggers,
// subprocess pipes) and is safe to read while they write.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Bytes returns a copy of what was written so far.
func (l *LogBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}
