package wan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// PartitionMode says how a partitioned link fails.
type PartitionMode int

const (
	// Refuse disables the proxy: new connections are refused at once and
	// existing ones are closed (an orderly close: the sender reads EOF).
	// Like a peer that is down, or a firewall that rejects.
	Refuse PartitionMode = iota + 1
	// Blackhole keeps the proxy accepting but lets no data through in
	// either direction: requests hang until the sender's own timeout, like
	// a WAN that silently drops packets. Data sent meanwhile is discarded,
	// and Heal closes every connection that lived through the blackhole.
	Blackhole
)

// String is the mode's name as Faults reports it.
func (m PartitionMode) String() string {
	switch m {
	case Refuse:
		return "refuse"
	case Blackhole:
		return "blackhole"
	}
	return fmt.Sprintf("PartitionMode(%d)", int(m))
}

// Link is one direction of a WAN link: a proxy that the sending site
// connects to (Addr) and that forwards to the peer (Upstream). Faults apply
// to connections the sender opens through it; the reverse direction is a
// separate Link. Its methods talk to the control API; each error names the
// link. They are safe for concurrent use, but two calls changing the same
// fault at once may fail with a conflict.
//
// Setting a fault again replaces it; for the few milliseconds in between,
// the link is without it (toxiproxy's in-place update races with the
// connections, see setFault).
type Link struct {
	client   *toxiclient.Client
	name     string
	addr     string
	upstream string
}

// Name is the link's name on the toxiproxy server.
func (l *Link) Name() string { return l.name }

// Addr is where the sender connects: the proxy's listen address as the
// server reports it (with the real port when the link was made on port 0).
func (l *Link) Addr() string { return l.addr }

// Upstream is the peer address the link forwards to.
func (l *Link) Upstream() string { return l.upstream }

// String is the link's name and route, for logs.
func (l *Link) String() string { return l.name + " (" + l.addr + " → " + l.upstream + ")" }

// SetLatency delays every chunk of data through the link by latency ± a
// uniformly random jitter, in both directions of each connection: the
// sender's data reaches the peer latency later, and the peer's answer
// comes back latency later, so a request/response round trip gains
// 2·latency, as on a WAN whose one-way delay is latency. Shaping both
// streams keeps the model independent of whether replication pushes or
// pulls; an asymmetric WAN is the two Links set differently.
//
// Chunks keep their order (a delay never goes below zero, and jitter never
// reorders a TCP stream). TCP's own handshake is not delayed: toxiproxy
// terminates TCP and delays application data. Toxiproxy counts the delay
// from when a chunk entered the link, so behind a bandwidth limit a chunk
// gets up to its own transmission time (≤ 32 KiB at the rate) less. Its
// unit is the millisecond: values are rounded to it, and a positive value
// is at least 1 ms. Both zero removes the latency.
func (l *Link) SetLatency(latency, jitter time.Duration) error {
	if latency < 0 || jitter < 0 {
		return l.errorf("set latency %v ±%v: negative duration", latency, jitter)
	}
	if latency == 0 && jitter == 0 {
		return l.wrap("remove latency", l.removeFaults(toxicLatencyUp, toxicLatencyDown))
	}
	attrs := toxiclient.Attributes{"latency": millis(latency), "jitter": millis(jitter)}
	err := l.setFaults("latency", attrs, toxicLatencyUp, toxicLatencyDown)
	return l.wrap(fmt.Sprintf("set latency %v ±%v", latency, jitter), err)
}

// SetBandwidth limits the rate of data through the link, in bytes per
// second, in each direction of each connection. The limit is per
// connection, not shared: toxiproxy paces every connection on its own, so
// n parallel connections can move n times the rate.
//
// Toxiproxy's unit is KB/s with 1 KB = 1000 bytes, so the resolution is
// 1000 B/s: the rate is rounded to it and is at least 1000 B/s. Toxiproxy
// releases large chunks in 100 ms slices, so the rate holds over 100 ms and
// more, not within one write. Zero removes the limit.
//
// The limit goes ahead of any latency, as on a WAN (serialise, then
// propagate), so that the sender feels it at once; see setBandwidth.
func (l *Link) SetBandwidth(bytesPerSecond int64) error {
	if bytesPerSecond < 0 {
		return l.errorf("set bandwidth %d B/s: negative rate", bytesPerSecond)
	}
	if bytesPerSecond == 0 {
		return l.wrap("remove bandwidth limit", l.removeFaults(toxicBandwidthUp, toxicBandwidthDown))
	}
	attrs := toxiclient.Attributes{"rate": max(1, (bytesPerSecond+500)/1000)} // KB/s
	return l.wrap(fmt.Sprintf("set bandwidth %d B/s", bytesPerSecond), l.setBandwidth(attrs))
}

