//go:build unix

package synclambda

import "syscall"

// freeScratch is the space free to an unprivileged writer in dir, 0 when
// it cannot be told.
func freeScratch(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
