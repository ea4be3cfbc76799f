package probe

import (
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	rules := Rules{SLO: 15 * time.Minute, MaxPendingAge: 5 * time.Second, MaxFailureRatio: 0.01}
	healthy := func(from, to string) DirStats {
		return DirStats{From: from, To: to, WriteAttempts: 100, Written: 100, Converged: 100, Polls: 400, MaxLagSeconds: 0.012}
	}
	ab, ba := healthy("a", "b"), healthy("b", "a")

	for _, tc := range []struct {
		name  string
		edit  func(ab, ba *DirStats)
		go_   bool
		wants []string
	}{
		{"healthy", func(ab, ba *DirStats) {}, true,
			[]string{"all 200 canaries converged within the 15m0s SLO both ways (max lag 12ms), none pending"}},
		{"failures within the share", func(ab, ba *DirStats) { ab.WriteFailures, ab.WriteAttempts = 1, 101 }, true,
			[]string{"1 failed requests (within 1%)"}},
		{"late", func(ab, ba *DirStats) { ab.Late, ab.MaxLagSeconds = 3, 1000 }, false,
			[]string{"3 of 100 canaries from a to b converged later than the 15m0s SLO (max lag 16m40s)"}},
		{"stalled", func(ab, ba *DirStats) {
			ab.pendingAges = []float64{9.8, 9.6, 9.4, 9.2, 9, 8.8, 8.6, 8.4, 8.2, 8, 7.8, 7.6}
		}, false, []string{"12 canaries from a to b still pending, oldest 9.8s > 5s"}},
		{"stalled, with younger ones", func(ab, ba *DirStats) { ab.pendingAges = []float64{7.99, 6.9, 4.2, 0.1} }, false,
			[]string{"4 canaries from a to b still pending, 2 of them longer than 5s (oldest 7.99s)"}},
		{"one stalled", func(ab, ba *DirStats) { ba.pendingAges = []float64{6} }, false,
			[]string{"1 canary from b to a still pending, oldest 6s > 5s"}},
		{"young pending is undecided", func(ab, ba *DirStats) { ab.pendingAges = []float64{0.5, 0.1} }, false,
			[]string{"2 canaries from a to b still pending (oldest 500ms): undecided"}},
		{"writes fail", func(ab, ba *DirStats) {
			ab.WriteAttempts, ab.WriteFailures, ab.LastError = 100, 20, "s3 put: connection refused"
		}, false, []string{"20 of 100 canary writes at a failed (20% > 1% allowed): s3 put: connection refused"}},
		{"polls fail", func(ab, ba *DirStats) { ab.Polls, ab.PollFailures, ab.LastError = 400, 40, "503 SlowDown" }, false,
			[]string{"40 of 400 polls at b for canaries from a failed (10% > 1% allowed): 503 SlowDown"}},
		{"nothing written", func(ab, ba *DirStats) { *ba = DirStats{From: "b", To: "a"} }, false,
			[]string{"no canary written from b to a"}},
		{"two reasons", func(ab, ba *DirStats) { ab.Late = 1; ba.pendingAges = []float64{60} }, false,
			[]string{"from a to b converged later", "1 canary from b to a still pending, oldest 1m0s > 5s"}},
	} {
		a, b := ab, ba
		tc.edit(&a, &b)
		v := Judge([]DirStats{a, b}, rules)
		if v.Go != tc.go_ || (v.Outcome == OutcomeGo) != tc.go_ {
			t.Errorf("%s: %s, want go=%v", tc.name, v, tc.go_)
		}
		for _, w := range tc.wants {
			if !strings.Contains(v.String(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, v, w)
			}
		}
		if !tc.go_ && !strings.HasPrefix(v.String(), "no-go: ") {
			t.Errorf("%s: %q", tc.name, v)
		}
	}
	if v := Judge(nil, rules); v.Go {
		t.Errorf("no directions: %s", v)
	}
}

func TestPct(t *testing.T) {
	for r, want := range map[float64]string{0.01: "1%", 0.125: "12.5%", 1: "100%", 0: "0%", 0.3333: "33.33%"} {
		if got := pct(r); got != want {
			t.Errorf("pct(%v) = %q, want %q", r, got, want)
		}
	}
}