// setBandwidth sets the bandwidth toxics ahead of the latency toxics.
// Toxiproxy chains toxics in the order they were added. Bandwidth then
// latency is a WAN's order (serialise, then propagate) and keeps
// backpressure: the bandwidth toxic holds one chunk, so the sender is
// slowed at once, and the latency toxic behind it only ever holds what
// passes in one delay. The other way round, the latency toxic's buffer
// (1024 chunks, up to 32 MiB) fills at full speed before the bandwidth
// limit is felt, and removing that latency later has to push the backlog
// through the bandwidth limit while holding the proxy's lock, dropping
// chunks that wait more than 5 s. So latency set before bandwidth is taken
// out and put back after it; meanwhile (a few ms) there is no latency.
func (l *Link) setBandwidth(attrs toxiclient.Attributes) error {
	ts, err := l.toxics()
	if err != nil {
		return err
	}
	var latency toxiclient.Toxics
	for _, t := range ts {
		if t.Name == toxicLatencyUp || t.Name == toxicLatencyDown {
			latency = append(latency, t)
		}
	}
	if err := l.removeToxics(names(latency)...); err != nil {
		return err
	}
	for _, t := range []struct{ name, stream string }{{toxicBandwidthUp, upstream}, {toxicBandwidthDown, downstream}} {
		if err := l.setFault(ts, t.name, "bandwidth", t.stream, attrs); err != nil {
			return err
		}
	}
	p := l.proxy()
	for _, t := range latency {
		if _, err := p.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, t.Attributes); err != nil {
			return fmt.Errorf("put latency back after bandwidth: %w", err)
		}
	}
	return nil
}

// Partition cuts the link in the given mode until Heal. It cuts this
// direction only: the reverse Link still works, which makes a one-way
// partition; cut both Links for a two-way one. A Refuse partition returns
// about 20 ms after it took effect, once the connections it closed are
// drained (see cut.go).
func (l *Link) Partition(mode PartitionMode) error {
	what := "partition " + mode.String()
	switch mode {
	case Refuse:
		p, err := l.client.Proxy(l.name)
		if err != nil {
			return l.wrap(what, err)
		}
		if !p.Enabled {
			return nil // already refusing
		}
		return l.wrap(what, l.cut(p))
	case Blackhole:
		// A timeout toxic with timeout 0 reads and drops data and never
		// closes the connection.
		return l.wrap(what, l.setBlackholes(toxicBlackholeUp, toxicBlackholeDown))
	}
	return l.errorf("%s: unknown partition mode", what)
}

// Heal ends a partition of either mode; other faults stay. Connections
// that lived through a blackhole are closed: Heal disables the link for
// about 20 ms to do that cleanly (see cut.go), refusing new connections
// meanwhile. When Heal returns, new connections work.
func (l *Link) Heal() error {
	return l.wrap("heal", l.heal(func(name string) bool {
		return name == toxicBlackholeUp || name == toxicBlackholeDown
	}))
}

// ResetConnections makes the link reset its connections: once the peer
// starts answering on a connection, the link waits after, then drops the
// answer and closes both ends. Connections opened while the fault is
// active are reset (TCP RST: the sender reads "connection reset by peer");
// ones already open are closed without RST (the sender reads EOF).
//
// The reset hits answers, not requests, because that is the case no
// partition makes: the peer received and applied the request, the sender
// cannot know it, and only an idempotent retry is safe. Toxiproxy's unit is
// the millisecond; 0 resets at once.
//
// Toxiproxy's reset stops reading after the chunk that triggers it, so an
// answer longer than one chunk (32 KiB) strands the goroutines that carry
// the rest of it, with the data they hold, until the process exits. Small
// answers, such as those to replication pushes, strand nothing.
func (l *Link) ResetConnections(after time.Duration) error {
	what := fmt.Sprintf("reset connections after %v", after)
	if after < 0 {
		return l.errorf("%s: negative duration", what)
	}
	ts, err := l.toxics()
	if err == nil {
		err = l.setFault(ts, toxicReset, "reset_peer", downstream, toxiclient.Attributes{"timeout": millis(after)})
	}
	return l.wrap(what, err)
}

// SlowClose delays the close of each connection by delay: when one end
// closes, the link passes the close on to the other end delay later, in
// both directions. Zero removes the fault. Toxiproxy's unit is the
// millisecond.
func (l *Link) SlowClose(delay time.Duration) error {
	what := fmt.Sprintf("slow close %v", delay)
	if delay < 0 {
		return l.errorf("%s: negative duration", what)
	}
	if delay == 0 {
		return l.wrap("remove slow close", l.removeFaults(toxicSlowCloseUp, toxicSlowCloseDown))
	}
	attrs := toxiclient.Attributes{"delay": millis(delay)}
	return l.wrap(what, l.setFaults("slow_close", attrs, toxicSlowCloseUp, toxicSlowCloseDown))
}

