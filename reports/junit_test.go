package reports_test

import (
	"encoding/xml"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"

	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

// parseJUnit reads a junit.xml document the way a CI system does (with
// go-junit, a JUnit consumer), and its totals as the attributes state
// them.
func parseJUnit(t *testing.T, data []byte) (junit.Suite, attrTotals) {
	t.Helper()
	suites, err := junit.Ingest(data)
	if err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, data)
	}
	if len(suites) != 1 {
		t.Fatalf("%d test suites, want one per run", len(suites))
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		attrTotals
		Suite struct {
			attrTotals
			Name      string `xml:"name,attr"`
			Timestamp string `xml:"timestamp,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.attrTotals != doc.Suite.attrTotals {
		t.Errorf("testsuites totals %+v differ from the suite's %+v", doc.attrTotals, doc.Suite.attrTotals)
	}
	if doc.Suite.Time == "" || doc.Suite.Name == "" {
		t.Errorf("suite without name or time: %+v", doc.Suite)
	}
	return suites[0], doc.Suite.attrTotals
}

type attrTotals struct {
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

// checkTotals compares the stated totals with the cases the consumer saw.
func checkTotals(t *testing.T, s junit.Suite, a attrTotals) {
	t.Helper()
	got := attrTotals{Tests: s.Totals.Tests, Failures: s.Totals.Failed, Errors: s.Totals.Error, Skipped: s.Totals.Skipped, Time: a.Time}
	if got != a {
		t.Errorf("attributes say %+v, the cases %+v", a, got)
	}
}

func testByName(s junit.Suite, name string) (junit.Test, bool) {
	for _, tc := range s.Tests {
		if tc.Name == name {
			return tc, true
		}
	}
	return junit.Test{}, false
}

// TestJUnitAgreesWithVerdict renders junit.xml for every saved run, as
// recorded (calibration runs that pass) and judged again as runs that
// expect nothing (where the flaws' damage must fail): the document is
// clean exactly when the verdict is pass, every anomaly kind found
// fails with its evidence, and every check has its case.
func TestJUnitAgreesWithVerdict(t *testing.T) {
	fixtures, _ := filepath.Glob("testdata/runs/*")
	if len(fixtures) < 10 {
		t.Fatalf("%d fixtures", len(fixtures))
	}
	var sawFail, sawUndecided bool
	for _, fx := range fixtures {
		res, err := reports.ReadResult(unpack(t, fx))
		if err != nil {
			t.Fatal(err)
		}
		for _, calibration := range []bool{true, false} {
			name := filepath.Base(fx)
			if !calibration {
				if len(res.Checks.Expect) == 0 {
					continue
				}
				res.Checks.Expect = nil
				res.Judge()
				name += "/expecting-nothing"
			}
			t.Run(name, func(t *testing.T) {
				data, err := reports.JUnit(res)
				if err != nil {
					t.Fatal(err)
				}
				s, attrs := parseJUnit(t, data)
				checkTotals(t, s, attrs)
				bad := s.Totals.Failed + s.Totals.Error
				if (bad == 0) != (res.Verdict == reports.Pass) {
					t.Fatalf("verdict %s (%v) but %d failures and %d errors", res.Verdict, res.Reasons, s.Totals.Failed, s.Totals.Error)
				}
				if want := len(reports.AnomalyKinds) + len(res.Convergence.Directions); s.Totals.Tests < want {
					t.Errorf("%d test cases, want at least %d (every check, every direction)", s.Totals.Tests, want)
				}
				for _, kind := range reports.AnomalyKinds {
					if _, ok := testByName(s, kind); !ok {
						t.Errorf("no test case for %s", kind)
					}
				}
				for _, found := range res.Found {
					tc, ok := testByName(s, found)
					if !ok {
						t.Fatalf("no test case for %s", found)
					}
					expected := slices.Contains(res.Checks.Expect, found)
					switch {
					case calibration && expected && tc.Status != junit.StatusPassed:
						t.Errorf("%s expected and found: %s, want passed", found, tc.Status)
					case calibration && !expected && tc.Status != junit.StatusSkipped:
						t.Errorf("%s found but not expected in a calibration run: %s, want skipped", found, tc.Status)
					case !calibration && tc.Status != junit.StatusFailed:
						t.Errorf("%s found: %s, want failed", found, tc.Status)
					}
					if !calibration {
						sawFail = true
						// The evidence names the first anomaly's object, or its
						// first operation where it has no object.
						for _, a := range res.Anomalies {
							want := a.Bucket + "/" + a.Key
							if a.Key == "" {
								want = a.Ops[0]
							}
							if a.Name == found && !strings.Contains(body(tc), want) {
								t.Errorf("%s failure body lacks %s:\n%s", found, want, body(tc))
							}
							if a.Name == found {
								break
							}
						}
					}
				}
				if !calibration && res.Convergence.Verdict.Outcome == convergence.Undecided {
					tc, _ := testByName(s, reports.SLOBreach)
					if tc.Status != junit.StatusError || !strings.Contains(tc.Message, "undecided") {
						t.Errorf("undecided convergence: slo-breach %s %q, want an error saying undecided", tc.Status, tc.Message)
					}
					sawUndecided = true
				}
			})
		}
	}
	if !sawFail || !sawUndecided {
		t.Errorf("fixtures covered no failure (%v) or no undecided convergence (%v)", sawFail, sawUndecided)
	}
}

// synthetic is a small judged result: a clean run of two sites unless
// changed.
func synthetic(mod func(r *reports.Result)) *reports.Result {
	r := &reports.Result{Schema: 1, Run: "synthetic-20260101-000000-abc", Scenario: "synthetic", Target: "embedded",
		Sites: []string{"a", "b"}, Seed: 1, Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Finished: time.Date(2026, 1, 1, 0, 0, 12, 0, time.UTC), Checks: reports.Checks{SLOSeconds: 900, ObserveSeconds: 5}}
	r.Convergence = convergence.Result{SLOSeconds: 900, At: history.Time(12 * time.Second),
		Verdict: convergence.Verdict{Outcome: convergence.Pass, Reason: "all 2 writes reached their peers within the 15m0s SLO"}}
	for i, dir := range [][2]string{{"a", "b"}, {"b", "a"}} {
		w := convergence.Write{Op: fmt.Sprintf("op-%d", i), Origin: dir[0], Peer: dir[1], Bucket: "bk", Key: fmt.Sprint("k", i),
			Kind: history.Put, Size: 1000 * int64(i+1), Ack: history.Time(time.Duration(i+1) * time.Second),
			State: convergence.Converged, LagSeconds: 0.002, ResolutionSeconds: 0.001}
		r.Convergence.Writes = append(r.Convergence.Writes, w)
		r.Convergence.Directions = append(r.Convergence.Directions, convergence.Direction{From: dir[0], To: dir[1],
			Summary: convergence.Summary{Writes: 1, Converged: 1, Bytes: w.Size, WithinSLO: 1,
				Lag: &convergence.Percentiles{P50: 0.002, P90: 0.002, P99: 0.002, P999: 0.002, Max: 0.002}}})
	}
	r.Convergence.Overall = convergence.Summary{Writes: 2, Converged: 2, WithinSLO: 1}
	if mod != nil {
		mod(r)
	}
	r.Judge()
	return r
}

// TestJUnitCases covers the outcomes one by one on small results.
func TestJUnitCases(t *testing.T) {
	lost := func(n int) []checker.Anomaly {
		var out []checker.Anomaly
		for i := range n {
			out = append(out, checker.Anomaly{Name: checker.LostWrite, Bucket: "bk", Key: fmt.Sprintf("key-%04d", i),
				Sites: []string{"b"}, Ops: []string{fmt.Sprintf("op-%d", i)}, Detail: "acknowledged write never arrived"})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		mod     func(r *reports.Result)
		verdict string
		// status of test cases by name
		want map[string]junit.Status
		// text the named case's message or body must contain
		text map[string]string
	}{
		{"clean", nil, reports.Pass,
			map[string]junit.Status{"lost-write": junit.StatusPassed, "slo-breach": junit.StatusPassed, "convergence a→b": junit.StatusPassed}, nil},
		{"thousands of lost writes", func(r *reports.Result) { r.Anomalies = lost(3000) }, reports.Fail,
			map[string]junit.Status{"lost-write": junit.StatusFailed, "divergence": junit.StatusPassed},
			map[string]string{"lost-write": "… 2980 more lost-write in result.json"}},
		{"undecided", func(r *reports.Result) {
			r.Convergence.Verdict = convergence.Verdict{Outcome: convergence.Undecided, Reason: "1 writes still pending"}
			r.Convergence.Writes[1].State, r.Convergence.Writes[1].PendingSeconds = convergence.Pending, 3
			r.Convergence.Directions[1].Pending, r.Convergence.Directions[1].Converged = 1, 0
		}, reports.Undecided,
			map[string]junit.Status{"slo-breach": junit.StatusError, "convergence b→a": junit.StatusError, "convergence a→b": junit.StatusPassed},
			map[string]string{"slo-breach": "undecided: 1 writes still pending"}},
		{"no writes", func(r *reports.Result) {
			r.Convergence = convergence.Result{SLOSeconds: 900, Verdict: convergence.Verdict{Outcome: convergence.Undecided, Reason: "no acknowledged writes to measure"}}
		}, reports.Undecided,
			map[string]junit.Status{"slo-breach": junit.StatusError}, map[string]string{"slo-breach": "no acknowledged writes"}},
		{"breach", func(r *reports.Result) {
			r.Convergence.Verdict = convergence.Verdict{Outcome: convergence.Fail, Reason: "1 of 2 writes missed the 15m0s SLO", BreachCount: 1,
				Breaches: []convergence.Breach{{Op: "op-0", Origin: "a", Peer: "b", Bucket: "bk", Key: "k0", State: convergence.Converged, LagSeconds: 1000}}}
			r.Convergence.Writes[0].LagSeconds = 1000
		}, reports.Fail,
			map[string]junit.Status{"slo-breach": junit.StatusFailed, "convergence a→b": junit.StatusFailed, "convergence b→a": junit.StatusPassed},
			map[string]string{"slo-breach": "op-0  a→b  bk/k0"}},
		{"calibration missed", func(r *reports.Result) {
			r.Checks.Expect = []string{checker.Resurrection}
			r.Anomalies = lost(1)
		}, reports.Fail,
			map[string]junit.Status{"resurrection": junit.StatusFailed, "lost-write": junit.StatusSkipped, "convergence a→b": junit.StatusSkipped},
			map[string]string{"resurrection": "expected resurrection: not found", "lost-write": "found ×1"}},
		{"calibration found, convergence undecided", func(r *reports.Result) {
			r.Checks.Expect = []string{checker.LostWrite}
			r.Anomalies = lost(2)
			r.Convergence.Verdict = convergence.Verdict{Outcome: convergence.Undecided, Reason: "2 writes still pending"}
		}, reports.Pass,
			map[string]junit.Status{"lost-write": junit.StatusPassed, "slo-breach": junit.StatusSkipped},
			map[string]string{"slo-breach": "convergence undecided"}},
		{"unknown anomaly name", func(r *reports.Result) {
			r.Anomalies = []checker.Anomaly{{Name: "future-kind", Bucket: "bk", Key: "k"}}
		}, reports.Fail, map[string]junit.Status{"future-kind": junit.StatusFailed}, nil},
		{"awkward key names", func(r *reports.Result) {
			r.Anomalies = []checker.Anomaly{{Name: checker.Divergence, Bucket: "bk", Key: "a<b>&\"c\"\x01\x7f\u2028]]>", Detail: "<script>"}}
		}, reports.Fail, map[string]junit.Status{"divergence": junit.StatusFailed},
			map[string]string{"divergence": "bk/a<b>&\"c\"\ufffd\x7f\u2028]]>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := synthetic(tc.mod)
			if r.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s: the case is built wrong", r.Verdict, tc.verdict)
			}
			data, err := reports.JUnit(r)
			if err != nil {
				t.Fatal(err)
			}
			s, attrs := parseJUnit(t, data)
			checkTotals(t, s, attrs)
			if bad := s.Totals.Failed + s.Totals.Error; (bad == 0) != (r.Verdict == reports.Pass) {
				t.Errorf("verdict %s but %d failures, %d errors", r.Verdict, s.Totals.Failed, s.Totals.Error)
			}
			for name, status := range tc.want {
				c, ok := testByName(s, name)
				if !ok {
					t.Errorf("no case %q", name)
					continue
				}
				if c.Status != status {
					t.Errorf("%s: %s (%q), want %s", name, c.Status, c.Message, status)
				}
			}
			for name, text := range tc.text {
				c, _ := testByName(s, name)
				all := c.Message + "\n" + c.SystemOut + "\n" + body(c)
				if !strings.Contains(all, text) {
					t.Errorf("%s: %q not in the case:\n%s", name, text, all)
				}
			}
			if len(data) > 64<<10 {
				t.Errorf("junit.xml is %d bytes: the evidence is not bounded", len(data))
			}
		})
	}
}

// body is a failure's or error's text.
func body(tc junit.Test) string {
	if e, ok := tc.Error.(junit.Error); ok {
		return e.Body
	}
	return ""
}
