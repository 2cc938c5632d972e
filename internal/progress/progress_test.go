package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// step is what happens at an instant after the start.
type step struct {
	at          time.Duration
	bytes, rows int64
	then        *string // nil: no Then call
	log         string  // written through the Reporter
}

func then(s string) *string { return &s }

// erase is what Done writes over a line of n runes.
func erase(n int) string { return "\r" + strings.Repeat(" ", n) + "\r" }

func TestReporter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		o     Options
		steps []step
		want  string // everything written, Done included
	}{
		{
			name:  "a short run draws nothing",
			o:     Options{Label: "patients.json", Bytes: 100},
			steps: []step{{at: 100 * time.Millisecond, bytes: 100}},
			want:  "",
		},
		{
			name:  "bytes of the total and the byte rate",
			o:     Options{Label: "patients.json", Bytes: 40_000_000},
			steps: []step{{at: time.Second, bytes: 10_000_000}},
			want:  "\rpatients.json: 10 MB of 40 MB (25%), 10 MB/s, 1s" + erase(48),
		},
		{
			name:  "unknown total",
			o:     Options{Label: "s3://b/payments.json"},
			steps: []step{{at: 2 * time.Second, bytes: 5_000_000}},
			want:  "\rs3://b/payments.json: 5.0 MB, 2.5 MB/s, 2s" + erase(42),
		},
		{
			name: "at most one redraw an interval",
			o:    Options{Label: "p", Bytes: 1000},
			steps: []step{
				{at: 250 * time.Millisecond, bytes: 100}, // drawn
				{at: 300 * time.Millisecond, bytes: 100},
				{at: 499 * time.Millisecond, bytes: 100},
				{at: 500 * time.Millisecond, bytes: 100}, // drawn
				{at: 600 * time.Millisecond, bytes: 100},
			},
			want: "\rp: 100 B of 1.0 kB (10%), 400 B/s, 0s" +
				"\rp: 400 B of 1.0 kB (40%), 800 B/s, 0s" + erase(37),
		},
		{
			name:  "rows of the expected rows, rows/s and bytes written",
			o:     Options{Label: "payments.json", Rows: 3000},
			steps: []step{{at: 2 * time.Second, bytes: 1_000_000, rows: 1500}},
			want:  "\rpayments.json: 1,500 of 3,000 rows (50%), 750 rows/s, 1.0 MB, 2s" + erase(64),
		},
		{
			name:  "rows without a total",
			o:     Options{Label: "x"},
			steps: []step{{at: time.Second, bytes: 2000, rows: 10}},
			want:  "\rx: 10 rows, 10 rows/s, 2.0 kB, 1s" + erase(33),
		},
		{
			name:  "more than the total is 100%",
			o:     Options{Label: "p", Bytes: 1000},
			steps: []step{{at: time.Second, bytes: 1500}},
			want:  "\rp: 1.5 kB of 1.0 kB (100%), 1.5 kB/s, 1s" + erase(40),
		},
		{
			name: "after Then: its note, the rates as they were, elapsed going on",
			o:    Options{Label: "p", Bytes: 1000},
			steps: []step{
				{at: time.Second, bytes: 500},
				{at: 2 * time.Second, bytes: 500},
				{at: 2 * time.Second, then: then("merging")}, // not due
				{at: 4 * time.Second, then: then("merging")},
			},
			want: "\rp: 500 B of 1.0 kB (50%), 500 B/s, 1s" +
				"\rp: 1.0 kB of 1.0 kB (100%), 500 B/s, 2s" +
				"\rp: 1.0 kB of 1.0 kB (100%), 500 B/s, 4s, merging" + erase(48),
		},
		{
			name: "a shorter line blanks what is left of the longer one",
			o:    Options{Label: "p", Bytes: 1000},
			steps: []step{
				{at: time.Second, bytes: 1000},
				{at: 2 * time.Second, then: then("merging")},
				{at: 3 * time.Second, then: then("")},
			},
			want: "\rp: 1.0 kB of 1.0 kB (100%), 1.0 kB/s, 1s" +
				"\rp: 1.0 kB of 1.0 kB (100%), 500 B/s, 2s, merging" +
				"\rp: 1.0 kB of 1.0 kB (100%), 500 B/s, 3s" + strings.Repeat(" ", 9) + erase(48),
		},
		{
			name: "a log line is written above the progress line",
			o:    Options{Label: "p", Bytes: 1000},
			steps: []step{
				{at: time.Second, bytes: 100},
				{at: 1100 * time.Millisecond, log: "level=DEBUG msg=step\n"},
				{at: 1200 * time.Millisecond, bytes: 100}, // not due
				{at: 1250 * time.Millisecond, bytes: 100},
			},
			want: "\rp: 100 B of 1.0 kB (10%), 100 B/s, 1s" + erase(37) + "level=DEBUG msg=step\n" +
				"\rp: 300 B of 1.0 kB (30%), 240 B/s, 1s" + erase(37),
		},
		{
			name:  "cut to the terminal's width",
			o:     Options{Label: "a-rather-long-file-name.json", Bytes: 1000, Width: 30},
			steps: []step{{at: time.Second, bytes: 500}},
			want:  "\ra-rather-long-file-name.json…" + erase(29),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			start := now
			tc.o.Now = func() time.Time { return now }
			r := New(&buf, tc.o)
			for _, s := range tc.steps {
				now = start.Add(s.at)
				if s.bytes != 0 || s.rows != 0 {
					r.Add(s.bytes, s.rows)
				}
				if s.then != nil {
					r.Then(*s.then)
				}
				if s.log != "" {
					if _, err := r.Write([]byte(s.log)); err != nil {
						t.Fatal(err)
					}
				}
			}
			r.Done()
			r.Done() // idempotent
			if got := buf.String(); got != tc.want {
				t.Errorf("wrote\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestNilReporter: without a terminal the caller holds a nil Reporter,
// whose methods do nothing.
func TestNilReporter(t *testing.T) {
	r := New(nil, Options{Label: "x"})
	if r != nil {
		t.Fatalf("New(nil, …) = %v, want nil", r)
	}
	r.Add(1, 1)
	r.Then("x")
	r.Done()
}

// TestTickerRedrawsDuringAStall: with the real clock, the line moves on
// while nothing is read (a slow S3, a long merge).
func TestTickerRedrawsDuringAStall(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer // written under the Reporter's lock, read after Done
	r := New(&buf, Options{Label: "p", Interval: 10 * time.Millisecond})
	r.Add(10, 0)
	time.Sleep(100 * time.Millisecond)
	r.Done()
	if n := strings.Count(buf.String(), "\rp: 10 B"); n < 2 {
		t.Fatalf("%d redraws in 100ms at a 10ms interval without Add; want several:\n%q", n, buf.String())
	}
}
