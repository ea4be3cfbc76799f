package convergence_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

// TestRecentLag checks RecentLag against the lags the result reports for
// the same writes, and that it forgets writes older than the window. The
// tracker's clock can jump forward, so ageing a write out takes no sleep.
func TestRecentLag(t *testing.T) {
	base := time.Now()
	var jump atomic.Int64
	clock := func() history.Time { return history.Time(time.Since(base)) + history.Time(jump.Load()) }
	a, b := newFake("a"), newFake("b")
	tr, err := convergence.New(convergence.Config{Sites: []string{"a", "b"},
		Probes: map[string]client.Client{"a": a, "b": b}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	tr.Start(context.Background())
	t.Cleanup(func() { tr.Stop() })

	// Progress displays call it while probes resolve writes: the race
	// detector checks the locking.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				tr.RecentLag()
				time.Sleep(time.Millisecond)
			}
		}
	})
	defer func() { close(done); wg.Wait() }()

	if got := tr.RecentLag(); got != (convergence.RecentLagStats{}) {
		t.Fatalf("before any write: %+v, want zero", got)
	}
	n := 0
	write := func(key string) string {
		n++
		id := fmt.Sprintf("op%d", n)
		inv := clock()
		tr.Observe(history.Op{ID: id, Site: "a", Kind: history.Put, Bucket: "b", Key: key, Size: 100,
			Invoke: inv, Complete: clock(), Outcome: history.OK})
		a.set(key, id)
		return id
	}
	await := func(what string, ids ...string) map[string]convergence.Write {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ws := byOp(tr.Snapshot())
			if !slices.ContainsFunc(ids, func(id string) bool { return ws[id].State == convergence.Pending }) {
				return ws
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still pending: %+v", what, ws)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	// want is what RecentLag should say about these writes.
	want := func(ws map[string]convergence.Write, ids ...string) convergence.RecentLagStats {
		var lags []time.Duration
		for _, id := range ids {
			lags = append(lags, time.Duration(math.Round(ws[id].LagSeconds*1e9)))
		}
		slices.Sort(lags)
		return convergence.RecentLagStats{Writes: len(lags), Median: lags[(len(lags)-1)/2], Max: lags[len(lags)-1]}
	}
	same := func(got, want convergence.RecentLagStats) bool {
		near := func(x, y time.Duration) bool { return (x - y).Abs() <= time.Microsecond }
		return got.Writes == want.Writes && near(got.Median, want.Median) && near(got.Max, want.Max)
	}

	// Three writes held back for different (jumped) times before b
	// serves them: three different lags.
	var ids []string
	for i, hold := range []time.Duration{100, 500, 200} {
		key := fmt.Sprintf("k%d", i)
		id := write(key)
		jump.Add(int64(hold * time.Millisecond))
		b.set(key, id)
		ids = append(ids, id)
		await("converged", id)
	}
	ws := byOp(tr.Snapshot())
	w := want(ws, ids...)
	if got := tr.RecentLag(); !same(got, w) {
		t.Fatalf("RecentLag %+v, want %+v from the result's lags", got, w)
	}
	if w.Max <= w.Median {
		t.Fatalf("lags %+v: the writes were held back for different times", w)
	}

	// Past the window they are forgotten.
	jump.Add(int64(convergence.RecentWindow + time.Second))
	if got := tr.RecentLag(); got != (convergence.RecentLagStats{}) {
		t.Fatalf("after the window: %+v, want zero", got)
	}

	// A superseded write counts, with the write that superseded it.
	old := write("s")
	newer := write("s")
	b.set("s", newer)
	ws = await("superseded", old, newer)
	if ws[old].State != convergence.Superseded {
		t.Fatalf("%+v: want superseded", ws[old])
	}
	w = want(ws, old, newer)
	if got := tr.RecentLag(); !same(got, w) {
		t.Fatalf("RecentLag %+v, want %+v", got, w)
	}

	// Once stopped it answers as of the stop.
	tr.Stop()
	jump.Add(int64(time.Hour))
	if got := tr.RecentLag(); !same(got, w) {
		t.Fatalf("after Stop: %+v, want %+v", got, w)
	}
}
