package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"

	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/runner"
)

// progressSteps are the snapshots the display tests feed: a start, a
// workload under two faults with writes converging, a stall.
var progressSteps = []runner.Progress{
	{Phase: runner.PhaseStarting},
	{Phase: runner.PhaseWorkload, Elapsed: 2 * time.Second, Ops: 100, PendingOps: 3, PendingBytes: 64 << 10,
		Lag: 780 * time.Microsecond, LagMax: 6100 * time.Microsecond, LagWrites: 40,
		Faults: []string{"shape a↔b latency 10ms", "partition a↔b"}},
	{Phase: runner.PhaseObserving, Elapsed: 4 * time.Second, Ops: 100, PendingOps: 1, PendingBytes: 10},
}

func TestProgressLive(t *testing.T) {
	var buf bytes.Buffer
	d := &progressDisplay{w: &buf, mode: progressLive, width: func() int { return 200 }}
	if d.every() != liveEvery {
		t.Errorf("live display asks for progress every %v", d.every())
	}
	d.println("header")
	var lines []string
	for _, p := range progressSteps {
		d.update("qs", p)
		lines = append(lines, d.status)
	}
	d.println("a note") // above the status line, which is drawn again
	d.update("qs", runner.Progress{Phase: runner.PhaseDone, Elapsed: 5 * time.Second})
	d.done()
	d.done() // nothing left to erase

	want := []string{
		"qs  0.0s  starting   0 ops  pending 0 (0 B)  lag -",
		"qs  2.0s  workload   100 ops  50.0/s  pending 3 (64 KiB)  lag 780µs (max 6.1ms)  partition a↔b; shape a↔b latency 10ms",
		"qs  4.0s  observing  100 ops  25.0/s  pending 1 (10 B)  lag -",
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("status %d:\n got %q\nwant %q", i, lines[i], want[i])
		}
	}
	wantOut := "header\n" +
		"\r\x1b[K" + want[0] + "\r\x1b[K" + want[1] + "\r\x1b[K" + want[2] +
		"\r\x1b[Ka note\n" + want[2] +
		"\r\x1b[K"
	if got := buf.String(); got != wantOut {
		t.Fatalf("output:\n got %q\nwant %q", got, wantOut)
	}
}

func TestProgressLiveFitsNarrowTerminal(t *testing.T) {
	var buf bytes.Buffer
	d := &progressDisplay{w: &buf, mode: progressLive, width: func() int { return 72 }}
	for _, p := range progressSteps[:2] {
		d.update("partition-heal", p)
	}
	st := d.status
	// One column short of the width: the last would wrap on some terminals.
	if n := utf8.RuneCountInString(st); n > 71 {
		t.Fatalf("status %q is %d columns on a 72-column terminal", st, n)
	}
	// ops/s, the maximum lag and the name go first; the newest fault
	// stays in sight.
	if want := "2.0s  workload   100 ops  pending 3 (64 KiB)  lag 780µs  partition a↔b…"; st != want {
		t.Fatalf("narrow status\n got %q\nwant %q", st, want)
	}
	// Wide enough for all but ops/s and the maximum lag: the name stays.
	d.width = func() int { return 120 }
	d.update("partition-heal", progressSteps[1])
	if want := "partition-heal  2.0s  workload   100 ops  pending 3 (64 KiB)  lag 780µs  partition a↔b; shape a↔b latency 10ms"; d.status != want {
		t.Fatalf("status at 120 columns\n got %q\nwant %q", d.status, want)
	}
	if strings.Contains(buf.String(), "\n") {
		t.Fatalf("a status line broke a line: %q", buf.String())
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	d := &progressDisplay{w: &buf, mode: progressLines}
	if d.every() != plainEvery {
		t.Errorf("plain display asks for progress every %v", d.every())
	}
	d.println("header")
	for _, p := range progressSteps {
		d.update("qs", p)
	}
	d.update("qs", runner.Progress{Phase: runner.PhaseDone})
	d.done()
	want := "header\n" +
		"qs:    0.0s starting  ops 0, pending 0 (0 B)\n" +
		"qs:    2.0s workload  ops 100 (50.0/s), pending 3 (64 KiB), lag 780µs max 6.1ms, faults: shape a↔b latency 10ms; partition a↔b\n" +
		"qs:    4.0s observing ops 100 (25.0/s), pending 1 (10 B)\n"
	if got := buf.String(); got != want {
		t.Fatalf("output:\n got %q\nwant %q", got, want)
	}
}

func TestProgressQuiet(t *testing.T) {
	var buf bytes.Buffer
	d := newProgressDisplay(&buf, true)
	d.println("header")
	for _, p := range progressSteps {
		d.update("qs", p)
	}
	d.done()
	if d.mode != progressNone || buf.Len() != 0 {
		t.Fatalf("quiet display (mode %d) wrote %q", d.mode, buf.String())
	}
}

func TestProgressRateWindow(t *testing.T) {
	var buf bytes.Buffer
	d := &progressDisplay{w: &buf, mode: progressLines}
	// 10 ops/s for 10 s, then a stall longer than the window.
	for s := 0; s <= 16; s++ {
		d.update("x", runner.Progress{Phase: runner.PhaseWorkload, Elapsed: time.Duration(s) * time.Second, Ops: 10 * min(s, 10)})
	}
	lines := strings.Split(buf.String(), "\n")
	if !strings.Contains(lines[10], "ops 100 (10.0/s)") || !strings.Contains(lines[13], "ops 100 (4.0/s)") || !strings.Contains(lines[16], "ops 100 (0.0/s)") {
		t.Fatalf("rates at 10, 13 and 16 s:\n%s\n%s\n%s", lines[10], lines[13], lines[16])
	}
	if len(d.samples) > 7 {
		t.Fatalf("%d samples kept for a %v window of 1 s steps", len(d.samples), rateWindow)
	}
}

// openPTY gives a pseudo-terminal of the given width; the test reads
// what is written to tty from the returned buffer once it is closed.
func openPTY(t *testing.T, cols int) (tty *os.File, output func() string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(cols), Rows: 24}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		// Drained as it is written: a full pty buffer would block the
		// writer. Ends with EIO once tty is closed.
		io.Copy(&buf, ptmx)
		close(done)
	}()
	return tty, func() string {
		tty.Close()
		<-done
		return buf.String()
	}
}

