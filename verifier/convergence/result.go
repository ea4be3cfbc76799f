package convergence

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/replcheck/replcheck/verifier/history"
)

// State is where a tracked write stands.
type State string

// States of a tracked write.
const (
	// Converged: the peer served the write itself.
	Converged State = "converged"
	// Superseded: the peer served a later write of the key (or lost the
	// write to a concurrent one, see Write.Concurrent) before this one
	// was seen there.
	Superseded State = "superseded"
	// Pending: not seen at the peer yet.
	Pending State = "pending"
)

// Outcome is a verdict on the SLO.
type Outcome string

// Outcomes. Undecided is never a pass: it says the evidence so far cannot
// tell.
const (
	Pass      Outcome = "pass"
	Fail      Outcome = "fail"
	Undecided Outcome = "undecided"
)

// maxBreaches bounds the breaches a verdict lists; Verdict.BreachCount
// has them all.
const maxBreaches = 1000

// Result is what the tracker measured. Durations are in seconds; times
// (At, Ack, T) are history offsets in nanoseconds, like history.jsonl's.
type Result struct {
	SLOSeconds              float64 `json:"sloSeconds"`
	ClockUncertaintySeconds float64 `json:"clockUncertaintySeconds"`
	// TargetResolution is Config.Resolution: probe intervals aim at this
	// share of a write's age.
	TargetResolution float64 `json:"targetResolution"`
	// At is when the result was taken (Stop, or Snapshot).
	At      history.Time `json:"at"`
	Verdict Verdict      `json:"verdict"`
	// Overall sums every direction; Directions has one entry per ordered
	// pair of sites that had writes, sorted.
	Overall    Summary     `json:"overall"`
	Directions []Direction `json:"directions"`
	// Skipped counts completed operations not tracked, by reason: copy
	// and meta (their objects carry the source's operation id, so what a
	// peer serves cannot be attributed to them), failed, unknown (in
	// doubt), unknown-site (a site not in Config.Sites).
	Skipped map[string]int `json:"skipped,omitempty"`
	// Series samples pending writes and bytes over time, at most every
	// 100 ms and when they change; long runs are thinned to at most 1000
	// points.
	Series []Sample `json:"series"`
	// Writes has one entry per tracked write and peer, in the order
	// they were acknowledged (as Observe saw them).
	Writes []Write `json:"writes"`
}

// Verdict judges the lags against the SLO.
type Verdict struct {
	// Outcome is fail when a lag certainly exceeds the SLO (the arrival
	// bracket starts after it) or a write has been pending longer than
	// the SLO; undecided when writes are still pending but none that
	// long, when a bracket straddles the SLO, or when there were no
	// writes to measure; pass only when every tracked write reached its
	// peer within the SLO.
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	// Breaches are the writes that certainly missed the SLO (at most
	// 1000), in acknowledgement order; BreachCount counts them all.
	Breaches    []Breach `json:"breaches,omitempty"`
	BreachCount int      `json:"breachCount,omitempty"`
}

// Breach is a write that missed the SLO.
type Breach struct {
	Op     string `json:"op"`
	Origin string `json:"origin"`
	Peer   string `json:"peer"`
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	State  State  `json:"state"`
	// LagSeconds is the measured lag; for a pending write, how long it
	// had been pending when the result was taken.
	LagSeconds float64 `json:"lagSeconds"`
}

// Direction is the summary of the writes from one site to another.
type Direction struct {
	From string `json:"from"`
	To   string `json:"to"`
	Summary
}

