// Package scenario loads and validates replcheck scenario files: YAML that
// describes a topology (target, sites, reference-engine flaws), a WAN
// shape, a workload, a fault timeline and the checks a run must pass.
//
// Parse and Load fill defaults and validate; every problem found is
// reported, not just the first, as an *Error that names the file, line,
// column and field and says what is allowed:
//
//	partition-heal.yaml:14:5: workload.mix.puts: unknown field (known: put, overwrite, delete, multipart, copy, meta, get)
//
// The scenario library (the *.yaml files next to this package) is compiled
// into the binary: Library and Find read it from Embedded.
//
// Quick shortens a scenario for tests, smoke runs and calibration while
// keeping its shape.
//
// A Scenario is plain data. Timeline turns its WAN baseline and fault steps
// into a nemesis.Timeline, Flaws its flaw names into replication.Flaws. A
// scenario built in code gets the same defaults and checks from
// SetDefaults and Validate.
package scenario

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/checker"
)

// Scenario is one scenario file.
type Scenario struct {
	// Name is the scenario's identity, [a-z0-9-]+; in a file it matches the
	// file name without ".yaml".
	Name string `yaml:"name"`
	// Description says, in one paragraph, what the scenario shows and why.
	Description string   `yaml:"description"`
	Topology    Topology `yaml:"topology"`
	// WAN is a baseline shape on both directions between the sites for the
	// whole run (workload and observation window); nil for none.
	WAN      *WAN        `yaml:"wan"`
	Workload Workload    `yaml:"workload"`
	Faults   []FaultStep `yaml:"faults"`
	Checks   Checks      `yaml:"checks"`

	// File is where the scenario was read from: the path given to Load,
	// the name given to Parse.
	File string `yaml:"-"`
}

// Targets are the values of Topology.Target.
const (
	TargetEmbedded   = "embedded"   // two reference sites in-process (the default)
	TargetContainers = "containers" // sites and WAN proxies as containers
	TargetExternal   = "external"   // the user's endpoints from a sites file
	// Real engines, started on this host as processes (harness/engines).
	TargetMinIO = "minio" // two MinIO servers with site replication
	TargetCeph  = "ceph"  // Ceph RGW multisite: two zones of one zonegroup
	TargetSwift = "swift" // two Swift clusters with container sync
)

// Targets lists the known targets.
var Targets = []string{TargetEmbedded, TargetContainers, TargetExternal, TargetMinIO, TargetCeph, TargetSwift}

// IsEngine tells the targets that run a real engine rather than the
// reference engine: they take no flaws and no data backend.
func IsEngine(target string) bool {
	return target == TargetMinIO || target == TargetCeph || target == TargetSwift
}

// Data backends, the values of Topology.Data.
const (
	DataMemory = "memory" // the default; survives a site crash as a disk would
	DataDisk   = "disk"
)

// DefaultSites are the sites of a topology that names none (the same as
// harness/embedded's).
var DefaultSites = []string{"europe-se-1a", "europe-se-1b"}

// Topology says what runs the sites.
type Topology struct {
	// Target is TargetEmbedded (default), TargetContainers or
	// TargetExternal.
	Target string `yaml:"target"`
	// Sites are exactly two distinct site names; default DefaultSites.
	Sites []string `yaml:"sites"`
	// Flaws are reference-engine flaws to turn on (replication.AllFlaws
	// names); not for the external target.
	Flaws []string `yaml:"flaws"`
	// Data is DataMemory (default) or DataDisk.
	Data string `yaml:"data"`
}

// WAN is the baseline shape of the link between the sites.
type WAN struct {
	Latency time.Duration `yaml:"latency"` // one-way delay added
	Jitter  time.Duration `yaml:"jitter"`  // ± around Latency
	// Bandwidth is a limit in bytes per second, per connection; 0 = none.
	Bandwidth Size `yaml:"bandwidth"`
}

