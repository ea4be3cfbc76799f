package nemesis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
)

// slack is how late an event may come: loose, for a busy 2-core machine
// running tests in parallel under the race detector.
const slack = 250 * time.Millisecond

// run runs tl and returns its events, its error and when it started.
func run(ctx context.Context, tl nemesis.Timeline, topo harness.Topology) ([]nemesis.Event, error, time.Time) {
	events := make(chan nemesis.Event, 2*len(tl))
	start := time.Now()
	err := tl.Run(ctx, topo, events)
	close(events)
	var out []nemesis.Event
	for e := range events {
		out = append(out, e)
	}
	return out, err, start
}

// want is an expected event: "inject crash b" at offset at.
type want struct {
	event string
	at    time.Duration
}

// assertEvents checks the events' order, names and errors exactly, and
// their times loosely: no earlier than at, no later than at+slack.
func assertEvents(t *testing.T, start time.Time, got []nemesis.Event, wants ...want) {
	t.Helper()
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%v at %v", e, e.At.Sub(start).Round(time.Millisecond)))
	}
	t.Logf("events:\n\t%s", strings.Join(lines, "\n\t"))
	if len(got) != len(wants) {
		t.Fatalf("%d events, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		e := got[i]
		if e.String() != w.event {
			t.Errorf("event %d = %q, want %q", i, e, w.event)
		}
		if d := e.At.Sub(start); d < w.at || d > w.at+slack {
			t.Errorf("event %d (%s) at %v, want %v…%v", i, e, d, w.at, w.at+slack)
		}
	}
}

func TestTimelineOrderAndTiming(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ms := time.Millisecond
	tl := nemesis.Timeline{ // out of order on purpose
		{At: 150 * ms, Fault: nemesis.ClockSkew{Site: "a", Skew: time.Second}, For: 50 * ms},
		{At: 0, Fault: &nemesis.SiteCrash{Site: "b"}, For: 100 * ms},
		{At: 50 * ms, Fault: nemesis.Partition{From: "a", To: "b"}},
		{At: 50 * ms, Fault: &nemesis.SitePause{Site: "a"}},
	}
	if d := tl.Duration(); d != 200*ms {
		t.Errorf("Duration() = %v, want 200ms", d)
	}
	events, err, start := run(context.Background(), tl, e.topo)
	if err != nil {
		t.Fatal(err)
	}
	// At the end (200ms) the skew's heal is due as well: everything still
	// active heals in reverse order of injection.
	assertEvents(t, start, events,
		want{"inject crash b", 0},
		want{"inject partition a→b", 50 * ms},
		want{"inject pause a", 50 * ms},
		want{"heal crash b", 100 * ms},
		want{"inject clock skew a +1s", 150 * ms},
		want{"heal clock skew a +1s", 200 * ms},
		want{"heal pause a", 200 * ms},
		want{"heal partition a→b", 200 * ms},
	)
	assertCalls(t, e.a, "pause", "skew 1s", "skew 0s", "resume")
	assertCalls(t, e.b, "crash", "restart")
	assertFaults(t, e.aToB)
	e.assertWorks(t, e.aToB, "after the timeline")
}

// Heals due at the same moment as injects come first, so back-to-back
// faults on one link do not overlap.
func TestTimelineHealsBeforeInjectsAtSameMoment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ms := time.Millisecond
	tl := nemesis.Timeline{
		{At: 0, Fault: nemesis.Partition{From: "a", To: "b"}, For: 50 * ms},
		{At: 50 * ms, Fault: nemesis.Partition{From: "a", To: "b", Mode: wan.Blackhole}, For: 50 * ms},
		{At: 0, Fault: &nemesis.SitePause{Site: "b"}, For: 150 * ms},
	}
	events, err, start := run(context.Background(), tl, e.topo)
	if err != nil {
		t.Fatal(err)
	}
	assertEvents(t, start, events,
		want{"inject partition a→b", 0},
		want{"inject pause b", 0},
		want{"heal partition a→b", 50 * ms},
		want{"inject partition a→b (blackhole)", 50 * ms},
		want{"heal partition a→b (blackhole)", 100 * ms},
		want{"heal pause b", 150 * ms},
	)
	assertFaults(t, e.aToB)
}

