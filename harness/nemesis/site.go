package nemesis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/replcheck/replcheck/harness"
)

// siteAs finds the site called name in topo and returns it as a T (the
// interface the fault needs). verb says what the fault does to the site,
// for the error when the site lacks T: "target embedded cannot pause site
// europe-se-1b".
func siteAs[T any](topo harness.Topology, fault, name, verb string) (T, error) {
	var zero T
	if name == "" {
		return zero, fmt.Errorf("%s: no site given", fault)
	}
	s, err := topo.Site(name)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", fault, err)
	}
	t, ok := s.(T)
	if !ok {
		return zero, fmt.Errorf("target %s cannot %s site %s", topo.Target(), verb, name)
	}
	return t, nil
}

// SiteCrash stops a site abruptly (harness.Crasher.Crash; a SIGKILL for
// process-backed sites) and Heal restarts it with the same data.
//
// SiteCrash remembers whether it crashed the site, so Heal restarts only a
// site it crashed, once: use it by pointer.
type SiteCrash struct {
	Site string

	mu      sync.Mutex
	crashed bool // Crash was called and no Restart has succeeded since
}

// Name is e.g. "crash europe-se-1b".
func (f *SiteCrash) Name() string { return "crash " + f.Site }

// Requires is the crash capability.
func (f *SiteCrash) Requires() []harness.Capability {
	return []harness.Capability{harness.CapCrash}
}

// Validate checks that the site exists and can be crashed.
func (f *SiteCrash) Validate(topo harness.Topology) error {
	_, err := siteAs[harness.Crasher](topo, f.Name(), f.Site, "crash")
	return err
}

// Inject crashes the site. Injecting again before a successful Heal is an
// error.
func (f *SiteCrash) Inject(ctx context.Context, topo harness.Topology) error {
	c, err := siteAs[harness.Crasher](topo, f.Name(), f.Site, "crash")
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return fmt.Errorf("%s: already injected", f.Name())
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	// Set before the call: a Crash that fails may still have stopped the
	// site, and Heal must then try to restart it.
	f.crashed = true
	return wrap(f.Name(), c.Crash(ctx))
}

// Heal restarts the site if this fault crashed it (or tried to); it does
// nothing otherwise, so it is safe twice and after a failed Inject.
func (f *SiteCrash) Heal(ctx context.Context, topo harness.Topology) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.crashed {
		return nil
	}
	c, err := siteAs[harness.Crasher](topo, f.Name(), f.Site, "restart")
	if err != nil {
		return err
	}
	if err := c.Restart(ctx); err != nil {
		return wrap(f.Name(), err)
	}
	f.crashed = false
	return nil
}

func (f *SiteCrash) touches() []touch {
	return []touch{{target: "site " + f.Site, kind: kindProcess}}
}

// SitePause freezes a site (harness.Pauser.Pause; SIGSTOP for
// process-backed sites) and Heal resumes it.
//
// SitePause remembers whether it paused the site, so Heal resumes only a
// site it paused, once: use it by pointer.
type SitePause struct {
	Site string

	mu     sync.Mutex
	paused bool // Pause was called and no Resume has succeeded since
}

// Name is e.g. "pause europe-se-1b".
func (f *SitePause) Name() string { return "pause " + f.Site }

// Requires is the pause capability.
func (f *SitePause) Requires() []harness.Capability {
	return []harness.Capability{harness.CapPause}
}

// Validate checks that the site exists and can be paused.
func (f *SitePause) Validate(topo harness.Topology) error {
	_, err := siteAs[harness.Pauser](topo, f.Name(), f.Site, "pause")
	return err
}

// Inject pauses the site. Injecting again before a successful Heal is an
// error.
func (f *SitePause) Inject(ctx context.Context, topo harness.Topology) error {
	p, err := siteAs[harness.Pauser](topo, f.Name(), f.Site, "pause")
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused {
		return fmt.Errorf("%s: already injected", f.Name())
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	f.paused = true // as for SiteCrash: a failed Pause may have paused
	return wrap(f.Name(), p.Pause(ctx))
}

// Heal resumes the site if this fault paused it (or tried to); it does
// nothing otherwise, so it is safe twice and after a failed Inject.
func (f *SitePause) Heal(ctx context.Context, topo harness.Topology) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.paused {
		return nil
	}
	p, err := siteAs[harness.Pauser](topo, f.Name(), f.Site, "resume")
	if err != nil {
		return err
	}
	if err := p.Resume(ctx); err != nil {
		return wrap(f.Name(), err)
	}
	f.paused = false
	return nil
}

func (f *SitePause) touches() []touch {
	// A paused site and a crashed one are both "the process": a crash
	// healed during a pause would restart a site that should be frozen.
	return []touch{{target: "site " + f.Site, kind: kindProcess}}
}

