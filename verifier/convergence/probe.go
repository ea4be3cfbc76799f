package convergence

import (
	"container/heap"
	"context"
	"errors"
	"math"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/time/rate"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
)

// site is one probed site: its client, its queue of keys by due time, and
// its budget.
type site struct {
	name  string
	c     client.Client
	queue targetHeap
	wake  chan struct{} // a key was queued
	// pace spaces requests: a token bucket of depth one, so no burst
	// ever exceeds the rate.
	pace *rate.Limiter

	probes, failures int // requests sent, and those that gave no answer
	lastErr          string
}

// target is one key at one site: the unit a probe answers for.
type target struct {
	key  *keyState
	site *site
	// pending are writes that must arrive here; confirm are writes made
	// here that the peer shows beaten by a concurrent write, waiting for
	// this site to show whether they lost here too.
	pending, confirm []*tracked
	// oldest is the earliest ack among pending and confirm, when either
	// has writes: the age the probe interval follows.
	oldest history.Time
	due    history.Time
	idx    int  // position in site.queue; -1 when not queued
	busy   bool // a probe is in flight
	sseC   bool // HEAD with the SSE-C key first
	fails  int  // consecutive failed probes
}

// targetHeap orders targets by due time.
type targetHeap []*target

func (h targetHeap) Len() int           { return len(h) }
func (h targetHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h targetHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *targetHeap) Push(x any) {
	tg := x.(*target)
	tg.idx = len(*h)
	*h = append(*h, tg)
}
func (h *targetHeap) Pop() any {
	old := *h
	tg := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	tg.idx = -1
	return tg
}

// add puts w on tg's pending list, or with confirm on its confirm list.
// Call with mu held.
func (tg *target) add(w *tracked, confirm bool) {
	if len(tg.pending)+len(tg.confirm) == 0 || w.ack() < tg.oldest {
		tg.oldest = w.ack()
	}
	if confirm {
		tg.confirm = append(tg.confirm, w)
	} else {
		tg.pending = append(tg.pending, w)
	}
}

// remove drops w from tg's lists. Call with mu held.
func (tg *target) remove(w *tracked) {
	tg.pending = drop(tg.pending, w)
	tg.confirm = drop(tg.confirm, w)
	tg.reckon()
}

// reckon recomputes tg.oldest. Call with mu held.
func (tg *target) reckon() {
	tg.oldest = math.MaxInt64
	for _, l := range [][]*tracked{tg.pending, tg.confirm} {
		for _, w := range l {
			tg.oldest = min(tg.oldest, w.ack())
		}
	}
}

// interval is how long to wait before probing tg again. Call with mu held.
func (t *Tracker) interval(tg *target, now history.Time) time.Duration {
	d := time.Duration(t.cfg.Resolution * float64(max(0, now-tg.oldest)))
	d = min(max(d, t.floor), t.ceil)
	if tg.fails > 0 {
		// A site that fails (crashed, paused) is probed less often, up to
		// the usual cap, so it does not eat the budget of the keys due.
		d = max(d, min(t.ceil, t.floor<<min(tg.fails, 20)))
	}
	return d
}

