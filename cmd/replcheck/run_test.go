package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/reports"
)

func TestRunBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\nworkload:\n  duration: 1s\n  mix: {puts: 3}\n"), 0o644)
	ext := filepath.Join(dir, "ext.yaml")
	os.WriteFile(ext, []byte("name: ext\ndescription: d\ntopology: {target: external}\nworkload: {duration: 1s}\n"), 0o644)
	notRun := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "requires at least 1 arg"},
		{[]string{"run", "no-such-scenario"}, `no scenario "no-such-scenario" in the library (known: baseline,`},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, "missing.yaml: no such file"},
		{[]string{"run", bad}, "bad.yaml:4:9: workload.mix.puts: unknown field"},
		{[]string{"run", ext}, `target "external" needs a sites file: give --sites FILE`},
		{[]string{"run", "quickstart", "--target", "moon"}, `unknown target "moon" (want one of embedded, containers, external, minio, ceph, swift)`},
		{[]string{"calibrate", "--target", "moon"}, `unknown target "moon"`},
		{[]string{"run", "quickstart", "--seed", "x"}, `invalid argument "x" for "--seed"`},
		{[]string{"verify", notRun}, "result.json: no such file: is this a run folder?"},
		{[]string{"calibrate", "--flaw", "no-such-flaw"}, "no calibration scenario matches"},
		{[]string{"calibrate", "--parallel", "0", "--flaw", "no-retry"}, "--parallel 0"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// TestRunAndVerify runs a short scenario end to end on the embedded
// target: it must pass, leave a run folder, and re-check to the same
// verdict offline.
func TestRunAndVerify(t *testing.T) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(sc, []byte(`name: tiny
description: test
workload:
  duration: 2s
  rate: 40
  keys: 20
  mix: {put: 40, overwrite: 30, delete: 10, copy: 5, meta: 5, get: 10}
  sizes: [{size: 100}, {min: 1KiB, max: 64KiB}]
  apis: {s3: 70, swift: 30}
  sse: {none: 70, sse-s3: 10, sse-kms: 10, sse-c: 10}
  both_sites: {concurrent: 10, sequential: 10}
checks:
  observe: 10s
`), 0o644)
	out := filepath.Join(dir, "runs")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", sc, "--out", out, "--json"}, &stdout, &stderr)
	t.Logf("stderr:\n%s", stderr.String())
	if code != exitPass {
		t.Fatalf("exit %d, want 0; stdout:\n%s", code, stdout.String())
	}
	var res struct {
		Dir string `json:"dir"`
		reports.Result
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	if res.Verdict != reports.Pass || res.Workload.OK == 0 || res.Keys == 0 || res.Convergence.Overall.Converged == 0 {
		t.Fatalf("result: verdict %s, %d ok ops, %d keys, %d converged", res.Verdict, res.Workload.OK, res.Keys, res.Convergence.Overall.Converged)
	}
	for _, f := range []string{reports.ResultFile, reports.HistoryFile, reports.FinalStateFile, reports.EngineLogFile} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"verify", res.Dir}, &stdout, &stderr); code != exitPass {
		t.Fatalf("verify: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "verdict    PASS") || strings.Contains(stdout.String(), "differs") {
		t.Errorf("verify output:\n%s", stdout.String())
	}
}

// TestRunQuickGoNoGo: --quick shortens a library scenario (pre-maintenance
// lasts a minute and a half in full), and a go / no-go scenario's summary
// says go, pointing at its report.
func TestRunQuickGoNoGo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--quick", "-q", "pre-maintenance", "--out", t.TempDir()}, &stdout, &stderr)
	if code != exitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	var report string
	for _, line := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(line, "  report     "); ok {
			report = r
		}
	}
	if !strings.Contains(out, "decision   GO\n") || report == "" {
		t.Fatalf("summary lacks the decision or the report:\n%s", out)
	}
	res, err := reports.ReadResult(filepath.Dir(report))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Checks.GoNoGo || res.Decision() != "go" || res.Workload.ElapsedSeconds > 10 {
		t.Errorf("result: goNoGo %v, decision %q, workload %.1fs (quick: at most 6 s)", res.Checks.GoNoGo, res.Decision(), res.Workload.ElapsedSeconds)
	}
	html, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(html), `id="verdict-badge">GO<`) {
		t.Errorf("report.html: %v; want the GO badge", err)
	}
}

func TestPrintResultNoGo(t *testing.T) {
	r := &reports.Result{Scenario: "pre-maintenance", Verdict: reports.Undecided, Reasons: []string{"3 writes pending"},
		Checks: reports.Checks{GoNoGo: true}}
	var b bytes.Buffer
	printResult(&b, r, "", false)
	if !strings.Contains(b.String(), "decision   NO-GO\n") {
		t.Errorf("an undecided go / no-go run must read no-go:\n%s", b.String())
	}
	r.Checks.GoNoGo = false
	b.Reset()
	printResult(&b, r, "", false)
	if strings.Contains(b.String(), "decision") {
		t.Errorf("a run that is not go / no-go has no decision:\n%s", b.String())
	}
}
