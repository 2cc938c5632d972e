package testutil

import (
	"net"
	"strings"
	"testing"
	"time"
)

// freePort is a loopback TCP port that was free a moment ago, for a server
// process that takes its port as an argument.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady polls ready every 100 ms until it answers nil, failing the test
// with the server's output when the process exits first or 30 s pass.
func waitReady(t testing.TB, what string, exited <-chan struct{}, logs *LogBuffer, ready func() error) {
	t.Helper()
	started := time.Now()
	for deadline := started.Add(30 * time.Second); ; {
		err := ready()
		if err == nil {
			t.Logf("%s ready after %s", what, time.Since(started).Round(time.Millisecond))
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", what, strings.TrimSpace(logs.String()))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 30s: %v\n%s", what, err, logs.String())
		}
	}
}
