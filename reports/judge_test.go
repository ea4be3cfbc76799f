package reports_test

import (
	"slices"
	"testing"

	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/convergence"
)

func TestJudge(t *testing.T) {
	lost := []checker.Anomaly{{Name: checker.LostWrite}}
	for _, tc := range []struct {
		name      string
		expect    []string
		anomalies []checker.Anomaly
		conv      convergence.Outcome
		verdict   string
		found     []string
		missed    []string
	}{
		{"clean", nil, nil, convergence.Pass, reports.Pass, nil, nil},
		{"anomaly", nil, lost, convergence.Pass, reports.Fail, []string{"lost-write"}, nil},
		{"pending", nil, nil, convergence.Undecided, reports.Undecided, nil, nil},
		{"breach", nil, nil, convergence.Fail, reports.Fail, []string{"slo-breach"}, nil},
		{"calibration found", []string{"lost-write"}, append(lost, checker.Anomaly{Name: checker.Divergence}), convergence.Undecided,
			reports.Pass, []string{"divergence", "lost-write"}, nil},
		{"calibration missed", []string{"lost-write", "slo-breach"}, lost, convergence.Pass, reports.Fail, []string{"lost-write"}, []string{"slo-breach"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &reports.Result{Anomalies: tc.anomalies, Checks: reports.Checks{Expect: tc.expect}}
			r.Convergence.Verdict.Outcome = tc.conv
			r.Judge()
			if r.Verdict != tc.verdict || !slices.Equal(r.Found, tc.found) || !slices.Equal(r.Missed, tc.missed) || len(r.Reasons) == 0 {
				t.Errorf("verdict %s found %v missed %v reasons %v; want %s %v %v", r.Verdict, r.Found, r.Missed, r.Reasons,
					tc.verdict, tc.found, tc.missed)
			}
		})
	}
}