// Summary is the RTC-style account of a set of tracked writes.
type Summary struct {
	Writes     int `json:"writes"`
	Converged  int `json:"converged"`
	Superseded int `json:"superseded"`
	Pending    int `json:"pending"`
	// Bytes are the sizes of the tracked writes (deletes count 0);
	// PendingBytes of those still pending.
	Bytes        int64 `json:"bytes"`
	PendingBytes int64 `json:"pendingBytes"`
	// Lag covers converged and superseded writes; nil when there are none.
	Lag *Percentiles `json:"lag,omitempty"`
	// MeanResolutionSeconds and MaxResolutionSeconds are of the arrival
	// brackets of those writes.
	MeanResolutionSeconds float64 `json:"meanResolutionSeconds"`
	MaxResolutionSeconds  float64 `json:"maxResolutionSeconds"`
	// WithinSLO is the share of the writes whose whole arrival bracket
	// lies within the SLO; pending writes count against it.
	WithinSLO float64 `json:"withinSlo"`
	// OldestPendingSeconds is the age of the oldest pending write.
	OldestPendingSeconds float64 `json:"oldestPendingSeconds"`
	// Probes are HEAD requests sent to the receiving site (for a
	// direction: to its To site, whose probes also serve writes from any
	// other site); ProbeFailures those that got no answer (errors other
	// than not found).
	Probes        int `json:"probes"`
	ProbeFailures int `json:"probeFailures"`
	// LastProbeError is the latest failure's error, for a direction (the
	// overall summary leaves it out).
	LastProbeError string `json:"lastProbeError,omitempty"`
	// Fit is lag against size over the converged writes.
	Fit Fit `json:"fit"`
}

// Percentiles of lag, in seconds (nearest rank).
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Fit is the least-squares line lag = intercept + size / bandwidth over
// converged writes (superseded ones are left out: their lag is another
// write's). OK is false, with Reason, when there are fewer than two
// distinct sizes or the slope is not positive.
type Fit struct {
	OK            bool   `json:"ok"`
	Reason        string `json:"reason,omitempty"`
	Points        int    `json:"points"`
	DistinctSizes int    `json:"distinctSizes"`
	// InterceptSeconds is the lag of an empty object.
	InterceptSeconds float64 `json:"interceptSeconds"`
	// BandwidthBytesPerSecond is the effective replication bandwidth.
	BandwidthBytesPerSecond float64 `json:"bandwidthBytesPerSecond"`
	// SLOSizeBytes is the object size at which the fitted lag reaches
	// the SLO; 0 when the intercept alone exceeds it.
	SLOSizeBytes float64 `json:"sloSizeBytes"`
	// R2 is the coefficient of determination of the fit.
	R2 float64 `json:"r2"`
}

// Write is one tracked write at one peer.
type Write struct {
	Op     string       `json:"op"`
	Origin string       `json:"origin"`
	Peer   string       `json:"peer"`
	Bucket string       `json:"bucket"`
	Key    string       `json:"key"`
	Kind   history.Kind `json:"kind"`
	Size   int64        `json:"size"`
	SSE    string       `json:"sse,omitempty"`
	// Ack is the write's completion, the start of its lag.
	Ack   history.Time `json:"ack"`
	State State        `json:"state"`
	// By names the write whose value the peer served instead, for a
	// superseded write; Concurrent says By did not begin after this write
	// completed (it won a conflict at both sites rather than replacing
	// this write).
	By         string `json:"by,omitempty"`
	Concurrent bool   `json:"concurrent,omitempty"`
	// LagSeconds is the midpoint of the arrival bracket minus Ack;
	// ResolutionSeconds the bracket's width (the true lag is within half
	// of it either way). Zero for pending writes.
	LagSeconds        float64 `json:"lagSeconds"`
	ResolutionSeconds float64 `json:"resolutionSeconds"`
	// PendingSeconds is, for a pending write, how long it had been
	// pending when the result was taken.
	PendingSeconds float64 `json:"pendingSeconds,omitempty"`
	// Probes counts the probes that looked at the key for this write.
	Probes int `json:"probes"`
}

// Sample is a point of the pending time series.
type Sample struct {
	T     history.Time `json:"t"`
	Ops   int          `json:"ops"`
	Bytes int64        `json:"bytes"`
}

// series is the pending time series, bounded by thinning.
type series struct {
	pts   []Sample
	every history.Time // the least spacing kept; doubles on each thinning
}

const (
	maxSamples = 1000
	// keepAlive repeats an unchanged value now and then, so a plot of a
	// quiet stretch still has points.
	keepAlive = history.Time(10 * time.Second)
)

