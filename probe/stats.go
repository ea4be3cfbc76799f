package probe

import (
	"slices"
	"time"

	"github.com/replcheck/replcheck/verifier/convergence"
)

// DirStats is where one replication direction stands: canaries written at
// From and looked for at To. Durations are in seconds.
type DirStats struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Written are canary writes From acknowledged; WriteAttempts counts
	// the failed ones too. Skipped ticks wrote nothing because the
	// direction already had MaxOutstanding canaries in flight or pending.
	WriteAttempts int `json:"writeAttempts"`
	Written       int `json:"written"`
	WriteFailures int `json:"writeFailures"`
	Skipped       int `json:"skipped,omitempty"`
	// Converged canaries were seen at To; Late ones of them arrived
	// (the end of their arrival bracket) after the SLO.
	Converged int `json:"converged"`
	Late      int `json:"late"`
	// Pending canaries are acknowledged and not seen at To yet.
	Pending              int     `json:"pending"`
	OldestPendingSeconds float64 `json:"oldestPendingSeconds"`
	// Polls are HEAD requests to To; PollFailures those that got no
	// answer (anything but found or not found).
	Polls        int `json:"polls"`
	PollFailures int `json:"pollFailures"`
	// LastLagSeconds is the latest canary's lag (the midpoint of its
	// arrival bracket minus its acknowledgement) and LastResolutionSeconds
	// the bracket's width: the true lag is within half of it either way.
	LastLagSeconds        float64 `json:"lastLagSeconds"`
	LastResolutionSeconds float64 `json:"lastResolutionSeconds"`
	// P50Seconds and P99Seconds are over the canaries that converged
	// within the window (WindowCount of them); MaxLagSeconds over the run.
	P50Seconds    float64   `json:"p50Seconds"`
	P99Seconds    float64   `json:"p99Seconds"`
	WindowCount   int       `json:"windowCount"`
	MaxLagSeconds float64   `json:"maxLagSeconds"`
	LastSuccess   time.Time `json:"lastSuccess,omitzero"`
	LastError     string    `json:"lastError,omitempty"`

	// pendingAges are the ages of the pending canaries, for Judge.
	pendingAges []float64
}

// Snapshot is the state of both directions at one moment.
type Snapshot struct {
	At             time.Time  `json:"at"`
	ElapsedSeconds float64    `json:"elapsedSeconds"`
	Directions     []DirStats `json:"directions"`
}

// bracket turns one canary's probe times into its lag and the
// resolution of that lag, as verifier/convergence does for every write:
// the canary reached the peer after the later of its acknowledgement and
// the last poll that missed it was sent, and before the answer of the
// poll that found it came back. The lag is the midpoint of that bracket
// minus the acknowledgement.
func bracket(ack, lastMiss, found time.Time) (lag, resolution time.Duration) {
	lo := ack
	if lastMiss.After(lo) {
		lo = lastMiss
	}
	hi := found
	if hi.Before(lo) {
		hi = lo
	}
	return lo.Sub(ack) + hi.Sub(lo)/2, hi.Sub(lo)
}

// late reports whether a canary acknowledged at ack and found at found
// may have missed the SLO: the end of its bracket lies beyond it.
func late(ack, found time.Time, slo time.Duration) bool {
	return found.Sub(ack) > slo
}

// firstPoll is the wait before a canary's first poll.
const firstPoll = time.Millisecond

// pollInterval is how long to wait before polling a canary of the given
// age again. Young canaries are polled at about twice their age (1, 2,
// 4, … ms after the write) until the steady cadence poll, so a fast
// replication is measured to within its own size for a handful of extra
// polls; old ones at 2% of their age (so the lag's relative resolution
// stays near 2%), at most ceil.
func pollInterval(age, poll, ceil time.Duration) time.Duration {
	if age < poll {
		return min(max(age, firstPoll), poll)
	}
	return max(poll, min(age/50, ceil))
}

// sample is one converged canary in the window.
type sample struct {
	at  time.Time
	lag float64
}

// window keeps the lags of the canaries converged in the last span, at
// most limit of them (the oldest go first).
type window struct {
	span  time.Duration
	limit int
	s     []sample
}

func (w *window) add(at time.Time, lag float64) {
	w.s = append(w.s, sample{at, lag})
	if len(w.s) > w.limit {
		w.s = slices.Delete(w.s, 0, len(w.s)-w.limit)
	}
}

// prune drops the samples older than the span.
func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.s) && now.Sub(w.s[i].at) > w.span {
		i++
	}
	if i > 0 {
		w.s = slices.Delete(w.s, 0, i)
	}
}

// percentiles are the window's p50 and p99 (nearest rank) and its size.
func (w *window) percentiles(now time.Time) (p50, p99 float64, n int) {
	w.prune(now)
	if len(w.s) == 0 {
		return 0, 0, 0
	}
	lags := make([]float64, len(w.s))
	for i, s := range w.s {
		lags[i] = s.lag
	}
	slices.Sort(lags)
	return convergence.NearestRank(lags, 0.50), convergence.NearestRank(lags, 0.99), len(lags)
}
