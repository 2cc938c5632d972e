package testutil

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Moto runs moto_server (every AWS service it implements, one endpoint) on
// a free loopback port until the test ends and returns its endpoint: an AWS
// implementation this project did not write. Without moto_server the test
// is skipped, except with CI=true, where it fails (CI has it).
func Moto(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and moto_server is not installed")
		}
		t.Skip("moto_server is not installed (pip install 'moto[server]')")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	out := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: pyenv's shim and moto go together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	started := time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			t.Logf("moto_server answered after %s", time.Since(started).Round(time.Millisecond))
			return endpoint
		}
		select {
		case <-exited:
			t.Fatalf("moto_server exited: %s", strings.TrimSpace(out.String()))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 30s: %s", endpoint, out.String())
		}
	}
}
