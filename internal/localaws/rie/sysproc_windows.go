package rie

import (
	"os"
	"syscall"
)

// The emulator does not run on Windows; these only let the CLI build there
// (Start fails on the missing emulator binary).

func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) error { return p.Kill() }

func kill(p *os.Process) error { return p.Kill() }
