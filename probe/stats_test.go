package probe

import (
	"testing"
	"time"

	"github.com/replcheck/replcheck/verifier/convergence"
)

func TestBracket(t *testing.T) {
	ack := time.Unix(1000, 0)
	ms := func(n int) time.Time { return ack.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name          string
		lastMiss, hit time.Time
		lag, res      time.Duration
	}{
		// Found by the first poll: anywhere between the ack and the answer.
		{"first poll", time.Time{}, ms(10), 5 * time.Millisecond, 10 * time.Millisecond},
		// A miss sent at 40 ms, a hit answered at 60 ms: arrived in between.
		{"after a miss", ms(40), ms(60), 50 * time.Millisecond, 20 * time.Millisecond},
		// A miss sent before the ack (a poll racing its own write) does not
		// move the bracket's start.
		{"miss before ack", ack.Add(-time.Second), ms(8), 4 * time.Millisecond, 8 * time.Millisecond},
		// Clocks never run backwards, but an answer at the miss's send time
		// is a zero-width bracket, not a negative one.
		{"degenerate", ms(30), ms(20), 30 * time.Millisecond, 0},
	} {
		lag, res := bracket(ack, tc.lastMiss, tc.hit)
		if lag != tc.lag || res != tc.res {
			t.Errorf("%s: lag %v ± %v, want %v ± %v", tc.name, lag, res, tc.lag, tc.res)
		}
	}
}

func TestLateUsesTheBracketEnd(t *testing.T) {
	ack := time.Unix(1000, 0)
	slo := 2 * time.Second
	if late(ack, ack.Add(slo), slo) {
		t.Error("found exactly at the SLO counted late")
	}
	// A bracket [1.9s, 2.1s] has its midpoint within the SLO but may have
	// missed it: late.
	if !late(ack, ack.Add(2100*time.Millisecond), slo) {
		t.Error("a bracket ending past the SLO is not late")
	}
}

func TestPollInterval(t *testing.T) {
	poll, ceil := 50*time.Millisecond, 9*time.Second
	var got []time.Duration
	age := time.Duration(0)
	for range 10 {
		d := pollInterval(age, poll, ceil)
		got = append(got, d)
		age += d
	}
	want := []time.Duration{1, 1, 2, 4, 8, 16, 32, 50, 50, 50}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("intervals from the write %v, want %v ms", got, want)
		}
	}
	for _, tc := range []struct{ age, want time.Duration }{
		{time.Second, poll},                        // 2% is 20 ms: the steady cadence
		{10 * time.Second, 200 * time.Millisecond}, // 2% of the age
		{time.Hour, ceil},                          // capped
	} {
		if d := pollInterval(tc.age, poll, ceil); d != tc.want {
			t.Errorf("age %v: %v, want %v", tc.age, d, tc.want)
		}
	}
	// A poll longer than the ceiling wins over it.
	if d := pollInterval(time.Hour, 5*time.Second, time.Second); d != 5*time.Second {
		t.Errorf("poll 5s ceil 1s: %v", d)
	}
}

func TestWindowPercentiles(t *testing.T) {
	now := time.Unix(5000, 0)
	w := window{span: time.Minute, limit: 1000}
	if p50, p99, n := w.percentiles(now); n != 0 || p50 != 0 || p99 != 0 {
		t.Fatalf("empty window: %v %v %d", p50, p99, n)
	}
	// Old samples with huge lags, then 100 recent ones of 1..100 ms.
	for i := range 5 {
		w.add(now.Add(-2*time.Minute+time.Duration(i)*time.Second), 500)
	}
	for i := 100; i >= 1; i-- {
		w.add(now.Add(-time.Duration(i)*100*time.Millisecond), float64(i)/1000)
	}
	p50, p99, n := w.percentiles(now)
	if n != 100 || p50 != 0.050 || p99 != 0.099 {
		t.Fatalf("p50 %v p99 %v over %d, want 0.05 and 0.099 over 100 (the old ones pruned)", p50, p99, n)
	}

	// The limit keeps the newest.
	w = window{span: time.Hour, limit: 3}
	for i := range 10 {
		w.add(now, float64(i))
	}
	if _, p99, n := w.percentiles(now); n != 3 || p99 != 9 {
		t.Fatalf("limited window: p99 %v over %d, want 9 over 3", p99, n)
	}
	if w.s[0].lag != 7 {
		t.Fatalf("limited window kept %v, want the last three", w.s)
	}
}

func TestRank(t *testing.T) {
	xs := []float64{1, 2, 3, 4}
	for _, tc := range []struct{ q, want float64 }{{0.5, 2}, {0.75, 3}, {0.99, 4}, {0, 1}, {1, 4}} {
		if got := convergence.NearestRank(xs, tc.q); got != tc.want {
			t.Errorf("rank(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}
