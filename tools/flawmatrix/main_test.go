package main

import (
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(text string, state types.SpecState, labels ...string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, LeafNodeLabels: labels, State: state}
}

func TestCheck(t *testing.T) {
	const lbl = "flaw:no-retry"
	for _, tc := range []struct {
		name  string
		specs []types.SpecReport
		code  int
		out   string
	}{
		{"caught where labelled", []types.SpecReport{spec("a", types.SpecStateFailed, lbl), spec("b", types.SpecStatePassed)}, 0, "1 of 2 specs caught it"},
		{"missed", []types.SpecReport{spec("a", types.SpecStatePassed, lbl)}, 1, `MISS`},
		{"extra failure", []types.SpecReport{spec("b", types.SpecStateFailed, "flaw:other")}, 1, `EXTRA`},
		{"skipped unlabelled", []types.SpecReport{spec("b", types.SpecStateSkipped)}, 0, "0 of 1"},
		{"suite setup failed", []types.SpecReport{{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStateFailed}}, 1, "BeforeSuite failed"},
	} {
		var b strings.Builder
		code := check(&b, "no-retry", []types.Report{{SuiteDescription: "S", SpecReports: tc.specs}})
		if code != tc.code || !strings.Contains(b.String(), tc.out) {
			t.Errorf("%s: exit %d, output:\n%s\nwant exit %d and %q", tc.name, code, b.String(), tc.code, tc.out)
		}
	}
}