// Workload is what the clients do.
type Workload struct {
	// Duration is how long the workload runs; exactly one of Duration and
	// Ops is set.
	Duration time.Duration `yaml:"duration"`
	// Ops is how many operations the workload makes.
	Ops int `yaml:"ops"`
	// Concurrency is the number of clients at work at once; default 4.
	Concurrency int `yaml:"concurrency"`
	// Rate caps operations per second over all clients; 0 = no cap.
	Rate float64 `yaml:"rate"`
	// Keys is the size of the key space; default 100.
	Keys int `yaml:"keys"`
	// Buckets is how many buckets the keys spread over; default 1.
	Buckets int `yaml:"buckets"`
	// Versioning turns versioning on in the workload's buckets.
	Versioning bool `yaml:"versioning"`
	// Mix weighs operation kinds; default put 50, overwrite 30, delete 10,
	// get 10.
	Mix Mix `yaml:"mix"`
	// Sizes weighs object sizes; default one class of 4 KiB.
	Sizes []SizeClass `yaml:"sizes"`
	// APIs weighs S3 against Swift; default all S3.
	APIs APIs `yaml:"apis"`
	// Sites weighs the sites operations go to, by topology site name;
	// default the same weight for each site.
	Sites map[string]int `yaml:"sites"`
	// SSE weighs server-side encryption modes of writes; default none.
	SSE SSEMix `yaml:"sse"`
	// BothSites makes a share of writes deliberately conflict across sites.
	BothSites BothSites `yaml:"both_sites"`
	// Seed makes the workload reproducible; default 1.
	Seed uint64 `yaml:"seed"`
}

// Mix weighs operation kinds (the kinds of verifier/history). At least one
// weight is positive; none is negative.
type Mix struct {
	Put       int `yaml:"put"`       // write a new key
	Overwrite int `yaml:"overwrite"` // write a key written before
	Delete    int `yaml:"delete"`
	Multipart int `yaml:"multipart"` // multipart upload (S3 only)
	Copy      int `yaml:"copy"`      // server-side copy
	Meta      int `yaml:"meta"`      // metadata update in place
	Get       int `yaml:"get"`
}

// Total is the sum of the weights.
func (m Mix) Total() int {
	return m.Put + m.Overwrite + m.Delete + m.Multipart + m.Copy + m.Meta + m.Get
}

// SizeClass is one weighted object size: either exactly Size, or uniform
// between Min and Max (both inclusive).
type SizeClass struct {
	Size Size `yaml:"size"`
	Min  Size `yaml:"min"`
	Max  Size `yaml:"max"`
	// Weight of the class; 1 when the file leaves it out.
	Weight int `yaml:"weight"`
}

// IsRange reports whether the class is a Min–Max range rather than one
// size.
func (c SizeClass) IsRange() bool { return c.Max > 0 }

// String is "4KiB" or "1KiB-1MiB", with the weight: "4KiB×80".
func (c SizeClass) String() string {
	if c.IsRange() {
		return fmt.Sprintf("%v-%v×%d", c.Min, c.Max, c.Weight)
	}
	return fmt.Sprintf("%v×%d", c.Size, c.Weight)
}

// APIs weighs the APIs operations use.
type APIs struct {
	S3    int `yaml:"s3"`
	Swift int `yaml:"swift"`
}

// SSEMix weighs server-side encryption modes of writes. Swift cannot ask
// for encryption, so any mode but None needs an S3 share.
type SSEMix struct {
	None int `yaml:"none"`
	S3   int `yaml:"sse-s3"`
	KMS  int `yaml:"sse-kms"`
	C    int `yaml:"sse-c"`
}

// Encrypted is the total weight of the encrypting modes.
func (m SSEMix) Encrypted() int { return m.S3 + m.KMS + m.C }

// BothSites are percentages of writes made deliberately to a key just
// written at the other site: Concurrent while that write is still in
// flight, Sequential right after it completed. Their sum is at most 100.
type BothSites struct {
	Concurrent int `yaml:"concurrent"`
	Sequential int `yaml:"sequential"`
}

