package convergence_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
)

// fakeSite serves, for each key, the op id the test says (absent: not
// found), or fails every request.
type fakeSite struct {
	client.Client // nil: only Site, API and Head are used
	name          string
	mu            sync.Mutex
	serves        map[string]string
	touched       map[string]string // key → the metadata update that rewrote it
	down          bool
}

func newFake(name string) *fakeSite {
	return &fakeSite{name: name, serves: map[string]string{}, touched: map[string]string{}}
}

// setUpdated has key show metadata update meta over write id.
func (f *fakeSite) setUpdated(key, id, meta string) {
	f.set(key, id)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touched[key] = meta
}

func (f *fakeSite) Site() string { return f.name }
func (f *fakeSite) API() string  { return client.APIS3 }

func (f *fakeSite) set(key, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		delete(f.serves, key)
	} else {
		f.serves[key] = id
	}
}

func (f *fakeSite) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeSite) Head(ctx context.Context, bucket, key string, o client.GetOptions) (client.ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return client.ObjectInfo{}, errors.New("connection refused")
	}
	id, ok := f.serves[key]
	if !ok {
		return client.ObjectInfo{}, minio.ErrorResponse{StatusCode: 404, Code: "NoSuchKey"}
	}
	meta := map[string]string{state.MetaOpID: id}
	if m := f.touched[key]; m != "" {
		meta[state.MetaUpdateID] = m
	}
	return client.ObjectInfo{Meta: meta}, nil
}

// fakeRun drives a tracker over two fake sites with ops made up by hand.
type fakeRun struct {
	t     *testing.T
	tr    *convergence.Tracker
	a, b  *fakeSite
	clock func() history.Time
	n     int
}

func newFakeRun(t *testing.T, cfg convergence.Config) *fakeRun {
	base := time.Now()
	r := &fakeRun{t: t, a: newFake("a"), b: newFake("b"), clock: func() history.Time { return history.Time(time.Since(base)) }}
	cfg.Sites = []string{"a", "b"}
	cfg.Probes = map[string]client.Client{"a": r.a, "b": r.b}
	cfg.Clock = r.clock
	var err error
	if r.tr, err = convergence.New(cfg); err != nil {
		t.Fatal(err)
	}
	r.tr.Start(context.Background())
	t.Cleanup(func() { r.tr.Stop() })
	return r
}

// op completes an operation now, as the history would report it, after
// it ran for 1 ms.
func (r *fakeRun) op(site string, kind history.Kind, key string, outcome history.Outcome) history.Op {
	r.n++
	inv := r.clock()
	time.Sleep(time.Millisecond)
	op := history.Op{ID: fmt.Sprintf("op%d", r.n), Site: site, Kind: kind, Bucket: "b", Key: key, Size: 100,
		Invoke: inv, Complete: r.clock(), Outcome: outcome}
	r.tr.Observe(op)
	return op
}

// write is an acknowledged put at site, already served there.
func (r *fakeRun) write(site, key string) string {
	op := r.op(site, history.Put, key, history.OK)
	map[string]*fakeSite{"a": r.a, "b": r.b}[site].set(key, op.ID)
	return op.ID
}

