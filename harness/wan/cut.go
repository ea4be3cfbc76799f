package wan

import (
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Cutting connections cleanly.
//
// Toxiproxy moves each connection's data, per stream, through a chain of
// goroutines: a reader, one stub per toxic, a writer, joined by channels.
// Disabling or deleting a proxy closes both ends of every connection; a
// writer then fails its next write and quits, and every stub still holding
// data blocks forever on its next send, along with the reader behind it.
// Removing a blackhole does the same to the stubs in front of it. Under
// load that strands goroutines, and the chunks they hold (the latency
// toxic buffers up to 1024 chunks of up to 32 KiB), for the life of the
// process: every partition or flap during replication would leak.
//
// So a cut, instead:
//
//  1. appends a blackhole (refuse-*) to the end of each chain, so that no
//     stub can block on a dead writer;
//  2. pauses this package's other toxics, so that data already inside,
//     possibly seconds' worth behind a bandwidth limit, drains at once
//     instead of being paced into the blackhole: each is swapped for a
//     copy (paused-*) with toxicity 0, which toxiproxy runs as a no-op
//     after the blackhole and which keeps the settings on the server for
//     Heal (toxiproxy's own toxicity update would race, see setFault);
//  3. disables the proxy, and waits cutSettle for the chains to empty.
//
// Healing then removes the blackholes, swaps the paused copies back, in
// their order, and enables the proxy.

// cutSettle is how long a cut waits, after disabling the proxy, before
// its blackholes may be removed: the chains, unpaced, empty in well under
// a millisecond; this is margin for a busy machine.
const cutSettle = 20 * time.Millisecond

// cut disables the proxy p (as fetched, with its toxics) without
// stranding toxiproxy goroutines: see above. Data in flight is lost, as
// with a bare disable.
func (l *Link) cut(p *toxiclient.Proxy) error {
	if err := l.setBlackholes(toxicRefuseUp, toxicRefuseDown); err != nil {
		return err
	}
	if err := l.pause(p.ActiveToxics); err != nil {
		return err
	}
	if err := p.Disable(); err != nil {
		return err
	}
	time.Sleep(cutSettle)
	return nil
}

// pause swaps each of this package's toxics in ts for a paused copy.
func (l *Link) pause(ts toxiclient.Toxics) error {
	var live toxiclient.Toxics
	for _, t := range ts {
		if ours(t.Name) {
			live = append(live, t)
		}
	}
	p := l.proxy()
	for _, t := range live {
		// A copy left by an earlier cut that never healed is stale.
		if _, ok := find(ts, pausedPrefix+t.Name); ok {
			if err := l.removeToxics(pausedPrefix + t.Name); err != nil {
				return err
			}
		}
		if _, err := p.AddToxic(pausedPrefix+t.Name, t.Type, t.Stream, 0, t.Attributes); err != nil {
			return err
		}
	}
	// Last in the chain first: each removal flushes the chunks its toxic
	// holds into the next stub, which is then already gone or a no-op.
	for i := len(live) - 1; i >= 0; i-- {
		if err := l.removeToxics(live[i].Name); err != nil {
			return err
		}
	}
	return nil
}

// resume swaps paused copies in ts back for the toxics they keep, in
// chain order. A toxic set anew while the link was down wins over its
// copy.
func (l *Link) resume(ts toxiclient.Toxics) error {
	p := l.proxy()
	for _, t := range ts {
		base, ok := pausedBase(t.Name)
		if !ok {
			continue
		}
		if _, set := find(ts, base); !set {
			if _, err := p.AddToxic(base, t.Type, t.Stream, 1, t.Attributes); err != nil {
				return err
			}
		}
		if err := l.removeToxics(t.Name); err != nil {
			return err
		}
	}
	return nil
}

// heal removes the toxics for which remove(name) is true (for a paused
// copy, name is the toxic it keeps) and the blackholes a cut left, resumes
// paused toxics and enables the proxy. If the proxy is live and holds a
// blackhole, heal cuts it first, because removing the blackhole from live
// connections would strand their goroutines.
func (l *Link) heal(remove func(name string) bool) error {
	p, err := l.client.Proxy(l.name)
	if err != nil {
		return err
	}
	ts := p.ActiveToxics
	if p.Enabled && holdsDrain(ts) {
		if err := l.cut(p); err != nil {
			return err
		}
		if ts, err = l.toxics(); err != nil {
			return err
		}
	}
	var doomed []string
	var kept toxiclient.Toxics
	for _, t := range ts {
		name := t.Name
		if base, ok := pausedBase(name); ok {
			name = base
		}
		if t.Name == toxicRefuseUp || t.Name == toxicRefuseDown || remove(name) {
			doomed = append(doomed, t.Name)
		} else {
			kept = append(kept, t)
		}
	}
	if err := l.removeToxics(doomed...); err != nil {
		return err
	}
	if err := l.resume(kept); err != nil {
		return err
	}
	if p.Enabled {
		return nil
	}
	// Toxiproxy listens again on the same port; this fails if another
	// socket took the port while the link was down.
	return p.Enable()
}
