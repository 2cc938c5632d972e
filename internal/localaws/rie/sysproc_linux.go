package rie

import "syscall"

// sysProcAttr puts the emulator in its own process group and has the kernel
// send it SIGTERM if this process dies without stopping it (the emulator
// then stops the function).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
