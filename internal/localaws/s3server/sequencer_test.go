package s3server

import (
	"testing"
	"time"
)

func TestSequencerIncreasesWhenTheClockDoesNot(t *testing.T) {
	s := &Server{}
	base := time.Now().Add(-time.Minute)
	times := []time.Time{base, base, base.Add(-time.Hour), base.Add(time.Nanosecond), base.Add(time.Second)}
	prev := ""
	for i, at := range times {
		seq := s.nextSequencer(at)
		if len(seq) != 18 {
			t.Errorf("sequencer %q has %d digits; want 18", seq, len(seq))
		}
		if i > 0 && seq <= prev {
			t.Errorf("sequencer %s after %s; want increasing", seq, prev)
		}
		prev = seq
	}
	// A restarted stack continues above the sequencers it sent before.
	restarted := &Server{}
	if seq := restarted.nextSequencer(time.Now()); seq <= prev {
		t.Errorf("sequencer after restart %s <= %s", seq, prev)
	}
}
