package probe

import (
	"fmt"
	"strings"
	"time"

	"github.com/replcheck/replcheck/internal/human"
)

// Rules are what a go needs.
type Rules struct {
	// SLO bounds every converged canary's lag (the end of its bracket).
	SLO time.Duration
	// MaxPendingAge bounds the age of canaries still pending at the end.
	MaxPendingAge time.Duration
	// MaxFailureRatio bounds, per direction, the share of canary writes
	// that failed and, separately, the share of polls that did.
	MaxFailureRatio float64
}

// Verdict is go or no-go, with the reasons.
type Verdict struct {
	Go      bool     `json:"go"`
	Outcome string   `json:"verdict"` // "go" or "no-go"
	Reasons []string `json:"reasons"`
}

// String is "go: …" or "no-go: …; …".
func (v Verdict) String() string {
	return v.Outcome + ": " + strings.Join(v.Reasons, "; ")
}

// Outcomes.
const (
	OutcomeGo   = "go"
	OutcomeNoGo = "no-go"
)

// Judge applies the rules to each direction's state at the end of a
// probe. It is go when, in every direction, canaries were written, every
// one converged within the SLO, none is still pending (pending canaries
// no older than MaxPendingAge are undecided, which is not a go either),
// and neither the writes' nor the polls' failure share exceeds
// MaxFailureRatio.
func Judge(dirs []DirStats, r Rules) Verdict {
	var why []string
	converged, maxLag := 0, 0.0
	for _, d := range dirs {
		dir := fmt.Sprintf("from %s to %s", d.From, d.To)
		if d.WriteAttempts == 0 {
			why = append(why, "no canary written "+dir)
		}
		if d.Late > 0 {
			why = append(why, fmt.Sprintf("%d of %d canaries %s converged later than the %s SLO (max lag %s)",
				d.Late, d.Converged, dir, r.SLO, human.Seconds(d.MaxLagSeconds)))
		}
		over, oldest := 0, 0.0
		for _, a := range d.pendingAges {
			oldest = max(oldest, a)
			if a > r.MaxPendingAge.Seconds() {
				over++
			}
		}
		switch {
		case over > 0 && over == len(d.pendingAges):
			why = append(why, fmt.Sprintf("%d %s %s still pending, oldest %s > %s",
				over, plural(over, "canary", "canaries"), dir, human.Seconds(oldest), r.MaxPendingAge))
		case over > 0:
			why = append(why, fmt.Sprintf("%d canaries %s still pending, %d of them longer than %s (oldest %s)",
				len(d.pendingAges), dir, over, r.MaxPendingAge, human.Seconds(oldest)))
		case len(d.pendingAges) > 0:
			why = append(why, fmt.Sprintf("%d %s %s still pending (oldest %s): undecided",
				len(d.pendingAges), plural(len(d.pendingAges), "canary", "canaries"), dir, human.Seconds(oldest)))
		}
		if d.WriteFailures > 0 && ratio(d.WriteFailures, d.WriteAttempts) > r.MaxFailureRatio {
			why = append(why, fmt.Sprintf("%d of %d canary writes at %s failed (%s > %s allowed): %s",
				d.WriteFailures, d.WriteAttempts, d.From, pct(ratio(d.WriteFailures, d.WriteAttempts)), pct(r.MaxFailureRatio), d.LastError))
		}
		if d.PollFailures > 0 && ratio(d.PollFailures, d.Polls) > r.MaxFailureRatio {
			why = append(why, fmt.Sprintf("%d of %d polls at %s for canaries from %s failed (%s > %s allowed): %s",
				d.PollFailures, d.Polls, d.To, d.From, pct(ratio(d.PollFailures, d.Polls)), pct(r.MaxFailureRatio), d.LastError))
		}
		converged += d.Converged
		maxLag = max(maxLag, d.MaxLagSeconds)
	}
	if len(dirs) == 0 {
		why = append(why, "no direction probed")
	}
	if len(why) > 0 {
		return Verdict{Outcome: OutcomeNoGo, Reasons: why}
	}
	failed := 0
	for _, d := range dirs {
		failed += d.WriteFailures + d.PollFailures
	}
	reason := fmt.Sprintf("all %d canaries converged within the %s SLO both ways (max lag %s), none pending", converged, r.SLO, human.Seconds(maxLag))
	if failed > 0 {
		reason += fmt.Sprintf(", %d failed requests (within %s)", failed, pct(r.MaxFailureRatio))
	}
	return Verdict{Go: true, Outcome: OutcomeGo, Reasons: []string{reason}}
}

func ratio(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func pct(r float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", 100*r), "0"), ".0") + "%"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