// await waits until cond holds for the tracker's snapshot.
func (r *fakeRun) await(what string, cond func(map[string]convergence.Write) bool) map[string]convergence.Write {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws := byOp(r.tr.Snapshot())
		if cond(ws) {
			return ws
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: never; writes %+v", what, ws)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// still checks that ids stay pending for a while.
func (r *fakeRun) still(ids ...string) {
	r.t.Helper()
	time.Sleep(30 * time.Millisecond)
	ws := byOp(r.tr.Snapshot())
	for _, id := range ids {
		if w := ws[id]; w.State != convergence.Pending || w.Probes == 0 {
			r.t.Fatalf("%s: %+v, want pending and probed", id, w)
		}
	}
}

func is(st convergence.State, by string) func(convergence.Write) bool {
	return func(w convergence.Write) bool { return w.State == st && w.By == by }
}

func TestRules(t *testing.T) {
	t.Run("arrival", func(t *testing.T) {
		r := newFakeRun(t, convergence.Config{})
		w := r.write("a", "k")
		r.still(w)
		r.b.set("k", "never-seen") // an id the tracker never saw acknowledged: not this write
		r.still(w)
		time.Sleep(20 * time.Millisecond)
		r.b.set("k", w)
		ws := r.await("converged", func(ws map[string]convergence.Write) bool { return ws[w].State == convergence.Converged })
		if got := ws[w]; got.LagSeconds < 0.05 || got.ResolutionSeconds <= 0 || got.ResolutionSeconds > 0.01 || got.Peer != "b" {
			t.Fatalf("%+v: want a lag over 50 ms with a resolution under 10 ms", got)
		}
	})

	t.Run("superseded", func(t *testing.T) {
		r := newFakeRun(t, convergence.Config{})
		w1 := r.write("a", "k")
		w2 := r.write("a", "k")
		r.still(w1, w2)
		r.b.set("k", w2)
		r.await("w1 superseded by w2", func(ws map[string]convergence.Write) bool {
			return is(convergence.Superseded, w2)(ws[w1]) && !ws[w1].Concurrent && is(convergence.Converged, "")(ws[w2])
		})
	})

	t.Run("in-doubt-supersedes", func(t *testing.T) {
		// An in-doubt write that the peer serves took effect: it
		// supersedes what it followed.
		r := newFakeRun(t, convergence.Config{})
		w := r.write("a", "k")
		u := r.op("a", history.Overwrite, "k", history.Unknown)
		r.b.set("k", u.ID)
		ws := r.await("superseded by the in-doubt write", func(ws map[string]convergence.Write) bool {
			return is(convergence.Superseded, u.ID)(ws[w])
		})
		if _, tracked := ws[u.ID]; tracked {
			t.Fatal("an in-doubt write is tracked")
		}
	})

	t.Run("within-uncertainty", func(t *testing.T) {
		// Within the clock uncertainty a later write is concurrent, not
		// superseding: the earlier one waits for its own site to agree.
		r := newFakeRun(t, convergence.Config{ClockUncertainty: time.Hour})
		w1 := r.write("a", "k")
		w2 := r.write("a", "k")
		r.b.set("k", w2)
		r.await("w1 lost to w2, both sites agreeing", func(ws map[string]convergence.Write) bool {
			return is(convergence.Superseded, w2)(ws[w1]) && ws[w1].Concurrent
		})
	})

	t.Run("concurrent", func(t *testing.T) {
		r := newFakeRun(t, convergence.Config{ClockUncertainty: time.Hour})
		wa := r.write("a", "k")
		wb := r.write("b", "k")
		// b serves its own write; a still serves its own: undecided.
		r.still(wa, wb)
		// b's wins at a too: a's lost at both sites.
		r.a.set("k", wb)
		r.await("a's write lost", func(ws map[string]convergence.Write) bool {
			return is(convergence.Superseded, wb)(ws[wa]) && ws[wa].Concurrent && is(convergence.Converged, "")(ws[wb])
		})
	})

	t.Run("delete", func(t *testing.T) {
		r := newFakeRun(t, convergence.Config{})
		w := r.write("a", "k")
		r.b.set("k", w)
		r.await("put converged", func(ws map[string]convergence.Write) bool { return ws[w].State == convergence.Converged })
		w2 := r.write("a", "k")
		d := r.op("a", history.Delete, "k", history.OK).ID
		r.still(w2, d) // b still serves w
		r.b.set("k", "")
		r.await("delete converged, w2 superseded by it", func(ws map[string]convergence.Write) bool {
			return is(convergence.Converged, "")(ws[d]) && is(convergence.Superseded, d)(ws[w2])
		})
	})

	t.Run("metadata-update-after-delete", func(t *testing.T) {
		// b updates the metadata of the object a has just deleted, before
		// the delete arrives: the update is later, wins at both sites,
		// and brings the object back to a with the old data's id. The
		// delete never reaches b, but the update superseded it.
		r := newFakeRun(t, convergence.Config{})
		w := r.write("a", "k")
		r.b.set("k", w)
		r.await("put converged", func(ws map[string]convergence.Write) bool { return ws[w].State == convergence.Converged })
		d := r.op("a", history.Delete, "k", history.OK).ID
		r.a.set("k", "")
		r.still(d)
		m := r.op("b", history.Meta, "k", history.OK).ID
		r.b.setUpdated("k", w, m)
		r.a.setUpdated("k", w, m)
		r.await("delete superseded by the update", func(ws map[string]convergence.Write) bool {
			return is(convergence.Superseded, m)(ws[d])
		})
		// An update concurrent with the delete is no proof: b may yet
		// take the delete.
		r2 := newFakeRun(t, convergence.Config{ClockUncertainty: time.Hour})
		w = r2.write("a", "k")
		r2.b.set("k", w)
		r2.await("put converged", func(ws map[string]convergence.Write) bool { return ws[w].State == convergence.Converged })
		d = r2.op("a", history.Delete, "k", history.OK).ID
		r2.a.set("k", "")
		m = r2.op("b", history.Meta, "k", history.OK).ID
		r2.b.setUpdated("k", w, m)
		r2.still(d)
	})

	t.Run("copy", func(t *testing.T) {
		// A copy carries its source's id: served at the destination, it
		// is the copy, which supersedes the write before it.
		r := newFakeRun(t, convergence.Config{})
		src := r.write("a", "src")
		w := r.write("a", "dst")
		c := r.op("a", history.Copy, "dst", history.OK)
		r.b.set("dst", src)
		r.await("superseded by the copy", func(ws map[string]convergence.Write) bool {
			return is(convergence.Superseded, c.ID)(ws[w])
		})
	})

	t.Run("failures", func(t *testing.T) {
		r := newFakeRun(t, convergence.Config{})
		r.b.setDown(true)
		w := r.write("a", "k")
		r.b.set("k", w) // served, but b answers no one
		r.still(w)
		r.b.setDown(false)
		r.await("converged once b answers", func(ws map[string]convergence.Write) bool { return ws[w].State == convergence.Converged })
		if res := r.tr.Stop(); res.Overall.ProbeFailures == 0 || res.Directions[0].ProbeFailures == 0 {
			t.Fatalf("no probe failures counted: %+v", res.Overall)
		}
	})

	t.Run("skipped", func(t *testing.T) {
		r := newFakeRun(t, convergence.Config{})
		r.op("a", history.Put, "k", history.Failed)
		r.op("a", history.Put, "k", history.Unknown)
		r.op("a", history.Copy, "k", history.OK)
		r.op("a", history.Meta, "k", history.OK)
		r.op("a", history.Get, "k", history.OK)
		r.op("elsewhere", history.Put, "k", history.OK)
		res := r.tr.Stop()
		want := map[string]int{"failed": 1, "unknown": 1, "copy": 1, "meta": 1, "unknown-site": 1}
		if fmt.Sprint(res.Skipped) != fmt.Sprint(want) || len(res.Writes) != 0 {
			t.Fatalf("skipped %v, %d writes; want %v and none", res.Skipped, len(res.Writes), want)
		}
		if res.Verdict.Outcome != convergence.Undecided {
			t.Fatalf("nothing measured, verdict %+v", res.Verdict)
		}
	})
}

// TestBudgetStretchesResolution: with more keys due than the rate allows,
// keys are probed less often, and the reported resolution says so.
func TestBudgetStretchesResolution(t *testing.T) {
	const keys, rate = 100, 400.0
	r := newFakeRun(t, convergence.Config{MaxRate: rate})
	var ids []string
	for i := range keys {
		ids = append(ids, r.op("a", history.Put, fmt.Sprint("k", i), history.OK).ID)
	}
	time.Sleep(500 * time.Millisecond)
	for i, id := range ids {
		r.b.set(fmt.Sprint("k", i), id)
	}
	if err := r.tr.Wait(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	res := r.tr.Stop()
	// 100 keys at 400/s: each key about every 250 ms.
	if o := res.Overall; o.MeanResolutionSeconds < 0.1 || o.Probes > int(rate*(0.5+1)) {
		t.Fatalf("mean resolution %s with %d probes: the budget did not hold", ms(o.MeanResolutionSeconds), o.Probes)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestNewRejects(t *testing.T) {
	ok := func() convergence.Config {
		return convergence.Config{Sites: []string{"a", "b"}, Probes: map[string]client.Client{"a": newFake("a"), "b": newFake("b")},
			Clock: func() history.Time { return 0 }}
	}
	for name, change := range map[string]func(*convergence.Config){
		"one site":   func(c *convergence.Config) { c.Sites = c.Sites[:1] },
		"same site":  func(c *convergence.Config) { c.Sites = []string{"a", "a"} },
		"no probe":   func(c *convergence.Config) { delete(c.Probes, "b") },
		"no clock":   func(c *convergence.Config) { c.Clock = nil },
		"resolution": func(c *convergence.Config) { c.Resolution = 1.5 },
		"slo":        func(c *convergence.Config) { c.SLO = -time.Second },
		"sse-c key":  func(c *convergence.Config) { c.SSEC = client.SSE{Mode: client.SSEC, Key: []byte("short")} },
	} {
		c := ok()
		change(&c)
		if _, err := convergence.New(c); err == nil || !strings.HasPrefix(err.Error(), "convergence: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := convergence.New(ok()); err != nil {
		t.Fatal(err)
	}
}