// FaultStep is one step of the fault timeline: exactly one of its fault
// kinds is set.
type FaultStep struct {
	// At is when the fault starts, from the start of the workload; before
	// the workload's end.
	At time.Duration `yaml:"at"`
	// For is how long the fault lasts; 0 = until the end of the workload.
	For time.Duration `yaml:"for"`

	Partition *PartitionFault `yaml:"partition"`
	Shape     *ShapeFault     `yaml:"shape"`
	Flap      *FlapFault      `yaml:"flap"`
	Reset     *ResetFault     `yaml:"reset"`
	Crash     *SiteFault      `yaml:"crash"`
	Pause     *SiteFault      `yaml:"pause"`
	// Disconnect cuts the site off the inter-site network at the network
	// layer, both ways, below the WAN proxies; clients still reach it.
	// Only targets whose sites are separate hosts can (the disconnect
	// capability; not embedded).
	Disconnect *SiteFault      `yaml:"disconnect"`
	ClockSkew  *ClockSkewFault `yaml:"clock_skew"`
}

// FaultKinds are the fault kinds of a step, as the file names them.
var FaultKinds = []string{"partition", "shape", "flap", "reset", "crash", "pause", "disconnect", "clock_skew"}

// Kinds lists the fault kinds set in the step, in FaultKinds order; a
// valid step has exactly one.
func (s FaultStep) Kinds() []string {
	var out []string
	for i, set := range []bool{s.Partition != nil, s.Shape != nil, s.Flap != nil, s.Reset != nil,
		s.Crash != nil, s.Pause != nil, s.Disconnect != nil, s.ClockSkew != nil} {
		if set {
			out = append(out, FaultKinds[i])
		}
	}
	return out
}

// Partition modes, the values of PartitionFault.Mode.
const (
	ModeRefuse    = "refuse"    // connections refused at once (the default)
	ModeBlackhole = "blackhole" // connections accepted, nothing gets through
)

// PartitionFault cuts the WAN From→To, and To→From as well if Both.
type PartitionFault struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
	Both bool   `yaml:"both"`
	// Mode is ModeRefuse (default) or ModeBlackhole.
	Mode string `yaml:"mode"`
}

// ShapeFault adds latency ± jitter and a bandwidth limit From→To (and
// To→From if Both). At least one of them is set.
type ShapeFault struct {
	From      string        `yaml:"from"`
	To        string        `yaml:"to"`
	Both      bool          `yaml:"both"`
	Latency   time.Duration `yaml:"latency"`
	Jitter    time.Duration `yaml:"jitter"`
	Bandwidth Size          `yaml:"bandwidth"` // bytes per second per connection
}

// FlapFault takes the WAN From→To (and To→From if Both) down for Down and
// up for Up, over and over, starting down.
type FlapFault struct {
	From string        `yaml:"from"`
	To   string        `yaml:"to"`
	Both bool          `yaml:"both"`
	Up   time.Duration `yaml:"up"`
	Down time.Duration `yaml:"down"`
}

// ResetFault resets WAN connections From→To (and To→From if Both) After
// the peer starts answering: the peer applied the request and the sender
// cannot know.
type ResetFault struct {
	From  string        `yaml:"from"`
	To    string        `yaml:"to"`
	Both  bool          `yaml:"both"`
	After time.Duration `yaml:"after"`
}

// SiteFault names the site a crash, a pause or a disconnect acts on.
type SiteFault struct {
	Site string `yaml:"site"`
}

// ClockSkewFault shifts a site's clock by Skew (negative: behind).
type ClockSkewFault struct {
	Site string        `yaml:"site"`
	Skew time.Duration `yaml:"skew"`
}

// Checks are what a run is judged by.
type Checks struct {
	// SLO is the replication lag target; default 15m.
	SLO time.Duration `yaml:"slo"`
	// Observe is how long after the workload convergence is watched;
	// default 30s.
	Observe time.Duration `yaml:"observe"`
	// ClockUncertainty widens "happened before" between operations.
	ClockUncertainty time.Duration `yaml:"clock_uncertainty"`
	// Expect lists the anomalies the run must find (a calibration
	// scenario); empty means the run must find none.
	Expect []string `yaml:"expect"`
	// GoNoGo says the verdict answers a question an operator acts on
	// (may a site be taken down?): a pass reads "go", anything else
	// "no-go".
	GoNoGo bool `yaml:"go_no_go"`
}

