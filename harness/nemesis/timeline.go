package nemesis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/replcheck/replcheck/harness"
)

// Step schedules one fault on a timeline.
type Step struct {
	At    time.Duration // when to inject, from the timeline's start
	Fault Fault
	For   time.Duration // how long the fault lasts; 0 = until the end of the timeline
}

// Timeline is a schedule of faults. Steps need not be in order: Run takes
// them by At, in the given order where At is equal.
type Timeline []Step

// Duration is when the timeline ends: the latest At+For over its steps
// (At for a step whose For is 0). Faults still active then are healed.
func (t Timeline) Duration() time.Duration {
	var d time.Duration
	for _, s := range t {
		d = max(d, s.At+s.For)
	}
	return d
}

// Validate checks, without touching topo, that every step can run: it has
// a fault, At and For are not negative, and the fault is Available in topo.
// It also refuses two steps whose faults change the same thing (the same
// WAN direction's partition, latency or bandwidth, any fault on a link
// that has connection resets, a site's process, its network attachment or
// its clock) while both are active, unless they end together: the first
// heal would end the other too, and its events would claim a fault that is
// no longer there.
// Errors name the step by its index in t, e.g.
// "timeline[2] at 5s: crash europe-se-1b: target external cannot crash".
func (t Timeline) Validate(topo harness.Topology) error {
	var errs []error
	for i, s := range t {
		if s.Fault == nil {
			errs = append(errs, fmt.Errorf("timeline[%d] at %v: no fault", i, s.At))
			continue
		}
		where := fmt.Sprintf("timeline[%d] at %v: %s", i, s.At, s.Fault.Name())
		if s.At < 0 {
			errs = append(errs, fmt.Errorf("%s: negative start", where))
		}
		if s.For < 0 {
			errs = append(errs, fmt.Errorf("%s: negative duration", where))
		}
		if err := Available(s.Fault, topo); err != nil {
			errs = append(errs, fmt.Errorf("timeline[%d] at %v: %w", i, s.At, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return t.conflicts()
}

// touch is something a fault changes: kind on target ("link a→b",
// "site b").
type touch struct{ target, kind string }

// Kinds of touch. kindAll conflicts with every kind on its target.
const (
	kindPartition = "partition"
	kindLatency   = "latency"
	kindBandwidth = "bandwidth"
	kindAll       = "every fault"
	kindProcess   = "process"
	kindNetwork   = "network" // a site's attachment to the inter-site network
	kindClock     = "clock"
)

// toucher is a fault of this package that knows what it changes.
type toucher interface{ touches() []touch }

// Overlap is two steps of a timeline, by index (I < J), whose faults change
// the same thing while both are active and that do not end together.
type Overlap struct {
	I, J int
	// Where names what both change, e.g. "link a→b (partition)".
	Where string
}

// Overlaps lists the timeline's overlapping steps, as Validate refuses
// them; steps whose faults are not of this package are left out.
func (t Timeline) Overlaps() []Overlap {
	end := t.Duration()
	window := func(s Step) (time.Duration, time.Duration) {
		if s.For == 0 {
			return s.At, end
		}
		return s.At, s.At + s.For
	}
	var out []Overlap
	for i := range t {
		ti, ok := t[i].Fault.(toucher)
		if !ok {
			continue
		}
		si, ei := window(t[i])
		for j := i + 1; j < len(t); j++ {
			tj, ok := t[j].Fault.(toucher)
			if !ok {
				continue
			}
			sj, ej := window(t[j])
			if !(si < ej && sj < ei) || ei == ej {
				continue
			}
			if where, ok := clash(ti.touches(), tj.touches()); ok {
				out = append(out, Overlap{I: i, J: j, Where: where})
			}
		}
	}
	return out
}

// conflicts reports the timeline's overlaps as errors.
func (t Timeline) conflicts() error {
	var errs []error
	for _, o := range t.Overlaps() {
		errs = append(errs, fmt.Errorf(
			"timeline[%d] at %v (%s) and timeline[%d] at %v (%s) overlap on %s and end at different times: the first heal would end both",
			o.I, t[o.I].At, t[o.I].Fault.Name(), o.J, t[o.J].At, t[o.J].Fault.Name(), o.Where))
	}
	return errors.Join(errs...)
}

// clash returns the first thing a and b both change, described.
func clash(a, b []touch) (string, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.target != y.target {
				continue
			}
			switch {
			case x.kind == y.kind:
				return x.target + " (" + x.kind + ")", true
			case x.kind == kindAll || y.kind == kindAll:
				return x.target + " (connection resets, whose heal clears every fault)", true
			}
		}
	}
	return "", false
}

// sorted is a copy of t ordered by At, keeping the given order for equal
// At.
func (t Timeline) sorted() Timeline {
	s := slices.Clone(t)
	slices.SortStableFunc(s, func(a, b Step) int { return cmp.Compare(a.At, b.At) })
	return s
}

// Run validates t against topo (and returns Validate's error before
// injecting anything), then injects each step's fault At after the start
// and heals it For later. When the timeline's Duration has passed, or
// when ctx ends, whichever is first, it heals every fault still active in
// reverse order of injection and returns; it never returns with a fault it
// injected still active, and ctx ending is not an error.
//
// Faults that heal at the same moment heal in reverse order of injection,
// and heals come before injections at the same moment. A fault whose
// Inject fails is healed at once, since it may be partly made; the
// timeline goes on. Heals run with ctx's values but not its cancellation,
// so that cleanup after ctx ends is not cut short. Steps run one at a
// time: a slow Inject delays the steps after it, which then catch up with
// their offsets from the start.
//
// Run sends an Event to events (if not nil) for each inject and heal, as
// it happens; at most two per step, so a channel buffered with 2·len(t)
// never blocks Run. Run does not close events.
//
// Run returns the joined errors of Inject and Heal calls, except those of
// an Inject interrupted by ctx ending (its event still carries the error).
func (t Timeline) Run(ctx context.Context, topo harness.Topology, events chan<- Event) error {
	if err := t.Validate(topo); err != nil {
		return err
	}
	steps := t.sorted()
	end := t.Duration()

	// The agenda: every inject, and every heal due before the end (those
	// due at the end are the end's, in reverse order).
	type action struct {
		at   time.Duration
		heal bool
		step int // index in steps: the order of injection
	}
	var agenda []action
	for i, s := range steps {
		agenda = append(agenda, action{at: s.At, step: i})
		if s.For > 0 && s.At+s.For < end {
			agenda = append(agenda, action{at: s.At + s.For, heal: true, step: i})
		}
	}
	slices.SortStableFunc(agenda, func(a, b action) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if a.heal != b.heal {
			if a.heal {
				return -1
			}
			return 1
		}
		if a.heal {
			return cmp.Compare(b.step, a.step)
		}
		return cmp.Compare(a.step, b.step)
	})

	r := &runner{topo: topo, events: events, healCtx: context.WithoutCancel(ctx)}
	start := time.Now()
	var active []int // steps injected and not yet healed, in order of injection
	for _, a := range agenda {
		if !sleepUntil(ctx, start.Add(a.at)) {
			break
		}
		f := steps[a.step].Fault
		if a.heal {
			if k := slices.Index(active, a.step); k >= 0 {
				active = slices.Delete(active, k, k+1)
				r.heal(f)
			}
			continue
		}
		if r.inject(ctx, f) {
			active = append(active, a.step)
		}
	}
	sleepUntil(ctx, start.Add(end))
	for _, i := range slices.Backward(active) {
		r.heal(steps[i].Fault)
	}
	return errors.Join(r.errs...)
}

// runner injects and heals for Run, sending events and keeping errors.
type runner struct {
	topo    harness.Topology
	events  chan<- Event
	healCtx context.Context
	errs    []error
}

// inject injects f and reports whether it is now active. A failed inject
// is healed at once.
func (r *runner) inject(ctx context.Context, f Fault) bool {
	at := time.Now()
	err := f.Inject(ctx, r.topo)
	r.send(Event{Fault: f.Name(), Kind: KindInject, At: at, Err: err})
	if err == nil {
		return true
	}
	if cerr := ctx.Err(); cerr == nil || !errors.Is(err, cerr) {
		r.errs = append(r.errs, err)
	}
	r.heal(f)
	return false
}

func (r *runner) heal(f Fault) {
	err := f.Heal(r.healCtx, r.topo)
	r.send(Event{Fault: f.Name(), Kind: KindHeal, At: time.Now(), Err: err})
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

func (r *runner) send(e Event) {
	if r.events != nil {
		r.events <- e
	}
}

// sleepUntil waits until when, or until ctx ends; it reports whether ctx
// is still live.
func sleepUntil(ctx context.Context, when time.Time) bool {
	if ctx.Err() != nil {
		return false
	}
	d := time.Until(when)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
