package scenario_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/scenarios"
)

// TestQuickLibrary: every library scenario, shortened either way, still
// validates, and nemesis accepts its timeline; Smoke bounds the workload,
// the sizes and the observation window, and keeps the faults' order and
// proportions.
func TestQuickLibrary(t *testing.T) {
	lib, err := scenario.Library()
	if err != nil {
		t.Fatal(err)
	}
	for _, orig := range lib {
		for _, mode := range []struct {
			name string
			sh   scenario.Shortening
		}{{"halved", scenario.Halved}, {"smoke", scenario.Smoke}} {
			t.Run(orig.Name+"/"+mode.name, func(t *testing.T) {
				s := *orig
				if err := s.Quick(mode.sh); err != nil {
					t.Fatal(err)
				}
				if err := s.Validate(); err != nil {
					t.Fatalf("does not validate: %v", err)
				}
				tl, err := s.Timeline()
				if err != nil {
					t.Fatal(err)
				}
				if err := tl.Validate(newFakeTopo(s.Topology.Sites)); err != nil {
					t.Errorf("nemesis refuses the timeline: %v", err)
				}
				if s.Workload.Duration >= orig.Workload.Duration || s.RunLength() >= orig.RunLength() {
					t.Errorf("workload %v, run %v; the scenario's: %v, %v", s.Workload.Duration, s.RunLength(),
						orig.Workload.Duration, orig.RunLength())
				}
				// Faults keep their order and their place in the workload.
				f := float64(s.Workload.Duration) / float64(orig.Workload.Duration)
				if len(s.Faults) != len(orig.Faults) {
					t.Fatalf("%d faults, the scenario %d", len(s.Faults), len(orig.Faults))
				}
				for i, st := range s.Faults {
					o := orig.Faults[i]
					if !slices.Equal(st.Kinds(), o.Kinds()) {
						t.Errorf("faults[%d] is %v, was %v", i, st.Kinds(), o.Kinds())
					}
					if d := st.At - time.Duration(float64(o.At)*f); d < -time.Millisecond || d > time.Millisecond {
						t.Errorf("faults[%d] at %v; want %v scaled by %.3f", i, st.At, o.At, f)
					}
					if (st.For == 0) != (o.For == 0) {
						t.Errorf("faults[%d] for %v, was %v: until the workload's end must stay so", i, st.For, o.For)
					}
				}
				if mode.name != "smoke" {
					return
				}
				if s.Workload.Duration > 6*time.Second {
					t.Errorf("workload %v; want at most 6s", s.Workload.Duration)
				}
				for _, c := range s.Workload.Sizes {
					if c.Size > 8*scenario.MiB || c.Max > 8*scenario.MiB || c.Min > 8*scenario.MiB {
						t.Errorf("size class %v above 8 MiB", c)
					}
				}
				if s.Checks.Observe > 30*time.Second || s.Checks.Observe < min(orig.Checks.Observe, 10*time.Second) {
					t.Errorf("observe %v (the scenario's %v); want between min(it, 10s) and 30s", s.Checks.Observe, orig.Checks.Observe)
				}
				if s.Workload.Rate > 0 && s.Workload.Rate*s.Workload.Duration.Seconds() > orig.Workload.Rate*orig.Workload.Duration.Seconds()+1 {
					t.Errorf("rate %v over %v: more operations than the scenario's %v over %v", s.Workload.Rate, s.Workload.Duration,
						orig.Workload.Rate, orig.Workload.Duration)
				}
			})
		}
	}
}

// TestQuickHalved: Halved is what replcheck calibrate --quick always did:
// workload and fault times halved, observe halved but at least
// min(observe, 5s), nothing else changed.
func TestQuickHalved(t *testing.T) {
	s := parse(t, `name: t
description: d
wan: {bandwidth: 4MiB}
workload:
  duration: 12s
  rate: 20
  sizes: [{size: 11MiB}]
  mix: {put: 100}
faults:
  - at: 2s
    for: 5s
    partition: {from: europe-se-1a, to: europe-se-1b, mode: blackhole}
  - at: 6s
    for: 2s
    crash: {site: europe-se-1a}
  - at: 3s
    clock_skew: {site: europe-se-1b, skew: -1m}
checks:
  observe: 8s
`)
	before := *s
	if err := s.Quick(scenario.Halved); err != nil {
		t.Fatal(err)
	}
	want := before
	want.Workload.Duration = 6 * time.Second
	want.Faults = slices.Clone(before.Faults)
	want.Faults[0].At, want.Faults[0].For = time.Second, 2500*time.Millisecond
	want.Faults[1].At, want.Faults[1].For = 3*time.Second, time.Second
	want.Faults[2].At = 1500 * time.Millisecond
	want.Checks.Observe = 5 * time.Second // max(8s/2, min(8s, 5s))
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("halved:\n got %+v\nwant %+v", *s, want)
	}
	for _, c := range []struct{ observe, want time.Duration }{{30 * time.Second, 15 * time.Second}, {3 * time.Second, 3 * time.Second}} {
		s := parse(t, "name: t\ndescription: d\nworkload: {duration: 10s}\nchecks: {observe: "+c.observe.String()+"}\n")
		if err := s.Quick(scenario.Halved); err != nil {
			t.Fatal(err)
		}
		if s.Checks.Observe != c.want {
			t.Errorf("observe %v halved: %v, want %v", c.observe, s.Checks.Observe, c.want)
		}
	}
}

