package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/replcheck/replcheck/internal/human"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/convergence"
)

// Bounds of the report's tables: a failed run may have thousands of
// anomalies; result.json keeps them all.
const (
	htmlPerKind  = 25 // anomaly rows per kind
	htmlBreaches = 25
	htmlOps      = 6 // operation ids per anomaly row
)

//go:embed report.html.tmpl
var reportTemplate string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"secs":   human.Seconds,
	"bytes":  func(b int64) string { return fmtBytes(float64(b)) },
	"bytesf": fmtBytes,
	"pct":    func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) },
	"upper":  strings.ToUpper,
	"join":   strings.Join,
	"offset": func(s float64) string { return fmt.Sprintf("%.1f s", s) },
	"sub":    func(a, b float64) float64 { return a - b },
}).Parse(reportTemplate))

// Render re-renders dir's junit.xml and report.html from its result.json.
func Render(dir string) error {
	r, err := ReadResult(dir)
	if err != nil {
		return err
	}
	return WriteReports(dir, r)
}

// WriteReports writes junit.xml and report.html for r into dir, each
// atomically.
func WriteReports(dir string, r *Result) error {
	junit, err := JUnit(r)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, JUnitFile), junit); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := HTML(&page, r); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, ReportFile), page.Bytes())
}

// HTML writes report.html for r: one self-contained page (inline CSS and
// SVG plots, no scripts, nothing fetched), verdict first.
func HTML(w io.Writer, r *Result) error {
	if err := reportTmpl.Execute(w, newPage(r)); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	return nil
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// page is what the template shows.
type page struct {
	R         *Result
	Verdict   string // PASS, FAIL, UNDECIDED
	Class     string // pass, fail, undecided
	Facts     [][2]string
	Checks    []checkResult
	ByKind    [][2]string
	Skipped   [][2]string
	Lag       []lagRow
	Figures   []figure
	Anomalies []anomalyRow
	// Hidden counts the anomalies left out of the table, by name.
	Hidden     []nameCount
	Breaches   []convergence.Breach
	BreachRest int
	Faults     []faultWindow
	Status     []statusRow
	Generated  string
}

type lagRow struct {
	Name  string
	Total bool
	convergence.Summary
}

type anomalyRow struct {
	checker.Anomaly
	Ops  string
	More int
}

type nameCount struct {
	Name  string
	Count int
}

type statusRow struct {
	Site  string
	Ops   int
	Bytes int64
	Sync  bool
}

func newPage(r *Result) page {
	p := page{R: r, Verdict: strings.ToUpper(r.Verdict), Class: r.Verdict,
		Generated: time.Now().UTC().Format(time.RFC3339)}
	switch r.Verdict {
	case Pass, Fail, Undecided:
	default:
		// An unjudged or unknown verdict is not a pass.
		p.Verdict, p.Class = strings.ToUpper(cmpOr(r.Verdict, "no verdict")), Undecided
	}
	if d := r.Decision(); d != "" {
		p.Verdict = strings.ToUpper(d)
	}
	flaws := "none"
	if len(r.Flaws) > 0 {
		flaws = strings.Join(r.Flaws, ", ")
	}
	expect := "nothing: no anomaly may be found"
	if len(r.Checks.Expect) > 0 {
		expect = strings.Join(r.Checks.Expect, ", ") + " (a calibration run: these must be found)"
	}
	scenario := r.Scenario
	if r.ScenarioFile != "" && r.ScenarioFile != "library:"+r.Scenario {
		scenario += " (" + r.ScenarioFile + ")"
	}
	p.Facts = [][2]string{
		{"scenario", scenario},
		{"target", r.Target},
		{"sites", strings.Join(r.Sites, ", ")},
		{"flaws", flaws},
		{"seed", fmt.Sprint(r.Seed)},
		{"run", r.Run},
		{"started", fmtTime(r.Started)},
		{"finished", fmtTime(r.Finished) + durationAfter(r.Started, r.Finished)},
		{"SLO", human.Seconds(r.Checks.SLOSeconds)},
		{"observation window", human.Seconds(r.Checks.ObserveSeconds)},
		{"expects", expect},
	}
	for _, a := range r.Adapted {
		p.Facts = append(p.Facts, [2]string{"adapted", a})
	}
	p.Checks = checkResults(r)
	for _, k := range sortedKeys(r.Workload.ByKind) {
		p.ByKind = append(p.ByKind, [2]string{k, fmt.Sprint(r.Workload.ByKind[k])})
	}
	for _, k := range sortedKeys(r.Convergence.Skipped) {
		p.Skipped = append(p.Skipped, [2]string{k, fmt.Sprint(r.Convergence.Skipped[k])})
	}
	for _, d := range r.Convergence.Directions {
		p.Lag = append(p.Lag, lagRow{Name: d.From + "→" + d.To, Summary: d.Summary})
	}
	if len(p.Lag) > 1 {
		p.Lag = append(p.Lag, lagRow{Name: "all directions", Total: true, Summary: r.Convergence.Overall})
	}
	p.Figures = figures(r)

	shown := map[string]int{}
	for _, a := range r.Anomalies {
		if shown[a.Name] >= htmlPerKind {
			shown[a.Name]++
			continue
		}
		shown[a.Name]++
		row := anomalyRow{Anomaly: a}
		ops := a.Ops
		if len(ops) > htmlOps {
			row.More, ops = len(ops)-htmlOps, ops[:htmlOps]
		}
		row.Ops = strings.Join(ops, " ")
		p.Anomalies = append(p.Anomalies, row)
	}
	for _, name := range sortedKeys(shown) {
		if n := shown[name] - htmlPerKind; n > 0 {
			p.Hidden = append(p.Hidden, nameCount{name, n})
		}
	}
	// Group the rows by kind, in the order checks are listed.
	order := map[string]int{}
	for i, c := range p.Checks {
		order[c.Name] = i
	}
	slices.SortStableFunc(p.Anomalies, func(a, b anomalyRow) int { return order[a.Name] - order[b.Name] })

	v := r.Convergence.Verdict
	p.Breaches = v.Breaches[:min(len(v.Breaches), htmlBreaches)]
	p.BreachRest = max(v.BreachCount, len(v.Breaches)) - len(p.Breaches)
	end := secs(r.Convergence.At)
	for _, f := range r.Faults {
		end = max(end, secs(f.At))
	}
	p.Faults = faultWindows(r.Faults, end)
	for _, site := range sortedKeys(r.EngineStatus) {
		st := r.EngineStatus[site]
		p.Status = append(p.Status, statusRow{site, st.PendingOperations, st.PendingBytes, st.InSync})
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func durationAfter(from, to time.Time) string {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return ""
	}
	return " (" + human.Seconds(to.Sub(from).Seconds()) + ")"
}
