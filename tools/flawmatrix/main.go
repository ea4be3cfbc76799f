// Command flawmatrix checks that the Ginkgo suites, run with one flaw of
// the reference engine turned on, failed in exactly the specs labelled
// "flaw:<name>" and passed (or skipped) everywhere else: the suites catch
// each flaw where they claim to, and only there.
//
//	flawmatrix -flaw NAME report.json...
//
// The reports are Ginkgo's --json-report files of that run. Exit 0 when
// the run matches the labels, 1 otherwise, 2 on bad input.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	flaw := flag.String("flaw", "", "the flaw the reports were run with (required)")
	flag.Parse()
	if *flaw == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: flawmatrix -flaw NAME report.json...")
		os.Exit(2)
	}
	var reports []types.Report
	for _, path := range flag.Args() {
		rs, err := read(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "flawmatrix: %s: %v\n", path, err)
			os.Exit(2)
		}
		reports = append(reports, rs...)
	}
	os.Exit(check(os.Stdout, *flaw, reports))
}

func read(path string) ([]types.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rs []types.Report
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("not a Ginkgo JSON report: %w", err)
	}
	return rs, nil
}

// check prints each spec whose outcome under flaw disagrees with its
// labels, and a line per expected catch; it returns the exit code.
func check(w io.Writer, flaw string, reports []types.Report) int {
	label := "flaw:" + flaw
	code, caught, specs := 0, 0, 0
	for _, r := range reports {
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt {
				// Setup nodes that fail take their suite down: report them.
				if sr.State.Is(types.SpecStateFailureStates) {
					fmt.Fprintf(w, "FAIL  %s: %s %s failed: %s\n", r.SuiteDescription, flaw, sr.LeafNodeType, sr.Failure.Message)
					code = 1
				}
				continue
			}
			specs++
			want := slices.Contains(sr.Labels(), label)
			failed := sr.State.Is(types.SpecStateFailureStates)
			switch {
			case want && failed:
				caught++
				fmt.Fprintf(w, "ok    %s: %s caught by %q\n", r.SuiteDescription, flaw, sr.FullText())
			case want && !failed:
				fmt.Fprintf(w, "MISS  %s: %q is labelled %s but %s\n", r.SuiteDescription, sr.FullText(), label, sr.State)
				code = 1
			case !want && failed:
				fmt.Fprintf(w, "EXTRA %s: %q failed under %s without the label: %s\n", r.SuiteDescription, sr.FullText(), flaw, firstLine(sr.Failure.Message))
				code = 1
			}
		}
	}
	fmt.Fprintf(w, "%s: %d of %d specs caught it, as labelled\n", flaw, caught, specs)
	if code != 0 {
		fmt.Fprintf(w, "%s: the suites' outcome disagrees with their flaw labels\n", flaw)
	}
	return code
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