// TestQuickSmoke: the sizes are capped and the rate rises with the bytes
// the cap saves, at most to the scenario's number of operations; a fault
// that outlasts the workload keeps its tail in the observation window,
// and the window keeps time to settle after it.
func TestQuickSmoke(t *testing.T) {
	s := parse(t, `name: t
description: d
workload:
  duration: 60s
  rate: 1
  sizes: [{min: 1KiB, max: 256MiB}, {size: 4KiB}]
faults:
  - at: 30s
    for: 45s
    flap: {from: europe-se-1a, to: europe-se-1b, up: 2s, down: 1s}
  - at: 50s
    crash: {site: europe-se-1b}
checks:
  observe: 60s
`)
	orig := s.Faults[0].Flap
	if err := s.Quick(scenario.Smoke); err != nil {
		t.Fatal(err)
	}
	w := s.Workload
	if w.Duration != 6*time.Second {
		t.Errorf("workload %v, want 6s", w.Duration)
	}
	if w.Sizes[0].Min != scenario.KiB || w.Sizes[0].Max != 8*scenario.MiB || w.Sizes[1].Size != 4*scenario.KiB {
		t.Errorf("sizes %v", w.Sizes)
	}
	if w.Rate != 10 { // the mean size falls far more than 10×: the scenario's 60 ops in 6 s
		t.Errorf("rate %v, want 10", w.Rate)
	}
	f := s.Faults
	if f[0].At != 3*time.Second || f[0].For != 4500*time.Millisecond || f[0].Flap.Up != 200*time.Millisecond || f[0].Flap.Down != 100*time.Millisecond {
		t.Errorf("flap at %v for %v, %+v", f[0].At, f[0].For, *f[0].Flap)
	}
	if orig.Up != 2*time.Second {
		t.Error("Quick changed the original scenario's flap")
	}
	if f[1].At != 5*time.Second || f[1].For != 0 {
		t.Errorf("crash at %v for %v", f[1].At, f[1].For)
	}
	// The flap ends 1.5 s after the workload; 45 s to settle scale to
	// 4.5 s, raised to 10 s.
	if s.Checks.Observe != 11500*time.Millisecond {
		t.Errorf("observe %v, want 11.5s", s.Checks.Observe)
	}

	// A size cap that saves little raises the rate as little.
	s = parse(t, "name: t\ndescription: d\nworkload: {duration: 12s, rate: 100, sizes: [{size: 1MiB}, {size: 10MiB}]}\n")
	if err := s.Quick(scenario.Smoke); err != nil {
		t.Fatal(err)
	}
	if want := 100 * 11.0 / 9; s.Workload.Rate < want-0.01 || s.Workload.Rate > want+0.01 {
		t.Errorf("rate %v, want %.2f", s.Workload.Rate, want)
	}
	if s.Workload.Sizes[1].Size != 8*scenario.MiB {
		t.Errorf("sizes %v", s.Workload.Sizes)
	}
	if s.Checks.Observe != 15*time.Second { // 30 s to settle: max(15 s, 10 s)
		t.Errorf("observe %v, want 15s", s.Checks.Observe)
	}
	// The window stays bounded however long the scenario's is.
	s = parse(t, "name: t\ndescription: d\nworkload: {duration: 12s}\nchecks: {observe: 5m}\n")
	if err := s.Quick(scenario.Smoke); err != nil {
		t.Fatal(err)
	}
	if s.Checks.Observe != 20*time.Second {
		t.Errorf("observe 5m: %v, want 20s", s.Checks.Observe)
	}
}

func TestQuickErrors(t *testing.T) {
	s := parse(t, minimal)
	before := *s
	for _, sh := range []scenario.Shortening{{Scale: 0}, {Scale: 1.5}, {Scale: 0.5, MaxSize: -1}} {
		err := s.Quick(sh)
		if err == nil || !strings.Contains(err.Error(), "scenario t: quick:") {
			t.Errorf("Quick(%+v): %v", sh, err)
		}
	}
	// A fault so short against the workload that shortening it makes
	// the steps collide is refused, leaving the scenario as it was.
	s = parse(t, `name: t
description: d
workload: {duration: 1000s}
faults:
  - {at: 1s, for: 1ms, partition: {from: europe-se-1a, to: europe-se-1b}}
  - {at: 1001ms, for: 10s, partition: {from: europe-se-1a, to: europe-se-1b}}
`)
	before = *s
	before.Faults = slices.Clone(s.Faults)
	err := s.Quick(scenario.Smoke)
	if err == nil || !strings.Contains(err.Error(), "not valid") || !strings.Contains(err.Error(), "overlaps faults[0]") {
		t.Errorf("colliding steps: %v", err)
	}
	if !reflect.DeepEqual(*s, before) {
		t.Error("a failed Quick changed the scenario")
	}
}
