//go:build !linux

package rie

// The emulator runs on Linux only; elsewhere nothing is measured and
// REPORT lines lose their Max Memory Used field.

func readPeakKB(pid, parent int) (int64, bool) { return 0, false }

func findFunctionProcess(parent int, bootstrap string) int { return 0 }
