package nemesis_test

import (
	"context"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
)

func TestPartitionOneWay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f := nemesis.Partition{From: "a", To: "b"}
	if err := nemesis.Available(f, e.topo); err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	e.assertFails(t, e.aToB, "partitioned a→b")
	e.assertWorks(t, e.bToA, "partitioned a→b")
	assertFaults(t, e.aToB, "partition refuse")
	assertFaults(t, e.bToA)

	for i := range 2 { // Heal twice is harmless
		if err := f.Heal(ctx, e.topo); err != nil {
			t.Fatalf("heal %d: %v", i+1, err)
		}
		e.assertWorks(t, e.aToB, "healed")
		assertFaults(t, e.aToB)
	}
}

func TestPartitionBothBlackhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f := &nemesis.Partition{From: "a", To: "b", Both: true, Mode: wan.Blackhole}
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	e.assertFails(t, e.aToB, "blackholed a↔b")
	e.assertFails(t, e.bToA, "blackholed a↔b")
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	e.assertWorks(t, e.aToB, "healed")
	e.assertWorks(t, e.bToA, "healed")
	assertFaults(t, e.aToB)
	assertFaults(t, e.bToA)
}

func TestWANShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f := nemesis.WANShape{From: "a", To: "b", Latency: 100 * time.Millisecond, BandwidthBytesPerSec: 1_000_000}
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, e.aToB, "latency 100ms", "bandwidth 1000000 B/s")
	assertFaults(t, e.bToA)
	// Request and answer are each delayed 100 ms.
	if rtt := e.roundTrip(t, e.aToB); rtt < 200*time.Millisecond {
		t.Errorf("round trip a→b with latency 100ms = %v, want ≥ 200ms", rtt)
	}
	if rtt := e.roundTrip(t, e.bToA); rtt >= 200*time.Millisecond {
		t.Errorf("round trip b→a, not shaped = %v, want < 200ms", rtt)
	}
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, e.aToB)
	if rtt := e.roundTrip(t, e.aToB); rtt >= 200*time.Millisecond {
		t.Errorf("round trip a→b after heal = %v, want < 200ms", rtt)
	}
}

func TestWANShapeLeavesOtherFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	bw := nemesis.WANShape{From: "a", To: "b", BandwidthBytesPerSec: 50_000}
	lat := nemesis.WANShape{From: "a", To: "b", Latency: 30 * time.Millisecond, Jitter: 5 * time.Millisecond}
	cut := nemesis.Partition{From: "a", To: "b"}
	for _, f := range []nemesis.Fault{bw, lat, cut} {
		if err := f.Inject(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
	}
	if err := lat.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, e.aToB, "partition refuse", "bandwidth 50000 B/s")
	if err := cut.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, e.aToB, "bandwidth 50000 B/s")
	if err := bw.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, e.aToB)
}

func TestConnectionReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f := nemesis.ConnectionReset{From: "a", To: "b"}
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	e.assertFails(t, e.aToB, "resetting a→b")
	e.assertWorks(t, e.bToA, "resetting a→b")
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	e.assertWorks(t, e.aToB, "healed")
	assertFaults(t, e.aToB)
}

