package minio_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/engines/minio"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/runner"
	scenario "github.com/replcheck/replcheck/scenarios"
)

// TestScenarioVerdict runs the quickstart scenario against MinIO and
// logs the verdict and anomalies. It does not assert a pass: the point is
// to see what the verifier says of a real engine. It asserts only that
// the run reaches a verdict.
func TestScenarioVerdict(t *testing.T) {
	if !strings.Contains(os.Getenv("REPLCHECK_ENGINES"), minio.Target) {
		t.Skip("starts real MinIO servers: set REPLCHECK_ENGINES=minio (make test-engines) to run")
	}
	if err := minio.Check(); err != nil {
		if strings.Contains(os.Getenv("REPLCHECK_REQUIRE_ENGINES"), minio.Target) {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// REPLCHECK_MINIO_SCENARIO picks another scenario of the library.
	name := "quickstart"
	if n := os.Getenv("REPLCHECK_MINIO_SCENARIO"); n != "" {
		name = n
	}
	s, err := scenario.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	// REPLCHECK_MINIO_OBSERVE lengthens the observation window (MinIO
	// retries replication that failed during a cut about a minute later).
	if d := os.Getenv("REPLCHECK_MINIO_OBSERVE"); d != "" {
		if s.Checks.Observe, err = time.ParseDuration(d); err != nil {
			t.Fatalf("REPLCHECK_MINIO_OBSERVE: %v", err)
		}
	}
	stateRoot := t.TempDir()
	start := func(ctx context.Context, s *scenario.Scenario, dir string) (harness.Topology, error) {
		return minio.Start(ctx, minio.Options{Sites: s.Topology.Sites, DataDir: dir + "/data", StateRoot: stateRoot})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	res, err := runner.Run(ctx, s, runner.Options{Dir: dir, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verdict %s; reasons %v; found %v", res.Verdict, res.Reasons, res.Found)
	for i, a := range res.Anomalies {
		if i == 10 {
			t.Logf("… %d more anomalies", len(res.Anomalies)-10)
			break
		}
		t.Logf("anomaly: %+v", a)
	}
	if res.Verdict != reports.Pass && res.Verdict != reports.Fail && res.Verdict != reports.Undecided {
		t.Fatalf("no verdict: %q", res.Verdict)
	}
}
