package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/xrash/smetrics"

	scenario "github.com/replcheck/replcheck/scenarios"
)

// listWidth is the widest a line of 'replcheck scenarios' gets (less on
// a narrower terminal): summaries are cut to fit.
const listWidth = 100

func newScenariosCmd() *cobra.Command {
	var asJSON, onlyYAML bool
	cmd := &cobra.Command{
		Use:   "scenarios [NAME]",
		Short: "List the scenario library, or show one scenario",
		Long: `Without NAME, list the scenarios compiled into replcheck, one a line: its
name, target (embedded runs in this process; containers needs Docker;
external needs --sites), how long a run takes (the workload, then at most
the observation window), and the first sentence of its description.
Calibration scenarios (flaw-*), which turn on a flaw of the reference engine
and expect the verifier to find it, come last: 'replcheck calibrate' runs
them all.

With NAME (a library name, or a path to a scenario file), print its whole
description, what it runs, and its YAML; --yaml prints only the YAML, a
starting point for a scenario of your own (the schema is in
scenarios/README.md; the file's name must match its name: field).

--json prints the list as a JSON array (name, description, target, sites,
runLengthSeconds, faults, flaws, expect, calibration), or one object for
NAME.

Exit codes: 0, or 2 for an unknown name or a scenario file with errors.`,
		Example: `  replcheck scenarios
  replcheck scenarios partition-heal
  replcheck scenarios quickstart --yaml > my-scenario.yaml   # edit it (rename name: too), then
  replcheck run ./my-scenario.yaml
  replcheck scenarios --json | jq -r '.[] | select(.target == "embedded") | .name'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				s, err := loadScenario(args[0])
				if err != nil {
					return &exitError{exitUsage, err}
				}
				if asJSON {
					return writeJSON(out, scenarioInfoOf(s))
				}
				yaml, err := scenarioYAML(s)
				if err != nil {
					return &exitError{exitUsage, err}
				}
				if onlyYAML {
					_, err := out.Write(yaml)
					return err
				}
				showScenario(out, s, yaml)
				return nil
			}
			// A library file that does not load is listed as an error after
			// the others, which stay usable.
			lib, libErr := scenario.Library()
			if asJSON {
				infos := make([]scenarioInfo, len(lib))
				for i, s := range lib {
					infos[i] = scenarioInfoOf(s)
				}
				if err := writeJSON(out, infos); err != nil {
					return err
				}
			} else {
				width := listWidth
				if w := terminalWidth(out); w > 0 {
					width = min(width, w-1)
				}
				listScenarios(out, lib, width)
			}
			if libErr != nil {
				return &exitError{exitUsage, fmt.Errorf("scenario library: %w", libErr)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.Flags().BoolVar(&onlyYAML, "yaml", false, "with NAME: print only the scenario's YAML, to start a file of your own from")
	return cmd
}

// scenarioInfo is a scenario as 'replcheck scenarios --json' prints it.
type scenarioInfo struct {
	Name        string   `json:"name"`
	Summary     string   `json:"summary"` // one line: the file's opening comment
	Description string   `json:"description"`
	Target      string   `json:"target"`
	Sites       []string `json:"sites"`
	// RunLengthSeconds is the workload and the observation window; 0 for
	// a workload of a number of operations, whose length is not known.
	RunLengthSeconds float64  `json:"runLengthSeconds"`
	Faults           int      `json:"faults"` // fault steps, the WAN baseline not counted
	Flaws            []string `json:"flaws"`
	Expect           []string `json:"expect"`
	Calibration      bool     `json:"calibration"`
}

func scenarioInfoOf(s *scenario.Scenario) scenarioInfo {
	// Empty lists as [], not null: simpler for jq.
	return scenarioInfo{Name: s.Name, Summary: headline(s), Description: oneLine(s.Description), Target: s.Topology.Target,
		Sites: orEmpty(s.Topology.Sites), RunLengthSeconds: s.RunLength().Seconds(), Faults: len(s.Faults),
		Flaws: orEmpty(s.Topology.Flaws), Expect: orEmpty(s.Checks.Expect), Calibration: isCalibration(s)}
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isCalibration tells the scenarios 'replcheck calibrate' runs, as it
// picks them.
func isCalibration(s *scenario.Scenario) bool {
	return strings.HasPrefix(s.Name, "flaw-") && len(s.Topology.Flaws) > 0
}

// listScenarios prints the library, one scenario a line no wider than
// width, calibration scenarios last under a heading of their own.
func listScenarios(w io.Writer, lib []*scenario.Scenario, width int) {
	var plain, cal []*scenario.Scenario
	for _, s := range lib {
		if isCalibration(s) {
			cal = append(cal, s)
		} else {
			plain = append(plain, s)
		}
	}
	table(w, plain, width, true, headline)
	if len(cal) > 0 {
		fmt.Fprintf(w, "\nCalibration: a flaw of the reference engine on, and what the verifier must\nfind ('replcheck calibrate' runs them all):\n")
		table(w, cal, width, false, calibrationSummary)
	}
	fmt.Fprintf(w, "\n'replcheck scenarios NAME' shows one in full; 'replcheck run NAME' runs it.\n")
}

// table prints scenarios in columns, each as wide as its widest entry;
// the summary gets what is left of width.
func table(w io.Writer, list []*scenario.Scenario, width int, header bool, summary func(*scenario.Scenario) string) {
	nameW, targetW, lengthW := len("NAME"), len("TARGET"), len("LENGTH")
	for _, s := range list {
		nameW = max(nameW, len(s.Name))
		targetW = max(targetW, len(s.Topology.Target))
		lengthW = max(lengthW, len(runLength(s)))
	}
	summaryW := max(20, width-(nameW+targetW+lengthW+6))
	row := func(name, target, length, summary string) {
		fmt.Fprintf(w, "%-*s  %-*s  %-*s  %s\n", nameW, name, targetW, target, lengthW, length, summary)
	}
	if header {
		row("NAME", "TARGET", "LENGTH", "SUMMARY")
	}
	for _, s := range list {
		row(s.Name, s.Topology.Target, runLength(s), clip(summary(s), summaryW))
	}
}

// headline is a library scenario's one-line summary: the comment its file
// opens with, or else its description's first sentence.
func headline(s *scenario.Scenario) string {
	if b, err := fs.ReadFile(scenario.Embedded, s.Name+".yaml"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		if h, ok := strings.CutPrefix(first, "# "); ok {
			return strings.TrimSpace(h)
		}
	}
	return firstSentence(s.Description)
}

// calibrationSummary leads with what the verifier must find, and the
// flaw when the name does not say it; then the description's first
// sentence, less its opening "Calibration for the F flaw:".
func calibrationSummary(s *scenario.Scenario) string {
	flaws := strings.Join(s.Topology.Flaws, ", ")
	sentence := firstSentence(s.Description)
	sentence = strings.TrimPrefix(sentence, "Calibration for the "+flaws+" flaw: ")
	expect := "nothing"
	if len(s.Checks.Expect) > 0 {
		expect = strings.Join(s.Checks.Expect, ", ")
	}
	if s.Name == "flaw-"+flaws {
		return fmt.Sprintf("finds %s: %s", expect, sentence)
	}
	return fmt.Sprintf("%s finds %s: %s", flaws, expect, sentence)
}

// runLength is how long a run of s lasts, at most: "15s", "1m05s"; for
// a workload of a number of operations, that number.
func runLength(s *scenario.Scenario) string {
	if d := s.RunLength().Round(time.Second); d >= time.Hour {
		return d.String()
	} else if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	} else if d >= time.Minute {
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	} else if d > 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%d ops", s.Workload.Ops)
}

// oneLine joins a description's lines (a folded or literal YAML block)
// into one.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// firstSentence is a description's first sentence: up to the first
// ". " followed by a capital letter (so "e.g. an" does not end it), or
// the whole text.
func firstSentence(desc string) string {
	s := oneLine(desc)
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '.' && s[i+1] == ' ' {
			if r, _ := utf8.DecodeRuneInString(s[i+2:]); unicode.IsUpper(r) {
				return s[:i+1]
			}
		}
	}
	return s
}

// clip cuts s to n characters at a word boundary, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	if i := strings.LastIndexByte(string(r), ' '); i > n/2 {
		return strings.TrimRight(string(r)[:i], " ,;:") + "…"
	}
	return string(r) + "…"
}

// scenarioYAML is the text of s's file: the library's embedded copy, or
// the file a path named.
func scenarioYAML(s *scenario.Scenario) ([]byte, error) {
	if name, ok := strings.CutPrefix(s.File, "library:"); ok {
		return fs.ReadFile(scenario.Embedded, name+".yaml")
	}
	return os.ReadFile(s.File)
}

// showScenario prints s in full: the description wrapped, what a run of
// it does, and its YAML.
func showScenario(w io.Writer, s *scenario.Scenario, yaml []byte) {
	fmt.Fprintf(w, "%s\n\n", s.Name)
	for _, line := range wrap(oneLine(s.Description), 76) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  target     %s (sites %s)\n", s.Topology.Target, strings.Join(s.Topology.Sites, ", "))
	length := runLength(s)
	if s.RunLength() > 0 {
		length = fmt.Sprintf("at most %s (workload %s, then up to %s to converge)", length, s.Workload.Duration, s.Checks.Observe)
	}
	fmt.Fprintf(w, "  run        %s\n", length)
	faults := "none"
	if len(s.Faults) > 0 {
		var kinds []string
		for _, f := range s.Faults {
			kinds = append(kinds, f.Kinds()...)
		}
		faults = fmt.Sprintf("%d (%s)", len(s.Faults), strings.Join(kinds, ", "))
	}
	fmt.Fprintf(w, "  faults     %s\n", faults)
	if wan := s.WAN; wan != nil {
		var shape []string
		if wan.Latency > 0 {
			shape = append(shape, "latency "+wan.Latency.String())
		}
		if wan.Jitter > 0 {
			shape = append(shape, "jitter ±"+wan.Jitter.String())
		}
		if wan.Bandwidth > 0 {
			shape = append(shape, "bandwidth "+wan.Bandwidth.String()+"/s")
		}
		if len(shape) > 0 {
			fmt.Fprintf(w, "  wan        %s, both ways, the whole run\n", strings.Join(shape, ", "))
		}
	}
	if len(s.Topology.Flaws) > 0 {
		fmt.Fprintf(w, "  flaws      %s\n", strings.Join(s.Topology.Flaws, ", "))
	}
	expect := "no anomaly"
	if len(s.Checks.Expect) > 0 {
		expect = strings.Join(s.Checks.Expect, ", ")
	}
	fmt.Fprintf(w, "  expects    %s, SLO %s\n", expect, s.Checks.SLO)
	run := s.Name
	if !strings.HasPrefix(s.File, "library:") {
		run = s.File
	}
	fmt.Fprintf(w, "  run it     replcheck run %s\n\n", run)
	if name, ok := strings.CutPrefix(s.File, "library:"); ok {
		fmt.Fprintf(w, "# scenarios/%s.yaml, compiled into replcheck ('replcheck scenarios %s --yaml' prints only this)\n", name, name)
	} else {
		fmt.Fprintf(w, "# %s\n", s.File)
	}
	w.Write(yaml)
	if len(yaml) > 0 && yaml[len(yaml)-1] != '\n' {
		fmt.Fprintln(w)
	}
}

// wrap breaks text into lines of at most n characters at spaces (a
// longer word gets a line of its own).
func wrap(text string, n int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= n:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// didYouMean points at the library names closest to name (by edit
// distance, or containing it) and at 'replcheck scenarios'.
func didYouMean(name string) string {
	const see = "'replcheck scenarios' lists the library with what each scenario does"
	lib, _ := scenario.Library()
	names := make([]string, len(lib))
	for i, s := range lib {
		names[i] = s.Name
	}
	if near := closest(strings.ToLower(name), names, 3); len(near) > 0 {
		list := near[0]
		if n := len(near); n > 1 {
			list = strings.Join(near[:n-1], ", ") + " or " + near[n-1]
		}
		return "did you mean " + list + "? " + see
	}
	return see
}

// closest returns up to n of names near name, nearest first: within an
// edit distance of a third of its length (at least 2), or containing it.
func closest(name string, names []string, n int) []string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	for _, c := range names {
		d := smetrics.WagnerFischer(name, c, 1, 1, 1) // Levenshtein: unit costs
		if d <= max(2, len(name)/3) || (len(name) >= 3 && strings.Contains(c, name)) {
			cands = append(cands, cand{c, d})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Or(cmp.Compare(a.dist, b.dist), strings.Compare(a.name, b.name)) })
	var out []string
	for _, c := range cands[:min(n, len(cands))] {
		out = append(out, c.name)
	}
	return out
}
