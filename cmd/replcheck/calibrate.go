package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/reports"
	scenario "github.com/replcheck/replcheck/scenarios"
)

// calibration is one flaw scenario run with its flaw and without it, per
// seed.
type calibration struct {
	s       *scenario.Scenario
	flawed  []calRun
	correct []calRun
}

type calRun struct {
	seed uint64
	res  *reports.Result
	dir  string
	err  error
}

func newCalibrateCmd() *cobra.Command {
	var (
		f        runFlags
		seeds    []uint
		quick    bool
		parallel int
		only     []string
	)
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Prove the verifier against every flaw of the reference engine",
		Long: `Run every calibration scenario of the library (flaw-*.yaml) twice per seed:
with its flaw turned on, where the verifier must find the anomalies the
scenario expects, and on the correct engine, where it must find nothing and
every write must converge. Prints the detection matrix.

Exit codes: 0 every flaw found and the correct engine clean on every seed,
1 otherwise, 3 a run could not be carried out.`,
		Example: `  replcheck calibrate
  replcheck calibrate --quick --seeds 1,2,3
  replcheck calibrate --flaw wallclock-lww --flaw no-retry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := scenario.Library()
			if err != nil {
				return &exitError{exitUsage, err}
			}
			var cals []*calibration
			for _, s := range lib {
				if !strings.HasPrefix(s.Name, "flaw-") || len(s.Topology.Flaws) == 0 {
					continue
				}
				if len(only) > 0 && !slices.ContainsFunc(s.Topology.Flaws, func(fl string) bool { return slices.Contains(only, fl) }) {
					continue
				}
				if quick {
					quicken(s)
				}
				cals = append(cals, &calibration{s: s})
			}
			if len(cals) == 0 {
				return usageErr("no calibration scenario matches --flaw %v", only)
			}
			if parallel < 1 {
				return usageErr("--parallel %d: want at least 1", parallel)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			runCalibrations(ctx, cals, seeds, parallel, f, cmd.ErrOrStderr())
			if ctx.Err() != nil {
				return &exitError{exitInfra, fmt.Errorf("interrupted")}
			}
			code := printMatrix(cmd.OutOrStdout(), cals)
			if code != exitPass {
				return &exitError{code, errSilent}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().Lookup("json").Hidden = true
	cmd.Flags().UintSliceVar(&seeds, "seeds", []uint{1}, "workload seeds to run each scenario with")
	cmd.Flags().BoolVar(&quick, "quick", false, "shorter workloads and observation windows (the test suite's setting)")
	cmd.Flags().IntVar(&parallel, "parallel", 3, "runs at once")
	cmd.Flags().StringArrayVar(&only, "flaw", nil, "calibrate only this flaw (repeatable)")
	return cmd
}

// quicken halves a calibration scenario's workload, keeping its faults in
// proportion: the flaw must still do its damage.
func quicken(s *scenario.Scenario) {
	if s.Workload.Duration <= 0 {
		return
	}
	s.Workload.Duration /= 2
	for i := range s.Faults {
		s.Faults[i].At /= 2
		s.Faults[i].For /= 2
	}
}

// correct is s without its flaws, expecting nothing.
func correct(s *scenario.Scenario) *scenario.Scenario {
	c := *s
	c.Topology.Flaws = nil
	c.Checks.Expect = nil
	c.Name = s.Name + "-correct"
	return &c
}

func runCalibrations(ctx context.Context, cals []*calibration, seeds []uint, parallel int, f runFlags, progress io.Writer) {
	type job struct {
		s    *scenario.Scenario
		seed uint64
		into *calRun
	}
	var jobs []job
	for _, c := range cals {
		c.flawed = make([]calRun, len(seeds))
		c.correct = make([]calRun, len(seeds))
		for i, seed := range seeds {
			fl := *c.s
			jobs = append(jobs, job{&fl, uint64(seed), &c.flawed[i]}, job{correct(c.s), uint64(seed), &c.correct[i]})
		}
	}
	work := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range parallel {
		wg.Go(func() {
			for j := range work {
				j.s.Workload.Seed = j.seed
				rf := f
				rf.quiet = true
				res, dir, err := runOne(ctx, j.s, rf, io.Discard)
				*j.into = calRun{seed: j.seed, res: res, dir: dir, err: err}
				if !f.quiet {
					mu.Lock()
					verdict := "error: " + fmt.Sprint(err)
					if err == nil {
						verdict = res.Verdict + " (" + strings.Join(res.Found, ", ") + ")"
					}
					fmt.Fprintf(progress, "calibrate: %s seed %d: %s\n", j.s.Name, j.seed, verdict)
					mu.Unlock()
				}
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		work <- j
	}
	close(work)
	wg.Wait()
}

// printMatrix prints which flaw each run found and returns the exit code.
func printMatrix(w io.Writer, cals []*calibration) int {
	code := exitPass
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "flaw\texpects\twith the flaw\tcorrect engine\t")
	for _, c := range cals {
		cell := func(runs []calRun) string {
			var parts []string
			for _, r := range runs {
				switch {
				case r.err != nil:
					code = max(code, exitInfra)
					parts = append(parts, fmt.Sprintf("seed %d: ERROR", r.seed))
				case r.res == nil:
					code = max(code, exitInfra)
					parts = append(parts, fmt.Sprintf("seed %d: not run", r.seed))
				case r.res.Verdict == reports.Pass:
					found := "clean"
					if len(r.res.Found) > 0 {
						found = strings.Join(r.res.Found, "+")
					}
					parts = append(parts, fmt.Sprintf("seed %d: ok %s", r.seed, found))
				default:
					code = max(code, exitFail)
					found := "nothing"
					if len(r.res.Found) > 0 {
						found = strings.Join(r.res.Found, "+")
					}
					parts = append(parts, fmt.Sprintf("seed %d: FAIL %s %s", r.seed, r.res.Verdict, found))
				}
			}
			return strings.Join(parts, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", strings.Join(c.s.Topology.Flaws, ","), strings.Join(c.s.Checks.Expect, ","),
			cell(c.flawed), cell(c.correct))
	}
	tw.Flush()
	for _, c := range cals {
		for _, r := range append(slices.Clone(c.flawed), c.correct...) {
			if r.err != nil {
				fmt.Fprintf(w, "%s seed %d: %v\n", c.s.Name, r.seed, r.err)
			} else if r.res != nil && r.res.Verdict != reports.Pass {
				fmt.Fprintf(w, "%s seed %d: %s (run folder %s)\n", c.s.Name, r.seed, strings.Join(r.res.Reasons, "; "), r.dir)
			}
		}
	}
	if code == exitPass {
		fmt.Fprintf(w, "every flaw found; the correct engine clean\n")
	}
	return code
}