// Anomaly names a scenario may expect, as DESIGN.md defines them.
// SLOBreach and StatusMismatch are not in verifier/checker: other parts
// of the verifier find them.
const (
	StaleLocalRead = checker.StaleLocalRead
	SLOBreach      = "slo-breach"
	StatusMismatch = "status-mismatch"
)

// Anomalies lists every anomaly name, in DESIGN.md's order.
var Anomalies = []string{
	checker.LostWrite, checker.Divergence, checker.MissingReplica, checker.CorruptRead,
	checker.Unreadable, checker.Resurrection, checker.MetadataMismatch, StaleLocalRead,
	checker.EncryptionDowngrade, SLOBreach, StatusMismatch,
}

// Flaws is the set of flaws the topology turns on. Names are checked on
// load; one that is not a replication flaw is left out.
func (s *Scenario) Flaws() replication.Flaws {
	f := replication.Flaws{}
	for _, n := range s.Topology.Flaws {
		if parsed, err := replication.ParseFlaws(n); err == nil {
			for k := range parsed {
				f[k] = true
			}
		}
	}
	return f
}

// RunLength is how long a run lasts when the workload has a duration:
// the workload and then the observation window; 0 for an ops workload,
// whose length is not known in advance.
func (s *Scenario) RunLength() time.Duration {
	if s.Workload.Duration <= 0 {
		return 0
	}
	return s.Workload.Duration + s.Checks.Observe
}

// Timeline builds the faults the scenario schedules, fresh values on every
// call (Flap, SiteCrash, SitePause and SiteDisconnect keep state while
// injected, and are pointers as nemesis expects). Offsets count from the
// start of the workload; run the timeline as the workload starts.
//
// The WAN baseline, if any, comes first: a WANShape both ways at 0 for the
// whole run (RunLength). A step whose For is 0 lasts until the end of the
// workload, so its For becomes Workload.Duration − At. Timeline fails for
// a step that has no fault kind or several, an unknown partition mode,
// and a step (or a baseline) that has no end because the workload is a
// number of operations; Parse reports all of these on load.
func (s *Scenario) Timeline() (nemesis.Timeline, error) {
	if len(s.Topology.Sites) != 2 {
		return nil, fmt.Errorf("scenario %s: want two topology sites, have %d", s.Name, len(s.Topology.Sites))
	}
	a, b := s.Topology.Sites[0], s.Topology.Sites[1]
	var tl nemesis.Timeline
	if w := s.WAN; w != nil {
		if s.RunLength() == 0 {
			return nil, fmt.Errorf("scenario %s: wan: a baseline shape needs a workload duration", s.Name)
		}
		tl = append(tl, nemesis.Step{At: 0, For: s.RunLength(), Fault: nemesis.WANShape{
			From: a, To: b, Both: true, Latency: w.Latency, Jitter: w.Jitter,
			BandwidthBytesPerSec: int64(w.Bandwidth)}})
	}
	for i, st := range s.Faults {
		f, err := st.fault()
		if err != nil {
			return nil, fmt.Errorf("scenario %s: faults[%d]: %w", s.Name, i, err)
		}
		d := st.For
		if d == 0 {
			if s.Workload.Duration <= 0 {
				return nil, fmt.Errorf("scenario %s: faults[%d]: no for, and an ops workload has no end to last until", s.Name, i)
			}
			if d = s.Workload.Duration - st.At; d <= 0 {
				return nil, fmt.Errorf("scenario %s: faults[%d]: at %v is not before the end of the workload (%v)",
					s.Name, i, st.At, s.Workload.Duration)
			}
		}
		tl = append(tl, nemesis.Step{At: st.At, For: d, Fault: f})
	}
	return tl, nil
}

