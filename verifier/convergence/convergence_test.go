package convergence_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

// TestLagAccuracy compares every measured lag with the engine's ground
// truth (when the peer applied the write) under WAN latency. Probes reach
// the sites directly on loopback; only replication crosses the WAN.
func TestLagAccuracy(t *testing.T) {
	for _, latency := range []time.Duration{60 * time.Millisecond, 250 * time.Millisecond} {
		t.Run(latency.String(), func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				a := measureAccuracy(t, latency, 40)
				o := a.res.Overall
				t.Logf("latency %v: %d writes, lag p50 %s max %s; error worst %s mean %s; resolution mean %s max %s; %d probes",
					latency, len(a.res.Writes), ms(o.Lag.P50), ms(o.Lag.Max), ms(a.worst), ms(a.mean),
					ms(o.MeanResolutionSeconds), ms(o.MaxResolutionSeconds), o.Probes)
				for _, d := range a.dishonest {
					t.Error(d) // never excused: the bracket must hold the truth
				}
				if len(a.inaccurate) == 0 || t.Failed() {
					break
				}
				// A process starved of CPU (other packages' tests, the race
				// detector) probes late; the brackets say so, and are
				// honest, but are wider than the tolerance. Measure again,
				// up to three times in all.
				if attempt == 3 {
					for _, m := range a.inaccurate {
						t.Error(m)
					}
					break
				}
				t.Logf("longest stall of the test process %v; %d writes measured too coarsely, again:\n%s",
					a.stall.Round(time.Millisecond), len(a.inaccurate), strings.Join(a.inaccurate, "\n"))
			}
		})
	}
}

// accuracy is how well one run's lags matched the ground truth.
type accuracy struct {
	res         convergence.Result
	worst, mean float64 // |measured - true|, seconds
	worstRel    float64 // the largest |measured - true| / true
	// inaccurate are writes off by more than max(10 ms, 5%); dishonest
	// ones whose bracket does not hold the true lag.
	inaccurate, dishonest []string
	stall                 time.Duration // the longest the test process was not scheduled
}

// measureAccuracy writes n objects at a with the given latency a→b and
// compares each measured lag with the engine's.
func measureAccuracy(t testing.TB, latency time.Duration, n int) accuracy {
	e := setup(t)
	if err := e.link(t, e.a, e.b).SetLatency(latency, 0); err != nil {
		t.Fatal(err)
	}
	var a accuracy
	stop := make(chan struct{})
	stalls := make(chan time.Duration)
	go func() { // how late a 5 ms sleep wakes: a measure of CPU starvation
		var worst time.Duration
		for {
			select {
			case <-stop:
				stalls <- worst
				return
			default:
			}
			t0 := time.Now()
			time.Sleep(5 * time.Millisecond)
			worst = max(worst, time.Since(t0)-5*time.Millisecond)
		}
	}()
	// A budget for the test's load: each write in flight costs about one
	// probe per 2% of its age.
	tr := e.tracker(t, convergence.Config{MaxRate: 4000, MaxInFlight: 8})
	for i := range n {
		e.put(t, e.a, fmt.Sprintf("acc/%02d", i), 1<<10, client.PutOptions{})
		time.Sleep(latency / 2) // a few writes in flight at a time, as a steady load has
	}
	wait(t, tr, 30*time.Second)
	a.res = tr.Stop()
	close(stop)
	a.stall = <-stalls
	if len(a.res.Writes) != n {
		t.Fatalf("%d writes tracked, want %d", len(a.res.Writes), n)
	}
	if a.res.Verdict.Outcome != convergence.Pass {
		t.Errorf("verdict %+v", a.res.Verdict)
	}
	for _, w := range a.res.Writes {
		if w.State != convergence.Converged {
			t.Errorf("%s: %s", w.Op, w.State)
			continue
		}
		truth := e.trueLag(t, w).Seconds()
		// The shipper may start before the client has read its ack, so a
		// lag can be a little under the one-way latency.
		if truth < 0.9*latency.Seconds() {
			t.Errorf("%s: true lag %s, well under the WAN latency: the ground truth is not what the test thinks", w.Op, ms(truth))
		}
		miss := math.Abs(w.LagSeconds - truth)
		a.mean += miss / float64(n)
		a.worst = max(a.worst, miss)
		a.worstRel = max(a.worstRel, miss/truth)
		what := fmt.Sprintf("%s: measured %s ±%s, true %s: off by %s", w.Op,
			ms(w.LagSeconds), ms(w.ResolutionSeconds/2), ms(truth), ms(miss))
		// 1 ms of slack: the receiver notes the time just after the
		// version becomes visible, and later still when the process was
		// not scheduled in between, so a truth past the bracket is
		// excused by as much as the longest stall.
		slack := 0.001
		if truth > w.LagSeconds {
			slack += a.stall.Seconds()
		}
		if miss > w.ResolutionSeconds/2+slack {
			a.dishonest = append(a.dishonest, what+", outside its own bracket")
		}
		if tol := max(0.010, 0.05*truth); miss > tol {
			a.inaccurate = append(a.inaccurate, fmt.Sprintf("%s (tolerance %s)", what, ms(tol)))
		}
	}
	return a
}