func TestTimelineCancelHealsEverything(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	tl := nemesis.Timeline{
		{At: 0, Fault: nemesis.Partition{From: "a", To: "b", Both: true}},
		{At: 0, Fault: &nemesis.SitePause{Site: "b"}},
		{At: 50 * time.Millisecond, Fault: nemesis.WANShape{From: "b", To: "a", BandwidthBytesPerSec: 10_000}, For: 20 * time.Second},
		{At: 10 * time.Second, Fault: &nemesis.SiteCrash{Site: "a"}, For: time.Second},
	}
	events, err, start := run(ctx, tl, e.topo)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 150*time.Millisecond+slack {
		t.Errorf("Run returned %v after start, want soon after the cancel at 150ms", d)
	}
	assertEvents(t, start, events,
		want{"inject partition a↔b", 0},
		want{"inject pause b", 0},
		want{"inject shape b→a bandwidth 10000 B/s", 50 * time.Millisecond},
		want{"heal shape b→a bandwidth 10000 B/s", 150 * time.Millisecond},
		want{"heal pause b", 150 * time.Millisecond},
		want{"heal partition a↔b", 150 * time.Millisecond},
	)
	assertCalls(t, e.a) // never crashed
	assertCalls(t, e.b, "pause", "resume")
	assertFaults(t, e.aToB)
	assertFaults(t, e.bToA)
	e.assertWorks(t, e.aToB, "after cancel")

	// A context that has already ended injects nothing.
	events, err, _ = run(ctx, tl, e.topo)
	if err != nil || len(events) != 0 {
		t.Errorf("Run with an ended context: %v, events %v; want nil, none", err, events)
	}
}

func TestTimelineValidatesBeforeInjecting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.topo.caps = harness.Capabilities{harness.CapPartition: true, harness.CapPause: true}
	tl := nemesis.Timeline{
		{At: 0, Fault: nemesis.Partition{From: "a", To: "b"}},
		{At: 0, Fault: &nemesis.SitePause{Site: "a"}, For: 10 * time.Millisecond},
		{At: 50 * time.Millisecond, Fault: &nemesis.SiteCrash{Site: "b"}},
		{At: -time.Second, Fault: &nemesis.SitePause{Site: "b"}},
		{At: time.Second, Fault: &nemesis.SitePause{Site: "nowhere"}},
		{At: time.Second, Fault: &nemesis.SitePause{Site: "c"}},
		{At: time.Second, For: -1},
	}
	events, err, _ := run(context.Background(), tl, e.topo)
	assertErrorContains(t, err,
		"timeline[2] at 50ms: crash b: target fake cannot crash",
		"timeline[3] at -1s: pause b: negative start",
		`timeline[4] at 1s: pause nowhere: no site "nowhere"`,
		"timeline[5] at 1s: target fake cannot pause site c",
		"timeline[6] at 1s: no fault",
	)
	if err := tl.Validate(e.topo); err == nil || err.Error() != fmt.Sprint(runErr(tl, e.topo)) {
		t.Errorf("Validate and Run disagree: %v", err)
	}
	if len(events) != 0 {
		t.Errorf("events from a timeline that failed to validate: %v", events)
	}
	assertCalls(t, e.a)
	assertCalls(t, e.b)
	assertFaults(t, e.aToB)
}

func runErr(tl nemesis.Timeline, topo harness.Topology) error {
	_, err, _ := run(context.Background(), tl, topo)
	return err
}

func TestTimelineConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := time.Second
	cut := func(from, to string, both bool) nemesis.Fault {
		return nemesis.Partition{From: from, To: to, Both: both}
	}
	latency := nemesis.WANShape{From: "a", To: "b", Latency: 10 * time.Millisecond}
	bandwidth := nemesis.WANShape{From: "a", To: "b", BandwidthBytesPerSec: 1e6}
	reset := nemesis.ConnectionReset{From: "a", To: "b"}
	for _, tc := range []struct {
		name string
		tl   nemesis.Timeline
		want string // "" for no conflict
	}{
		{"same link, different ends", nemesis.Timeline{
			{At: 0, Fault: cut("a", "b", false), For: 10 * s},
			{At: 5 * s, Fault: &nemesis.Flap{From: "a", To: "b", Up: s, Down: s}, For: 2 * s},
		}, "timeline[0] at 0s (partition a→b) and timeline[1] at 5s (flap a→b up 1s down 1s) overlap on link a→b (partition)"},
		{"two-way against the reverse", nemesis.Timeline{
			{At: 0, Fault: cut("a", "b", true), For: 5 * s},
			{At: s, Fault: cut("b", "a", false), For: s},
		}, "overlap on link b→a (partition)"},
		{"reset and latency", nemesis.Timeline{
			{At: 0, Fault: latency, For: 5 * s},
			{At: s, Fault: reset, For: s},
		}, "connection resets, whose heal clears every fault"},
		{"same site process", nemesis.Timeline{
			{At: 0, Fault: &nemesis.SitePause{Site: "a"}, For: 3 * s},
			{At: s, Fault: &nemesis.SiteCrash{Site: "a"}, For: s},
		}, "overlap on site a (process)"},
		{"same site disconnected twice", nemesis.Timeline{
			{At: 0, Fault: &nemesis.SiteDisconnect{Site: "b"}, For: 3 * s},
			{At: s, Fault: &nemesis.SiteDisconnect{Site: "b"}, For: s},
		}, "timeline[0] at 0s (disconnect b) and timeline[1] at 1s (disconnect b) overlap on site b (network)"},
		{"disconnect with link faults, process and clock of its site", nemesis.Timeline{
			{At: 0, Fault: &nemesis.SiteDisconnect{Site: "b"}, For: 5 * s},
			{At: 0, Fault: cut("a", "b", true), For: s},
			{At: s, Fault: latency, For: s},
			{At: 2 * s, Fault: reset, For: s},
			{At: s, Fault: &nemesis.SiteCrash{Site: "b"}, For: s},
			{At: 3 * s, Fault: &nemesis.SitePause{Site: "b"}, For: s},
			{At: s, Fault: nemesis.ClockSkew{Site: "b", Skew: s}, For: s},
			{At: s, Fault: &nemesis.SiteDisconnect{Site: "a"}, For: s},
		}, ""},
		{"disconnects back to back", nemesis.Timeline{
			{At: 0, Fault: &nemesis.SiteDisconnect{Site: "b"}, For: s},
			{At: s, Fault: &nemesis.SiteDisconnect{Site: "b"}, For: s},
		}, ""},
		{"back to back", nemesis.Timeline{
			{At: 0, Fault: cut("a", "b", false), For: s},
			{At: s, Fault: cut("a", "b", true), For: s},
		}, ""},
		{"ending together", nemesis.Timeline{
			{At: 0, Fault: cut("a", "b", false)},
			{At: s, Fault: cut("a", "b", true)},
			{At: 2 * s, Fault: reset},
		}, ""},
		{"latency and bandwidth", nemesis.Timeline{
			{At: 0, Fault: latency},
			{At: s, Fault: bandwidth, For: s},
			{At: s, Fault: cut("a", "b", false), For: 2 * s},
		}, ""},
		{"different sites and links", nemesis.Timeline{
			{At: 0, Fault: cut("a", "b", false)},
			{At: s, Fault: cut("b", "a", false), For: s},
			{At: 0, Fault: &nemesis.SiteCrash{Site: "a"}, For: s},
			{At: 0, Fault: &nemesis.SiteCrash{Site: "b"}},
			{At: 0, Fault: nemesis.ClockSkew{Site: "a", Skew: s}, For: 5 * s},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.tl.Validate(e.topo)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			assertErrorContains(t, err, tc.want)
		})
	}
}

func TestTimelineInjectAndHealErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.b.failOn("crash", "watchdog said no")
	e.a.failOn("resume", "stuck")
	ms := time.Millisecond
	tl := nemesis.Timeline{
		{At: 0, Fault: &nemesis.SiteCrash{Site: "b"}, For: 100 * ms},
		{At: 50 * ms, Fault: &nemesis.SitePause{Site: "a"}, For: 50 * ms},
	}
	events, err, start := run(context.Background(), tl, e.topo)
	assertErrorContains(t, err, "crash b: crash b: watchdog said no", "pause a: resume a: stuck")
	// The failed crash may have half-happened: it is healed at once, and
	// the timeline goes on.
	assertEvents(t, start, events,
		want{"inject crash b: crash b: crash b: watchdog said no", 0},
		want{"heal crash b", 0},
		want{"inject pause a", 50 * ms},
		want{"heal pause a: pause a: resume a: stuck", 100 * ms},
	)
	assertCalls(t, e.b, "crash", "restart")
}

func TestTimelineFlapEndsHealed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tl := nemesis.Timeline{
		{At: 0, Fault: &nemesis.Flap{From: "a", To: "b", Both: true, Up: 30 * time.Millisecond, Down: 30 * time.Millisecond}},
		{At: 300 * time.Millisecond, Fault: nemesis.ClockSkew{Site: "a", Skew: time.Second}},
	}
	events, err, start := run(context.Background(), tl, e.topo)
	if err != nil {
		t.Fatal(err)
	}
	assertEvents(t, start, events,
		want{"inject flap a↔b up 30ms down 30ms", 0},
		want{"inject clock skew a +1s", 300 * time.Millisecond},
		want{"heal clock skew a +1s", 300 * time.Millisecond},
		want{"heal flap a↔b up 30ms down 30ms", 300 * time.Millisecond},
	)
	for range 5 {
		e.assertWorks(t, e.aToB, "after the timeline")
		e.assertWorks(t, e.bToA, "after the timeline")
		time.Sleep(20 * time.Millisecond)
	}
	assertFaults(t, e.aToB)
	assertFaults(t, e.bToA)
}

func TestTimelineDuration(t *testing.T) {
	t.Parallel()
	s := time.Second
	f := &nemesis.SiteCrash{Site: "a"}
	for _, tc := range []struct {
		tl   nemesis.Timeline
		want time.Duration
	}{
		{nil, 0},
		{nemesis.Timeline{{At: 5 * s, Fault: f}}, 5 * s},
		{nemesis.Timeline{{At: 5 * s, Fault: f}, {At: s, Fault: f, For: 10 * s}}, 11 * s},
	} {
		if got := tc.tl.Duration(); got != tc.want {
			t.Errorf("%v.Duration() = %v, want %v", tc.tl, got, tc.want)
		}
	}
	e := newEnv(t)
	events, err, _ := run(context.Background(), nil, e.topo)
	if err != nil || len(events) != 0 {
		t.Errorf("empty timeline: %v, %v", err, events)
	}
}
