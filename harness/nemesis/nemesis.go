// Package nemesis makes faults as values and schedules them on a timeline.
//
// A Fault is plain data with Inject and Heal: a WAN partition (one way or
// both), a WAN shape (latency, jitter, bandwidth), a flapping link,
// connection resets, a site crash, a paused site, a site disconnected from
// the inter-site network (a hard partition below the WAN proxies), a
// skewed clock. Each says which harness capabilities it needs, so a
// scenario asking for a fault the target cannot make fails before anything
// is injected (Available, Timeline.Validate), never silently mid-run.
//
// A Timeline injects faults at offsets from its start and heals them after
// their duration or at its end. The rest of a run learns about faults only
// from the timestamped Events the timeline sends: the checker never imports
// this package.
//
// Use faults by pointer (&nemesis.Flap{...}): Flap, SiteCrash, SitePause
// and SiteDisconnect keep state between Inject and Heal, so their methods
// have pointer receivers; the others work either way.
package nemesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/replcheck/replcheck/harness"
)

// Fault is one fault that can be injected into a topology and healed.
type Fault interface {
	// Name is stable and human, e.g. "partition europe-se-1a→europe-se-1b"
	// or "crash europe-se-1b"; events and reports carry it.
	Name() string
	// Requires lists the capabilities the target must have.
	Requires() []harness.Capability
	// Inject makes the fault. On error the fault may be partly made:
	// Heal undoes whatever part of it exists.
	Inject(ctx context.Context, topo harness.Topology) error
	// Heal undoes the fault. It is safe after a failed or partial Inject,
	// after no Inject at all, and twice; a target that does not exist has
	// nothing to heal and is not an error.
	Heal(ctx context.Context, topo harness.Topology) error
}

// builtin is what every fault of this package implements.
type builtin interface {
	Fault
	Validator
	toucher
}

var (
	_ builtin = Partition{}
	_ builtin = WANShape{}
	_ builtin = ConnectionReset{}
	_ builtin = (*Flap)(nil)
	_ builtin = (*SiteCrash)(nil)
	_ builtin = (*SitePause)(nil)
	_ builtin = (*SiteDisconnect)(nil)
	_ builtin = ClockSkew{}
)

// Validator is a Fault that can check, without touching anything, that its
// settings make sense and that its targets exist in topo and can take it.
// Available uses it when a fault has it; every fault of this package does.
type Validator interface {
	Validate(topo harness.Topology) error
}

// Available reports whether topo can make f: the target has every
// capability f requires, and, if f is a Validator, f's settings and
// targets are valid. The error names the fault and what is missing, e.g.
// "pause europe-se-1b: target external cannot pause".
func Available(f Fault, topo harness.Topology) error {
	if f == nil {
		return errors.New("nil fault")
	}
	if err := topo.Capabilities().Require(topo.Target(), f.Requires()...); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	if v, ok := f.(Validator); ok {
		return v.Validate(topo)
	}
	return nil
}

// Event kinds.
const (
	KindInject = "inject"
	KindHeal   = "heal"
)

// Event says when a fault was injected or healed. Events are how faults
// reach the rest of a run: a checker shades fault windows from them and
// never needs this package's types.
type Event struct {
	Fault string // the fault's Name
	Kind  string // KindInject or KindHeal
	// At is taken with time.Now, so it carries the monotonic clock. For an
	// inject it is just before Inject is called (the fault may act from
	// then on); for a heal, just after Heal returns (the fault is over by
	// then). So [inject.At, heal.At] covers the whole fault, whatever
	// the calls themselves take.
	At  time.Time
	Err error // what Inject or Heal returned
}

// String is the event for logs, e.g. "inject crash europe-se-1b".
func (e Event) String() string {
	s := e.Kind + " " + e.Fault
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// HealAll undoes every fault a topology can have, whoever made it: for
// cleanup after the harness itself died mid-run and lost track of its
// faults. It clears all faults from every WAN link, sets every clock skew to
// zero, resumes every site that can be paused, restarts every site that
// can be crashed and reconnects every site that can be disconnected, each
// only where the target has the capability. It returns the joined errors
// and carries on past each.
//
// It calls Resume, Restart and Reconnect on sites that may be running and
// connected, so it relies on the provider making those harmless there.
func HealAll(ctx context.Context, topo harness.Topology) error {
	var errs []error
	for _, l := range topo.Links() {
		if l == nil || l.WAN() == nil {
			continue
		}
		if err := l.WAN().ClearFaults(); err != nil {
			errs = append(errs, fmt.Errorf("heal all: link %s: %w", arrow(l.From(), l.To()), err))
		}
	}
	caps := topo.Capabilities()
	for _, s := range topo.Sites() {
		if s == nil {
			continue
		}
		name := s.Name()
		if c, ok := s.(harness.ClockSkewer); ok && caps[harness.CapClockSkew] {
			if err := c.SetClockSkew(0); err != nil {
				errs = append(errs, fmt.Errorf("heal all: site %s: reset clock skew: %w", name, err))
			}
		}
		if p, ok := s.(harness.Pauser); ok && caps[harness.CapPause] {
			if err := p.Resume(ctx); err != nil {
				errs = append(errs, fmt.Errorf("heal all: site %s: resume: %w", name, err))
			}
		}
		if c, ok := s.(harness.Crasher); ok && caps[harness.CapCrash] {
			if err := c.Restart(ctx); err != nil {
				errs = append(errs, fmt.Errorf("heal all: site %s: restart: %w", name, err))
			}
		}
		if d, ok := s.(harness.Disconnecter); ok && caps[harness.CapDisconnect] {
			if err := d.Reconnect(ctx); err != nil {
				errs = append(errs, fmt.Errorf("heal all: site %s: reconnect: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// arrow names a WAN direction: "a→b".
func arrow(from, to string) string { return from + "→" + to }
