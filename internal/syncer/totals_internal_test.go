package syncer

import (
	"errors"
	"io"
	"math"
	"os"
	"testing"
)

func TestAddInt64(t *testing.T) {
	for _, tc := range []struct {
		a, b     int64
		overflow bool
	}{
		{1, 2, false},
		{math.MaxInt64, 0, false},
		{math.MaxInt64, 1, true},
		{math.MaxInt64, -1, false},
		{math.MinInt64, -1, true},
		{math.MinInt64, 1, false},
		{math.MinInt64, math.MaxInt64, false},
		{-5, -7, false},
	} {
		if s, o := addInt64(tc.a, tc.b); o != tc.overflow || !o && s != tc.a+tc.b {
			t.Errorf("addInt64(%d, %d) = %d, %v", tc.a, tc.b, s, o)
		}
	}
}

// The sums give way to the database's whenever they cannot stand for the
// staged rows, and leave no files.
func TestFirstTotalsGiveWay(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	for _, tc := range []struct {
		name string
		add  func(*firstTotals)
	}{
		{"a total over int64 cents", func(f *firstTotals) { f.add("a", math.MaxInt64); f.add("b", 1); f.add("a", 1) }},
		{"a total under int64 cents", func(f *firstTotals) { f.add("a", math.MinInt64); f.add("a", -1) }},
		{"too many patients in a partition", func(f *firstTotals) {
			for _, id := range []string{"a", "b", "c", "d"} {
				f.add(id, 1)
			}
		}},
		{"a partition file gone", func(f *firstTotals) { f.add("a", 1); _ = os.Remove(f.parts.path(0)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := totalsMaxPatients
			totalsMaxPatients = 3
			defer func() { totalsMaxPatients = old }()
			f, err := newFirstTotals(10)
			if err != nil {
				t.Fatal(err)
			}
			tc.add(f)
			err = f.copyTo(io.Discard)
			f.remove()
			if !errors.Is(err, errTotalsInDB) {
				t.Fatalf("copyTo = %v, want errTotalsInDB", err)
			}
			if left, _ := os.ReadDir(os.Getenv("TMPDIR")); len(left) != 0 {
				t.Fatalf("%d files left", len(left))
			}
		})
	}
}
