//go:build !unix

package syncer

// newBitmap returns a zeroed bitmap of n words, and the function that
// frees it (here, the garbage collector does).
func newBitmap(n int) ([]uint64, func()) { return make([]uint64, n), func() {} }
