//go:build unix

package rie

import (
	"os"
	"syscall"
)

// terminate asks the emulator's process group to stop; the emulator stops
// the function.
func terminate(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGTERM) }

// kill ends the process group at once.
func kill(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }
