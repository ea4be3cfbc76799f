package scenario_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/scenarios"
)

const (
	siteA = "europe-se-1a"
	siteB = "europe-se-1b"
)

// TestTimelinePartitionHeal: the library's partition-heal schedules its WAN
// baseline for the whole run and its two partitions as written.
func TestTimelinePartitionHeal(t *testing.T) {
	s, err := scenario.Find("partition-heal")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	want := nemesis.Timeline{
		{At: 0, For: 55 * time.Second, Fault: nemesis.WANShape{From: siteA, To: siteB, Both: true, Latency: 10 * time.Millisecond}},
		{At: 5 * time.Second, For: 10 * time.Second, Fault: nemesis.Partition{From: siteA, To: siteB, Both: true, Mode: wan.Refuse}},
		{At: 18 * time.Second, For: 4 * time.Second, Fault: nemesis.Partition{From: siteB, To: siteA, Mode: wan.Blackhole}},
	}
	if !reflect.DeepEqual(tl, want) {
		t.Errorf("timeline:\n%s\nwant:\n%s", steps(tl), steps(want))
	}
	if s.RunLength() != 55*time.Second || tl.Duration() != s.RunLength() {
		t.Errorf("run %v, timeline %v", s.RunLength(), tl.Duration())
	}
	if err := tl.Validate(newFakeTopo(s.Topology.Sites)); err != nil {
		t.Error(err)
	}
}

func steps(tl nemesis.Timeline) string {
	var b strings.Builder
	for _, s := range tl {
		b.WriteString("  at " + s.At.String() + " for " + s.For.String() + ": " + s.Fault.Name() + "\n")
	}
	return b.String()
}

// TestTimelineEveryKind: each fault kind becomes its nemesis fault, and a
// step without for lasts until the end of the workload.
func TestTimelineEveryKind(t *testing.T) {
	s := parse(t, `name: t
description: d
topology: {sites: [a, b]}
workload: {duration: 1m}
faults:
  - at: 1s
    for: 2s
    shape: {from: a, to: b, both: true, latency: 100ms, jitter: 10ms, bandwidth: 1MiB}
  - at: 4s
    for: 2s
    flap: {from: b, to: a, up: 1s, down: 500ms}
  - at: 7s
    for: 1s
    reset: {from: a, to: b, after: 0s}
  - at: 10s
    for: 5s
    crash: {site: b}
  - at: 20s
    for: 5s
    pause: {site: a}
  - at: 26s
    for: 3s
    disconnect: {site: b}
  - at: 30s
    clock_skew: {site: b, skew: 5s}
  - at: 40s
    partition: {from: a, to: b}
`)
	tl, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	want := nemesis.Timeline{
		{At: time.Second, For: 2 * time.Second, Fault: nemesis.WANShape{From: "a", To: "b", Both: true,
			Latency: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, BandwidthBytesPerSec: 1 << 20}},
		{At: 4 * time.Second, For: 2 * time.Second, Fault: &nemesis.Flap{From: "b", To: "a", Up: time.Second, Down: 500 * time.Millisecond}},
		{At: 7 * time.Second, For: time.Second, Fault: nemesis.ConnectionReset{From: "a", To: "b"}},
		{At: 10 * time.Second, For: 5 * time.Second, Fault: &nemesis.SiteCrash{Site: "b"}},
		{At: 20 * time.Second, For: 5 * time.Second, Fault: &nemesis.SitePause{Site: "a"}},
		{At: 26 * time.Second, For: 3 * time.Second, Fault: &nemesis.SiteDisconnect{Site: "b"}},
		{At: 30 * time.Second, For: 30 * time.Second, Fault: nemesis.ClockSkew{Site: "b", Skew: 5 * time.Second}},
		{At: 40 * time.Second, For: 20 * time.Second, Fault: nemesis.Partition{From: "a", To: "b", Mode: wan.Refuse}},
	}
	if !reflect.DeepEqual(tl, want) {
		t.Errorf("timeline:\n%s\nwant:\n%s", steps(tl), steps(want))
	}
	if tl.Duration() != time.Minute {
		t.Errorf("timeline lasts %v", tl.Duration())
	}
	if err := tl.Validate(newFakeTopo(s.Topology.Sites)); err != nil {
		t.Error(err)
	}
	// Every call builds fresh faults: Flap, SiteCrash, SitePause and
	// SiteDisconnect keep state while injected.
	again, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 3, 4, 5} {
		if tl[i].Fault == again[i].Fault {
			t.Errorf("step %d: the same %T twice", i, tl[i].Fault)
		}
	}
}

func TestTimelineErrors(t *testing.T) {
	base := func() *scenario.Scenario {
		return &scenario.Scenario{Name: "t", Topology: scenario.Topology{Sites: []string{"a", "b"}},
			Workload: scenario.Workload{Duration: 10 * time.Second}}
	}
	for _, tc := range []struct {
		name   string
		change func(s *scenario.Scenario)
		want   string
	}{
		{"no fault", func(s *scenario.Scenario) { s.Faults = []scenario.FaultStep{{At: time.Second}} },
			"scenario t: faults[0]: want exactly one fault kind, have 0"},
		{"two faults", func(s *scenario.Scenario) {
			s.Faults = []scenario.FaultStep{{Crash: &scenario.SiteFault{Site: "a"}, Pause: &scenario.SiteFault{Site: "a"}}}
		}, "scenario t: faults[0]: want exactly one fault kind, have 2"},
		{"bad mode", func(s *scenario.Scenario) {
			s.Faults = []scenario.FaultStep{{Partition: &scenario.PartitionFault{From: "a", To: "b", Mode: "cut"}}}
		}, `scenario t: faults[0]: unknown partition mode "cut" (known: refuse, blackhole)`},
		{"no end", func(s *scenario.Scenario) {
			s.Workload = scenario.Workload{Ops: 10}
			s.Faults = []scenario.FaultStep{{Crash: &scenario.SiteFault{Site: "a"}}}
		}, "scenario t: faults[0]: no for, and an ops workload has no end to last until"},
		{"after the end", func(s *scenario.Scenario) {
			s.Faults = []scenario.FaultStep{{At: time.Minute, Crash: &scenario.SiteFault{Site: "a"}}}
		}, "scenario t: faults[0]: at 1m0s is not before the end of the workload (10s)"},
		{"wan without duration", func(s *scenario.Scenario) {
			s.Workload = scenario.Workload{Ops: 10}
			s.WAN = &scenario.WAN{Latency: time.Millisecond}
		}, "scenario t: wan: a baseline shape needs a workload duration"},
		{"one site", func(s *scenario.Scenario) { s.Topology.Sites = []string{"a"} },
			"scenario t: want two topology sites, have 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(s)
			if _, err := s.Timeline(); err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %s", err, tc.want)
			}
		})
	}
}

// TestOverlapsAgreeWithNemesis: Parse refuses exactly the timelines that
// nemesis.Timeline.Validate would refuse at run time, so a scenario that
// loads does not fail when it starts.
func TestOverlapsAgreeWithNemesis(t *testing.T) {
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	part := func(from, to string, both bool) *scenario.PartitionFault {
		return &scenario.PartitionFault{From: from, To: to, Both: both}
	}
	for _, tc := range []struct {
		name     string
		wan      *scenario.WAN
		steps    []scenario.FaultStep
		conflict bool
	}{
		{"partitions overlap", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Partition: part("a", "b", false)},
			{At: sec(2), For: sec(5), Partition: part("b", "a", true)}}, true},
		{"partitions end together", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(6), Partition: part("a", "b", false)},
			{At: sec(2), For: sec(5), Partition: part("b", "a", true)}}, false},
		{"opposite directions", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Partition: part("a", "b", false)},
			{At: sec(2), For: sec(5), Partition: part("b", "a", false)}}, false},
		{"one after the other", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(2), Crash: &scenario.SiteFault{Site: "a"}},
			{At: sec(3), For: sec(2), Crash: &scenario.SiteFault{Site: "a"}}}, false},
		{"latency and bandwidth", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Shape: &scenario.ShapeFault{From: "a", To: "b", Latency: sec(1)}},
			{At: sec(2), For: sec(5), Shape: &scenario.ShapeFault{From: "a", To: "b", Bandwidth: scenario.MiB}}}, false},
		{"reset and partition", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Reset: &scenario.ResetFault{From: "a", To: "b"}},
			{At: sec(2), For: sec(5), Partition: part("a", "b", false)}}, true},
		{"flap and partition", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Flap: &scenario.FlapFault{From: "a", To: "b", Up: sec(1), Down: sec(1)}},
			{At: sec(2), For: sec(5), Partition: part("b", "a", true)}}, true},
		{"crash and pause", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Crash: &scenario.SiteFault{Site: "a"}},
			{At: sec(2), For: sec(5), Pause: &scenario.SiteFault{Site: "a"}}}, true},
		{"disconnects of one site", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Disconnect: &scenario.SiteFault{Site: "a"}},
			{At: sec(2), For: sec(5), Disconnect: &scenario.SiteFault{Site: "a"}}}, true},
		{"disconnects of one site ending together", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(6), Disconnect: &scenario.SiteFault{Site: "a"}},
			{At: sec(2), For: sec(5), Disconnect: &scenario.SiteFault{Site: "a"}}}, false},
		{"disconnects of both sites", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Disconnect: &scenario.SiteFault{Site: "a"}},
			{At: sec(2), For: sec(5), Disconnect: &scenario.SiteFault{Site: "b"}}}, false},
		{"disconnect and crash", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Disconnect: &scenario.SiteFault{Site: "a"}},
			{At: sec(2), For: sec(2), Crash: &scenario.SiteFault{Site: "a"}}}, false},
		{"disconnect and partition of its links", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Disconnect: &scenario.SiteFault{Site: "a"}},
			{At: sec(2), For: sec(2), Partition: part("a", "b", true)}}, false},
		{"baseline and a disconnect", &scenario.WAN{Latency: time.Millisecond}, []scenario.FaultStep{
			{At: sec(2), For: sec(3), Disconnect: &scenario.SiteFault{Site: "b"}}}, false},
		{"crash and clock skew", nil, []scenario.FaultStep{
			{At: sec(1), For: sec(5), Crash: &scenario.SiteFault{Site: "a"}},
			{At: sec(2), ClockSkew: &scenario.ClockSkewFault{Site: "a", Skew: sec(5)}}}, false},
		{"baseline latency and a latency step", &scenario.WAN{Latency: time.Millisecond}, []scenario.FaultStep{
			{At: sec(2), Shape: &scenario.ShapeFault{From: "b", To: "a", Latency: sec(1)}}}, true},
		{"baseline bandwidth and a latency step", &scenario.WAN{Bandwidth: scenario.MiB}, []scenario.FaultStep{
			{At: sec(2), Shape: &scenario.ShapeFault{From: "b", To: "a", Latency: sec(1)}}}, false},
		{"baseline and a step to the end of the run", &scenario.WAN{Latency: time.Millisecond}, []scenario.FaultStep{
			{At: sec(2), For: sec(38), Shape: &scenario.ShapeFault{From: "b", To: "a", Latency: sec(1)}}}, false},
		{"baseline and resets", &scenario.WAN{Latency: time.Millisecond}, []scenario.FaultStep{
			{At: sec(2), For: sec(1), Reset: &scenario.ResetFault{From: "a", To: "b"}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scenario.Scenario{Name: "t", Description: "d", Topology: scenario.Topology{Sites: []string{"a", "b"}},
				WAN: tc.wan, Workload: scenario.Workload{Duration: sec(20)}, Faults: tc.steps,
				Checks: scenario.Checks{Observe: sec(20)}}
			s.SetDefaults()
			ours := s.Validate()
			tl, err := s.Timeline()
			if err != nil {
				t.Fatal(err)
			}
			theirs := tl.Validate(newFakeTopo(s.Topology.Sites))
			if (ours != nil) != tc.conflict || (theirs != nil) != tc.conflict {
				t.Errorf("want conflict %v\nscenario: %v\nnemesis:  %v", tc.conflict, ours, theirs)
			}
		})
	}
}

// TestDisconnectStep: a disconnect step loads, becomes a
// nemesis.SiteDisconnect, and needs the disconnect capability: a target
// without it (the embedded one, whose sites share a host) refuses the
// timeline before anything is injected, naming the target and the site.
func TestDisconnectStep(t *testing.T) {
	s := parse(t, minimal+`faults:
  - at: 2s
    for: 5s
    disconnect: {site: europe-se-1b}
`)
	if got := s.Faults[0].Kinds(); !reflect.DeepEqual(got, []string{"disconnect"}) {
		t.Errorf("kinds %q", got)
	}
	tl, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	want := nemesis.Timeline{{At: 2 * time.Second, For: 5 * time.Second, Fault: &nemesis.SiteDisconnect{Site: siteB}}}
	if !reflect.DeepEqual(tl, want) {
		t.Errorf("timeline:\n%s\nwant:\n%s", steps(tl), steps(want))
	}
	if got := tl[0].Fault.(interface{ Requires() []harness.Capability }).Requires(); !reflect.DeepEqual(got, []harness.Capability{harness.CapDisconnect}) {
		t.Errorf("requires %q", got)
	}
	topo := newFakeTopo(s.Topology.Sites)
	if err := tl.Validate(topo); err != nil {
		t.Error(err)
	}

	// The embedded target's capabilities: everything but disconnect.
	topo.caps = harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true, harness.CapClockSkew: true, harness.CapFlaws: true, harness.CapRepStatus: true,
		harness.CapGroundTime: true}
	err = tl.Validate(topo)
	if want := "timeline[0] at 2s: disconnect europe-se-1b: target embedded cannot disconnect"; err == nil || err.Error() != want {
		t.Errorf("on embedded: %v\nwant %s", err, want)
	}
}

// TestDisconnectOnEmbedded: the real embedded target lacks the disconnect
// capability, so a scenario with a disconnect fails the check the runner
// makes before the run.
func TestDisconnectOnEmbedded(t *testing.T) {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{})
	if topo != nil {
		t.Cleanup(func() {
			if err := topo.Close(context.WithoutCancel(ctx)); err != nil {
				t.Error(err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	if topo.Capabilities()[harness.CapDisconnect] {
		t.Skip("the embedded target can disconnect sites now")
	}
	s := parse(t, minimal+"faults:\n  - at: 1s\n    disconnect: {site: europe-se-1a}\n")
	tl, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	err = tl.Validate(topo)
	if want := "timeline[0] at 1s: disconnect europe-se-1a: target embedded cannot disconnect"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}