// fault builds the step's one fault.
func (s FaultStep) fault() (nemesis.Fault, error) {
	if k := s.Kinds(); len(k) != 1 {
		return nil, fmt.Errorf("want exactly one fault kind, have %d", len(k))
	}
	switch {
	case s.Partition != nil:
		p := s.Partition
		mode, err := partitionMode(p.Mode)
		if err != nil {
			return nil, err
		}
		return nemesis.Partition{From: p.From, To: p.To, Both: p.Both, Mode: mode}, nil
	case s.Shape != nil:
		p := s.Shape
		return nemesis.WANShape{From: p.From, To: p.To, Both: p.Both, Latency: p.Latency, Jitter: p.Jitter,
			BandwidthBytesPerSec: int64(p.Bandwidth)}, nil
	case s.Flap != nil:
		p := s.Flap
		return &nemesis.Flap{From: p.From, To: p.To, Both: p.Both, Up: p.Up, Down: p.Down}, nil
	case s.Reset != nil:
		p := s.Reset
		return nemesis.ConnectionReset{From: p.From, To: p.To, Both: p.Both, After: p.After}, nil
	case s.Crash != nil:
		return &nemesis.SiteCrash{Site: s.Crash.Site}, nil
	case s.Pause != nil:
		return &nemesis.SitePause{Site: s.Pause.Site}, nil
	case s.Disconnect != nil:
		return &nemesis.SiteDisconnect{Site: s.Disconnect.Site}, nil
	default:
		return nemesis.ClockSkew{Site: s.ClockSkew.Site, Skew: s.ClockSkew.Skew}, nil
	}
}

// partitionMode maps a file's mode to wan's; "" is refuse.
func partitionMode(m string) (wan.PartitionMode, error) {
	switch m {
	case "", ModeRefuse:
		return wan.Refuse, nil
	case ModeBlackhole:
		return wan.Blackhole, nil
	}
	return 0, fmt.Errorf("unknown partition mode %q (known: %s, %s)", m, ModeRefuse, ModeBlackhole)
}

// Shortening says how Quick shortens a scenario.
type Shortening struct {
	// Scale multiplies the workload's length (its duration, or its number
	// of operations) and, in proportion, every fault step's at and for
	// and a flap's periods; 0 < Scale ≤ 1.
	Scale float64
	// MaxWorkload, if set, lowers Scale further so that a workload with a
	// duration lasts at most this long.
	MaxWorkload time.Duration
	// MaxSize, if set, caps object sizes: a size above it becomes
	// MaxSize, and so does a range's max (its min at most MaxSize). A
	// rate cap then rises as much as the mean object size fell, but never
	// beyond the rate that would keep the scenario's number of
	// operations: the bytes per second stay at most the scenario's, and
	// a spread of sizes still gets its points.
	MaxSize Size
	// MinSettle and MaxSettle bound the settle time: the part of the
	// observation window after the last fault ends (or after the
	// workload, whichever is later). It scales with the rest, but stays
	// at least min(the scenario's settle time, MinSettle), so a correct
	// engine has time to converge after the last heal, and at most
	// MaxSettle if that is set, which bounds how long a failing run
	// waits.
	MinSettle, MaxSettle time.Duration
}

// Shortenings Quick is used with.
var (
	// Halved halves the workload and the fault times and keeps at least
	// 5 s to settle (replcheck calibrate --quick): a flaw still does its
	// damage, and a correct engine converges well within 5 s.
	Halved = Shortening{Scale: 0.5, MinSettle: 5 * time.Second}
	// Smoke shortens any library scenario to a run of a few seconds of
	// workload with objects of at most 8 MiB, for tests and smoke runs:
	// every fault still happens, in the same order and proportions, and
	// a correct engine has 10 to 20 s to converge after the last heal (or
	// the scenario's own settle time, if shorter).
	Smoke = Shortening{Scale: 1, MaxWorkload: 6 * time.Second, MaxSize: 8 * MiB,
		MinSettle: 10 * time.Second, MaxSettle: 20 * time.Second}
)

