package synclambda_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/synclambda"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	const mb = 1_000_000
	// A Lambda of 900 s with the default 10 s margin, at its start.
	full := 890 * time.Second
	tests := []struct {
		name      string
		e         synclambda.Estimate
		handOff   bool
		predicted time.Duration // 0: not checked
		why       string        // a substring
	}{
		{"no history, small: default rate, runs here",
			synclambda.Estimate{Size: 100 * mb, HasDeadline: true, Left: full, DefaultRate: mb, Safety: 2},
			false, 200 * time.Second, "predicted 200 s <= 890 s left (100,000,000 bytes at 1.00 MB/s, default: no history; ×2)"},
		{"no history, large: handed off",
			synclambda.Estimate{Size: 920 * mb, HasDeadline: true, Left: 840 * time.Second, DefaultRate: mb, Safety: 2},
			true, 1840 * time.Second, "predicted 1,840 s > 840 s left (920,000,000 bytes at 1.00 MB/s, default: no history; ×2)"},
		{"exactly fits: runs here",
			synclambda.Estimate{Size: 445 * mb, HasDeadline: true, Left: full, DefaultRate: mb, Safety: 2},
			false, full, "890 s <= 890 s"},
		{"one byte more than fits: handed off",
			synclambda.Estimate{Size: 445*mb + 1, HasDeadline: true, Left: full, DefaultRate: mb, Safety: 2},
			true, 0, "891 s > 890 s"},
		{"history: the slowest recent rate, not the default",
			synclambda.Estimate{Size: 1000 * mb, HasDeadline: true, Left: full, Rates: []float64{9 * mb, 5 * mb, 7 * mb}, DefaultRate: mb, Safety: 2},
			false, 400 * time.Second, "at 5.00 MB/s, the slowest of the last 3 runs"},
		{"history slower than the default wins too",
			synclambda.Estimate{Size: 300 * mb, HasDeadline: true, Left: full, Rates: []float64{0.25 * mb}, DefaultRate: mb, Safety: 2},
			true, 2400 * time.Second, "at 250.0 kB/s, the slowest of the last 1 runs"},
		{"unusable rates are ignored",
			synclambda.Estimate{Size: 100 * mb, HasDeadline: true, Left: full, Rates: []float64{0, -3, math.NaN(), math.Inf(1)}, DefaultRate: mb, Safety: 2},
			false, 200 * time.Second, "default: no history"},
		{"gzip default: a tenth of the rate",
			synclambda.Estimate{Size: 60 * mb, HasDeadline: true, Left: full, DefaultRate: synclambda.DefaultGzipRate, Safety: 2},
			true, 1200 * time.Second, "at 100.0 kB/s"},
		{"later in the invocation less is left",
			synclambda.Estimate{Size: 100 * mb, HasDeadline: true, Left: 150 * time.Second, DefaultRate: mb, Safety: 2},
			true, 200 * time.Second, "200 s > 150 s left"},
		{"nothing left: even a tiny file goes",
			synclambda.Estimate{Size: 10, HasDeadline: true, Left: -time.Second, DefaultRate: mb, Safety: 2},
			true, 0, "> 0 s left"},
		{"safety below 1 counts as 1",
			synclambda.Estimate{Size: 100 * mb, HasDeadline: true, Left: full, DefaultRate: mb, Safety: 0.5},
			false, 100 * time.Second, "×1"},
		{"no usable rate at all: handed off",
			synclambda.Estimate{Size: 1, HasDeadline: true, Left: full, Safety: 2},
			true, 0, "> 890 s left"},
		{"size unknown: runs here",
			synclambda.Estimate{Size: 0, HasDeadline: true, Left: time.Second, DefaultRate: mb, Safety: 2},
			false, 0, "size unknown"},
		{"no deadline (not in Lambda): runs here",
			synclambda.Estimate{Size: 1 << 40, DefaultRate: mb, Safety: 2},
			false, 0, "no deadline"},
		{"the diff's partitions would not fit in TMPDIR: handed off, whatever the time",
			synclambda.Estimate{Size: 4000 * mb, Scratch: 10_000 * mb, ScratchFree: 9_999 * mb, HasDeadline: true, Left: full, Rates: []float64{100 * mb}, DefaultRate: mb, Safety: 2},
			true, 0, "the diff may need 10,000,000,000 bytes of TMPDIR, 9,999,000,000 are free (4,000,000,000 bytes × 2.5)"},
		{"they fit: the time decides",
			synclambda.Estimate{Size: 4000 * mb, Scratch: 10_000 * mb, ScratchFree: 10_000 * mb, HasDeadline: true, Left: full, Rates: []float64{100 * mb}, DefaultRate: mb, Safety: 2},
			false, 80 * time.Second, "predicted 80 s"},
		{"free space unknown: not checked",
			synclambda.Estimate{Size: 4000 * mb, Scratch: 10_000 * mb, HasDeadline: true, Left: full, Rates: []float64{100 * mb}, DefaultRate: mb, Safety: 2},
			false, 80 * time.Second, "predicted 80 s"},
		{"a runner sync of the entity holds the lock: handed off, however small",
			synclambda.Estimate{Size: 10, HasDeadline: true, Left: full, DefaultRate: mb, Safety: 2, RunnerBusy: true},
			true, 0, "on the ECS runner holds its lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := synclambda.Decide(tt.e)
			if d.HandOff != tt.handOff || tt.predicted != 0 && d.Predicted != tt.predicted || !strings.Contains(d.Why, tt.why) {
				t.Fatalf("Decide(%+v) = %+v; want hand-off %v, predicted %s, why containing %q", tt.e, d, tt.handOff, tt.predicted, tt.why)
			}
		})
	}
}
