package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	scenario "github.com/replcheck/replcheck/scenarios"
)

func library(t *testing.T) []*scenario.Scenario {
	t.Helper()
	lib, err := scenario.Library()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func TestScenariosList(t *testing.T) {
	lib := library(t)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"scenarios"}, &out, &errb); code != exitPass {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	heading := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Calibration") })
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > listWidth {
			t.Errorf("%d characters: %q", n, l)
		}
	}
	for _, s := range lib {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, s.Name+" ") })
		if i < 0 {
			t.Errorf("%s is not listed", s.Name)
			continue
		}
		f := strings.Fields(lines[i])
		if f[1] != s.Topology.Target || f[2] != runLength(s) {
			t.Errorf("%s: %q, want target %s and length %s", s.Name, lines[i], s.Topology.Target, runLength(s))
		}
		// Calibration scenarios after their heading, the others before.
		if cal := isCalibration(s); cal != (heading >= 0 && i > heading) {
			t.Errorf("%s listed at line %d, the calibration heading at %d", s.Name, i, heading)
		}
		summary := strings.TrimSuffix(strings.Join(f[3:], " "), "…")
		if isCalibration(s) {
			if !strings.Contains(lines[i], "finds "+strings.Join(s.Checks.Expect, ", ")) {
				t.Errorf("%s: %q does not say what it must find", s.Name, lines[i])
			}
		} else if !strings.HasPrefix(headline(s), summary) || len(summary) < 20 {
			t.Errorf("%s: summary %q is not the start of its headline %q", s.Name, summary, headline(s))
		}
	}
}

func TestScenariosJSON(t *testing.T) {
	lib := library(t)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"scenarios", "--json"}, &out, &errb); code != exitPass {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(got) != len(lib) {
		t.Fatalf("%d scenarios in the JSON, %d in the library", len(got), len(lib))
	}
	for i, s := range lib {
		g := got[i]
		if g["name"] != s.Name || g["target"] != s.Topology.Target || g["runLengthSeconds"] != s.RunLength().Seconds() ||
			g["faults"] != float64(len(s.Faults)) || g["calibration"] != isCalibration(s) || g["description"] != oneLine(s.Description) {
			t.Errorf("%s: %v", s.Name, g)
		}
		// Lists are lists even when empty, for jq.
		for _, k := range []string{"sites", "flaws", "expect"} {
			if _, ok := g[k].([]any); !ok {
				t.Errorf("%s: %s is %v", s.Name, k, g[k])
			}
		}
		if len(g["flaws"].([]any)) != len(s.Topology.Flaws) || len(g["expect"].([]any)) != len(s.Checks.Expect) {
			t.Errorf("%s: flaws %v, expect %v", s.Name, g["flaws"], g["expect"])
		}
	}
}

func TestScenariosShow(t *testing.T) {
	yaml, err := fs.ReadFile(scenario.Embedded, "quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Find("quickstart")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"scenarios", "quickstart"}, &out, &errb); code != exitPass {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text := out.String()
	if !strings.HasPrefix(text, "quickstart\n") || !strings.Contains(text, string(yaml)) || !strings.Contains(text, "replcheck run quickstart") {
		t.Fatalf("output:\n%s", text)
	}
	// The whole description, wrapped: its words in order.
	shown := oneLine(text[:strings.Index(text, "  target ")])
	if !strings.Contains(shown, oneLine(s.Description)) {
		t.Fatalf("description not shown in full:\n%s", text)
	}

	out.Reset()
	if code := run(context.Background(), []string{"scenarios", "quickstart", "--yaml"}, &out, &errb); code != exitPass || out.String() != string(yaml) {
		t.Fatalf("--yaml: exit %d, output differs from the library's file:\n%s", code, out.String())
	}

	// A path works too, and shows that file.
	path := filepath.Join(t.TempDir(), "mine.yaml")
	mine := strings.Replace(string(yaml), "name: quickstart", "name: mine", 1)
	os.WriteFile(path, []byte(mine), 0o644)
	out.Reset()
	if code := run(context.Background(), []string{"scenarios", path}, &out, &errb); code != exitPass ||
		!strings.Contains(out.String(), mine) || !strings.Contains(out.String(), "replcheck run "+path) {
		t.Fatalf("a path: exit %d\n%s", code, out.String())
	}

	out.Reset()
	if code := run(context.Background(), []string{"scenarios", "quickstart", "--json"}, &out, &errb); code != exitPass {
		t.Fatalf("--json: exit %d", code)
	}
	var one scenarioInfo
	if err := json.Unmarshal(out.Bytes(), &one); err != nil || one.Name != "quickstart" || one.RunLengthSeconds != s.RunLength().Seconds() {
		t.Fatalf("--json: %v: %s", err, out.String())
	}
}

func TestUnknownScenarioSuggests(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "quickstrat"}, "did you mean quickstart? 'replcheck scenarios' lists the library"},
		{[]string{"scenarios", "sitecrash"}, "did you mean site-crash? "},
		{[]string{"run", "zzz"}, "\n'replcheck scenarios' lists the library"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tc.args, code, errb.String(), tc.want)
		}
	}
	names := []string{"partition-heal", "hard-partition", "one-way-partition", "quickstart", "site-crash"}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"partition", []string{"hard-partition", "partition-heal", "one-way-partition"}}, // containing it
		{"partition-hael", []string{"partition-heal"}},
		{"site-crsh", []string{"site-crash"}},
		{"baseline", nil},
	} {
		if got := closest(tc.name, names, 3); !slices.Equal(got, tc.want) {
			t.Errorf("closest(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSummaryText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"One thing. Two things.", "One thing."},
		{"Wrapped\n  over lines: e.g. this. Then more.", "Wrapped over lines: e.g. this."},
		{"1.5 s of it, no end", "1.5 s of it, no end"},
	} {
		if got := firstSentence(tc.in); got != tc.want {
			t.Errorf("firstSentence(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := clip("a summary that is far too long for its column", 20); got != "a summary that is…" {
		t.Errorf("clip: %q", got)
	}
	if got := clip("short", 20); got != "short" {
		t.Errorf("clip: %q", got)
	}
	if got := wrap("aa bb cc dd", 5); !slices.Equal(got, []string{"aa bb", "cc dd"}) {
		t.Errorf("wrap: %q", got)
	}
}

// TestHeadline: a library file's opening comment is its headline, not the
// description's first sentence; every library file has one.
func TestHeadline(t *testing.T) {
	for _, s := range library(t) {
		h := headline(s)
		if h == firstSentence(s.Description) || len(h) < 20 || strings.HasPrefix(h, "#") {
			t.Errorf("%s: headline %q: want the one-line comment the file opens with", s.Name, h)
		}
	}
}
