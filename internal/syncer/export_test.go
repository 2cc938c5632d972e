package syncer

// SetDupCandidateLimit makes the duplicate filter give up on candidates
// (and dedupe the whole staging table) past n of them, until restore. Call
// it only from a test that is not parallel.
func SetDupCandidateLimit(n int) (restore func()) {
	old := dupFilterCandidates
	dupFilterCandidates = n
	return func() { dupFilterCandidates = old }
}
