//go:build unix

package syncer

import (
	"sync"
	"syscall"
	"unsafe"
)

// newBitmap returns a zeroed bitmap of n words outside the Go heap, and an
// idempotent function that frees it: the garbage collector sets its heap
// goal as a multiple of the live heap, and a 32 MiB filter counted there
// would let the heap grow by as much again before each collection. Pages
// are only resident once written.
func newBitmap(n int) ([]uint64, func()) {
	b, err := syscall.Mmap(-1, 0, n*8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint64, n), func() {}
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n), sync.OnceFunc(func() { _ = syscall.Munmap(b) })
}
