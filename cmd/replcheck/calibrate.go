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
	s *scenario.Scenario
	// base names the scenario s was made from: calibrations of one base
	// share their correct-engine runs.
	base    string
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
every write must converge. Prints a line as each run ends (none with
--quiet), then the detection matrix. 'replcheck scenarios' lists the
calibration scenarios with the anomaly each must produce.

Exit codes: 0 every flaw found and the correct engine clean on every seed,
1 otherwise, 3 a run could not be carried out.`,
		Example: `  replcheck calibrate
  replcheck calibrate --quick --seeds 1,2,3
  replcheck calibrate --flaw wallclock-lww --flaw no-retry
  replcheck calibrate --quick --target containers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := scenario.Library()
			if err != nil {
				return &exitError{exitUsage, err}
			}
			cals, err := calibrations(lib, only)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			for _, c := range cals {
				if err := f.retarget(c.s); err != nil {
					return err
				}
				if quick {
					if err := c.s.Quick(scenario.Halved); err != nil {
						return &exitError{exitUsage, err}
					}
				}
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

// encryptionScenario is run once more with each SSE flaw: updates from
// both sites through both APIs, where those flaws lose data.
const encryptionScenario = "encryption-bidirectional"

// calibrations are the library's flaw-* scenarios, and the encryption
// scenario with each SSE flaw expecting what that flaw's own scenario
// does; only those of the flaws named in only, if any.
func calibrations(lib []*scenario.Scenario, only []string) ([]*calibration, error) {
	var enc *scenario.Scenario
	for _, s := range lib {
		if s.Name == encryptionScenario {
			enc = s
		}
	}
	var out []*calibration
	for _, s := range lib {
		if !strings.HasPrefix(s.Name, "flaw-") || len(s.Topology.Flaws) == 0 {
			continue
		}
		if len(only) > 0 && !slices.ContainsFunc(s.Topology.Flaws, func(fl string) bool { return slices.Contains(only, fl) }) {
			continue
		}
		out = append(out, &calibration{s: s, base: s.Name})
		if enc != nil && len(s.Topology.Flaws) == 1 && strings.HasPrefix(s.Topology.Flaws[0], "sse-") {
			e := *enc
			e.Name = enc.Name + "-" + s.Topology.Flaws[0]
			e.Topology.Flaws = slices.Clone(s.Topology.Flaws)
			e.Checks.Expect = slices.Clone(s.Checks.Expect)
			e.Faults = slices.Clone(enc.Faults)
			out = append(out, &calibration{s: &e, base: enc.Name})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no calibration scenario matches --flaw %v", only)
	}
	return out, nil
}

// correct is s without its flaws, expecting nothing, named after base.
func correct(s *scenario.Scenario, base string) *scenario.Scenario {
	c := *s
	c.Topology.Flaws = nil
	c.Checks.Expect = nil
	c.Name = base + "-correct"
	return &c
}

func runCalibrations(ctx context.Context, cals []*calibration, seeds []uint, parallel int, f runFlags, progress io.Writer) {
	type job struct {
		s    *scenario.Scenario
		seed uint64
		into *calRun
	}
	var jobs []job
	shared := map[string]*calRun{} // base/seed → the correct run made for it
	var copies [][2]*calRun        // from, to
	for _, c := range cals {
		c.flawed = make([]calRun, len(seeds))
		c.correct = make([]calRun, len(seeds))
		for i, seed := range seeds {
			fl := *c.s
			jobs = append(jobs, job{&fl, uint64(seed), &c.flawed[i]})
			key := fmt.Sprintf("%s/%d", c.base, seed)
			if first, ok := shared[key]; ok {
				copies = append(copies, [2]*calRun{first, &c.correct[i]})
				continue
			}
			shared[key] = &c.correct[i]
			jobs = append(jobs, job{correct(c.s, c.base), uint64(seed), &c.correct[i]})
		}
	}
	defer func() {
		for _, cp := range copies {
			*cp[1] = *cp[0]
		}
	}()
	work := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range parallel {
		wg.Go(func() {
			for j := range work {
				j.s.Workload.Seed = j.seed
				rf := f
				rf.quiet = true
				res, dir, err := runOne(ctx, j.s, rf, false, io.Discard)
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
		flaw := strings.Join(c.s.Topology.Flaws, ",")
		if !strings.HasPrefix(c.s.Name, "flaw-") {
			flaw += " (" + encryptionScenario + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", flaw, strings.Join(c.s.Checks.Expect, ","),
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
