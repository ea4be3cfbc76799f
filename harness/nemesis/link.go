package nemesis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
)

// route is the WAN direction(s) a link fault acts on: From→To, and To→From
// as well when both is set. A direction is the path the sending site's
// traffic takes (harness.Link).
type route struct {
	from, to string
	both     bool
}

// String is "a→b", or "a↔b" for both directions.
func (r route) String() string {
	if r.both {
		return r.from + "↔" + r.to
	}
	return arrow(r.from, r.to)
}

// dirs lists the directions as [from, to] pairs, From→To first.
func (r route) dirs() [][2]string {
	d := [][2]string{{r.from, r.to}}
	if r.both {
		d = append(d, [2]string{r.to, r.from})
	}
	return d
}

// check validates the route's fields; fault is the fault's name.
func (r route) check(fault string) error {
	switch {
	case r.from == "" || r.to == "":
		return fmt.Errorf("%s: from and to sites are both required", fault)
	case r.from == r.to:
		return fmt.Errorf("%s: from and to are the same site", fault)
	}
	return nil
}

// links resolves every direction to its WAN proxy, or fails without
// having touched anything. verb says what the fault does, for the error
// when a link has no proxy: "target external cannot partition link a→b".
func (r route) links(topo harness.Topology, fault, verb string) ([]*wan.Link, error) {
	if err := r.check(fault); err != nil {
		return nil, err
	}
	var out []*wan.Link
	for _, d := range r.dirs() {
		l, err := topo.Link(d[0], d[1])
		if err != nil {
			return nil, fmt.Errorf("%s: link %s: %w", fault, arrow(d[0], d[1]), err)
		}
		if l == nil || l.WAN() == nil {
			return nil, fmt.Errorf("target %s cannot %s link %s: it has no WAN proxy",
				topo.Target(), verb, arrow(d[0], d[1]))
		}
		out = append(out, l.WAN())
	}
	return out, nil
}

// existing resolves the directions that exist and have a WAN proxy,
// skipping the rest: what Heal works on, since a link that does not exist
// cannot have been faulted.
func (r route) existing(topo harness.Topology) []*wan.Link {
	if r.check("") != nil {
		return nil
	}
	var out []*wan.Link
	for _, d := range r.dirs() {
		if l, err := topo.Link(d[0], d[1]); err == nil && l != nil && l.WAN() != nil {
			out = append(out, l.WAN())
		}
	}
	return out
}

// touches lists, for each direction, the resource kinds a fault changes.
func (r route) touches(kinds ...string) []touch {
	var out []touch
	for _, d := range r.dirs() {
		for _, k := range kinds {
			out = append(out, touch{target: "link " + arrow(d[0], d[1]), kind: k})
		}
	}
	return out
}

// wrap prefixes err with the fault's name unless err is nil.
func wrap(fault string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fault, err)
}

// Partition cuts WAN traffic From→To, and To→From as well if Both: a
// one-way partition leaves the reverse direction working. Heal ends the
// partition and leaves other faults on the links alone.
type Partition struct {
	From, To string
	Both     bool
	// Mode is how the cut fails: wan.Refuse (the zero value means
	// Refuse) or wan.Blackhole.
	Mode wan.PartitionMode
}

func (f Partition) route() route { return route{f.From, f.To, f.Both} }

func (f Partition) mode() wan.PartitionMode {
	if f.Mode == 0 {
		return wan.Refuse
	}
	return f.Mode
}

// Name is e.g. "partition a→b", or "partition a↔b (blackhole)".
func (f Partition) Name() string {
	n := "partition " + f.route().String()
	if f.mode() != wan.Refuse {
		n += " (" + f.mode().String() + ")"
	}
	return n
}

// Requires is the partition capability.
func (f Partition) Requires() []harness.Capability {
	return []harness.Capability{harness.CapPartition}
}

// Validate checks the mode and that every direction has a WAN proxy.
func (f Partition) Validate(topo harness.Topology) error {
	_, err := f.links(topo)
	return err
}

func (f Partition) links(topo harness.Topology) ([]*wan.Link, error) {
	if m := f.mode(); m != wan.Refuse && m != wan.Blackhole {
		return nil, fmt.Errorf("%s: unknown partition mode %d", f.Name(), int(m))
	}
	return f.route().links(topo, f.Name(), "partition")
}

// Inject cuts each direction in turn.
func (f Partition) Inject(ctx context.Context, topo harness.Topology) error {
	links, err := f.links(topo)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	for _, l := range links {
		if err := l.Partition(f.mode()); err != nil {
			return wrap(f.Name(), err)
		}
	}
	return nil
}

// Heal ends the partition on every direction that exists.
func (f Partition) Heal(ctx context.Context, topo harness.Topology) error {
	return wrap(f.Name(), healAll(f.route().existing(topo)))
}

