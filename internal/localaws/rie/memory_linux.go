package rie

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// readPeakKB reads VmHWM from /proc/<pid>/status, if pid is still a child
// of parent (pids are reused) and not a zombie (which has no VmHWM).
func readPeakKB(pid, parent int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	var kb int64
	found, child := false, false
	for line := range bytes.Lines(b) {
		k, v, ok := strings.Cut(string(line), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "PPid":
			child = v == strconv.Itoa(parent)
		case "VmHWM":
			n, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			found = err == nil
			kb = n
		}
	}
	return kb, found && child
}

// findFunctionProcess scans /proc for the child of parent that runs
// bootstrap (the emulator starts nothing else here, but would start
// extensions if /opt/extensions had any). 0 when there is none.
func findFunctionProcess(parent int, bootstrap string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	want := bootstrap
	if p, err := filepath.EvalSymlinks(bootstrap); err == nil {
		want = p
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == want {
			return pid
		}
	}
	return 0
}
