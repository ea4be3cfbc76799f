package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
	"golang.org/x/term"

	"github.com/replcheck/replcheck/internal/human"
	"github.com/replcheck/replcheck/runner"
)

// progressMode is how a run's progress is shown.
type progressMode int

const (
	progressNone  progressMode = iota // --quiet
	progressLines                     // a plain line every few seconds: logs, pipes, CI
	progressLive                      // one status line redrawn in place on a terminal
)

// Progress intervals: a live line is cheap to redraw and reads as a
// ticking clock; plain lines go to logs, where fewer is better.
const (
	liveEvery  = 500 * time.Millisecond
	plainEvery = 2 * time.Second
)

// ANSI sequences of the live line: back to column 0, erase to the end of
// the line. Every terminal emulator in use understands both.
const (
	carriageReturn = "\r"
	eraseLine      = "\x1b[K"
	clearLine      = carriageReturn + eraseLine
)

// rateWindow is how far back ops/s looks: long enough to smooth the
// workload's bursts, short enough to show a stall.
const rateWindow = 5 * time.Second

// progressDisplay shows a run's progress on stderr (never stdout, which
// --json keeps machine-readable). Its methods are safe for concurrent use.
type progressDisplay struct {
	w    io.Writer
	mode progressMode
	// width is the terminal's width in columns, asked at each redraw so
	// a resized window is followed; the live line is cut to fit, since a
	// wrapped line cannot be erased in place.
	width func() int

	mu      sync.Mutex
	status  string // the live line on screen, "" when none
	samples []opsSample
}

type opsSample struct {
	at  time.Duration
	ops int
}

// newProgressDisplay picks the display for w: live when w is a terminal,
// unless CI is set (CI logs keep every byte, redraws included) or TERM
// is dumb; plain lines otherwise; nothing under --quiet.
func newProgressDisplay(w io.Writer, quiet bool) *progressDisplay {
	if quiet {
		return &progressDisplay{w: w, mode: progressNone}
	}
	if terminalWidth(w) == 0 || os.Getenv("CI") != "" || os.Getenv("TERM") == "dumb" {
		return &progressDisplay{w: w, mode: progressLines}
	}
	return &progressDisplay{w: w, mode: progressLive, width: func() int { return terminalWidth(w) }}
}

// terminalWidth is the width in columns of the terminal w writes to; 0
// when w is not a terminal.
func terminalWidth(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil || cols <= 0 {
		return 80 // a terminal nobody sized
	}
	return cols
}

// every is how often the runner should report.
func (d *progressDisplay) every() time.Duration {
	if d.mode == progressLive {
		return liveEvery
	}
	return plainEvery
}

// println prints a line of its own, above the live line if one is shown.
func (d *progressDisplay) println(line string) {
	if d.mode == progressNone {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status != "" {
		io.WriteString(d.w, clearLine+line+"\n"+d.status)
		return
	}
	io.WriteString(d.w, line+"\n")
}

// update shows p: redraws the live line, or prints a plain one.
func (d *progressDisplay) update(name string, p runner.Progress) {
	if d.mode == progressNone || p.Phase == runner.PhaseDone {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rate, haveRate := d.rate(p)
	if d.mode == progressLines {
		io.WriteString(d.w, plainLine(name, p, rate, haveRate)+"\n")
		return
	}
	d.status = liveLine(name, p, rate, haveRate, d.width()-1) // the last column would wrap on some terminals
	io.WriteString(d.w, clearLine+d.status)
}

// done erases the live line, if any: the run is over, and whatever is
// printed next starts at column 0 of an empty line.
func (d *progressDisplay) done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status != "" {
		io.WriteString(d.w, clearLine)
		d.status = ""
	}
	d.samples = nil
}

// rate is operations per second over the last rateWindow. Call with mu
// held.
func (d *progressDisplay) rate(p runner.Progress) (float64, bool) {
	d.samples = append(d.samples, opsSample{p.Elapsed, p.Ops})
	i := 0
	for i < len(d.samples)-2 && p.Elapsed-d.samples[i+1].at >= rateWindow {
		i++
	}
	d.samples = d.samples[i:]
	first := d.samples[0]
	span := p.Elapsed - first.at
	if len(d.samples) < 2 || span <= 0 {
		return 0, false
	}
	return float64(p.Ops-first.ops) / span.Seconds(), true
}

// plainLine is one grep-friendly line: the scenario, then fixed fields.
//
//	quickstart:   12.0s workload  ops 498 (49.8/s), pending 3 (64 KiB), lag 780µs max 6.1ms, faults: partition a→b
func plainLine(name string, p runner.Progress, rate float64, haveRate bool) string {
	line := fmt.Sprintf("%s: %6.1fs %-9s ops %d", name, p.Elapsed.Seconds(), p.Phase, p.Ops)
	if haveRate {
		line += fmt.Sprintf(" (%.1f/s)", rate)
	}
	line += fmt.Sprintf(", pending %d (%s)", p.PendingOps, humanize.IBytes(uint64(max(p.PendingBytes, 0))))
	if p.LagWrites > 0 {
		line += fmt.Sprintf(", lag %s max %s", human.Seconds(p.Lag.Seconds()), human.Seconds(p.LagMax.Seconds()))
	}
	if len(p.Faults) > 0 {
		line += ", faults: " + strings.Join(p.Faults, "; ")
	}
	return line
}

// liveLine is the status line, n columns at most: the same facts laid
// out to be read at a glance, fields keeping their place as they change.
// A narrow terminal loses ops/s and the maximum lag, then the scenario's
// name (the line above says it), before the line is cut; faults come
// newest first, so a cut keeps the fault just injected.
//
//	quickstart  12.0s  workload   498 ops  49.8/s  pending 3 (64 KiB)  lag 780µs (max 6.1ms)  partition a→b
func liveLine(name string, p runner.Progress, rate float64, haveRate bool, n int) string {
	faults := slices.Clone(p.Faults)
	slices.Reverse(faults)
	build := func(full, named bool) string {
		var b strings.Builder
		if named {
			b.WriteString(name + "  ")
		}
		fmt.Fprintf(&b, "%s  %-9s  %d ops", fmtElapsed(p.Elapsed), p.Phase, p.Ops)
		if haveRate && full {
			fmt.Fprintf(&b, "  %.1f/s", rate)
		}
		fmt.Fprintf(&b, "  pending %d (%s)", p.PendingOps, humanize.IBytes(uint64(max(p.PendingBytes, 0))))
		switch {
		case p.LagWrites == 0:
			b.WriteString("  lag -")
		case full:
			fmt.Fprintf(&b, "  lag %s (max %s)", human.Seconds(p.Lag.Seconds()), human.Seconds(p.LagMax.Seconds()))
		default:
			fmt.Fprintf(&b, "  lag %s", human.Seconds(p.Lag.Seconds()))
		}
		if len(faults) > 0 {
			b.WriteString("  " + strings.Join(faults, "; "))
		}
		return b.String()
	}
	fits := func(line string) bool { return n <= 0 || utf8.RuneCountInString(line) <= n }
	if line := build(true, true); fits(line) {
		return line
	}
	if line := build(false, true); fits(line) {
		return line
	}
	return fit(build(false, false), n)
}

// fmtElapsed is a run's elapsed time: "12.3s", "4m05s", "1h02m03s".
func fmtElapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

// fit cuts s to n columns (one per rune: the line holds no wide
// characters), marking the cut with "…".
func fit(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