func TestFlapEndsHealed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f := &nemesis.Flap{From: "a", To: "b", Both: true, Up: 100 * time.Millisecond, Down: 100 * time.Millisecond}
	for round := range 2 { // a healed Flap can be injected again
		if err := f.Inject(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
		// Inject returns with the link down.
		assertFaults(t, e.aToB, "partition refuse")
		assertFaults(t, e.bToA, "partition refuse")
		if err := f.Inject(ctx, e.topo); err == nil {
			t.Error("second Inject while flapping: no error")
		}

		var ok, failed int
		for deadline := time.Now().Add(700 * time.Millisecond); time.Now().Before(deadline); {
			if e.works(e.bToA) {
				ok++
			} else {
				failed++
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("round %d: while flapping, %d requests ok, %d failed", round, ok, failed)
		if ok == 0 || failed == 0 {
			t.Errorf("while flapping: %d ok, %d failed; want both", ok, failed)
		}

		if err := f.Heal(ctx, e.topo); err != nil {
			t.Fatal(err)
		}
		// Healed means the flapping has stopped: the links stay up for
		// longer than a whole down period.
		for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); {
			e.assertWorks(t, e.aToB, "after heal")
			e.assertWorks(t, e.bToA, "after heal")
			time.Sleep(20 * time.Millisecond)
		}
		assertFaults(t, e.aToB)
		assertFaults(t, e.bToA)
		if err := f.Heal(ctx, e.topo); err != nil {
			t.Fatalf("second heal: %v", err)
		}
	}
}

func TestFlapRunsAfterInjectContextEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	f := &nemesis.Flap{From: "a", To: "b", Up: 50 * time.Millisecond, Down: 50 * time.Millisecond}
	if err := f.Inject(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	cancel()
	var failed int
	for range 20 {
		if !e.works(e.aToB) {
			failed++
		}
		time.Sleep(10 * time.Millisecond)
	}
	if failed == 0 {
		t.Error("the flap stopped with its Inject's context")
	}
	if err := f.Heal(ctx, e.topo); err != nil {
		t.Fatal(err)
	}
	e.assertWorks(t, e.aToB, "healed")
}

func TestLinkFaultErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		fault nemesis.Fault
		want  []string
	}{
		{nemesis.Partition{From: "a", To: "x"}, []string{"partition a→x", "link a→x", "no link a→x"}},
		{nemesis.Partition{From: "a", To: "c"}, []string{"target fake cannot partition link a→c: it has no WAN proxy"}},
		{nemesis.Partition{From: "a", To: "b", Mode: 7}, []string{"unknown partition mode 7"}},
		{nemesis.Partition{From: "a"}, []string{"from and to"}},
		{nemesis.Partition{From: "a", To: "a"}, []string{"same site"}},
		{nemesis.WANShape{From: "b", To: "a", Both: true}, []string{"shape b↔a", "no latency"}},
		{nemesis.WANShape{From: "a", To: "b", Latency: -time.Second}, []string{"negative"}},
		{nemesis.WANShape{From: "a", To: "c", Latency: time.Second}, []string{"target fake cannot shape link a→c"}},
		{nemesis.ConnectionReset{From: "a", To: "b", After: -1}, []string{"negative delay"}},
		{nemesis.ConnectionReset{From: "c", To: "a", Both: true}, []string{"no link c→a"}},
		{&nemesis.Flap{From: "a", To: "b", Up: time.Second}, []string{"periods must be positive"}},
		{&nemesis.Flap{From: "b", To: "c", Both: true, Up: 1, Down: 1}, []string{"flap b↔c", "no link b→c"}},
	} {
		t.Run(tc.fault.Name(), func(t *testing.T) {
			assertErrorContains(t, nemesis.Available(tc.fault, e.topo), tc.want...)
			assertErrorContains(t, tc.fault.Inject(ctx, e.topo), tc.want...)
			// Heal after a failed Inject: nothing to do, nothing touched.
			for range 2 {
				if err := tc.fault.Heal(ctx, e.topo); err != nil {
					t.Errorf("heal after failed inject: %v", err)
				}
			}
			assertFaults(t, e.aToB)
			assertFaults(t, e.bToA)
		})
	}
}

// A two-way partition whose second direction fails leaves the first cut;
// Heal undoes it.
func TestPartialInjectHealed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.network.RemoveLink(e.bToA.Name()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []nemesis.Fault{
		nemesis.Partition{From: "a", To: "b", Both: true},
		&nemesis.Flap{From: "a", To: "b", Both: true, Up: time.Second, Down: time.Second},
	} {
		t.Run(f.Name(), func(t *testing.T) {
			assertErrorContains(t, f.Inject(ctx, e.topo), f.Name(), "b-to-a")
			e.assertFails(t, e.aToB, "partly injected")
			// The link that is gone cannot heal: the error says so, and
			// the one that exists heals.
			assertErrorContains(t, f.Heal(ctx, e.topo), "b-to-a")
			e.assertWorks(t, e.aToB, "healed")
			assertFaults(t, e.aToB)
		})
	}
}