// SiteDisconnect cuts a site off the inter-site network
// (harness.Disconnecter.Disconnect): a hard partition at the network layer,
// both ways, between the site and every other site, while clients still
// reach the site. Heal reconnects it. Unlike Partition it does not go
// through the WAN proxies, so it needs a target whose sites are separate
// hosts (CapDisconnect).
//
// SiteDisconnect remembers whether it disconnected the site, so Heal
// reconnects only a site it disconnected, once: use it by pointer.
type SiteDisconnect struct {
	Site string

	mu           sync.Mutex
	disconnected bool // Disconnect was called and no Reconnect has succeeded since
}

// Name is e.g. "disconnect europe-se-1b".
func (f *SiteDisconnect) Name() string { return "disconnect " + f.Site }

// Requires is the disconnect capability.
func (f *SiteDisconnect) Requires() []harness.Capability {
	return []harness.Capability{harness.CapDisconnect}
}

// Validate checks that the site exists and can be disconnected.
func (f *SiteDisconnect) Validate(topo harness.Topology) error {
	_, err := siteAs[harness.Disconnecter](topo, f.Name(), f.Site, "disconnect")
	return err
}

// Inject disconnects the site. Injecting again before a successful Heal is
// an error.
func (f *SiteDisconnect) Inject(ctx context.Context, topo harness.Topology) error {
	d, err := siteAs[harness.Disconnecter](topo, f.Name(), f.Site, "disconnect")
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.disconnected {
		return fmt.Errorf("%s: already injected", f.Name())
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	f.disconnected = true // as for SiteCrash: a failed Disconnect may have cut the site off
	return wrap(f.Name(), d.Disconnect(ctx))
}

// Heal reconnects the site if this fault disconnected it (or tried to); it
// does nothing otherwise, so it is safe twice and after a failed Inject.
func (f *SiteDisconnect) Heal(ctx context.Context, topo harness.Topology) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.disconnected {
		return nil
	}
	d, err := siteAs[harness.Disconnecter](topo, f.Name(), f.Site, "reconnect")
	if err != nil {
		return err
	}
	if err := d.Reconnect(ctx); err != nil {
		return wrap(f.Name(), err)
	}
	f.disconnected = false
	return nil
}

func (f *SiteDisconnect) touches() []touch {
	// A disconnect conflicts only with another disconnect of the same
	// site: Reconnect would end both. It does not touch the WAN links
	// from or to the site, though it cuts their traffic too, because
	// overlaps are about one heal undoing another fault, and here neither
	// undoes the other: Reconnect leaves a Partition or WANShape on the
	// proxies as it was, and healing those leaves the site disconnected.
	// Refusing them would also refuse every disconnect in a scenario with
	// a wan baseline, a shape on both directions for the whole run. (The
	// touch model could not say it sensibly either: touches knows the
	// site, not its peers, so it cannot name the links.) Nor does it
	// touch the process: harness.Disconnecter promises that Restart and
	// Resume leave a disconnected site disconnected, and that Reconnect
	// leaves a crashed or paused site down.
	return []touch{{target: "site " + f.Site, kind: kindNetwork}}
}

// ClockSkew shifts a site's clock by Skew (positive: ahead) and Heal sets
// the skew back to zero.
type ClockSkew struct {
	Site string
	Skew time.Duration
}

// Name is e.g. "clock skew europe-se-1b +5s".
func (f ClockSkew) Name() string {
	sign := "+"
	if f.Skew < 0 {
		sign = "" // Duration.String has the minus
	}
	return "clock skew " + f.Site + " " + sign + f.Skew.String()
}

// Requires is the clock skew capability.
func (f ClockSkew) Requires() []harness.Capability {
	return []harness.Capability{harness.CapClockSkew}
}

// Validate checks that the skew is not zero and that the site exists and
// can take it.
func (f ClockSkew) Validate(topo harness.Topology) error {
	_, err := f.site(topo)
	return err
}

func (f ClockSkew) site(topo harness.Topology) (harness.ClockSkewer, error) {
	if f.Skew == 0 {
		return nil, fmt.Errorf("%s: zero skew", f.Name())
	}
	return siteAs[harness.ClockSkewer](topo, f.Name(), f.Site, "skew the clock of")
}

// Inject sets the site's clock skew.
func (f ClockSkew) Inject(ctx context.Context, topo harness.Topology) error {
	c, err := f.site(topo)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	return wrap(f.Name(), c.SetClockSkew(f.Skew))
}

// Heal sets the site's clock skew to zero; a site that does not exist or
// has no clock to skew has nothing to heal.
func (f ClockSkew) Heal(ctx context.Context, topo harness.Topology) error {
	s, err := topo.Site(f.Site)
	if err != nil {
		return nil
	}
	c, ok := s.(harness.ClockSkewer)
	if !ok {
		return nil
	}
	return wrap(f.Name(), c.SetClockSkew(0))
}

func (f ClockSkew) touches() []touch {
	return []touch{{target: "site " + f.Site, kind: kindClock}}
}
