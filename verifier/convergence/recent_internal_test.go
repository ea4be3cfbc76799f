package convergence

import (
	"testing"
	"time"

	"github.com/replcheck/replcheck/verifier/history"
)

// TestRecentLagBounded feeds more resolutions within the window than are
// kept: the newest are summarised and memory stays bounded.
func TestRecentLagBounded(t *testing.T) {
	now := history.Time(time.Minute)
	tr := &Tracker{cfg: Config{Clock: func() history.Time { return now }}}
	tr.mu.Lock()
	for i := range 3 * recentCap {
		// Lags 1..3·recentCap ms, all seen within the last second.
		tr.noteLag(now-history.Time(time.Second)+history.Time(i), history.Time(time.Duration(i+1)*time.Millisecond))
	}
	kept := len(tr.recent)
	tr.mu.Unlock()
	if kept > recentCap {
		t.Fatalf("%d resolutions kept, want at most %d", kept, recentCap)
	}
	got := tr.RecentLag()
	// The newest recentCap: lags 2·recentCap+1 .. 3·recentCap ms.
	wantMedian := time.Duration(2*recentCap+recentCap/2) * time.Millisecond
	if got.Writes != recentCap || got.Max != 3*recentCap*time.Millisecond || got.Median != wantMedian {
		t.Fatalf("%+v, want %d writes, median %v, max %v", got, recentCap, wantMedian, 3*recentCap*time.Millisecond)
	}
}
