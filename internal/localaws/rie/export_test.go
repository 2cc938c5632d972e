package rie

// SetFreeAddr makes start pick its ports with pick, until restore. Call it
// only from a test that is not parallel.
func SetFreeAddr(pick func() (string, error)) (restore func()) {
	old := freeAddr
	freeAddr = pick
	return func() { freeAddr = old }
}