func TestProgressDetectsTerminal(t *testing.T) {
	tty, _ := openPTY(t, 120)
	for _, tc := range []struct {
		ci, term string
		want     progressMode
	}{
		{"", "xterm-256color", progressLive},
		{"true", "xterm-256color", progressLines},
		{"", "dumb", progressLines},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv("TERM", tc.term)
		if got := newProgressDisplay(tty, false).mode; got != tc.want {
			t.Errorf("CI=%q TERM=%q: mode %d, want %d", tc.ci, tc.term, got, tc.want)
		}
	}
	if got := newProgressDisplay(&bytes.Buffer{}, false).mode; got != progressLines {
		t.Errorf("a buffer: mode %d, want plain lines", got)
	}
	if got := terminalWidth(tty); got != 120 {
		t.Errorf("terminal width %d, want 120", got)
	}
}

// TestRunJSONWithTerminal runs a short scenario with --json while stderr
// is a terminal: stdout holds exactly the JSON result, stderr the live
// line, erased when the run ends.
func TestRunJSONWithTerminal(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("TERM", "xterm")
	dir := t.TempDir()
	sc := filepath.Join(dir, "tty.yaml")
	os.WriteFile(sc, []byte(`name: tty
description: test
workload:
  duration: 1500ms
  rate: 40
  keys: 20
  mix: {put: 60, overwrite: 20, delete: 10, get: 10}
  sizes: [{size: 1KiB}]
checks:
  observe: 10s
`), 0o644)
	tty, output := openPTY(t, 160)
	var stdout bytes.Buffer
	code := run(context.Background(), []string{"run", sc, "--out", filepath.Join(dir, "runs"), "--json"}, &stdout, tty)
	stderr := output()
	t.Logf("stderr: %q", stderr)
	if code != exitPass {
		t.Fatalf("exit %d; stdout:\n%s", code, stdout.String())
	}

	out := stdout.String()
	if strings.ContainsAny(out, "\r\x1b") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout is not one clean JSON line: %.300q", out)
	}
	var res struct {
		Dir string `json:"dir"`
		reports.Result
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Scenario != "tty" || res.Verdict != reports.Pass {
		t.Fatalf("stdout %q: %v", out, err)
	}

	// The status line was drawn in place, went through the workload,
	// and was erased at the end: the last thing on stderr.
	const redraw = "\r\x1b[K"
	if !strings.Contains(stderr, redraw+"tty  ") || !strings.Contains(stderr, "  workload   ") || !strings.Contains(stderr, " ops  ") {
		t.Fatalf("no live status line on the terminal: %q", stderr)
	}
	if !strings.HasSuffix(stderr, redraw) {
		t.Fatalf("the status line was left on the terminal: %q", stderr[max(0, len(stderr)-200):])
	}
	// Every status fits the 160 columns, so it never wraps.
	for _, st := range strings.Split(stderr, redraw)[1:] {
		if n := utf8.RuneCountInString(st); n > 159 {
			t.Fatalf("status %q is %d columns wide on a 160-column terminal", st, n)
		}
	}
}
