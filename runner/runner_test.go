package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/runner"
	scenario "github.com/replcheck/replcheck/scenarios"
)

func parse(t *testing.T, yaml string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRunLeavesNoSecrets runs a scenario with a partition and every SSE
// mode, and checks the run folder: the verdict is a pass, the fault is in
// the result, and the S3 secret key is written nowhere.
func TestRunLeavesNoSecrets(t *testing.T) {
	s := parse(t, `name: t
description: test
workload:
  duration: 3s
  rate: 40
  keys: 10
  mix: {put: 50, overwrite: 40, delete: 10}
  sse: {none: 25, sse-s3: 25, sse-kms: 25, sse-c: 25}
faults:
  - at: 500ms
    for: 1s
    partition: {from: europe-se-1a, to: europe-se-1b, both: true}
checks:
  observe: 15s
`)
	var creds harness.Credentials
	start := func(ctx context.Context, s *scenario.Scenario, dir string) (harness.Topology, error) {
		topo, err := embedded.Start(ctx, embedded.Options{Sites: s.Topology.Sites, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		if err == nil {
			creds = topo.Sites()[0].Credentials()
		}
		return topo, err
	}
	dir := t.TempDir()
	var phases []string
	res, err := runner.Run(context.Background(), s, runner.Options{Dir: dir, Start: start, ProgressEvery: 100 * time.Millisecond,
		Progress: func(p runner.Progress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != reports.Pass {
		t.Fatalf("verdict %s: %v; anomalies %+v", res.Verdict, res.Reasons, res.Anomalies)
	}
	if len(res.Faults) != 2 || res.Faults[0].Kind != "inject" || res.Faults[1].Kind != "heal" {
		t.Errorf("faults %+v, want the partition's inject and heal", res.Faults)
	}
	want := []string{runner.PhaseStarting, runner.PhaseWorkload, runner.PhaseObserving, runner.PhaseChecking, runner.PhaseDone}
	if strings.Join(phases, ",") != strings.Join(want, ",") {
		t.Errorf("progress phases %v, want %v", phases, want)
	}
	if creds.SecretKey == "" {
		t.Fatal("no credentials captured")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if strings.Contains(string(data), creds.SecretKey) {
			t.Errorf("%s holds the S3 secret key", e.Name())
		}
	}
}

func TestRunInfraErrors(t *testing.T) {
	s := parse(t, "name: t\ndescription: test\nworkload: {duration: 1s}\n")
	failing := func(context.Context, *scenario.Scenario, string) (harness.Topology, error) {
		return nil, errors.New("no engine here")
	}
	_, err := runner.Run(context.Background(), s, runner.Options{Dir: t.TempDir(), Start: failing})
	if !runner.IsInfra(err) || !strings.Contains(err.Error(), "no engine here") {
		t.Fatalf("err %v, want an infrastructure error naming the cause", err)
	}
}
