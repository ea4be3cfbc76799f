package wan

import (
	"fmt"
	"strings"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Toxic names. They are stable so that applying a fault again replaces it
// rather than stacking a second copy.
const (
	toxicLatencyUp     = "latency-upstream"
	toxicLatencyDown   = "latency-downstream"
	toxicBandwidthUp   = "bandwidth-upstream"
	toxicBandwidthDown = "bandwidth-downstream"
	toxicBlackholeUp   = "blackhole-upstream"
	toxicBlackholeDown = "blackhole-downstream"
	toxicRefuseUp      = "refuse-upstream" // see cut.go
	toxicRefuseDown    = "refuse-downstream"
	toxicReset         = "reset-downstream"
	toxicSlowCloseUp   = "slow-close-upstream"
	toxicSlowCloseDown = "slow-close-downstream"

	// pausedPrefix names the copy a cut keeps of a toxic while the link
	// is down, e.g. "paused-latency-upstream" (see cut.go).
	pausedPrefix = "paused-"
)

// Toxiproxy's stream names: upstream carries what the sender (the client
// of the connection) writes, downstream what the peer writes back.
const (
	upstream   = "upstream"
	downstream = "downstream"
)

// ours reports whether name is a fault toxic this package sets; a cut
// pauses those (other tools' toxics are left alone).
func ours(name string) bool {
	switch name {
	case toxicLatencyUp, toxicLatencyDown, toxicBandwidthUp, toxicBandwidthDown,
		toxicReset, toxicSlowCloseUp, toxicSlowCloseDown:
		return true
	}
	return false
}

// pausedBase is the name of the toxic that name is a paused copy of.
func pausedBase(name string) (string, bool) {
	base, ok := strings.CutPrefix(name, pausedPrefix)
	return base, ok && ours(base)
}

// holdsDrain reports whether ts has a blackhole of this package's.
func holdsDrain(ts toxiclient.Toxics) bool {
	for _, t := range ts {
		switch t.Name {
		case toxicBlackholeUp, toxicBlackholeDown, toxicRefuseUp, toxicRefuseDown:
			return true
		}
	}
	return false
}

// find returns the toxic called name in ts.
func find(ts toxiclient.Toxics, name string) (toxiclient.Toxic, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return toxiclient.Toxic{}, false
}

// names lists the names of ts.
func names(ts toxiclient.Toxics) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// proxy is a client handle for this link's toxics. It is not fetched, so
// it must not be saved: Save would try to create the proxy.
func (l *Link) proxy() *toxiclient.Proxy {
	p := l.client.NewProxy()
	p.Name = l.name
	return p
}

// toxics lists the link's toxics in chain order: the upstream chain, then
// the downstream one.
func (l *Link) toxics() (toxiclient.Toxics, error) {
	return l.proxy().Toxics()
}

// setFault sets the toxic name on stream, replacing one already there (ts
// is the current list) and any paused copy, so that applying a fault twice
// never stacks two copies.
//
// It replaces rather than updates because toxiproxy updates a toxic in
// place, writing the new settings into memory that the connections'
// goroutines read without synchronisation: a data race that `go test
// -race` reports. Adding and removing are safe. The replacement goes to the
// end of the chain; for a few milliseconds in between, the fault is off.
func (l *Link) setFault(ts toxiclient.Toxics, name, typ, stream string, attrs toxiclient.Attributes) error {
	var stale []string
	for _, n := range []string{name, pausedPrefix + name} {
		if _, ok := find(ts, n); ok {
			stale = append(stale, n)
		}
	}
	if err := l.removeToxics(stale...); err != nil {
		return err
	}
	if _, err := l.proxy().AddToxic(name, typ, stream, 1, attrs); err != nil {
		return fmt.Errorf("add toxic %s: %w", name, err)
	}
	return nil
}

// setFaults sets one toxic per stream, up upstream and down downstream.
func (l *Link) setFaults(typ string, attrs toxiclient.Attributes, up, down string) error {
	ts, err := l.toxics()
	if err != nil {
		return err
	}
	if err := l.setFault(ts, up, typ, upstream, attrs); err != nil {
		return err
	}
	return l.setFault(ts, down, typ, downstream, attrs)
}

// setBlackholes adds a blackhole (a timeout toxic with timeout 0: it reads
// and drops data and never closes the connection) on each stream, named up
// and down, unless it is already there.
func (l *Link) setBlackholes(up, down string) error {
	ts, err := l.toxics()
	if err != nil {
		return err
	}
	p := l.proxy()
	for _, t := range []struct{ name, stream string }{{up, upstream}, {down, downstream}} {
		if _, ok := find(ts, t.name); ok {
			continue
		}
		if _, err := p.AddToxic(t.name, "timeout", t.stream, 1, toxiclient.Attributes{"timeout": 0}); err != nil {
			return fmt.Errorf("add toxic %s: %w", t.name, err)
		}
	}
	return nil
}

// removeFaults removes the named toxics and their paused copies.
func (l *Link) removeFaults(faults ...string) error {
	ts, err := l.toxics()
	if err != nil {
		return err
	}
	var present []string
	for _, f := range faults {
		for _, n := range []string{f, pausedPrefix + f} {
			if _, ok := find(ts, n); ok {
				present = append(present, n)
			}
		}
	}
	return l.removeToxics(present...)
}

// removeToxics removes the named toxics, in order; ones already gone are
// fine.
func (l *Link) removeToxics(names ...string) error {
	p := l.proxy()
	for _, name := range names {
		if err := p.RemoveToxic(name); err != nil && !isToxicNotFound(err) {
			return fmt.Errorf("remove toxic %s: %w", name, err)
		}
	}
	return nil
}