func (f Partition) touches() []touch { return f.route().touches(kindPartition) }

// WANShape slows WAN traffic From→To (and To→From if Both): each direction
// gains Latency ± Jitter of one-way delay and a bandwidth limit of
// BandwidthBytesPerSec per connection (see wan.Link.SetLatency and
// SetBandwidth for units and resolution). Zero fields are left alone:
// a shape with only a latency keeps whatever bandwidth limit the link has.
//
// Heal removes the latency and the bandwidth limit this shape set, back to
// none: it cannot restore a shape the link had before Inject, since wan
// does not report one.
type WANShape struct {
	From, To             string
	Both                 bool
	Latency, Jitter      time.Duration
	BandwidthBytesPerSec int64
}

func (f WANShape) route() route { return route{f.From, f.To, f.Both} }

func (f WANShape) latency() bool   { return f.Latency != 0 || f.Jitter != 0 }
func (f WANShape) bandwidth() bool { return f.BandwidthBytesPerSec != 0 }

// Name is e.g. "shape a→b latency 100ms ±10ms, bandwidth 1000000 B/s".
func (f WANShape) Name() string {
	n := "shape " + f.route().String()
	sep := " "
	if f.latency() {
		n += sep + "latency " + f.Latency.String()
		if f.Jitter != 0 {
			n += " ±" + f.Jitter.String()
		}
		sep = ", "
	}
	if f.bandwidth() {
		n += fmt.Sprintf("%sbandwidth %d B/s", sep, f.BandwidthBytesPerSec)
	}
	return n
}

// Requires is the WAN shape capability.
func (f WANShape) Requires() []harness.Capability {
	return []harness.Capability{harness.CapWANShape}
}

// Validate checks that the shape changes something, with no negative
// value, and that every direction has a WAN proxy.
func (f WANShape) Validate(topo harness.Topology) error {
	_, err := f.links(topo)
	return err
}

func (f WANShape) links(topo harness.Topology) ([]*wan.Link, error) {
	switch {
	case f.Latency < 0 || f.Jitter < 0 || f.BandwidthBytesPerSec < 0:
		return nil, fmt.Errorf("%s: negative latency, jitter or bandwidth", f.Name())
	case !f.latency() && !f.bandwidth():
		return nil, fmt.Errorf("%s: no latency, jitter or bandwidth given", f.Name())
	}
	return f.route().links(topo, f.Name(), "shape")
}

// Inject shapes each direction in turn.
func (f WANShape) Inject(ctx context.Context, topo harness.Topology) error {
	links, err := f.links(topo)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	for _, l := range links {
		if f.latency() {
			if err := l.SetLatency(f.Latency, f.Jitter); err != nil {
				return wrap(f.Name(), err)
			}
		}
		if f.bandwidth() {
			if err := l.SetBandwidth(f.BandwidthBytesPerSec); err != nil {
				return wrap(f.Name(), err)
			}
		}
	}
	return nil
}

// Heal removes the latency and bandwidth limit the shape sets from every
// direction that exists.
func (f WANShape) Heal(ctx context.Context, topo harness.Topology) error {
	var errs []error
	for _, l := range f.route().existing(topo) {
		if f.latency() {
			errs = append(errs, l.SetLatency(0, 0))
		}
		if f.bandwidth() {
			errs = append(errs, l.SetBandwidth(0))
		}
	}
	return wrap(f.Name(), errors.Join(errs...))
}

func (f WANShape) touches() []touch {
	var kinds []string
	if f.latency() {
		kinds = append(kinds, kindLatency)
	}
	if f.bandwidth() {
		kinds = append(kinds, kindBandwidth)
	}
	return f.route().touches(kinds...)
}

// ConnectionReset makes WAN connections From→To (and To→From if Both)
// reset: After the peer starts answering, the answer is dropped and the
// connection reset (wan.Link.ResetConnections): the peer applied the
// request and the sender cannot know.
//
// Heal clears every fault on the links, not only the resets, because wan
// has no call that removes resets alone; Timeline.Validate therefore
// refuses a timeline where a reset overlaps another fault on the same link.
type ConnectionReset struct {
	From, To string
	Both     bool
	After    time.Duration
}

func (f ConnectionReset) route() route { return route{f.From, f.To, f.Both} }

// Name is e.g. "reset connections a→b after 0s".
func (f ConnectionReset) Name() string {
	return fmt.Sprintf("reset connections %s after %v", f.route(), f.After)
}

// Requires is the WAN shape capability, which covers resets.
func (f ConnectionReset) Requires() []harness.Capability {
	return []harness.Capability{harness.CapWANShape}
}

// Validate checks After and that every direction has a WAN proxy.
func (f ConnectionReset) Validate(topo harness.Topology) error {
	_, err := f.links(topo)
	return err
}

