package testutil

import (
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
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
	port := freePort(t)
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
	waitReady(t, "moto_server on "+endpoint, exited, out, func() error {
		resp, err := http.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return endpoint
}