// TestPartitionThenHeal: writes made during a partition stay pending (a
// tracker stopped then says undecided), and converge after the heal; the
// pending series rises and falls back to zero.
func TestPartitionThenHeal(t *testing.T) {
	e := setup(t)
	ab := e.link(t, e.a, e.b)
	if err := ab.Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	early := e.tracker(t, convergence.Config{})
	tr := e.tracker(t, convergence.Config{})
	const n, size = 20, 4 << 10
	for i := range n {
		e.put(t, e.a, fmt.Sprintf("part/%02d", i), size, client.PutOptions{})
	}
	time.Sleep(300 * time.Millisecond) // long enough for probes to miss and the series to sample
	if ops, bytes := tr.Pending(); ops != n || bytes != n*size {
		t.Fatalf("pending during the partition: %d ops, %d bytes; want %d, %d", ops, bytes, n, n*size)
	}
	r := early.Stop()
	if r.Verdict.Outcome != convergence.Undecided || r.Overall.Pending != n {
		t.Fatalf("stopped during the partition: %+v, %d pending", r.Verdict, r.Overall.Pending)
	}
	if snap := tr.Snapshot(); snap.Verdict.Outcome != convergence.Undecided {
		t.Fatalf("snapshot during the partition: %+v", snap.Verdict)
	}
	healed := e.hist.Now()
	if err := ab.Heal(); err != nil {
		t.Fatal(err)
	}
	wait(t, tr, 20*time.Second)
	res := tr.Stop()
	if res.Verdict.Outcome != convergence.Pass || res.Overall.Converged != n {
		t.Fatalf("after heal: %+v, %d converged", res.Verdict, res.Overall.Converged)
	}
	for _, w := range res.Writes {
		if lo := w.LagSeconds + w.ResolutionSeconds/2; lo < (healed - w.Ack).Duration().Seconds() {
			t.Errorf("%s arrived %s after its ack, before the heal %s after it", w.Op, ms(lo), ms((healed - w.Ack).Duration().Seconds()))
		}
	}
	// The series rises to n with n×size bytes, then falls to 0.
	peak := -1
	for i, s := range res.Series {
		if s.Ops == n && s.Bytes == n*size && peak < 0 {
			peak = i
		}
	}
	last := res.Series[len(res.Series)-1]
	if peak < 0 || res.Series[0].Ops != 0 || last.Ops != 0 || last.Bytes != 0 {
		t.Fatalf("series %v: want 0 … %d … 0", res.Series, n)
	}
	t.Logf("series: %d points; lag p50 %s max %s", len(res.Series), ms(res.Overall.Lag.P50), ms(res.Overall.Lag.Max))
}

