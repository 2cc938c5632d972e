// Package progress draws the one-line progress report of a long read or
// write on a terminal: bytes of the total, rates and elapsed time, redrawn
// in place (\r) at most every Interval and erased when done, so that what
// is printed next starts on a clean line. Whether to report at all (only
// on a terminal) is the caller's choice: a nil *Reporter reports nothing.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
)

// DefaultInterval is the time between redraws: a few a second is lively
// without flicker, and costs nothing next to the work it reports.
const DefaultInterval = 250 * time.Millisecond

// Options describe what is reported.
type Options struct {
	Label    string        // e.g. the file name
	Bytes    int64         // bytes expected; <= 0 when unknown
	Rows     int64         // rows expected; <= 0 when unknown
	Width    int           // the terminal's columns; longer lines are cut (0: no limit)
	Interval time.Duration // between redraws (0: DefaultInterval)
	// Now is the clock (nil: time.Now). With the real clock a ticker
	// redraws even while nothing is added (elapsed time goes on during a
	// stall); with a given clock only Add and Then redraw, so tests decide
	// every instant.
	Now func() time.Time
}

// Reporter counts bytes and rows and draws them. Its methods may be
// called from several goroutines.
type Reporter struct {
	w io.Writer
	o Options

	mu          sync.Mutex
	start, last time.Time
	ended       time.Time // by Then: rates stop here (zero: counting)
	bytes, rows int64
	note        string
	width       int // runes of the line on screen, 0 when none is
	done        bool
	stop        chan struct{}
}

// New returns a Reporter drawing on w, or nil when w is nil.
func New(w io.Writer, o Options) *Reporter {
	if w == nil {
		return nil
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	ticking := o.Now == nil
	if ticking {
		o.Now = time.Now
	}
	r := &Reporter{w: w, o: o, stop: make(chan struct{})}
	// The first line waits an interval: a short run draws nothing.
	r.start = o.Now()
	r.last = r.start
	if ticking {
		go r.tick()
	}
	return r
}

func (r *Reporter) tick() {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.drawIfDue()
			r.mu.Unlock()
		}
	}
}

// Add counts bytes and rows done, and redraws when an interval has passed.
func (r *Reporter) Add(bytes, rows int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bytes += bytes
	r.rows += rows
	r.drawIfDue()
}

// Then ends the counted work and names what follows (e.g. "merging" once
// a sync has read everything): the rates stay what they were at this
// instant, rather than sink while nothing is counted, and the elapsed time
// goes on.
func (r *Reporter) Then(note string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note = note
	if r.ended.IsZero() {
		r.ended = r.o.Now()
	}
	r.drawIfDue()
}

// Write writes p, whole lines such as a log record, above the progress
// line: the line is erased first and drawn again at the next redraw.
func (r *Reporter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.erase()
	return r.w.Write(p)
}

// Done erases the line and stops redrawing.
func (r *Reporter) Done() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.done = true
	close(r.stop)
	r.erase()
}

func (r *Reporter) erase() {
	if r.width > 0 {
		fmt.Fprint(r.w, "\r"+strings.Repeat(" ", r.width)+"\r")
		r.width = 0
	}
}

func (r *Reporter) drawIfDue() {
	now := r.o.Now()
	if r.done || now.Sub(r.last) < r.o.Interval {
		return
	}
	r.last = now
	counting := now
	if !r.ended.IsZero() {
		counting = r.ended
	}
	line := r.line(now.Sub(r.start), counting.Sub(r.start))
	if r.o.Width > 1 && utf8.RuneCountInString(line) >= r.o.Width {
		// A wrapped line could not be redrawn in place.
		line = string([]rune(line)[:r.o.Width-2]) + "…"
	}
	n := utf8.RuneCountInString(line)
	pad := ""
	if n < r.width {
		pad = strings.Repeat(" ", r.width-n) // what is left of a longer line
	}
	fmt.Fprint(r.w, "\r"+line+pad)
	r.width = max(n, r.width)
}

// line is e.g. "patients.json: 12 MB of 46 MB (27%), 8.1 MB/s, 5s" or
// "payments.json: 1,200,000 of 3,000,000 rows (40%), 95,000 rows/s, 56 MB, 13s".
// Rates are over the counting time.
func (r *Reporter) line(elapsed, counting time.Duration) string {
	secs := max(counting.Seconds(), 1e-3)
	var parts []string
	if r.o.Rows > 0 || r.rows > 0 {
		parts = append(parts, ofTotal(humanize.Comma(r.rows), humanize.Comma(r.o.Rows)+" rows", r.rows, r.o.Rows, " rows"),
			humanize.Comma(int64(float64(r.rows)/secs))+" rows/s")
	}
	parts = append(parts, ofTotal(size(r.bytes), size(r.o.Bytes), r.bytes, r.o.Bytes, ""))
	if r.o.Rows <= 0 && r.rows == 0 {
		parts = append(parts, size(int64(float64(r.bytes)/secs))+"/s")
	}
	parts = append(parts, elapsed.Truncate(time.Second).String())
	if r.note != "" {
		parts = append(parts, r.note)
	}
	return r.o.Label + ": " + strings.Join(parts, ", ")
}

// ofTotal is "done unit", or "done of total (p%)" when the total is known.
func ofTotal(done, total string, n, of int64, unit string) string {
	if of <= 0 {
		return done + unit
	}
	return fmt.Sprintf("%s of %s (%d%%)", done, total, min(100, n*100/of))
}

func size(n int64) string { return humanize.Bytes(uint64(max(n, 0))) }