// Quick shortens s as sh says, keeping its shape: the same faults in the
// same order and proportions, the same mix, sites and APIs, the WAN
// baseline over the shorter run. It fails, leaving s as it was, for a
// Scale out of range or if the shortened scenario would not validate.
func (s *Scenario) Quick(sh Shortening) error {
	if !(sh.Scale > 0 && sh.Scale <= 1) {
		return fmt.Errorf("scenario %s: quick: scale %v is not in (0, 1]", s.Name, sh.Scale)
	}
	if sh.MaxWorkload < 0 || sh.MaxSize < 0 || sh.MinSettle < 0 || sh.MaxSettle < 0 {
		return fmt.Errorf("scenario %s: quick: negative bound in %+v", s.Name, sh)
	}
	q := *s
	w := &q.Workload
	scale := sh.Scale
	if w.Duration > 0 && sh.MaxWorkload > 0 {
		scale = min(scale, float64(sh.MaxWorkload)/float64(w.Duration))
	}
	// What the observation window has after the faults: the time left to
	// settle. Ends are scaled, not lengths, so steps that end together
	// still do.
	// An ops workload has no known end: its whole window counts.
	settle := s.Checks.Observe - faultsTail(w.Duration, s.Faults)
	if settle < 0 {
		return fmt.Errorf("scenario %s: quick: faults end %v after the observation window", s.Name, -settle)
	}

	if w.Duration > 0 {
		w.Duration = scaled(w.Duration, scale)
	} else {
		w.Ops = max(1, int(math.Round(float64(w.Ops)*scale)))
	}
	q.Faults = slices.Clone(s.Faults)
	for i, st := range q.Faults {
		at := scaled(st.At, scale)
		if st.For > 0 {
			st.For = max(scaled(st.At+st.For, scale)-at, time.Millisecond)
		}
		st.At = at
		if f := st.Flap; f != nil {
			// A copy: library scenarios may share the pointee.
			c := *f
			c.Up, c.Down = max(scaled(c.Up, scale), time.Millisecond), max(scaled(c.Down, scale), time.Millisecond)
			st.Flap = &c
		}
		q.Faults[i] = st
	}
	newSettle := max(scaled(settle, scale), min(settle, sh.MinSettle))
	if sh.MaxSettle > 0 {
		newSettle = min(newSettle, sh.MaxSettle)
	}
	q.Checks.Observe = faultsTail(w.Duration, q.Faults) + newSettle

	if sh.MaxSize > 0 {
		before := meanSize(w.Sizes)
		w.Sizes = slices.Clone(w.Sizes)
		for i := range w.Sizes {
			c := &w.Sizes[i]
			if c.IsRange() {
				c.Max = min(c.Max, sh.MaxSize)
				c.Min = min(c.Min, c.Max)
			} else {
				c.Size = min(c.Size, sh.MaxSize)
			}
		}
		if after := meanSize(w.Sizes); w.Rate > 0 && after > 0 && before > after {
			w.Rate *= min(before/after, 1/scale)
		}
	}
	if err := q.Validate(); err != nil {
		return errors.Join(fmt.Errorf("scenario %s: quick: the shortened scenario is not valid", s.Name), err)
	}
	*s = q
	return nil
}

// faultsTail is how long the fault steps last beyond a workload of
// duration d: 0 if none does, or if d is 0 (an ops workload).
func faultsTail(d time.Duration, steps []FaultStep) time.Duration {
	if d <= 0 {
		return 0
	}
	end := d
	for _, st := range steps {
		if st.For > 0 {
			end = max(end, st.At+st.For)
		}
	}
	return end - d
}

// scaled is d·f to the millisecond (to the nanosecond below one).
func scaled(d time.Duration, f float64) time.Duration {
	x := time.Duration(math.Round(float64(d) * f))
	if x >= time.Millisecond {
		x = x.Round(time.Millisecond)
	}
	return x
}

// meanSize is the weighted mean object size of classes, a range counting
// as log-uniform between its min and max (the runner spreads it
// geometrically).
func meanSize(classes []SizeClass) float64 {
	var sum, weights float64
	for _, c := range classes {
		m := float64(c.Size)
		if c.IsRange() {
			lo, hi := float64(max(c.Min, 1)), float64(c.Max)
			m = lo
			if hi > lo {
				m = (hi - lo) / math.Log(hi/lo)
			}
		}
		sum += float64(c.Weight) * m
		weights += float64(c.Weight)
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}