// ClearFaults removes every fault from the link, including toxics that
// other tools added, and enables it.
func (l *Link) ClearFaults() error {
	return l.wrap("clear faults", l.heal(func(string) bool { return true }))
}

// Flap makes the link go down for down (a Refuse partition) and up for up,
// over and over, starting down, until ctx ends; then it heals the link and
// returns nil. Going down takes about 25 ms and coming up a few (see
// Partition), and each period starts when its switch is done, so a cycle
// lasts that much longer than up+down. If ctx has already ended, Flap does
// nothing.
func (l *Link) Flap(ctx context.Context, up, down time.Duration) error {
	if up <= 0 || down <= 0 {
		return l.errorf("flap up %v down %v: periods must be positive", up, down)
	}
	if ctx.Err() != nil {
		return nil
	}
	wait := func(d time.Duration) bool {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	for {
		if err := l.Partition(Refuse); err != nil {
			return errors.Join(err, l.Heal())
		}
		if !wait(down) {
			return l.Heal()
		}
		if err := l.Heal(); err != nil {
			return err
		}
		if !wait(up) {
			return nil
		}
	}
}

// Faults describes the faults active on the link now, for reports, in a
// fixed order: partitions, latency, bandwidth, resets, slow close, then
// toxics other tools added. E.g. "partition refuse", "latency 100ms
// ±10ms", "bandwidth 1000000 B/s". A fault on one stream only says which,
// e.g. "reset connections after 0s (downstream)". Empty means healthy.
func (l *Link) Faults() ([]string, error) {
	p, err := l.client.Proxy(l.name)
	if err != nil {
		return nil, l.wrap("faults", err)
	}
	type fault struct {
		rank    int
		what    string
		streams []string
	}
	var found []*fault
	byWhat := map[string]*fault{}
	if !p.Enabled {
		found = append(found, &fault{what: "partition " + Refuse.String()})
	}
	for _, t := range p.ActiveToxics {
		if !p.Enabled && (t.Name == toxicRefuseUp || t.Name == toxicRefuseDown) {
			continue // how Refuse cuts cleanly (see cut.go), not a fault
		}
		if base, ok := pausedBase(t.Name); ok {
			if _, set := find(p.ActiveToxics, base); set {
				continue // set anew during the partition: that one counts
			}
			if !p.Enabled {
				t.Toxicity = 1 // paused by the cut until Heal
			}
		}
		rank, what := describe(t)
		f := byWhat[what]
		if f == nil {
			f = &fault{rank: rank, what: what}
			byWhat[what] = f
			found = append(found, f)
		}
		f.streams = append(f.streams, t.Stream)
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].rank < found[j].rank })
	faults := make([]string, 0, len(found))
	for _, f := range found {
		what := f.what
		if len(f.streams) == 1 {
			what += " (" + f.streams[0] + ")"
		}
		faults = append(faults, what)
	}
	return faults, nil
}

// describe says what a toxic does, without its stream, and ranks it for
// Faults' order.
func describe(t toxiclient.Toxic) (rank int, what string) {
	ms := func(key string) time.Duration {
		v, _ := t.Attributes[key].(float64) // JSON numbers
		return time.Duration(v) * time.Millisecond
	}
	switch t.Type {
	case "timeout":
		rank, what = 1, "partition "+Blackhole.String()
		if to := ms("timeout"); to > 0 {
			what = fmt.Sprintf("timeout %v", to)
		}
	case "latency":
		rank, what = 2, fmt.Sprintf("latency %v", ms("latency"))
		if j := ms("jitter"); j > 0 {
			what += fmt.Sprintf(" ±%v", j)
		}
	case "bandwidth":
		rate, _ := t.Attributes["rate"].(float64)
		rank, what = 3, fmt.Sprintf("bandwidth %d B/s", int64(rate)*1000)
	case "reset_peer":
		rank, what = 4, fmt.Sprintf("reset connections after %v", ms("timeout"))
	case "slow_close":
		rank, what = 5, fmt.Sprintf("slow close %v", ms("delay"))
	default:
		rank, what = 6, "toxic "+t.Name+" type "+t.Type
	}
	if t.Toxicity < 1 {
		what += fmt.Sprintf(" on %.0f%% of connections", 100*t.Toxicity)
	}
	return rank, what
}

// millis converts d to toxiproxy's whole milliseconds, rounding to the
// nearest but never turning a positive duration into zero.
func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, d.Round(time.Millisecond).Milliseconds())
}

func (l *Link) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("wan link %s: %s: %w", l.name, what, err)
}

func (l *Link) errorf(format string, args ...any) error {
	return fmt.Errorf("wan link %s: %s", l.name, fmt.Sprintf(format, args...))
}
