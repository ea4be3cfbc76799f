package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/replcheck/replcheck/internal/human"
)

// Printer writes a probe's progress and result as plain lines, or as
// JSON lines (one object per event: "start", "status", "result").
type Printer struct {
	W     io.Writer
	JSON  bool
	Quiet bool // no start and status lines; the result only
	// Metrics is the metrics URL to mention at the start, if any.
	Metrics string

	mu sync.Mutex
}

var _ Observer = (*Printer)(nil)

func (pr *Printer) emit(event string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	// The event name goes first, ahead of v's own fields.
	fmt.Fprintf(pr.W, "{\"event\":%q,%s\n", event, data[1:])
}

// Started implements Observer.
func (pr *Printer) Started(i Info) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.Quiet {
		return
	}
	if pr.JSON {
		pr.emit("start", struct {
			Info
			Metrics string `json:"metrics,omitempty"`
		}{i, pr.Metrics})
		return
	}
	until := "until stopped (Ctrl-C)"
	if i.DurationSeconds > 0 {
		until = "for " + secs(i.DurationSeconds).String()
	}
	fmt.Fprintf(pr.W, "probe %s: %s ⇄ %s, a canary each way every %s, SLO %s, %s\n",
		i.Token, i.Sites[0], i.Sites[1], secs(i.IntervalSeconds), secs(i.SLOSeconds), until)
	how := "existing bucket; only keys under the prefix are written and removed"
	if i.CreatedBucket {
		how = "created for this probe, removed at the end"
	}
	fmt.Fprintf(pr.W, "  bucket %s (%s), keys %s\n", i.Bucket, how, i.Prefix)
	if pr.Metrics != "" {
		fmt.Fprintf(pr.W, "  metrics %s\n", pr.Metrics)
	}
}

// Status implements Observer.
func (pr *Printer) Status(s Snapshot) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.Quiet {
		return
	}
	if pr.JSON {
		pr.emit("status", s)
		return
	}
	for _, d := range s.Directions {
		fmt.Fprintf(pr.W, "%7.1fs %s\n", s.ElapsedSeconds, StatusLine(d))
	}
}

// StatusLine is one direction's live line.
func StatusLine(d DirStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s→%s  written %d, converged %d", d.From, d.To, d.Written, d.Converged)
	if d.Late > 0 {
		fmt.Fprintf(&b, " (%d late)", d.Late)
	}
	if d.Converged > 0 {
		fmt.Fprintf(&b, ", last %s ±%s", human.Seconds(d.LastLagSeconds), human.Seconds(d.LastResolutionSeconds/2))
	}
	if d.WindowCount > 0 {
		fmt.Fprintf(&b, ", p50 %s p99 %s", human.Seconds(d.P50Seconds), human.Seconds(d.P99Seconds))
	}
	fmt.Fprintf(&b, ", pending %d", d.Pending)
	if d.Pending > 0 {
		fmt.Fprintf(&b, " (oldest %s)", human.Seconds(d.OldestPendingSeconds))
	}
	if d.Skipped > 0 {
		fmt.Fprintf(&b, ", skipped %d", d.Skipped)
	}
	fmt.Fprintf(&b, ", failures %d", d.WriteFailures+d.PollFailures)
	if d.WriteFailures+d.PollFailures > 0 {
		fmt.Fprintf(&b, " (%d writes, %d polls; last: %s)", d.WriteFailures, d.PollFailures, d.LastError)
	}
	return b.String()
}

// Result prints the summary, the cleanup and the verdict. judged is
// false for a probe without a duration, stopped by a signal: its verdict
// is shown as what was seen, not as a decision.
func (pr *Printer) Result(r *Result, judged bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.JSON {
		pr.emit("result", struct {
			Judged bool `json:"judged"`
			*Result
		}{judged, r})
		return
	}
	w := pr.W
	fmt.Fprintf(w, "\nprobe %s: %s", r.Token, secs(r.ElapsedSeconds).Round(100*time.Millisecond))
	if r.Interrupted {
		fmt.Fprint(w, ", interrupted")
	}
	fmt.Fprintln(w)
	for _, d := range r.Directions {
		fmt.Fprintf(w, "  %s→%s  %d written, %d converged (%d late)", d.From, d.To, d.Written, d.Converged, d.Late)
		if d.Converged > 0 {
			fmt.Fprintf(w, "; lag max %s", human.Seconds(d.MaxLagSeconds))
			if d.WindowCount > 0 {
				fmt.Fprintf(w, ", p50 %s p99 %s (the last %s: %d canaries)", human.Seconds(d.P50Seconds), human.Seconds(d.P99Seconds),
					secs(r.WindowSeconds), d.WindowCount)
			}
		}
		fmt.Fprintf(w, "; %d pending", d.Pending)
		if d.Pending > 0 {
			fmt.Fprintf(w, " (oldest %s)", human.Seconds(d.OldestPendingSeconds))
		}
		fmt.Fprintf(w, "; %d of %d writes and %d of %d polls failed\n", d.WriteFailures, d.WriteAttempts, d.PollFailures, d.Polls)
	}
	for _, line := range CleanupLines(r) {
		fmt.Fprintf(w, "  cleanup  %s\n", line)
	}
	if judged {
		fmt.Fprintln(w, r.Verdict.String())
	} else {
		fmt.Fprintf(w, "stopped without a --duration, so no verdict; what was seen: %s\n", r.Verdict.String())
	}
}

// maxListed bounds the keys a text summary lists.
const maxListed = 10

// CleanupLines describe what the cleanup removed and what it could not.
func CleanupLines(r *Result) []string {
	c := r.Cleanup
	out := []string{fmt.Sprintf("%d of %d canaries removed at both sites", c.Removed, c.Canaries)}
	// A long list is cut short here; the JSON result has it all.
	list := func(what string, items []string) {
		for i, it := range items {
			if i == maxListed {
				out = append(out, fmt.Sprintf("… and %d more (--json lists them all)", len(items)-maxListed))
				return
			}
			out = append(out, what+it)
		}
	}
	list("could not remove: ", c.Failed)
	list("still listed: ", c.Left)
	switch {
	case c.BucketError != "":
		out = append(out, fmt.Sprintf("could not remove bucket %s: %s", r.Bucket, c.BucketError))
	case c.BucketRemoved:
		out = append(out, fmt.Sprintf("bucket %s removed", r.Bucket))
	}
	return out
}

// secs is seconds as a duration, for printing.
func secs(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
