package hlc_test

import (
	"sync"
	"testing"
	"time"

	"github.com/replcheck/replcheck/engine/hlc"
)

func TestMonotonicWhenWallClockStalls(t *testing.T) {
	fixed := time.UnixMilli(1_700_000_000_000)
	c := hlc.NewClock(func() time.Time { return fixed })
	a, b := c.Now(), c.Now()
	if b <= a || b.Millis() != a.Millis() || b.Logical() != a.Logical()+1 {
		t.Fatalf("a=%v b=%v", a, b)
	}
	// The wall clock going back never takes the clock back.
	fixed = fixed.Add(-time.Hour)
	if d := c.Now(); d <= b {
		t.Fatalf("went back: %v after %v", d, b)
	}
}

func TestObserveOrdersCausally(t *testing.T) {
	// Site B's wall clock lags A's by ten seconds; a write B makes after
	// seeing A's must still be ordered after it.
	base := time.UnixMilli(1_700_000_000_000)
	a := hlc.NewClock(func() time.Time { return base })
	b := hlc.NewClock(func() time.Time { return base.Add(-10 * time.Second) })
	ta := a.Now()
	b.Observe(ta)
	if tb := b.Now(); tb <= ta {
		t.Fatalf("causal write ordered before its cause: %v <= %v", tb, ta)
	}
	// A wall clock ignores what it observes: the lagging site stamps its
	// later write earlier (why LWW on wall clocks loses writes).
	c := hlc.NewWallClock(func() time.Time { return base.Add(-10 * time.Second) })
	c.Observe(ta)
	if tc := c.Now(); tc >= ta {
		t.Fatalf("wall clock's later write %v not before %v", tc, ta)
	}
}

func TestConcurrentUnique(t *testing.T) {
	c := hlc.NewClock(nil)
	var mu sync.Mutex
	seen := map[hlc.Timestamp]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				ts := c.Now()
				mu.Lock()
				if seen[ts] {
					t.Errorf("duplicate %v", ts)
				}
				seen[ts] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestString(t *testing.T) {
	ts := hlc.New(1_700_000_000_123, 7)
	if got := ts.String(); got != "2023-11-14T22:13:20.123Z+7" {
		t.Fatalf("String = %q", got)
	}
}
