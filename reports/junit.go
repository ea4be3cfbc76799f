package reports

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replcheck/replcheck/internal/human"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/convergence"
)

// AnomalyKinds are the checks a run applies, in the order reports list
// them: every anomaly the checker knows, then the two found outside it.
var AnomalyKinds = []string{
	checker.LostWrite, checker.Divergence, checker.MissingReplica, checker.CorruptRead, checker.Unreadable,
	checker.Resurrection, checker.MetadataMismatch, checker.StaleLocalRead, checker.EncryptionDowngrade,
	StatusMismatch, SLOBreach,
}

// Evidence bounds: a failure lists this many findings, then a count of
// the rest (result.json has them all).
const (
	junitEvidence = 20
	evidenceOps   = 10
)

// JUnit document types: the subset of the Ant/Surefire schema that CI
// systems read (testsuites, testsuite, properties, testcase with failure,
// error or skipped, system-out).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	ID         int             `xml:"id,attr"`
	Package    string          `xml:"package,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitSkip    `xml:"skipped"`
	SystemOut *junitText    `xml:"system-out"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"` // through xmlText: CDATA keeps the lines readable in the file
}

type junitText struct {
	Text string `xml:",cdata"`
}

// xmlText makes s safe for CDATA, which encoding/xml writes as it is:
// characters XML cannot hold (control characters in awkward key names,
// invalid UTF-8) become U+FFFD.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xd7ff,
			r >= 0xe000 && r <= 0xfffd,
			r >= 0x10000 && r <= 0x10ffff:
			return r
		}
		return '\ufffd'
	}, s)
}

// output is a test case's system-out, or none.
func output(s string) *junitText {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return &junitText{xmlText(s) + "\n"}
}

type junitSkip struct {
	Message string `xml:"message,attr"`
}

// Outcomes of one check, as the report and junit.xml give them.
const (
	checkPass      = "pass"
	checkFail      = "fail"
	checkUndecided = "undecided"
	checkSkipped   = "not judged"
)

// checkResult is one check of a run: an anomaly kind, the SLO, or one
// replication direction's convergence.
type checkResult struct {
	Name     string
	Status   string
	Count    int    // findings
	Message  string // why it failed, is undecided or was not judged; what passed
	Evidence string // the first findings, as text
}

// checkResults judges each check the way Judge judges the run, so that
// no check fails, or is undecided, unless the verdict is not a pass: in
// a run that expects nothing an anomaly kind found fails and an
// undecided convergence is undecided; in a calibration run an expected
// anomaly that was found passes, one that was missed fails, and the
// checks the verdict does not rest on are not judged (their findings are
// still given).
func checkResults(r *Result) []checkResult {
	counts := foundCounts(r)
	calibration := len(r.Checks.Expect) > 0
	conv := r.Convergence.Verdict
	var out []checkResult
	for _, name := range checkNames(r, counts) {
		c := checkResult{Name: name, Count: counts[name], Status: checkPass}
		if name == SLOBreach {
			c.Evidence = breachEvidence(r)
		} else {
			c.Evidence = anomalyEvidence(r, name)
		}
		expected := slices.Contains(r.Checks.Expect, name)
		switch {
		case calibration && expected && c.Count > 0:
			c.Message = fmt.Sprintf("expected %s: found ×%d", name, c.Count)
		case calibration && expected:
			c.Status, c.Message = checkFail, "expected "+name+": not found"
			if name == SLOBreach {
				c.Message += fmt.Sprintf(" (convergence %s: %s)", conv.Outcome, conv.Reason)
			}
		case calibration:
			found := "none found"
			if c.Count > 0 {
				found = fmt.Sprintf("found ×%d", c.Count)
			}
			if name == SLOBreach {
				found += fmt.Sprintf("; convergence %s: %s", conv.Outcome, conv.Reason)
			}
			c.Status, c.Message = checkSkipped, "not judged in a calibration run; "+found
		case c.Count > 0:
			c.Status, c.Message = checkFail, failureMessage(r, name, c.Count)
		case name == SLOBreach && conv.Outcome == convergence.Undecided:
			c.Status, c.Message = checkUndecided, "undecided: "+conv.Reason
		case name == SLOBreach:
			c.Message = conv.Reason
		default:
			c.Message = "none found"
		}
		out = append(out, c)
	}
	for _, d := range r.Convergence.Directions {
		c := checkResult{Name: "convergence " + d.From + "→" + d.To, Evidence: directionSummary(r, d)}
		outcome, reason := directionOutcome(r, d)
		c.Message = reason
		switch {
		case calibration:
			c.Status, c.Message = checkSkipped, fmt.Sprintf("not judged in a calibration run; convergence %s: %s", outcome, reason)
		case outcome == convergence.Fail:
			c.Status = checkFail
		case outcome == convergence.Undecided:
			c.Status, c.Message = checkUndecided, "undecided: "+reason
		default:
			c.Status = checkPass
		}
		out = append(out, c)
	}
	return out
}

