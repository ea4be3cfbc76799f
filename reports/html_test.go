package reports_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

// plotIDs are the report's plots, in their order.
var plotIDs = []string{"plot-lag-cdf", "plot-lag-time", "plot-lag-size", "plot-pending"}

// page renders r and parses it as a browser would.
func page(t *testing.T, r *reports.Result) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := reports.HTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return buf.String(), doc
}

// walk calls fn on every element.
func walk(n *html.Node, fn func(*html.Node)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

// svgIDs lists the ids of the page's svg elements.
func svgIDs(doc *html.Node) map[string]bool {
	ids := map[string]bool{}
	walk(doc, func(n *html.Node) {
		if n.Data == "svg" {
			ids[attr(n, "id")] = true
		}
	})
	return ids
}

// TestHTMLSelfContained renders saved runs: the page must load nothing
// (no script, stylesheet link, image, frame or external reference; only
// in-page anchors), put the verdict first and draw every plot inline.
func TestHTMLSelfContained(t *testing.T) {
	for _, fx := range []string{"flaw-no-retry", "flaw-volatile-queue", "encryption-bidirectional-correct", "flaw-serial-large-objects"} {
		t.Run(fx, func(t *testing.T) {
			r, err := reports.ReadResult(unpack(t, filepath.Join("testdata/runs", fx)))
			if err != nil {
				t.Fatal(err)
			}
			out, doc := page(t, r)
			var first string
			walk(doc, func(n *html.Node) {
				switch n.Data {
				case "script", "link", "img", "iframe", "object", "embed", "image", "use", "base":
					t.Errorf("<%s> in a self-contained page", n.Data)
				}
				for _, a := range n.Attr {
					switch a.Key {
					case "src", "href", "xlink:href", "srcset", "action":
						if !strings.HasPrefix(a.Val, "#") {
							t.Errorf("<%s %s=%q> refers outside the page", n.Data, a.Key, a.Val)
						}
					case "style":
						if strings.Contains(a.Val, "url(") {
							t.Errorf("<%s style=%q> loads a resource", n.Data, a.Val)
						}
					}
				}
				if first == "" && attr(n, "id") != "" {
					first = attr(n, "id")
				}
			})
			if strings.Contains(out, "url(") || strings.Contains(out, "@import") {
				t.Error("the stylesheet loads a resource")
			}
			if first != "verdict" {
				t.Errorf("first section %q, want the verdict", first)
			}
			var badge string
			walk(doc, func(n *html.Node) {
				if attr(n, "id") == "verdict-badge" {
					badge = textOf(n)
				}
			})
			if badge != strings.ToUpper(r.Verdict) {
				t.Errorf("verdict badge %q, want %q", badge, strings.ToUpper(r.Verdict))
			}
			ids := svgIDs(doc)
			for _, id := range plotIDs {
				if !ids[id] {
					t.Errorf("no <svg id=%q>", id)
				}
			}
			for _, reason := range r.Reasons {
				if !strings.Contains(out, html.EscapeString(reason)) {
					t.Errorf("reason %q not in the page", reason)
				}
			}
			if len(out) > 1<<20 {
				t.Errorf("report.html is %d bytes", len(out))
			}
		})
	}
}

// TestHTMLEscapes puts markup in every text a run carries from outside
// (keys, details, fault and scenario names): it must show as text.
func TestHTMLEscapes(t *testing.T) {
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	r := synthetic(func(r *reports.Result) {
		r.Scenario = "scn" + evil
		r.Anomalies = []checker.Anomaly{{Name: checker.LostWrite, Bucket: "bk", Key: "k" + evil, Sites: []string{"b" + evil},
			Ops: []string{"op" + evil}, Detail: "detail" + evil}}
		r.Faults = []reports.Fault{{Name: "partition" + evil, Kind: "inject", At: history.Time(time.Second)},
			{Name: "partition" + evil, Kind: "heal", At: history.Time(3 * time.Second)}}
		r.Convergence.Directions[0].LastProbeError = "probe" + evil
	})
	out, doc := page(t, r)
	walk(doc, func(n *html.Node) {
		if n.Data == "script" || n.Data == "img" {
			t.Errorf("markup from the result became a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			if a.Key == "onerror" {
				t.Errorf("markup from the result became an attribute")
			}
		}
	})
	for _, want := range []string{"k" + evil, "detail" + evil, "partition" + evil, "probe" + evil} {
		if !strings.Contains(textOf(doc), want) {
			t.Errorf("%q not shown as text", want)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Error("raw <script> in the page")
	}
}

// TestHTMLDegenerate renders runs with little or awkward data: each must
// render, say why a plot is missing, and stay bounded in size.
func TestHTMLDegenerate(t *testing.T) {
	many := func(r *reports.Result) {
		// 20,000 writes in two directions, 5,000 anomalies of two kinds.
		r.Convergence.Writes = nil
		for i := range 20000 {
			from, to := "a", "b"
			if i%2 == 1 {
				from, to = "b", "a"
			}
			r.Convergence.Writes = append(r.Convergence.Writes, convergence.Write{Op: fmt.Sprint("op-", i), Origin: from, Peer: to,
				Bucket: "bk", Key: fmt.Sprint("k", i), Kind: history.Put, Size: int64(1 + i%4096*1024), Ack: history.Time(i) * history.Time(time.Millisecond),
				State: convergence.Converged, LagSeconds: 0.001 + float64(i%97)/1000, ResolutionSeconds: 0.001})
		}
		for i := range 5000 {
			name := checker.LostWrite
			if i%5 == 0 {
				name = checker.Divergence
			}
			r.Anomalies = append(r.Anomalies, checker.Anomaly{Name: name, Bucket: "bk", Key: fmt.Sprint("k", i),
				Sites: []string{"a", "b"}, Ops: []string{"o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"}, Detail: "d"})
		}
		for i := range 1000 {
			r.Convergence.Series = append(r.Convergence.Series, convergence.Sample{T: history.Time(i) * history.Time(20*time.Millisecond), Ops: i % 50, Bytes: int64(i%50) << 20})
		}
		r.Convergence.Overall.Fit = convergence.Fit{OK: true, Points: 20000, DistinctSizes: 4096, InterceptSeconds: 0.001,
			BandwidthBytesPerSecond: 100 << 20, SLOSizeBytes: (900 - 0.001) * (100 << 20), R2: 0.5}
	}
	for _, tc := range []struct {
		name string
		mod  func(r *reports.Result)
		// plots that must be drawn, and texts the page must hold
		plots []string
		texts []string
	}{
		{"no writes", func(r *reports.Result) {
			r.Convergence = convergence.Result{SLOSeconds: 900, Verdict: convergence.Verdict{Outcome: convergence.Undecided, Reason: "no acknowledged writes to measure"}}
		}, nil, []string{"UNDECIDED", "no writes were tracked", "the result has no pending series"}},
		{"nothing converged", func(r *reports.Result) {
			for i := range r.Convergence.Writes {
				r.Convergence.Writes[i].State, r.Convergence.Writes[i].LagSeconds, r.Convergence.Writes[i].PendingSeconds = convergence.Pending, 0, 10
			}
			r.Convergence.Verdict = convergence.Verdict{Outcome: convergence.Undecided, Reason: "2 writes still pending"}
			r.Convergence.Series = []convergence.Sample{{T: history.Time(12 * time.Second), Ops: 2, Bytes: 3000}}
		}, []string{"plot-lag-time", "plot-pending"}, []string{"no write reached its peer", "no converged write of a non-empty object"}},
		{"empty objects and deletes", func(r *reports.Result) {
			r.Convergence.Writes[0].Size = 0
			r.Convergence.Writes[1].Size, r.Convergence.Writes[1].Kind = 0, history.Delete
		}, []string{"plot-lag-cdf", "plot-lag-time"}, []string{"no converged write of a non-empty object"}},
		{"one write, zero lag", func(r *reports.Result) {
			r.Convergence.Writes = r.Convergence.Writes[:1]
			r.Convergence.Writes[0].LagSeconds = 0
			r.Convergence.Directions = r.Convergence.Directions[:1]
			r.Convergence.Series = []convergence.Sample{{T: 0, Ops: 0, Bytes: 0}}
		}, plotIDs, []string{"lags of zero drawn at"}},
		{"fault never healed", func(r *reports.Result) {
			r.Faults = []reports.Fault{{Name: "crash b", Kind: "inject", At: history.Time(2 * time.Second), Error: "kill: no such process"}}
		}, []string{"plot-lag-time"}, []string{"never", "to the end", "kill: no such process"}},
		{"thousands of writes and anomalies", many, plotIDs,
			[]string{"of 20000 writes: the slowest tenth", "975 more divergence", "3975 more lost-write", "would breach", "(+2)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := synthetic(tc.mod)
			out, doc := page(t, r)
			ids := svgIDs(doc)
			for _, id := range tc.plots {
				if !ids[id] {
					t.Errorf("no <svg id=%q>", id)
				}
			}
			for _, want := range tc.texts {
				if !strings.Contains(textOf(doc), want) {
					t.Errorf("%q not in the page", want)
				}
			}
			if strings.Contains(out, "could not be drawn") {
				t.Errorf("a plot failed to draw")
			}
			var rows int
			walk(doc, func(n *html.Node) {
				if attr(n, "id") == "anomaly-table" {
					walk(n, func(n *html.Node) {
						if n.Data == "tr" {
							rows++
						}
					})
				}
			})
			if rows > 1+2*25 {
				t.Errorf("%d anomaly rows: not bounded", rows)
			}
			if len(out) > 3<<20 {
				t.Errorf("report.html is %d bytes: not bounded", len(out))
			}
			t.Logf("%d bytes", len(out))
		})
	}
}

// TestRender writes both files into a run folder, atomically (nothing
// left behind), and refuses a folder without a result.
func TestRender(t *testing.T) {
	dir := unpack(t, "testdata/runs/flaw-volatile-queue")
	if err := reports.Render(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{reports.JUnitFile, reports.ReportFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) > 0 {
		t.Errorf("left behind: %v", tmp)
	}
	err := reports.Render(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "result.json: no such file: is this a run folder?") {
		t.Errorf("empty folder: %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, reports.ResultFile), []byte("{not json"), 0o644)
	if err := reports.Render(bad); err == nil || !strings.Contains(err.Error(), "result.json") {
		t.Errorf("bad result.json: %v", err)
	}
}
