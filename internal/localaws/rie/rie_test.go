//go:build unix

package rie_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/localaws/rie"
	"github.com/patientsync/patientsync/internal/testutil"
)

type echoReply struct {
	Value      string `json:"value"`
	PID        int    `json:"pid"`
	Name       string `json:"name"`
	Custom     string `json:"custom"`
	Profile    string `json:"profile"`
	DeadlineMs int64  `json:"deadlineMs"`
}

func startEcho(t *testing.T, timeout time.Duration) (*rie.Function, *testutil.LogBuffer) {
	t.Helper()
	bin := testutil.RIE(t)
	bootstrap := testutil.BuildFunction(t, "./internal/localaws/rie/testdata/echofn", filepath.Join(t.TempDir(), "echo"))
	// Relative paths, as `patientsync up` gets them from its flags.
	wd, _ := os.Getwd()
	relRIE, err := filepath.Rel(wd, bin)
	if err != nil {
		t.Fatal(err)
	}
	relBootstrap, err := filepath.Rel(wd, bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	bin, bootstrap = relRIE, relBootstrap
	logs := &testutil.LogBuffer{}
	t.Setenv("AWS_PROFILE", "leaks-from-the-shell") // must not reach the function
	f, err := rie.Start(context.Background(), rie.Config{
		Name: "echo", RIE: bin, Bootstrap: bootstrap,
		Env:     map[string]string{"ECHO_CUSTOM": "custom value"},
		Timeout: timeout, Logs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f, logs
}

func invokeEcho(t *testing.T, f *rie.Function, mode, value string) (echoReply, error) {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"mode": mode, "value": value})
	out, err := f.Invoke(context.Background(), payload)
	if err != nil {
		return echoReply{}, err
	}
	var r echoReply
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("reply %q: %v", out, err)
	}
	return r, nil
}

func TestFunctionLifecycle(t *testing.T) {
	// One emulator for the whole sequence: later steps check that it
	// recovers from the failures of earlier ones.
	f, logs := startEcho(t, 2*time.Second)

	r, err := invokeEcho(t, f, "ok", "first")
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != "first" || r.Name != "echo" || r.Custom != "custom value" {
		t.Errorf("reply = %+v; want the event value, function name and configured env", r)
	}
	if r.Profile != "" {
		t.Errorf("AWS_PROFILE leaked into the function: %q", r.Profile)
	}
	if r.DeadlineMs <= 0 || r.DeadlineMs > 2000 {
		t.Errorf("deadline in %dms; want within the 2s function timeout", r.DeadlineMs)
	}
	firstPID := r.PID

	failures := []struct {
		mode, wantType string
	}{
		{"error", "errorString"},
		{"panic", "string"},
		{"exit", "Runtime.ExitError"},
		{"sleep", "Sandbox.Timedout"},
	}
	for _, fc := range failures {
		_, err := invokeEcho(t, f, fc.mode, "")
		var ferr *rie.FunctionError
		if !errors.As(err, &ferr) {
			t.Fatalf("%s: err = %v; want a *rie.FunctionError", fc.mode, err)
		}
		if ferr.Type != fc.wantType {
			t.Errorf("%s: error type %q (%s); want %q", fc.mode, ferr.Type, ferr.Message, fc.wantType)
		}
		// Lambda replaces a crashed or timed-out environment; the next
		// invocation must work.
		if _, err := invokeEcho(t, f, "ok", "after "+fc.mode); err != nil {
			t.Fatalf("invoke after %s: %v", fc.mode, err)
		}
	}

	// Concurrent callers are serialized instead of crashing the emulator.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := invokeEcho(t, f, "slow", strings.Repeat("x", i+1))
			if err == nil && r.Value != strings.Repeat("x", i+1) {
				err = errors.New("wrong reply " + r.Value)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent invoke: %v", err)
		}
	}

	last, err := invokeEcho(t, f, "ok", "last")
	if err != nil {
		t.Fatal(err)
	}
	if last.PID == firstPID {
		t.Errorf("function process %d survived a crash; want a fresh environment", firstPID)
	}
	if !regexp.MustCompile(`(?m)^\[echo\] echofn got ok first$`).MatchString(logs.String()) {
		t.Errorf("function output not captured with the [echo] prefix:\n%s", logs.String())
	}

	f.Stop()
	select {
	case <-f.Done():
	default:
		t.Fatal("emulator still running after Stop")
	}
	// The function process goes with the emulator.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(last.PID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("function process %d still alive after Stop", last.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := invokeEcho(t, f, "ok", "stopped"); err == nil {
		t.Error("invoke after Stop succeeded")
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  rie.Config
		want string
	}{
		{"no name", rie.Config{RIE: notExec, Bootstrap: notExec}, "name is empty"},
		{"missing emulator", rie.Config{Name: "f", RIE: filepath.Join(dir, "nope"), Bootstrap: notExec}, "no such file"},
		{"not executable", rie.Config{Name: "f", RIE: "/bin/sh", Bootstrap: notExec}, "not an executable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := rie.Start(context.Background(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want it to mention %q", err, c.want)
			}
		})
	}
}

func TestMakefilePinsTheSameVersion(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RIE_VERSION\s*:?=\s*(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile has no RIE_VERSION")
	}
	if string(m[1]) != rie.Version {
		t.Errorf("Makefile RIE_VERSION %s != rie.Version %s", m[1], rie.Version)
	}
}

// A port picked free may be taken by another process before the emulator
// binds it: the emulator exits, and Start must not mistake the other
// process's answer for the emulator's, but start again on other ports.
func TestStartSurvivesATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		name string
		call int // which pick returns the taken port
	}{{"invocation port", 1}, {"runtime API port", 2}} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			defer rie.SetFreeAddr(func() (string, error) {
				calls++
				if calls == c.call {
					return taken.Addr().String(), nil
				}
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return "", err
				}
				defer l.Close()
				return l.Addr().String(), nil
			})()
			f, _ := startEcho(t, 5*time.Second)
			if strings.Contains(f.URL(), taken.Addr().String()) {
				t.Fatalf("started on the taken port: %s", f.URL())
			}
			if r, err := invokeEcho(t, f, "echo", "hello"); err != nil || r.Value != "hello" {
				t.Fatalf("invoke = %+v, %v", r, err)
			}
			if calls <= 2 {
				t.Fatalf("%d ports picked: the start was not retried", calls)
			}
		})
	}
}