// TestDeletesSupersedingAndSSEC covers what is not a plain put: deletes
// (probed over Swift here), writes replaced before they arrived, SSE-C
// objects, and writes that lose a conflict to a concurrent one.
func TestDeletesSupersedingAndSSEC(t *testing.T) {
	t.Run("delete", func(t *testing.T) {
		e := setup(t)
		sw := map[string]client.Client{}
		for _, s := range []harness.Site{e.a, e.b} {
			c, err := client.NewSwift(s, true, client.WithTransport(e.rt))
			if err != nil {
				t.Fatal(err)
			}
			sw[s.Name()] = c
		}
		tr := e.tracker(t, convergence.Config{Probes: sw})
		put := e.put(t, e.a, "del", 100, client.PutOptions{})
		wait(t, tr, 10*time.Second)
		ab := e.link(t, e.a, e.b)
		if err := ab.Partition(wan.Refuse); err != nil {
			t.Fatal(err)
		}
		del := e.del(t, e.a, "del")
		time.Sleep(100 * time.Millisecond)
		if ops, _ := tr.Pending(); ops != 1 {
			t.Fatalf("the delete is not pending while the peer still serves the object (%d pending)", ops)
		}
		if err := ab.Heal(); err != nil {
			t.Fatal(err)
		}
		wait(t, tr, 10*time.Second)
		res := tr.Stop()
		ws := byOp(res)
		if ws[put].State != convergence.Converged || ws[del].State != convergence.Converged || ws[del].Kind != history.Delete {
			t.Fatalf("put %+v\ndelete %+v", ws[put], ws[del])
		}
		if ws[del].LagSeconds < 0.1 {
			t.Errorf("delete lag %s, but it was held 100 ms by the partition", ms(ws[del].LagSeconds))
		}
		if res.Overall.ProbeFailures != 0 {
			t.Errorf("%d probe failures", res.Overall.ProbeFailures)
		}
	})

	t.Run("superseded", func(t *testing.T) {
		e := setup(t)
		tr := e.tracker(t, convergence.Config{ClockUncertainty: time.Millisecond})
		p1 := e.put(t, e.a, "p", 10, client.PutOptions{})
		wait(t, tr, 10*time.Second)
		ab := e.link(t, e.a, e.b)
		if err := ab.Partition(wan.Refuse); err != nil {
			t.Fatal(err)
		}
		v1 := e.put(t, e.a, "s", 10, client.PutOptions{})
		time.Sleep(5 * time.Millisecond) // beyond the clock uncertainty
		v2 := e.put(t, e.a, "s", 20, client.PutOptions{})
		p2 := e.put(t, e.a, "p", 30, client.PutOptions{})
		time.Sleep(5 * time.Millisecond)
		pd := e.del(t, e.a, "p")
		time.Sleep(100 * time.Millisecond)
		if ops, _ := tr.Pending(); ops != 4 {
			t.Fatalf("%d pending during the partition, want 4 (v1, v2, p2 and the delete)", ops)
		}
		if err := ab.Heal(); err != nil {
			t.Fatal(err)
		}
		wait(t, tr, 10*time.Second)
		ws := byOp(tr.Stop())
		check := func(id string, st convergence.State, by string) {
			t.Helper()
			if w := ws[id]; w.State != st || w.By != by || w.Concurrent {
				t.Errorf("%s: %+v; want %s by %q", id, w, st, by)
			}
		}
		check(p1, convergence.Converged, "")
		check(v1, convergence.Superseded, v2)
		check(v2, convergence.Converged, "")
		check(p2, convergence.Superseded, pd)
		check(pd, convergence.Converged, "")
	})

	t.Run("sse-c", func(t *testing.T) {
		e := setup(t)
		key := client.SSE{Mode: client.SSEC, Key: []byte("0123456789abcdef0123456789abcdef")}
		tr := e.tracker(t, convergence.Config{SSEC: key})
		enc := e.put(t, e.a, "x", 1000, client.PutOptions{SSE: key})
		wait(t, tr, 10*time.Second)
		// Then plain over encrypted, and encrypted over plain, from the
		// other side: each probe must find the right way to HEAD.
		plain := e.put(t, e.b, "x", 2000, client.PutOptions{})
		wait(t, tr, 10*time.Second)
		enc2 := e.put(t, e.a, "x", 3000, client.PutOptions{SSE: key})
		wait(t, tr, 10*time.Second)
		res := tr.Stop()
		ws := byOp(res)
		for _, id := range []string{enc, plain, enc2} {
			if ws[id].State != convergence.Converged {
				t.Errorf("%s: %+v", id, ws[id])
			}
		}
		if ws[enc].SSE != client.SSEC || res.Overall.ProbeFailures != 0 {
			t.Errorf("SSE %q, %d probe failures: %+v", ws[enc].SSE, res.Overall.ProbeFailures, res.Directions)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		e := setup(t)
		// Two writes within the clock uncertainty are concurrent: neither
		// supersedes the other, and one loses at both sites.
		tr := e.tracker(t, convergence.Config{ClockUncertainty: 2 * time.Second})
		ab, ba := e.link(t, e.a, e.b), e.link(t, e.b, e.a)
		for _, l := range []*wan.Link{ab, ba} {
			if err := l.Partition(wan.Refuse); err != nil {
				t.Fatal(err)
			}
		}
		wa := e.put(t, e.a, "c", 10, client.PutOptions{})
		wb := e.put(t, e.b, "c", 20, client.PutOptions{})
		time.Sleep(100 * time.Millisecond)
		for _, l := range []*wan.Link{ab, ba} {
			if err := l.Heal(); err != nil {
				t.Fatal(err)
			}
		}
		wait(t, tr, 10*time.Second)
		res := tr.Stop()
		ws := byOp(res)
		win, lose := ws[wa], ws[wb]
		if win.State != convergence.Converged {
			win, lose = lose, win
		}
		if win.State != convergence.Converged || lose.State != convergence.Superseded || lose.By != win.Op || !lose.Concurrent {
			t.Fatalf("winner %+v\nloser %+v", win, lose)
		}
		if res.Verdict.Outcome != convergence.Pass {
			t.Errorf("verdict %+v", res.Verdict)
		}
	})
}

// TestSLOBreach: lags beyond the SLO, and writes pending beyond it, fail
// the verdict and are listed.
func TestSLOBreach(t *testing.T) {
	const slo = 50 * time.Millisecond
	t.Run("lag", func(t *testing.T) {
		e := setup(t)
		if err := e.link(t, e.a, e.b).SetLatency(200*time.Millisecond, 0); err != nil {
			t.Fatal(err)
		}
		tr := e.tracker(t, convergence.Config{SLO: slo})
		var ids []string
		for i := range 5 {
			ids = append(ids, e.put(t, e.a, fmt.Sprint("slow/", i), 100, client.PutOptions{}))
		}
		wait(t, tr, 10*time.Second)
		res := tr.Stop()
		v := res.Verdict
		if v.Outcome != convergence.Fail || v.BreachCount != len(ids) || len(v.Breaches) != len(ids) {
			t.Fatalf("verdict %+v", v)
		}
		ws := byOp(res)
		for i, b := range v.Breaches {
			// Shipping may begin a little before the client has its ack,
			// so the lag can be a little under the latency.
			w := ws[b.Op]
			if b.Op != ids[i] || b.State != convergence.Converged || b.LagSeconds <= slo.Seconds() ||
				w.LagSeconds+w.ResolutionSeconds/2 < 0.18 {
				t.Errorf("breach %+v (%+v); want %s converged, its bracket reaching 180 ms", b, w, ids[i])
			}
		}
	})
	t.Run("pending", func(t *testing.T) {
		e := setup(t)
		if err := e.link(t, e.a, e.b).Partition(wan.Refuse); err != nil {
			t.Fatal(err)
		}
		tr := e.tracker(t, convergence.Config{SLO: slo})
		id := e.put(t, e.a, "stuck", 100, client.PutOptions{})
		if v := tr.Snapshot().Verdict; v.Outcome != convergence.Undecided {
			t.Fatalf("before the SLO has passed: %+v", v)
		}
		time.Sleep(2 * slo)
		v := tr.Stop().Verdict
		if v.Outcome != convergence.Fail || len(v.Breaches) != 1 || v.Breaches[0].Op != id || v.Breaches[0].State != convergence.Pending {
			t.Fatalf("verdict %+v", v)
		}
	})
}

// TestProbeBudget: with 2,000 writes over 200 keys pending behind a
// partition, probes stay within the rate and concurrency budget, and
// everything converges after the heal.
func TestProbeBudget(t *testing.T) {
	const (
		writers, keys, perKey = 8, 200, 10
		rate, inFlight        = 200.0, 4
	)
	e := setup(t)
	ab := e.link(t, e.a, e.b)
	if err := ab.Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	probes := map[string]*counting{}
	cl := map[string]client.Client{}
	for _, s := range []harness.Site{e.a, e.b} {
		probes[s.Name()] = &counting{Client: e.s3(t, s)}
		cl[s.Name()] = probes[s.Name()]
	}
	tr := e.tracker(t, convergence.Config{Probes: cl, MaxRate: rate, MaxInFlight: inFlight})
	start := time.Now()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each key has one writer, so its writes follow each other.
			for range perKey {
				for k := g; k < keys; k += writers {
					e.put(t, e.a, fmt.Sprintf("budget/%03d", k), 64, client.PutOptions{})
				}
			}
		}()
	}
	wg.Wait()
	wrote := time.Since(start)
	if ops, _ := tr.Pending(); ops != keys*perKey {
		t.Fatalf("%d pending behind the partition, want %d", ops, keys*perKey)
	}
	time.Sleep(time.Second) // a second of probing every key behind the partition
	if err := ab.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	wait(t, tr, 30*time.Second)
	converged := time.Since(healed)
	res := tr.Stop()
	b := probes[e.b.Name()]
	// Slots are reserved 1/rate apart; goroutines waking late can send
	// several a little closer (more so with other tests' load), so short
	// windows get a few requests' slack. An unpaced prober sends hundreds.
	perSecond, perTenth := b.maxIn(time.Second), b.maxIn(100*time.Millisecond)
	if perSecond > int(rate*1.02)+1 || perTenth > int(rate/10)+6 {
		t.Errorf("up to %d probes in a second, %d in 100 ms: over the %v/s budget", perSecond, perTenth, rate)
	}
	if b.maxInFlight > inFlight {
		t.Errorf("%d probes in flight at once, budget %d", b.maxInFlight, inFlight)
	}
	o := res.Overall
	if res.Verdict.Outcome != convergence.Pass || o.Converged != keys || o.Superseded != keys*(perKey-1) {
		t.Fatalf("verdict %+v; %d converged, %d superseded", res.Verdict, o.Converged, o.Superseded)
	}
	if o.Probes != len(b.sent) {
		t.Errorf("result counts %d probes, the sites saw %d", o.Probes, len(b.sent))
	}
	if o.Probes > int(rate*(time.Since(start).Seconds()+1)) {
		t.Errorf("%d probes in %v", o.Probes, time.Since(start))
	}
	t.Logf("%d writes in %v, converged %v after heal; %d probes (%d failed), at most %d/s and %d in flight; "+
		"lag p50 %s max %s; resolution mean %s max %s",
		o.Writes, wrote.Round(time.Millisecond), converged.Round(time.Millisecond), o.Probes, o.ProbeFailures,
		perSecond, b.maxInFlight, ms(o.Lag.P50), ms(o.Lag.Max), ms(o.MeanResolutionSeconds), ms(o.MaxResolutionSeconds))
}

