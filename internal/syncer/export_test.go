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

// SetFirstTotals sizes a payments first load's partitions of sums for rows
// patients, with at most maxPatients in one (more, and the database sums
// them), until restore. Call it only from a test that is not parallel.
func SetFirstTotals(rows int64, maxPatients int) (restore func()) {
	oldRows, oldMax := totalsPartRows, totalsMaxPatients
	totalsPartRows, totalsMaxPatients = rows, maxPatients
	return func() { totalsPartRows, totalsMaxPatients = oldRows, oldMax }
}