// add records a sample; force records it even if unchanged or too soon.
func (s *series) add(at history.Time, ops int, bytes int64, force bool) {
	if n := len(s.pts); n > 0 {
		last := s.pts[n-1]
		same := last.Ops == ops && last.Bytes == bytes
		if at <= last.T || (!force && (same && at-last.T < keepAlive || at-last.T < s.every)) {
			return
		}
	}
	s.pts = append(s.pts, Sample{T: at, Ops: ops, Bytes: bytes})
	if len(s.pts) > maxSamples {
		// Keep every other point and the last, and sample half as often.
		last, n := s.pts[len(s.pts)-1], 0
		for i := 0; i < len(s.pts); i += 2 {
			s.pts[n] = s.pts[i]
			n++
		}
		if s.pts[n-1] != last {
			s.pts[n] = last
			n++
		}
		s.pts = s.pts[:n]
		s.every = max(2*s.every, history.Time(2*sampleEvery))
	}
}

// seconds converts history time to seconds.
func seconds(d history.Time) float64 { return time.Duration(d).Seconds() }

// result builds the result as of now. Call with mu held.
func (t *Tracker) result(now history.Time) Result {
	slo := history.Time(t.cfg.SLO)
	r := Result{SLOSeconds: t.cfg.SLO.Seconds(), ClockUncertaintySeconds: t.cfg.ClockUncertainty.Seconds(),
		TargetResolution: t.cfg.Resolution, At: now, Writes: make([]Write, 0, len(t.order)),
		Series: slices.Clone(t.series.pts)}
	if len(t.skipped) > 0 {
		r.Skipped = map[string]int{}
		for k, v := range t.skipped {
			r.Skipped[k] = v
		}
	}
	if n := len(r.Series); n == 0 || r.Series[n-1].T < now {
		r.Series = append(r.Series, Sample{T: now, Ops: t.pendOps, Bytes: t.pendBytes})
	}

	var straddle, pending int
	var oldest history.Time
	for _, w := range t.order {
		out := Write{Op: w.op.id, Origin: w.op.site, Peer: w.peer, Bucket: w.op.key.bucket, Key: w.op.key.key,
			Kind: w.op.kind, Size: w.size, SSE: w.sse, Ack: w.ack(), State: w.state, Probes: w.probes}
		if w.by != nil {
			out.By, out.Concurrent = w.by.id, w.concurrent
		}
		var breach bool
		if w.state == Pending {
			age := max(0, now-w.ack())
			out.PendingSeconds = seconds(age)
			breach = age > slo
			pending++
			oldest = max(oldest, age)
		} else {
			out.LagSeconds = seconds((w.lo+w.hi)/2 - w.ack())
			out.ResolutionSeconds = seconds(w.hi - w.lo)
			breach = w.lo-w.ack() > slo
			if !breach && w.hi-w.ack() > slo {
				straddle++
			}
		}
		r.Writes = append(r.Writes, out)
		if breach {
			r.Verdict.BreachCount++
			if len(r.Verdict.Breaches) < maxBreaches {
				lag := out.LagSeconds
				if w.state == Pending {
					lag = out.PendingSeconds
				}
				r.Verdict.Breaches = append(r.Verdict.Breaches, Breach{Op: out.Op, Origin: out.Origin, Peer: out.Peer,
					Bucket: out.Bucket, Key: out.Key, State: out.State, LagSeconds: lag})
			}
		}
	}
	dirs := map[[2]string][]*Write{}
	all := make([]*Write, len(r.Writes))
	for i := range r.Writes {
		w := &r.Writes[i]
		k := [2]string{w.Origin, w.Peer}
		dirs[k] = append(dirs[k], w)
		all[i] = w
	}
	r.Overall = summarize(all, now, slo)
	for _, s := range t.sites {
		r.Overall.Probes += s.probes
		r.Overall.ProbeFailures += s.failures
	}
	for k, ws := range dirs {
		d := Direction{From: k[0], To: k[1], Summary: summarize(ws, now, slo)}
		to := t.sites[k[1]]
		d.Probes, d.ProbeFailures, d.LastProbeError = to.probes, to.failures, to.lastErr
		r.Directions = append(r.Directions, d)
	}
	sort.Slice(r.Directions, func(i, j int) bool {
		a, b := r.Directions[i], r.Directions[j]
		return a.From < b.From || a.From == b.From && a.To < b.To
	})

	v := &r.Verdict
	switch {
	case v.BreachCount > 0:
		v.Outcome = Fail
		v.Reason = fmt.Sprintf("%d of %d writes missed the %v SLO", v.BreachCount, len(t.order), t.cfg.SLO)
	case len(t.order) == 0:
		v.Outcome, v.Reason = Undecided, "no acknowledged writes to measure"
	case pending > 0:
		v.Outcome = Undecided
		v.Reason = fmt.Sprintf("%d writes still pending, the oldest for %v, within the %v SLO so far",
			pending, time.Duration(oldest).Round(time.Millisecond), t.cfg.SLO)
	case straddle > 0:
		v.Outcome = Undecided
		v.Reason = fmt.Sprintf("%d writes arrived around the %v SLO, closer to it than the probes could tell", straddle, t.cfg.SLO)
	default:
		v.Outcome = Pass
		v.Reason = fmt.Sprintf("all %d writes reached their peers within the %v SLO", len(t.order), t.cfg.SLO)
	}
	return r
}