func (f ConnectionReset) links(topo harness.Topology) ([]*wan.Link, error) {
	if f.After < 0 {
		return nil, fmt.Errorf("%s: negative delay", f.Name())
	}
	return f.route().links(topo, f.Name(), "reset connections on")
}

// Inject starts resetting on each direction in turn.
func (f ConnectionReset) Inject(ctx context.Context, topo harness.Topology) error {
	links, err := f.links(topo)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	for _, l := range links {
		if err := l.ResetConnections(f.After); err != nil {
			return wrap(f.Name(), err)
		}
	}
	return nil
}

// Heal clears every fault from every direction that exists.
func (f ConnectionReset) Heal(ctx context.Context, topo harness.Topology) error {
	var errs []error
	for _, l := range f.route().existing(topo) {
		errs = append(errs, l.ClearFaults())
	}
	return wrap(f.Name(), errors.Join(errs...))
}

func (f ConnectionReset) touches() []touch { return f.route().touches(kindAll) }

// Flap takes WAN traffic From→To (and To→From if Both, in step) down for
// Down and up for Up, over and over, starting down, until healed. Down is
// a wan.Refuse partition. Inject makes the first cut itself and returns
// with the link down; a goroutine does the rest until Heal stops it.
//
// Flap keeps that goroutine between Inject and Heal: use it by pointer,
// and do not copy it once injected.
type Flap struct {
	From, To string
	Both     bool
	Up, Down time.Duration

	mu   sync.Mutex
	stop context.CancelFunc // nil unless flapping
	done chan error         // the goroutine's result, buffered
}

func (f *Flap) route() route { return route{f.From, f.To, f.Both} }

// Name is e.g. "flap a↔b up 1s down 500ms".
func (f *Flap) Name() string {
	return fmt.Sprintf("flap %s up %v down %v", f.route(), f.Up, f.Down)
}

// Requires is the partition capability.
func (f *Flap) Requires() []harness.Capability {
	return []harness.Capability{harness.CapPartition}
}

// Validate checks the periods and that every direction has a WAN proxy.
func (f *Flap) Validate(topo harness.Topology) error {
	_, err := f.links(topo)
	return err
}

func (f *Flap) links(topo harness.Topology) ([]*wan.Link, error) {
	if f.Up <= 0 || f.Down <= 0 {
		return nil, fmt.Errorf("%s: up and down periods must be positive", f.Name())
	}
	return f.route().links(topo, f.Name(), "flap")
}

// Inject cuts every direction and starts flapping. The flapping goes on
// until Heal, even after ctx ends. Injecting a Flap that is already
// flapping is an error.
func (f *Flap) Inject(ctx context.Context, topo harness.Topology) error {
	links, err := f.links(topo)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop != nil {
		return fmt.Errorf("%s: already injected", f.Name())
	}
	if err := ctx.Err(); err != nil {
		return wrap(f.Name(), err)
	}
	if err := partitionAll(links); err != nil {
		return wrap(f.Name(), err)
	}
	flapCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	f.stop, f.done = stop, make(chan error, 1)
	go func(done chan<- error) { done <- f.flap(flapCtx, links) }(f.done)
	return nil
}

// flap alternates from the down state Inject left until ctx ends. After an
// error it heals what it can and stops; Heal reports the error.
func (f *Flap) flap(ctx context.Context, links []*wan.Link) error {
	timer := time.NewTimer(f.Down)
	defer timer.Stop()
	down := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		var err error
		if down {
			err = healAll(links)
			timer.Reset(f.Up)
		} else {
			err = partitionAll(links)
			timer.Reset(f.Down)
		}
		if err != nil {
			return errors.Join(fmt.Errorf("while flapping: %w", err), healAll(links))
		}
		down = !down
	}
}

// Heal stops the flapping, waits for it to end and heals every direction
// that exists. It returns the flapping's own error, if it had one.
func (f *Flap) Heal(ctx context.Context, topo harness.Topology) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	if f.stop != nil {
		f.stop()
		errs = append(errs, <-f.done)
		f.stop, f.done = nil, nil
	}
	errs = append(errs, healAll(f.route().existing(topo)))
	return wrap(f.Name(), errors.Join(errs...))
}

func (f *Flap) touches() []touch { return f.route().touches(kindPartition) }

// partitionAll refuses on every link, stopping at the first error.
func partitionAll(links []*wan.Link) error {
	for _, l := range links {
		if err := l.Partition(wan.Refuse); err != nil {
			return err
		}
	}
	return nil
}

// healAll heals every link, carrying on past errors.
func healAll(links []*wan.Link) error {
	var errs []error
	for _, l := range links {
		errs = append(errs, l.Heal())
	}
	return errors.Join(errs...)
}