// TestLagAgainstSize writes objects of 64 KiB to 4 MiB, one at a time,
// through a link limited to 2 MiB/s: the fitted bandwidth must be the
// link's.
func TestLagAgainstSize(t *testing.T) {
	const limit = 2 << 20
	e := setup(t)
	if err := e.link(t, e.a, e.b).SetBandwidth(limit); err != nil {
		t.Fatal(err)
	}
	tr := e.tracker(t, convergence.Config{})
	for size := 64 << 10; size <= 4<<20; size *= 2 {
		e.put(t, e.a, fmt.Sprint("size/", size), size, client.PutOptions{})
		wait(t, tr, 10*time.Second) // one at a time: no queueing in the lags
	}
	res := tr.Stop()
	f := res.Overall.Fit
	if !f.OK || f.Points != 7 || f.DistinctSizes != 7 {
		t.Fatalf("fit %+v", f)
	}
	if ratio := f.BandwidthBytesPerSecond / limit; ratio < 0.7 || ratio > 1.3 {
		t.Errorf("fitted bandwidth %.0f B/s, the link's %d B/s (ratio %.2f)", f.BandwidthBytesPerSecond, limit, ratio)
	}
	want := (res.SLOSeconds - f.InterceptSeconds) * f.BandwidthBytesPerSecond
	if math.Abs(f.SLOSizeBytes-want) > 1 {
		t.Errorf("SLO size %.0f, want %.0f", f.SLOSizeBytes, want)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatalf("the result does not serialise: %v", err)
	}
	t.Logf("bandwidth %.2f MiB/s, intercept %s, r² %.4f, SLO reached at %.1f GiB",
		f.BandwidthBytesPerSecond/(1<<20), ms(f.InterceptSeconds), f.R2, f.SLOSizeBytes/(1<<30))
	if len(res.Directions) != 1 || res.Directions[0].Fit != f {
		t.Errorf("directions %+v", res.Directions)
	}
}