// summarize accounts for ws as of now.
func summarize(ws []*Write, now, slo history.Time) Summary {
	var s Summary
	var lags []float64
	var sumRes float64
	var within int
	var xs, ys []float64
	for _, w := range ws {
		s.Writes++
		s.Bytes += w.Size
		switch w.State {
		case Pending:
			s.Pending++
			s.PendingBytes += w.Size
			s.OldestPendingSeconds = max(s.OldestPendingSeconds, seconds(now-w.Ack))
			continue
		case Converged:
			s.Converged++
			if w.Kind != history.Delete {
				xs, ys = append(xs, float64(w.Size)), append(ys, w.LagSeconds)
			}
		case Superseded:
			s.Superseded++
		}
		lags = append(lags, w.LagSeconds)
		sumRes += w.ResolutionSeconds
		s.MaxResolutionSeconds = max(s.MaxResolutionSeconds, w.ResolutionSeconds)
		if w.LagSeconds+w.ResolutionSeconds/2 <= seconds(slo) {
			within++
		}
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		s.Lag = &Percentiles{P50: NearestRank(lags, 0.5), P90: NearestRank(lags, 0.9), P99: NearestRank(lags, 0.99),
			P999: NearestRank(lags, 0.999), Max: lags[len(lags)-1]}
		s.MeanResolutionSeconds = sumRes / float64(len(lags))
	}
	if s.Writes > 0 {
		s.WithinSLO = float64(within) / float64(s.Writes)
	}
	s.Fit = fit(xs, ys, seconds(slo))
	return s
}

// NearestRank is the nearest-rank q-quantile of sorted, which must not
// be empty: the lag percentiles here, of RecentLag and of the probe.
func NearestRank[T cmp.Ordered](sorted []T, q float64) T {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// fit fits lag = a + size/bandwidth to the points (size, lag) by least
// squares.
func fit(sizes, lags []float64, slo float64) Fit {
	f := Fit{Points: len(sizes)}
	distinct := map[float64]bool{}
	for _, x := range sizes {
		distinct[x] = true
	}
	f.DistinctSizes = len(distinct)
	if f.DistinctSizes < 2 {
		f.Reason = fmt.Sprintf("%d distinct object sizes among converged writes; a fit needs two", f.DistinctSizes)
		return f
	}
	n := float64(len(sizes))
	var mx, my float64
	for i := range sizes {
		mx += sizes[i]
		my += lags[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy, syy float64
	for i := range sizes {
		dx, dy := sizes[i]-mx, lags[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	slope := sxy / sxx
	if !(slope > 0) {
		f.Reason = fmt.Sprintf("lag does not grow with size (slope %.3g s/byte): the sizes do not limit replication here", slope)
		return f
	}
	f.OK = true
	f.InterceptSeconds = my - slope*mx
	f.BandwidthBytesPerSecond = 1 / slope
	f.SLOSizeBytes = max(0, (slo-f.InterceptSeconds)/slope)
	if syy > 0 {
		f.R2 = sxy * sxy / (sxx * syy)
	}
	return f
}
