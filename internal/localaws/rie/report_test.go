//go:build linux

package rie_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/localaws/rie"
	"github.com/patientsync/patientsync/internal/testutil"
)

// TestReportMaxMemoryUsed checks that the REPORT lines say how much memory
// the function used (its process's peak RSS), not the configured size, and
// that a new execution environment starts over.
func TestReportMaxMemoryUsed(t *testing.T) {
	t.Parallel()
	bin := testutil.RIE(t)
	bootstrap := testutil.BuildFunction(t, "./internal/localaws/rie/testdata/echofn", filepath.Join(t.TempDir(), "echo"))
	logs := &testutil.LogBuffer{}
	f, err := rie.Start(context.Background(), rie.Config{
		Name: "mem", RIE: bin, Bootstrap: bootstrap, MemoryMB: 1024, Timeout: 10 * time.Second, Logs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)

	// The function's timeout leaves room for the allocation on a loaded
	// machine: a timed-out alloc step would start a new environment.
	const allocMB = 160
	steps := []struct {
		mode, value string
		min, max    int // expected Max Memory Used, MB
	}{
		{"ok", "", 1, allocMB / 2},
		{"alloc", strconv.Itoa(allocMB), allocMB, 1023},
		{"ok", "", allocMB, 1023},    // the same environment keeps its peak
		{"sleep", "", allocMB, 1023}, // timed out: killed, measured before
		{"ok", "", 1, allocMB / 2},   // a new environment
	}
	report := regexp.MustCompile(`(?m)^\[mem\] REPORT RequestId: .*Memory Size: 1024 MB\tMax Memory Used: (\d+) MB\t?$`)
	for i, s := range steps {
		_, _ = invokeEcho(t, f, s.mode, s.value) // the sleep fails, as it should
		var got []string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got = nil
			for _, m := range report.FindAllStringSubmatch(logs.String(), -1) {
				got = append(got, m[1])
			}
			if len(got) > i || time.Now().After(deadline) {
				break
			}
		}
		if len(got) <= i {
			t.Fatalf("step %d (%s): %d REPORT lines with a Max Memory Used; want %d:\n%s", i, s.mode, len(got), i+1, logs.String())
		}
		mb, _ := strconv.Atoi(got[i])
		if mb < s.min || mb > s.max {
			t.Errorf("step %d (%s): Max Memory Used %d MB; want %d to %d", i, s.mode, mb, s.min, s.max)
		}
		if i == len(steps)-1 {
			t.Logf("Max Memory Used per step (MB): %v", got)
		}
	}
}
