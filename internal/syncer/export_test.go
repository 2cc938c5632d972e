package syncer

// SetDupCandidateLimit makes the duplicate filter give up on candidates
// (and dedupe the whole staging table) past n of them, until restore. Call
// it only from a test that is not parallel.
func SetDupCandidateLimit(n int) (restore func()) {
	old := dupFilterCandidates
	dupFilterCandidates = n
	return func() { dupFilterCandidates = old }
}

// SetDiffPartitions sizes the diff's partitions for rows table rows and
// holds at most bytes of snapshot records in memory at once (larger
// partitions are split), until restore. Call it only from a test that is
// not parallel, or from TestMain.
func SetDiffPartitions(rows, bytes int64) (restore func()) {
	oldRows, oldBytes := diffPartRows, diffMaxPartBytes
	diffPartRows, diffMaxPartBytes = rows, bytes
	return func() { diffPartRows, diffMaxPartBytes = oldRows, oldBytes }
}