// schedule queues tg to be probed after its interval, or sooner if it is
// queued for later. Call with mu held.
func (t *Tracker) schedule(tg *target, now history.Time) {
	if tg.busy || (len(tg.pending) == 0 && len(tg.confirm) == 0) {
		return
	}
	due := now + history.Time(t.interval(tg, now))
	s := tg.site
	switch {
	case tg.idx < 0:
		tg.due = due
		heap.Push(&s.queue, tg)
	case due < tg.due:
		tg.due = due
		heap.Fix(&s.queue, tg.idx)
	default:
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dispatch sends s's probes as keys fall due, within its budget.
func (t *Tracker) dispatch(ctx context.Context, s *site) {
	defer t.wg.Done()
	slots := make(chan struct{}, t.cfg.MaxInFlight)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// A slot first: a key leaves the queue only when it can be probed,
		// so keys waiting for the budget keep their place by due time.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		tg := t.next(ctx, s, timer)
		if tg == nil {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.probe(ctx, s, tg)
			<-slots
		}()
	}
}

// next waits for s's first key to fall due and takes it off the queue;
// nil when ctx ends.
func (t *Tracker) next(ctx context.Context, s *site, timer *time.Timer) *target {
	for {
		t.mu.Lock()
		wait := time.Hour
		if len(s.queue) > 0 {
			now, top := t.cfg.Clock(), s.queue[0]
			if top.due <= now {
				heap.Pop(&s.queue)
				top.busy = true
				t.mu.Unlock()
				return top
			}
			wait = time.Duration(top.due - now)
		}
		t.mu.Unlock()
		timer.Reset(wait) // since Go 1.23 a reset timer never delivers a stale tick
		select {
		case <-timer.C:
		case <-s.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// observation is what one probe saw.
type observation struct {
	served     string // the op id in the object's metadata
	updated    string // the metadata update that last rewrote it, if any
	notFound   bool
	err        error
	sent, recv history.Time // of the request that answered
	sseC       bool         // the answer came with the SSE-C key
	requests   int
}

// probe HEADs tg's key at s and applies what it saw.
func (t *Tracker) probe(ctx context.Context, s *site, tg *target) {
	t.mu.Lock()
	k, withKey := tg.key.key, tg.sseC
	t.mu.Unlock()
	ob := t.head(ctx, s, k, withKey)
	t.mu.Lock()
	defer t.mu.Unlock()
	tg.busy = false
	if ctx.Err() != nil {
		return // stopping: the answer may be a cancellation, not the site's
	}
	t.apply(tg, ob)
	t.schedule(tg, t.cfg.Clock())
}

// head asks s what it serves for k. An S3 site refuses a HEAD with an
// SSE-C key for an object stored without one, and the other way round
// (400), so a refusal is retried the other way.
func (t *Tracker) head(ctx context.Context, s *site, k objKey, withKey bool) observation {
	var ob observation
	withKey = withKey && t.sseCProbeable[s.name]
	for attempt := 0; ; attempt++ {
		var o client.GetOptions
		if withKey {
			o.SSE = t.cfg.SSEC
		}
		if err := s.pace.Wait(ctx); err != nil {
			ob.err = err
			return ob
		}
		rctx, cancel := context.WithTimeout(ctx, t.cfg.ProbeTimeout)
		ob.sent = t.cfg.Clock()
		info, err := s.c.Head(rctx, k.bucket, k.key, o)
		ob.recv = t.cfg.Clock()
		cancel()
		ob.requests++
		switch {
		case err == nil:
			ob.served, ob.updated, ob.sseC, ob.err = info.Meta[state.MetaOpID], info.Meta[state.MetaUpdateID], withKey, nil
			return ob
		case client.IsNotFound(err):
			ob.notFound, ob.sseC, ob.err = true, withKey, nil
			return ob
		}
		ob.err = err
		// A third try covers an object replaced, between the first two,
		// by one stored the other way.
		if attempt == 2 || !t.sseCProbeable[s.name] || !badRequest(err) {
			return ob
		}
		withKey = !withKey
	}
}

// badRequest reports whether S3 refused a request as malformed (400),
// which is how it answers a HEAD with the wrong SSE-C choice.
func badRequest(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.StatusCode == 400
}

// apply updates tg's writes with what a probe of it saw. Call with mu held.
func (t *Tracker) apply(tg *target, ob observation) {
	s := tg.site
	s.probes += ob.requests
	if ob.err != nil {
		s.failures++
		s.lastErr = ob.err.Error()
		tg.fails++
		for _, l := range [][]*tracked{tg.pending, tg.confirm} {
			for _, w := range l {
				w.probes++
			}
		}
		return
	}
	tg.fails = 0
	tg.sseC = ob.sseC
	p := t.producer(tg.key, ob)

	// Writes that must arrive here.
	keep := tg.pending[:0]
	for _, w := range tg.pending {
		w.probes++
		switch {
		case w.serves(ob):
			t.resolve(w, Converged, nil, ob.recv, false)
			continue
		case p != nil && t.before(w.op, p):
			t.resolve(w, Superseded, p, ob.recv, false)
			continue
		}
		w.lastMiss = max(w.lastMiss, ob.sent)
		if p != nil && p != w.op && !t.before(p, w.op) && w.rival == nil {
			// The peer serves a concurrent write: w may have arrived and
			// lost. Only its own site can tell.
			w.rival = p
			home := t.target(tg.key, w.op.site)
			home.add(w, true)
			t.schedule(home, ob.recv)
		}
		keep = append(keep, w)
	}
	clear(tg.pending[len(keep):])
	tg.pending = keep

	// Writes made here that lost at the peer to a concurrent write: if
	// this site no longer serves them either, they lost for good.
	keep = tg.confirm[:0]
	for _, w := range tg.confirm {
		if w.state != Pending {
			continue
		}
		w.probes++
		if !w.serves(ob) && p != nil && p != w.op && !t.before(p, w.op) {
			t.resolve(w, Superseded, p, ob.recv, true)
			continue
		}
		keep = append(keep, w)
	}
	clear(tg.confirm[len(keep):])
	tg.confirm = keep
	tg.reckon()
}

// serves reports whether ob shows w's own value.
func (w *tracked) serves(ob observation) bool {
	if w.op.kind == history.Delete {
		return ob.notFound
	}
	return !ob.notFound && ob.served == w.op.id
}

// before reports whether a completed before b began, beyond the clock
// uncertainty: then b supersedes a.
func (t *Tracker) before(a, b *opRec) bool {
	return b.invoke > a.complete+history.Time(t.cfg.ClockUncertainty)
}

// producer is the latest write that could have made the value ob shows:
// the write its id names, if it is a write of this key; else (the id of a
// write of another key, or of none seen) the latest copy onto the key;
// the metadata update the object names, if later; for not found, the
// latest acknowledged delete. An in-doubt write counts
// when its id is served (which proves it took effect), but not for not
// found, which it cannot explain. nil when nothing seen explains it.
func (t *Tracker) producer(ks *keyState, ob observation) *opRec {
	latest := func(l []*opRec) *opRec {
		var p *opRec
		for _, o := range l {
			if p == nil || o.invoke > p.invoke {
				p = o
			}
		}
		return p
	}
	switch {
	case ob.notFound:
		return latest(ks.deletes)
	case ob.served == "":
		return nil // not an object of this run
	}
	p := latest(ks.copies)
	if rec := t.ops[ob.served]; rec != nil && rec.key == ks.key && rec.isData() {
		p = rec
	}
	// A metadata update rewrites the object it found, whose data may be
	// older than a delete it followed: the value is the update's.
	if m := t.ops[ob.updated]; m != nil && m.key == ks.key && m.kind == history.Meta && (p == nil || m.invoke > p.invoke) {
		p = m
	}
	return p
}

// resolve settles w. Call with mu held. The caller drops w from the list
// it is iterating (the peer's pending list, or with fromConfirm its
// origin's confirm list); resolve drops it from the other.
func (t *Tracker) resolve(w *tracked, st State, by *opRec, recv history.Time, fromConfirm bool) {
	w.state, w.by = st, by
	w.concurrent = by != nil && !t.before(w.op, by)
	w.lo = max(w.ack(), w.lastMiss)
	w.hi = max(recv, w.lo)
	t.addPending(-1, -w.size)
	t.noteLag(w.hi, (w.lo+w.hi)/2-w.ack())
	if w.rival != nil {
		w.rival = nil
		if fromConfirm {
			w.tgt.remove(w)
		} else {
			w.tgt.key.at[w.op.site].remove(w)
		}
	}
}

// drop removes w from l, keeping the order.
func drop(l []*tracked, w *tracked) []*tracked {
	for i, x := range l {
		if x == w {
			copy(l[i:], l[i+1:])
			l[len(l)-1] = nil
			return l[:len(l)-1]
		}
	}
	return l
}
