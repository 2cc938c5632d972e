package rie

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// The emulator's REPORT line repeats the configured memory size as "Max
// Memory Used" because it cannot measure the function. peakMemory measures
// it: the peak resident set size (VmHWM) of the function process, the
// emulator's child running the bootstrap. VmHWM is the process's peak since
// it started, so in a warm environment the figure does not go down between
// invocations; a new environment (after a crash or a timeout) starts over.
// It is sampled (see watch), so a peak shorter than the interval can be
// missed.
type peakMemory struct {
	mu        sync.Mutex
	emulator  int    // the emulator's pid
	bootstrap string // the function's executable, to tell it from any other child
	pid       int    // the function process last found
	kb        int64  // its VmHWM when last read
}

func (p *peakMemory) setEmulator(pid int, bootstrap string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emulator, p.bootstrap = pid, bootstrap
}

// sample reads the function process's peak. When that process is gone
// (killed after a timeout) the last reading is kept: it is the best figure
// for the invocation that ended it.
func (p *peakMemory) sample() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.emulator == 0 {
		return
	}
	if p.pid != 0 {
		if kb, ok := readPeakKB(p.pid, p.emulator); ok {
			// The kernel's VmHWM can fall (it is raised lazily, and memory
			// the Go runtime returns lowers the RSS it is the maximum
			// of): keep the highest reading of this process.
			p.kb = max(p.kb, kb)
			return
		}
	}
	pid := findFunctionProcess(p.emulator, p.bootstrap)
	if pid == 0 {
		return
	}
	if kb, ok := readPeakKB(pid, p.emulator); ok {
		p.pid, p.kb = pid, kb
	}
}

// peakMB samples and returns the peak in MB (rounded up, as Lambda
// reports it), or false when no function process was ever read.
func (p *peakMemory) peakMB() (int64, bool) {
	p.sample()
	p.mu.Lock()
	defer p.mu.Unlock()
	return (p.kb + 1023) / 1024, p.pid != 0
}

// watch samples every interval until the returned stop is called: the
// process may be killed (timeout) before its REPORT line is read.
func (p *peakMemory) watch(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			p.sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

var maxMemoryUsed = regexp.MustCompile(`Max Memory Used: \d+ MB(\t|$)`)

// rewriteReport puts the measured peak into an emulator REPORT line, or
// drops the field when there is no measurement: the configured size it
// holds is not a measurement. Other lines pass unchanged.
func rewriteReport(line string, mb int64, ok bool) string {
	if !strings.HasPrefix(line, "REPORT RequestId: ") {
		return line
	}
	if !ok {
		return maxMemoryUsed.ReplaceAllString(line, "")
	}
	return maxMemoryUsed.ReplaceAllString(line, fmt.Sprintf("Max Memory Used: %d MB${1}", mb))
}
