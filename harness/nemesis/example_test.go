package nemesis_test

import (
	"fmt"
	"time"

	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
)

// A timeline as a scenario would describe it: a WAN shape for the whole
// run, a one-way partition, then a crash of the second site. Run it with
//
//	events := make(chan nemesis.Event, 2*len(tl))
//	err := tl.Run(ctx, topo, events) // validates first, heals everything before returning
func ExampleTimeline() {
	tl := nemesis.Timeline{
		{At: 0, Fault: nemesis.WANShape{From: "europe-se-1a", To: "europe-se-1b", Both: true,
			Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}},
		{At: 30 * time.Second, For: time.Minute,
			Fault: nemesis.Partition{From: "europe-se-1a", To: "europe-se-1b", Mode: wan.Blackhole}},
		{At: 2 * time.Minute, For: 30 * time.Second,
			Fault: &nemesis.SiteCrash{Site: "europe-se-1b"}},
	}
	for _, s := range tl {
		fmt.Printf("at %v: %s\n", s.At, s.Fault.Name())
	}
	fmt.Println("ends at", tl.Duration())
	// Output:
	// at 0s: shape europe-se-1a↔europe-se-1b latency 20ms ±5ms
	// at 30s: partition europe-se-1a→europe-se-1b (blackhole)
	// at 2m0s: crash europe-se-1b
	// ends at 2m30s
}
