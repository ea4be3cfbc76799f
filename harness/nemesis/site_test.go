package nemesis_test

import (
	"context"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
)

func TestSiteFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	crash := &nemesis.SiteCrash{Site: "b"}
	if err := crash.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	if err := crash.Inject(ctx, e.topo); err == nil {
		t.Error("second Inject of a crash: no error")
	}
	for range 2 {
		if err := crash.Heal(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
	}
	assertCalls(t, e.b, "crash", "restart") // restarted once

	pause := &nemesis.SitePause{Site: "a"}
	if err := pause.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := pause.Heal(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
	}
	skew := nemesis.ClockSkew{Site: "a", Skew: -1500 * time.Millisecond}
	if err := skew.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	if err := skew.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, e.a, "pause", "resume", "skew -1.5s", "skew 0s")
}

func TestSiteDisconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	f := &nemesis.SiteDisconnect{Site: "b"}
	if err := nemesis.Available(f, e.topo); err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(ctx, e.topo); err == nil {
		t.Error("second Inject of a disconnect: no error")
	}
	for range 2 {
		if err := f.Heal(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
	}
	assertCalls(t, e.b, "disconnect", "reconnect") // reconnected once
	assertCalls(t, e.a)

	// Healed, it can be injected again.
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, e.b, "disconnect", "reconnect", "disconnect", "reconnect")

	// A disconnect that was never injected heals nothing.
	if err := (&nemesis.SiteDisconnect{Site: "a"}).Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, e.a)
}

// A Disconnect that fails may still have cut the site off: Heal reconnects
// it. A Reconnect that fails is tried again by the next Heal.
func TestFailedDisconnectIsReconnected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.b.failOn("disconnect", "network busy")
	f := &nemesis.SiteDisconnect{Site: "b"}
	assertErrorContains(t, f.Inject(ctx, e.topo), "disconnect b", "network busy")
	e.b.failOn("reconnect", "endpoint in use")
	assertErrorContains(t, f.Heal(ctx, e.topo), "disconnect b", "endpoint in use")
	e.b.clearFail()
	for range 2 {
		if err := f.Heal(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
	}
	assertCalls(t, e.b, "disconnect", "reconnect", "reconnect")
}

func TestSiteFaultErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		fault nemesis.Fault
		want  string
	}{
		{&nemesis.SiteCrash{Site: "c"}, "target fake cannot crash site c"},
		{&nemesis.SitePause{Site: "c"}, "target fake cannot pause site c"},
		{&nemesis.SiteDisconnect{Site: "c"}, "target fake cannot disconnect site c"},
		{&nemesis.SiteDisconnect{Site: "x"}, `disconnect x: no site "x"`},
		{&nemesis.SiteDisconnect{}, "no site given"},
		{nemesis.ClockSkew{Site: "c", Skew: time.Second}, "target fake cannot skew the clock of site c"},
		{&nemesis.SiteCrash{Site: "x"}, `crash x: no site "x"`},
		{&nemesis.SitePause{}, "no site given"},
		{nemesis.ClockSkew{Site: "a"}, "clock skew a +0s: zero skew"},
	} {
		t.Run(tc.fault.Name(), func(t *testing.T) {
			assertErrorContains(t, nemesis.Available(tc.fault, e.topo), tc.want)
			assertErrorContains(t, tc.fault.Inject(ctx, e.topo), tc.want)
			for range 2 {
				if err := tc.fault.Heal(ctx, e.topo); err != nil {
					t.Errorf("heal after failed inject: %v", err)
				}
			}
		})
	}
	// ClockSkew keeps no state: its Heal sets the skew to zero whether or
	// not Inject worked, which is harmless.
	assertCalls(t, e.a, "skew 0s", "skew 0s")
	assertCalls(t, e.b)
}

// A Crash that fails may still have stopped the site: Heal restarts it.
func TestFailedCrashIsRestarted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.b.failOn("crash", "half-dead")
	f := &nemesis.SiteCrash{Site: "b"}
	assertErrorContains(t, f.Inject(ctx, e.topo), "crash b", "half-dead")
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, e.b, "crash", "restart")
}

// A Restart that fails is tried again by the next Heal.
func TestFailedRestartIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f := &nemesis.SiteCrash{Site: "b"}
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	e.b.failOn("restart", "disk busy")
	assertErrorContains(t, f.Heal(ctx, e.topo), "crash b", "disk busy")
	e.b.clearFail()
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, e.b, "crash", "restart", "restart")
}

func TestAvailableNamesMissingCapability(t *testing.T) {
	t.Parallel()
	topo := &fakeTopo{
		target: "external",
		caps:   harness.Capabilities{harness.CapPartition: true},
		sites:  []harness.Site{&fakeSite{name: "b"}},
	}
	for _, tc := range []struct {
		fault nemesis.Fault
		want  string
	}{
		{&nemesis.SiteCrash{Site: "b"}, "crash b: target external cannot crash"},
		{&nemesis.SitePause{Site: "b"}, "pause b: target external cannot pause"},
		{&nemesis.SiteDisconnect{Site: "b"}, "disconnect b: target external cannot disconnect"},
		{nemesis.ClockSkew{Site: "b", Skew: time.Second}, "clock skew b +1s: target external cannot clock-skew"},
		{nemesis.WANShape{From: "a", To: "b", Latency: time.Second}, "target external cannot wan-shape"},
		{nemesis.ConnectionReset{From: "a", To: "b"}, "target external cannot wan-shape"},
	} {
		assertErrorContains(t, nemesis.Available(tc.fault, topo), tc.want)
	}
	// Partition is a capability the target has: what is missing then is
	// the link.
	assertErrorContains(t, nemesis.Available(nemesis.Partition{From: "a", To: "b"}, topo), "no link a→b")
}

func TestNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault nemesis.Fault
		want  string
	}{
		{nemesis.Partition{From: "europe-se-1a", To: "europe-se-1b"}, "partition europe-se-1a→europe-se-1b"},
		{nemesis.Partition{From: "a", To: "b", Both: true, Mode: wan.Blackhole}, "partition a↔b (blackhole)"},
		{nemesis.Partition{From: "a", To: "b", Mode: wan.Refuse}, "partition a→b"},
		{nemesis.WANShape{From: "a", To: "b", Latency: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, BandwidthBytesPerSec: 1e6},
			"shape a→b latency 100ms ±10ms, bandwidth 1000000 B/s"},
		{nemesis.WANShape{From: "a", To: "b", Both: true, BandwidthBytesPerSec: 1e6}, "shape a↔b bandwidth 1000000 B/s"},
		{&nemesis.Flap{From: "a", To: "b", Both: true, Up: time.Second, Down: 500 * time.Millisecond}, "flap a↔b up 1s down 500ms"},
		{nemesis.ConnectionReset{From: "a", To: "b", After: 20 * time.Millisecond}, "reset connections a→b after 20ms"},
		{&nemesis.SiteCrash{Site: "europe-se-1b"}, "crash europe-se-1b"},
		{&nemesis.SitePause{Site: "europe-se-1b"}, "pause europe-se-1b"},
		{&nemesis.SiteDisconnect{Site: "europe-se-1b"}, "disconnect europe-se-1b"},
		{nemesis.ClockSkew{Site: "a", Skew: 5 * time.Second}, "clock skew a +5s"},
		{nemesis.ClockSkew{Site: "a", Skew: -5 * time.Second}, "clock skew a -5s"},
	} {
		if got := tc.fault.Name(); got != tc.want {
			t.Errorf("Name() = %q, want %q", got, tc.want)
		}
	}
}

func TestHealAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, f := range []nemesis.Fault{
		nemesis.Partition{From: "a", To: "b", Mode: wan.Blackhole},
		nemesis.WANShape{From: "b", To: "a", Latency: 50 * time.Millisecond},
		nemesis.ConnectionReset{From: "b", To: "a"},
		&nemesis.SiteCrash{Site: "b"},
		&nemesis.SitePause{Site: "a"},
		&nemesis.SiteDisconnect{Site: "b"},
		nemesis.ClockSkew{Site: "a", Skew: time.Minute},
	} {
		if err := f.Inject(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
	}
	// The faults are forgotten, as when the harness itself died.
	if err := nemesis.HealAll(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, e.aToB)
	assertFaults(t, e.bToA)
	e.assertWorks(t, e.aToB, "after HealAll")
	e.assertWorks(t, e.bToA, "after HealAll")
	assertCalls(t, e.a, "pause", "skew 1m0s", "skew 0s", "resume", "restart", "reconnect")
	assertCalls(t, e.b, "crash", "disconnect", "skew 0s", "resume", "restart", "reconnect")

	// Only where the target has the capability.
	e.topo.caps = harness.Capabilities{harness.CapPartition: true}
	if err := nemesis.HealAll(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, e.b, "crash", "disconnect", "skew 0s", "resume", "restart", "reconnect")
}

// A target without the disconnect capability (the embedded one: its sites
// share one host) refuses a disconnect before anything is injected, with
// an error that names the target and the site.
func TestDisconnectNeedsCapability(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.topo.target = "embedded"
	e.topo.caps = harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true, harness.CapClockSkew: true}
	f := &nemesis.SiteDisconnect{Site: "b"}
	assertErrorContains(t, nemesis.Available(f, e.topo), "disconnect b: target embedded cannot disconnect")
	assertErrorContains(t, e.topo.caps.Require("embedded", f.Requires()...), "target embedded cannot disconnect")
	tl := nemesis.Timeline{{At: 0, For: time.Second, Fault: f}}
	events, err, _ := run(context.Background(), tl, e.topo)
	assertErrorContains(t, err, "timeline[0] at 0s: disconnect b: target embedded cannot disconnect")
	if len(events) != 0 {
		t.Errorf("events from a timeline that failed to validate: %v", events)
	}
	assertCalls(t, e.b)

	// With the capability but a site that cannot be disconnected, the
	// error names the site.
	e.topo.caps[harness.CapDisconnect] = true
	assertErrorContains(t, nemesis.Available(&nemesis.SiteDisconnect{Site: "c"}, e.topo),
		"target embedded cannot disconnect site c")
}
