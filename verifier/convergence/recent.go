package convergence

import (
	"slices"
	"time"

	"github.com/replcheck/replcheck/verifier/history"
)

// RecentWindow is how far back RecentLag looks.
const RecentWindow = 5 * time.Second

// recentCap bounds the resolutions kept for RecentLag: beyond it (some
// hundreds of writes a second) the window is summarised from its newest
// writes, which keeps a progress display's call cheap.
const recentCap = 2048

// lagAt is one write that reached its peer: when it was seen there, and
// its lag.
type lagAt struct{ at, lag history.Time }

// RecentLagStats summarises the lag of the writes that reached their
// peers lately.
type RecentLagStats struct {
	Writes int           // writes resolved within the window (at most a couple of thousand are kept)
	Median time.Duration // nearest-rank median of their lags
	Max    time.Duration
}

// RecentLag returns the lag of the writes that reached their peers,
// converged or superseded, within the last RecentWindow (as of Stop,
// once stopped), measured as in Result: the midpoint of the arrival
// bracket less the acknowledgement. It is zero when none did, e.g.
// while a partition holds everything back: Pending tells that story.
// Cheap enough for a progress display to call every second.
func (t *Tracker) RecentLag() RecentLagStats {
	t.mu.Lock()
	now := t.cfg.Clock()
	if t.stopped {
		now = t.stoppedAt
	}
	cutoff := now - history.Time(RecentWindow)
	var lags []history.Time
	for _, r := range t.recent {
		if r.at >= cutoff {
			lags = append(lags, r.lag)
		}
	}
	t.mu.Unlock()
	if len(lags) == 0 {
		return RecentLagStats{}
	}
	slices.Sort(lags)
	return RecentLagStats{Writes: len(lags), Median: time.Duration(NearestRank(lags, 0.5)), Max: time.Duration(lags[len(lags)-1])}
}

// noteLag remembers a resolution for RecentLag, forgetting those older
// than the window (and beyond recentCap). Call with mu held.
func (t *Tracker) noteLag(at, lag history.Time) {
	// Probes resolve in roughly time order, so the stale ones lead.
	cutoff := at - history.Time(RecentWindow)
	drop := 0
	for drop < len(t.recent) && t.recent[drop].at < cutoff {
		drop++
	}
	drop = max(drop, len(t.recent)+1-recentCap)
	// Reslicing forward costs nothing; append copies the live entries
	// to a new array when the old one is used up.
	t.recent = append(t.recent[drop:], lagAt{at, lag})
}
