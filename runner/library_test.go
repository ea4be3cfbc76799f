package runner_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/runner"
	scenario "github.com/replcheck/replcheck/scenarios"
)

// libraryParallel bounds the library runs at once: most of a run is
// waiting (rate limits, WAN latency, faults), so three share two cores.
const libraryParallel = 3

// TestLibraryRuns runs every library scenario the embedded target can run,
// shortened with scenario.Smoke, through runner.Run to a verdict: each
// must pass on the correct engine, with operations done and its run
// folder's files written, and large-objects must yield a lag-against-size
// fit.
func TestLibraryRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole library: not with -short")
	}
	lib, err := scenario.Library()
	if err != nil {
		t.Fatal(err)
	}
	sem := make(chan struct{}, libraryParallel)
	for _, s := range lib {
		t.Run(s.Name, func(t *testing.T) {
			switch {
			case s.Topology.Target != scenario.TargetEmbedded:
				t.Skipf("written for target %s (faults the embedded target cannot make): replcheck run %s --target %s", s.Topology.Target, s.Name, s.Topology.Target)
			case len(s.Topology.Flaws) > 0:
				t.Skip("a calibration scenario: replcheck calibrate runs it with its flaw and on the correct engine")
			}
			t.Parallel()
			if err := s.Quick(scenario.Smoke); err != nil {
				t.Fatal(err)
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start, closeLog := embeddedStarter()
			res, err := runner.Run(ctx, s, runner.Options{Dir: dir, Start: start})
			closeLog()
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if res.Verdict != reports.Pass {
				t.Errorf("verdict %s: %v", res.Verdict, res.Reasons)
				for i, a := range res.Anomalies {
					if i == 5 {
						t.Logf("… %d anomalies in all", len(res.Anomalies))
						break
					}
					t.Logf("anomaly %+v", a)
				}
			}
			saved, err := reports.ReadResult(dir)
			if err != nil {
				t.Fatalf("result.json: %v", err)
			}
			if saved.Verdict != res.Verdict || saved.Scenario != s.Name {
				t.Errorf("result.json: scenario %s verdict %s; the run: %s %s", saved.Scenario, saved.Verdict, s.Name, res.Verdict)
			}
			w := saved.Workload
			if w.OK == 0 || w.Ops < 10 {
				t.Errorf("workload: %d ops, %d ok; want the scenario's operations done", w.Ops, w.OK)
			}
			if saved.Convergence.Overall.Converged == 0 {
				t.Errorf("no write converged: %+v", saved.Convergence.Overall)
			}
			if n := len(s.Faults); n > 0 && len(saved.Faults) < 2*n {
				t.Errorf("%d fault events for %d steps; want each injected and healed: %+v", len(saved.Faults), n, saved.Faults)
			}
			for _, f := range []string{reports.HistoryFile, reports.FinalStateFile, reports.JUnitFile, reports.ReportFile} {
				if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
					t.Errorf("run folder: %s missing or empty (%v)", f, err)
				}
			}
			if s.Name == "large-objects" {
				fit := saved.Convergence.Overall.Fit
				if !fit.OK || fit.SLOSizeBytes <= 0 || fit.DistinctSizes < 4 {
					t.Errorf("lag-against-size fit %+v; want a fit over several sizes with an SLO size", fit)
				}
				t.Logf("fit: %.1f MiB/s, SLO size %.1f GiB over %d sizes", fit.BandwidthBytesPerSecond/float64(scenario.MiB),
					fit.SLOSizeBytes/float64(scenario.GiB), fit.DistinctSizes)
			}
		})
	}
}

// embeddedStarter returns a start function for the embedded topology, as
// replcheck run's, with the engine's log in the run folder, and a func that
// closes that log once the run (and so the topology) is over.
func embeddedStarter() (runner.StartFunc, func()) {
	var logf *os.File
	start := func(ctx context.Context, s *scenario.Scenario, dir string) (harness.Topology, error) {
		var err error
		if logf, err = os.Create(filepath.Join(dir, reports.EngineLogFile)); err != nil {
			return nil, err
		}
		o := embedded.Options{Sites: s.Topology.Sites, Flaws: s.Flaws(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second,
			Logger: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
		if s.Topology.Data == scenario.DataDisk {
			o.DataDir = filepath.Join(dir, "data")
		}
		topo, err := embedded.Start(ctx, o)
		if err != nil {
			if topo != nil {
				topo.Close(context.WithoutCancel(ctx))
			}
			return nil, err
		}
		return topo, nil
	}
	return start, func() {
		if logf != nil {
			logf.Close()
		}
	}
}
