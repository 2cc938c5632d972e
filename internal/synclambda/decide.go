package synclambda

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Whether a snapshot can be applied before the invocation's deadline, or
// must go to the ECS runner (no 15-minute cap). The rule, Decide:
//
//	rate      = the slowest bytes_per_second of the entity's HistoryRuns newest
//	            succeeded runs that read at least MinHistoryBytes of an object
//	            compressed like this one (key ending in .gz or not); without
//	            such a run, the default rate of that kind (DefaultRate,
//	            DefaultGzipRate)
//	predicted = size / rate × SafetyFactor
//	left      = time to the invocation's deadline minus the margin
//	            (SYNC_DEADLINE_MARGIN), i.e. what the sync itself gets
//	scratch   = size × ScratchPerByte (× GzipRatio for a .gz key): the disk
//	            the diff's partitions may take in TMPDIR (syncer/diff.go)
//	hand off    when predicted > left, or when scratch > the space free in
//	            TMPDIR (the function's ephemeral storage), or when a sync of
//	            the same entity on the ECS runner holds the entity's lock
//	            (this sync would wait for it, at most the lock timeout, and
//	            fail; three times)
//	run here    otherwise, and whenever the size (0 in the event) or the
//	            deadline is unknown
//
// The slowest of the recent rates, not their mean: a rate measured on a
// no-op re-sync (nothing written) is several times that of a first load
// (every row written), and handing off a snapshot that would have fitted
// costs a task's start-up (about a minute) while running one that does not
// fit costs three timeouts and the snapshot. Runs under MinHistoryBytes are
// left out because their fixed costs (connect, lock, staging table, merge
// statements) dominate and understate the rate. Gzip is measured apart:
// its bytes hold several times the records.
const (
	HistoryRuns     = 5
	MinHistoryBytes = 16 << 20
	// SafetyFactor covers what the recent runs do not show: a first load
	// after no-op re-syncs, a busier database, a Lambda with less CPU than
	// the runner whose runs are in the history (SYNC_HANDOFF_SAFETY_FACTOR).
	SafetyFactor = 2.0
	// DefaultRate (bytes/s of uncompressed JSON) is used without history
	// (SYNC_HANDOFF_DEFAULT_RATE): set below what the sync Lambda measures
	// (see README), so that a first load is handed off unless it clearly
	// fits.
	DefaultRate = 1_000_000.0
	// DefaultGzipRate is DefaultRate over 10: the snapshots compress 6:1
	// (payments) to 9:1 (patients) with gzip -6, and a higher ratio means
	// more rows per compressed byte (SYNC_HANDOFF_DEFAULT_GZIP_RATE).
	DefaultGzipRate = DefaultRate / 10
	// ScratchPerByte is how many bytes of partition files the diff writes
	// per byte of uncompressed snapshot, at most: both the records' and
	// the table's rows, each about as large as a record's JSON (measured:
	// see README). GzipRatio is what a gzipped snapshot expands by, at most.
	ScratchPerByte = 2.5
	GzipRatio      = 10
)

// Estimate is what Decide decides from.
type Estimate struct {
	// Size of the object in bytes, as stored (the S3 event's size); 0 is
	// unknown.
	Size int64
	// HasDeadline says whether Left is known; Left is the time the sync
	// would get (deadline minus margin; <= 0: none at all).
	HasDeadline bool
	Left        time.Duration
	// Rates are the bytes/s of recent runs of the entity (see the rule);
	// values that are not positive and finite are ignored.
	Rates []float64
	// DefaultRate is the rate without history, for this kind of object.
	DefaultRate float64
	// Safety multiplies the prediction (>= 1).
	Safety float64
	// RunnerBusy: a sync of the entity on the ECS runner holds its lock.
	RunnerBusy bool
	// Scratch is the disk the diff may need, ScratchFree what TMPDIR has
	// (0: unknown, not checked).
	Scratch, ScratchFree int64
}

// Decision is Decide's answer. Why is one line for logs and sync_runs, such
// as "predicted 1,840 s > 840 s left (920,000,000 bytes at 1.00 MB/s,
// default: no history; ×2)".
type Decision struct {
	HandOff bool
	// Predicted is the prediction (safety factor included), 0 when none
	// was made; Rate the bytes/s it used.
	Predicted time.Duration
	Rate      float64
	Why       string
}

// Decide applies the rule above to e; it is pure.
func Decide(e Estimate) Decision {
	if e.RunnerBusy {
		return Decision{HandOff: true, Why: "a sync of this entity on the ECS runner holds its lock"}
	}
	if e.Size <= 0 {
		return Decision{Why: "size unknown: run here"}
	}
	if e.ScratchFree > 0 && e.Scratch > e.ScratchFree {
		return Decision{HandOff: true, Why: fmt.Sprintf("the diff may need %s bytes of TMPDIR, %s are free (%s bytes × %g)",
			thousands(e.Scratch), thousands(e.ScratchFree), thousands(e.Size), float64(e.Scratch)/float64(e.Size))}
	}
	if !e.HasDeadline {
		return Decision{Why: "no deadline: run here"}
	}
	rate, basis := e.DefaultRate, "default: no history"
	n := 0
	for _, r := range e.Rates {
		if r > 0 && !math.IsInf(r, 0) && !math.IsNaN(r) {
			if n == 0 || r < rate {
				rate = r
			}
			n++
		}
	}
	if n > 0 {
		basis = fmt.Sprintf("the slowest of the last %d runs", n)
	}
	safety := max(e.Safety, 1)
	secs := math.Inf(1) // no usable rate at all: it cannot be shown to fit
	if rate > 0 && !math.IsInf(rate, 0) {
		secs = float64(e.Size) / rate * safety
	}
	d := Decision{Rate: rate, Predicted: time.Duration(math.Min(secs, float64(math.MaxInt64/2)/1e9) * 1e9)}
	op := "<="
	if d.Predicted > e.Left {
		d.HandOff, op = true, ">"
	}
	d.Why = fmt.Sprintf("predicted %s s %s %s s left (%s bytes at %s, %s; ×%g)",
		thousands(int64(math.Ceil(d.Predicted.Seconds()))), op, thousands(int64(max(e.Left, 0).Seconds())),
		thousands(e.Size), formatRate(rate), basis, safety)
	return d
}

func formatRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2f MB/s", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1f kB/s", r/1e3)
	}
	return fmt.Sprintf("%.0f B/s", r)
}

// thousands writes n with commas: 1840 -> "1,840".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
