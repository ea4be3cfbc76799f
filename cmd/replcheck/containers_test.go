package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/harness/containers/dockertest"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/runner"
)

// TestContainersWithoutDocker: with the engine the user names not
// answering, every command of the containers target exits 3 and says so.
func TestContainersWithoutDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	for _, args := range [][]string{
		{"run", "quickstart", "--target", "containers", "-q", "--out", t.TempDir()},
		{"topology", "up", "--target", "containers"},
		{"topology", "down", "--all"},
	} {
		var errb bytes.Buffer
		code := run(context.Background(), args, &bytes.Buffer{}, &errb)
		if code != exitInfra || !strings.Contains(errb.String(), "no Docker engine reachable") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

// TestRunOnContainers: a scenario runs to a verdict on the containers
// target; a run that fails keeps the containers' logs in its folder, one
// that passes does not.
func TestRunOnContainers(t *testing.T) {
	dockertest.Need(t)
	dir := t.TempDir()
	scenario := func(name, expect string) string {
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(`name: `+name+`
description: test
topology:
  target: containers
workload:
  duration: 2s
  rate: 40
  keys: 20
  mix: {put: 50, overwrite: 30, delete: 10, get: 10}
  sizes: [{size: 100}, {min: 1KiB, max: 64KiB}]
  apis: {s3: 70, swift: 30}
  sse: {none: 70, sse-s3: 10, sse-kms: 10, sse-c: 10}
checks:
  observe: 10s
  expect: [`+expect+`]
`), 0o644)
		return p
	}
	for _, tc := range []struct {
		name, expect string
		code         int
		verdict      string
	}{
		{"clean", "", exitPass, reports.Pass},
		// The correct engine loses nothing: a calibration that expects a
		// loss fails, and its logs are kept.
		{"expects-loss", "lost-write", exitFail, reports.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"run", scenario(tc.name, tc.expect), "--out", filepath.Join(dir, "runs"), "--json"}, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			var res struct {
				Dir string `json:"dir"`
				reports.Result
			}
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("--json output: %v\n%s", err, stdout.String())
			}
			if res.Target != "containers" || res.Verdict != tc.verdict || res.Workload.OK == 0 || res.Convergence.Overall.Converged == 0 {
				t.Fatalf("result: target %s verdict %s, %d ok ops, %d converged", res.Target, res.Verdict, res.Workload.OK, res.Convergence.Overall.Converged)
			}
			logs, _ := filepath.Glob(filepath.Join(res.Dir, runner.LogsDir, "rc-*.log"))
			if tc.code == exitPass && len(logs) != 0 {
				t.Errorf("a passing run kept logs: %v", logs)
			}
			if tc.code != exitPass {
				if len(logs) != 4 {
					t.Fatalf("failed run kept %d container logs, want 4 (two sites, two WAN proxies): %v", len(logs), logs)
				}
				site, _ := os.ReadFile(logs[0])
				if len(site) == 0 {
					t.Errorf("%s is empty", logs[0])
				}
			}
		})
	}
}