// JUnit returns junit.xml for r: one test suite for the run, one test
// case per check (each anomaly kind, status-mismatch, slo-breach, and
// each replication direction's convergence). A failed check is a
// failure with its evidence, an undecided one an error (undecided is
// never a pass), one a calibration run does not judge is skipped; the
// document is clean exactly when the verdict is pass.
func JUnit(r *Result) ([]byte, error) {
	class := "replcheck." + strings.ReplaceAll(r.Scenario, ".", "_")
	s := junitSuite{Name: r.Run, Package: class, Time: seconds(r.Finished.Sub(r.Started))}
	if s.Name == "" {
		s.Name = r.Scenario
	}
	if !r.Started.IsZero() {
		// The schema's timestamp has no zone; result.json's times are UTC.
		s.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	for _, p := range [][2]string{
		{"run", r.Run}, {"scenario", r.Scenario}, {"scenarioFile", r.ScenarioFile}, {"target", r.Target},
		{"sites", strings.Join(r.Sites, ",")}, {"flaws", strings.Join(r.Flaws, ",")},
		{"seed", strconv.FormatUint(r.Seed, 10)}, {"expect", strings.Join(r.Checks.Expect, ",")},
		{"verdict", r.Verdict}, {"reasons", strings.Join(r.Reasons, "; ")},
	} {
		s.Properties = append(s.Properties, junitProperty{Name: p[0], Value: p[1]})
	}
	for _, ch := range checkResults(r) {
		c := junitCase{Name: ch.Name, Classname: class, Time: "0"}
		s.Tests++
		switch ch.Status {
		case checkFail:
			s.Failures++
			c.Failure = &junitProblem{Message: ch.Message, Type: failureType(ch), Body: xmlText(ch.Evidence)}
		case checkUndecided:
			s.Errors++
			c.Error = &junitProblem{Message: ch.Message, Type: Undecided,
				Body: xmlText(ch.Message + "\nUndecided is not a pass: the observation window ended before every write could be judged.\n" + ch.Evidence)}
		case checkSkipped:
			s.Skipped++
			c.Skipped = &junitSkip{Message: fmt.Sprintf("%s (the run expects %s)", ch.Message, strings.Join(r.Checks.Expect, ", "))}
			if ch.Count > 0 {
				c.SystemOut = output(ch.Evidence)
			}
		default:
			c.SystemOut = output(ch.Message + "\n" + ch.Evidence)
		}
		s.Cases = append(s.Cases, c)
	}
	doc := junitSuites{Name: "replcheck", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped,
		Time: s.Time, Suites: []junitSuite{s}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("junit.xml: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// failureType names a failure: the anomaly, "missed" for an expected one
// not found, slo-breach for a direction's convergence.
func failureType(c checkResult) string {
	switch {
	case strings.HasPrefix(c.Message, "expected "):
		return "missed"
	case strings.HasPrefix(c.Name, "convergence "):
		return SLOBreach
	}
	return c.Name
}

// checkNames lists the checks: the known kinds, then any other name that
// was found or expected, so every finding and expectation has a case.
func checkNames(r *Result, counts map[string]int) []string {
	names := slices.Clone(AnomalyKinds)
	var extra []string
	for n := range counts {
		extra = append(extra, n)
	}
	extra = append(extra, r.Checks.Expect...)
	slices.Sort(extra)
	for _, n := range slices.Compact(extra) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

func failureMessage(r *Result, name string, n int) string {
	if name == SLOBreach {
		return r.Convergence.Verdict.Reason
	}
	for _, a := range r.Anomalies {
		if a.Name == name {
			return fmt.Sprintf("%s ×%d; first at %s: %s", name, n, keyName(a.Bucket, a.Key), a.Detail)
		}
	}
	return fmt.Sprintf("%s ×%d", name, n)
}

// anomalyEvidence lists the first anomalies named name, one block each.
func anomalyEvidence(r *Result, name string) string {
	var b strings.Builder
	shown, total := 0, 0
	for _, a := range r.Anomalies {
		if a.Name != name {
			continue
		}
		total++
		if shown == junitEvidence {
			continue
		}
		shown++
		if a.Bucket != "" || a.Key != "" {
			fmt.Fprintf(&b, "%s  ", keyName(a.Bucket, a.Key))
		}
		fmt.Fprintf(&b, "sites %s  ops %s\n    %s\n", orNone(a.Sites), boundedOps(a.Ops), a.Detail)
	}
	if total > shown {
		fmt.Fprintf(&b, "… %d more %s in result.json\n", total-shown, name)
	}
	return b.String()
}

// breachEvidence lists the first writes that missed the SLO.
func breachEvidence(r *Result) string {
	v := r.Convergence.Verdict
	var b strings.Builder
	if v.Reason != "" {
		b.WriteString(v.Reason + "\n")
	}
	for i, br := range v.Breaches {
		if i == junitEvidence {
			break
		}
		fmt.Fprintf(&b, "%s  %s→%s  %s  %s, lag %s\n", br.Op, br.Origin, br.Peer, keyName(br.Bucket, br.Key), br.State, human.Seconds(br.LagSeconds))
	}
	if n := max(v.BreachCount, len(v.Breaches)); n > junitEvidence {
		fmt.Fprintf(&b, "… %d more breaches in result.json\n", n-min(junitEvidence, len(v.Breaches)))
	}
	return b.String()
}

// directionOutcome applies the convergence verdict's rules to one
// direction's writes. When the whole run passed, so does every direction.
func directionOutcome(r *Result, d convergence.Direction) (convergence.Outcome, string) {
	v := r.Convergence.Verdict
	if v.Outcome == convergence.Pass {
		return convergence.Pass, fmt.Sprintf("all %d writes reached %s within the SLO", d.Writes, d.To)
	}
	slo := r.Convergence.SLOSeconds
	var breaches, straddle int
	for _, w := range r.Convergence.Writes {
		if w.Origin != d.From || w.Peer != d.To {
			continue
		}
		switch {
		case w.State == convergence.Pending && w.PendingSeconds > slo:
			breaches++
		case w.State != convergence.Pending && w.LagSeconds-w.ResolutionSeconds/2 > slo:
			breaches++
		case w.State != convergence.Pending && w.LagSeconds+w.ResolutionSeconds/2 > slo:
			straddle++
		}
	}
	for _, b := range v.Breaches {
		if b.Origin == d.From && b.Peer == d.To {
			breaches = max(breaches, 1)
			break
		}
	}
	sloText := human.Seconds(slo)
	switch {
	case breaches > 0:
		return convergence.Fail, fmt.Sprintf("%d of %d writes missed the %s SLO", breaches, d.Writes, sloText)
	case d.Pending > 0:
		return convergence.Undecided, fmt.Sprintf("%d writes still pending, the oldest for %s, within the %s SLO so far",
			d.Pending, human.Seconds(d.OldestPendingSeconds), sloText)
	case straddle > 0:
		return convergence.Undecided, fmt.Sprintf("%d writes arrived around the %s SLO, closer to it than the probes could tell", straddle, sloText)
	}
	return convergence.Pass, fmt.Sprintf("all %d writes reached %s within the %s SLO", d.Writes, d.To, sloText)
}

func directionSummary(r *Result, d convergence.Direction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d writes: %d converged, %d superseded, %d pending; %.1f%% within the %s SLO\n",
		d.Writes, d.Converged, d.Superseded, d.Pending, 100*d.WithinSLO, human.Seconds(r.Convergence.SLOSeconds))
	if l := d.Lag; l != nil {
		fmt.Fprintf(&b, "lag p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n",
			human.Seconds(l.P50), human.Seconds(l.P90), human.Seconds(l.P99), human.Seconds(l.P999), human.Seconds(l.Max))
	}
	if d.Pending > 0 {
		fmt.Fprintf(&b, "oldest pending %s\n", human.Seconds(d.OldestPendingSeconds))
	}
	fmt.Fprintf(&b, "probes %d, failed %d", d.Probes, d.ProbeFailures)
	if d.LastProbeError != "" {
		fmt.Fprintf(&b, " (last: %s)", d.LastProbeError)
	}
	b.WriteString("\n")
	return b.String()
}

func keyName(bucket, key string) string {
	if bucket == "" && key == "" {
		return "(no key)"
	}
	return bucket + "/" + key
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Join(xs, ",")
}

// boundedOps lists the first operation ids and counts the rest.
func boundedOps(ops []string) string {
	if len(ops) == 0 {
		return "-"
	}
	if len(ops) <= evidenceOps {
		return strings.Join(ops, ",")
	}
	return fmt.Sprintf("%s (+%d)", strings.Join(ops[:evidenceOps], ","), len(ops)-evidenceOps)
}

// seconds formats a duration as JUnit's time attribute.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(max(0, d.Seconds()), 'f', 3, 64)
}
