package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/containers"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/engines"
	"github.com/replcheck/replcheck/harness/external"
	"github.com/replcheck/replcheck/internal/human"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/runner"
	scenario "github.com/replcheck/replcheck/scenarios"
	"github.com/replcheck/replcheck/verifier/convergence"
)

// runFlags are the flags run and calibrate share.
type runFlags struct {
	out    string
	seed   uint64
	quiet  bool
	json   bool
	target string
	sites  string

	// ext is the sites file of --sites, loaded by the first retarget.
	ext *external.File
}

func (f *runFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "runs", "directory the run folders go into")
	fl.Uint64Var(&f.seed, "seed", 0, "workload seed (default: the scenario's)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress display while running")
	fl.BoolVar(&f.json, "json", false, "print each result as one JSON line instead of a summary")
	fl.StringVar(&f.target, "target", "", "where the sites run: embedded, containers or external (default: the scenario's, usually embedded; external with --sites)")
	fl.StringVar(&f.sites, "sites", "", "run against your own two sites, described by this sites file (docs/sites-file.md); implies --target external")
}

// retarget points s at the --target given, if any (--sites implies
// external), and refuses a target this build cannot start. For the
// external target it loads the sites file and fits s to it.
func (f *runFlags) retarget(s *scenario.Scenario) error {
	target := f.target
	if f.sites != "" {
		if target != "" && target != scenario.TargetExternal {
			return usageErr("--sites describes the external target's sites; it cannot go with --target %s", target)
		}
		target = scenario.TargetExternal
	}
	if target != "" {
		s.Topology.Target = target
	}
	if err := checkTarget(s); err != nil {
		return err
	}
	if s.Topology.Target != scenario.TargetExternal {
		return nil
	}
	if f.sites == "" {
		return usageErr("scenario %s: target %q needs a sites file: give --sites FILE (see docs/sites-file.md)", s.Name, scenario.TargetExternal)
	}
	if f.ext == nil {
		ext, err := external.Load(f.sites)
		if err != nil {
			return &exitError{exitUsage, err}
		}
		f.ext = ext
	}
	return fitSites(s, f.ext)
}

// fitSites makes s run on the sites of a sites file: the scenario's two
// sites become the file's (the first for the first, when the names
// differ), and whatever s needs that the file does not give (faults the
// target cannot make, WAN directions without a proxy, Swift without an
// auth URL) is bad input, refused before anything is contacted.
func fitSites(s *scenario.Scenario, f *external.File) error {
	names := f.SiteNames()
	have := s.Topology.Sites
	if !sameSet(have, names) {
		if slices.ContainsFunc(have, func(n string) bool { return slices.Contains(names, n) }) {
			return usageErr("scenario %s: its sites %s and those of %s (%s) share a name but differ: give the file the scenario's names, or names none of the scenario's",
				s.Name, strings.Join(have, ", "), f.Path, strings.Join(names, ", "))
		}
		renameSites(s, map[string]string{have[0]: names[0], have[1]: names[1]})
	}
	tl, err := s.Timeline()
	if err != nil {
		return usageErr("%w", err)
	}
	if err := f.CheckTimeline(tl); err != nil {
		return usageErr("scenario %s on %s: %w", s.Name, f.Path, err)
	}
	if s.Workload.APIs.Swift > 0 {
		for _, n := range names {
			if sp, _ := f.Site(n); sp.SwiftAuth == "" {
				return usageErr("scenario %s uses Swift (workload apis swift %d), and %s gives site %s no swift_auth",
					s.Name, s.Workload.APIs.Swift, f.Path, n)
			}
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(n string) bool { return !slices.Contains(b, n) })
}

// renameSites renames the sites of s wherever it names them: the
// topology, the workload's site weights and every fault.
func renameSites(s *scenario.Scenario, to map[string]string) {
	re := func(n *string) {
		if v, ok := to[*n]; ok {
			*n = v
		}
	}
	s.Topology.Sites = slices.Clone(s.Topology.Sites)
	for i := range s.Topology.Sites {
		re(&s.Topology.Sites[i])
	}
	if s.Workload.Sites != nil {
		w := make(map[string]int, len(s.Workload.Sites))
		for n, v := range s.Workload.Sites {
			re(&n)
			w[n] = v
		}
		s.Workload.Sites = w
	}
	faults := make([]scenario.FaultStep, len(s.Faults))
	for i, st := range s.Faults {
		// Copies: the steps point at their fault, which a library
		// scenario may share.
		switch {
		case st.Partition != nil:
			p := *st.Partition
			re(&p.From)
			re(&p.To)
			st.Partition = &p
		case st.Shape != nil:
			p := *st.Shape
			re(&p.From)
			re(&p.To)
			st.Shape = &p
		case st.Flap != nil:
			p := *st.Flap
			re(&p.From)
			re(&p.To)
			st.Flap = &p
		case st.Reset != nil:
			p := *st.Reset
			re(&p.From)
			re(&p.To)
			st.Reset = &p
		case st.Crash != nil:
			p := *st.Crash
			re(&p.Site)
			st.Crash = &p
		case st.Pause != nil:
			p := *st.Pause
			re(&p.Site)
			st.Pause = &p
		case st.Disconnect != nil:
			p := *st.Disconnect
			re(&p.Site)
			st.Disconnect = &p
		case st.ClockSkew != nil:
			p := *st.ClockSkew
			re(&p.Site)
			st.ClockSkew = &p
		}
		faults[i] = st
	}
	s.Faults = faults
}

func newRunCmd() *cobra.Command {
	var (
		f     runFlags
		quick bool
		adapt bool
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO...",
		Short: "Run scenarios and judge the replication they observe",
		Long: `Run each scenario (a library name, listed by 'replcheck scenarios', or a path
to a YAML file) against its target, then check that every acknowledged write
reached every site, intact and within the replication target. Each run leaves
a folder under --out with report.html (open it in a browser), junit.xml,
result.json, history.jsonl and final-state.json; 'replcheck verify RUN_DIR'
re-checks one offline, 'replcheck report RUN_DIR' renders its reports again.
--quick shortens each scenario to a smoke run of a few seconds (workload at
most 6 s, faults in proportion, objects at most 8 MiB).

Progress goes to stderr. On a terminal it is one status line redrawn in
place: elapsed time, phase, operations done and ops/s, writes pending
replication (and their bytes), the recent replication lag (median and
maximum of the writes that reached their peer in the last five seconds) and
the active faults. Where stderr is not a terminal, or CI is set, or
TERM=dumb, it is a plain line every two seconds; with --quiet, nothing.
stdout gets only the summary, or with --json one JSON result a line, so
--json output can be piped on while the status line shows.

With --sites FILE the scenario runs against your own two sites (the external
target), described by a sites file that names the environment variables
holding the credentials (docs/sites-file.md); 'replcheck topology up
--write-sites FILE' writes one for a topology it runs. Faults need what the
file gives: WAN faults a toxiproxy link for each direction they cut; crashes,
pauses, clock skews and flaws are refused.

Exit codes: 0 every run passed, 1 a verdict failed or was undecided, 2 bad
input (scenario file, sites file, flags), 3 the target could not be started
or reached.`,
		Example: `  replcheck run quickstart                          # start here: about 20 s, no Docker
  replcheck run partition-heal site-crash --out /tmp/runs
  replcheck run --quick large-objects               # a few seconds instead of minutes
  replcheck run ./my-scenario.yaml --seed 7         # 'replcheck scenarios NAME --yaml' starts one
  replcheck run baseline --json | jq -r .verdict    # progress stays on stderr
  replcheck run partition-heal --target containers  # each site in a Docker container
  replcheck run quickstart --sites sites.yaml       # your own two sites (docs/sites-file.md)`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []*scenario.Scenario
			for _, a := range args {
				s, err := loadScenario(a)
				if err != nil {
					return &exitError{exitUsage, err}
				}
				if err := f.retarget(s); err != nil {
					return err
				}
				if f.seed != 0 {
					s.Workload.Seed = f.seed
				}
				if quick {
					if err := s.Quick(scenario.Smoke); err != nil {
						return usageErr("--quick: %w", err)
					}
				}
				list = append(list, s)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			code := exitPass
			for _, s := range list {
				res, dir, err := runOne(ctx, s, f, adapt, cmd.ErrOrStderr())
				if err != nil {
					if ctx.Err() != nil {
						return &exitError{exitInfra, fmt.Errorf("interrupted: %w", err)}
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "replcheck: %s: %v\n", s.Name, err)
					if runner.IsUnsupported(err) {
						code = max(code, exitUsage)
					} else {
						code = max(code, exitInfra)
					}
					continue
				}
				printResult(cmd.OutOrStdout(), res, dir, f.json)
				if res.Verdict != reports.Pass {
					code = max(code, exitFail)
				}
			}
			if code != exitPass {
				return &exitError{code, errSilent}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&quick, "quick", false, "shorten each scenario to a smoke run of a few seconds")
	cmd.Flags().BoolVar(&adapt, "adapt", false, "on a target that lacks what a scenario uses (Swift, an SSE mode), move those shares to what it offers instead of refusing; the result lists each change")
	return cmd
}

// errSilent ends a command with an exit code whose reason was printed.
var errSilent = errors.New("reason printed")

// loadScenario reads a path (anything with a slash or a .yaml suffix that
// exists) or a library name.
func loadScenario(arg string) (*scenario.Scenario, error) {
	if strings.ContainsRune(arg, os.PathSeparator) || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		if _, err := os.Stat(arg); err == nil {
			return scenario.Load(arg)
		}
		if strings.ContainsRune(arg, os.PathSeparator) {
			return nil, fmt.Errorf("scenario file %s: no such file", arg)
		}
	}
	s, err := scenario.Find(arg)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, didYouMean(strings.TrimSuffix(arg, ".yaml")))
	}
	s.File = "library:" + s.Name
	return s, nil
}

// checkTarget refuses, as bad input, a scenario whose target this build
// cannot start.
func checkTarget(s *scenario.Scenario) error {
	switch s.Topology.Target {
	case scenario.TargetEmbedded, scenario.TargetContainers:
		return nil
	case scenario.TargetMinIO, scenario.TargetCeph, scenario.TargetSwift:
		if len(s.Topology.Flaws) > 0 {
			return usageErr("scenario %s turns on flaws (%s), options of the reference engine; target %s runs a real engine",
				s.Name, strings.Join(s.Topology.Flaws, ", "), s.Topology.Target)
		}
		return nil
	case scenario.TargetExternal:
		if len(s.Topology.Flaws) > 0 {
			return usageErr("scenario %s turns on flaws (%s), options of the reference engine; target %s runs your own sites",
				s.Name, strings.Join(s.Topology.Flaws, ", "), scenario.TargetExternal)
		}
		return nil
	}
	return usageErr("scenario %s: unknown target %q (want one of %s)", s.Name, s.Topology.Target, strings.Join(scenario.Targets, ", "))
}

// startTarget starts the topology of a scenario (for the external target:
// checks that the sites of --sites answer); the engine's log goes to the
// run folder.
func (f runFlags) startTarget(ctx context.Context, s *scenario.Scenario, dir string) (harness.Topology, error) {
	logf, err := os.Create(filepath.Join(dir, reports.EngineLogFile))
	if err != nil {
		return nil, fmt.Errorf("start %s topology: %w", s.Topology.Target, err)
	}
	// The file stays open for the topology's life; the process's exit
	// closes it.
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if s.Topology.Target == scenario.TargetExternal {
		if f.ext == nil {
			return nil, fmt.Errorf("start %s topology: no sites file", s.Topology.Target)
		}
		topo, err := external.Open(ctx, f.ext, external.Options{Logger: log})
		return harness.Started(ctx, topo, err)
	}
	if scenario.IsEngine(s.Topology.Target) {
		return engines.Start(ctx, s.Topology.Target, s.Topology.Sites, log)
	}
	if s.Topology.Target == scenario.TargetContainers {
		topo, err := containers.Start(ctx, containers.Options{Sites: s.Topology.Sites, Flaws: s.Flaws(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second, Logger: log})
		return harness.Started(ctx, topo, err)
	}
	opts := embedded.Options{Sites: s.Topology.Sites, Flaws: s.Flaws(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second, Logger: log}
	if s.Topology.Data == scenario.DataDisk {
		opts.DataDir = filepath.Join(dir, "data")
	}
	topo, err := embedded.Start(ctx, opts)
	return harness.Started(ctx, topo, err)
}

// runOne runs s into a fresh folder under f.out.
func runOne(ctx context.Context, s *scenario.Scenario, f runFlags, adapt bool, progress io.Writer) (*reports.Result, string, error) {
	dir, err := newRunDir(f.out, s.Name)
	if err != nil {
		return nil, "", err
	}
	d := newProgressDisplay(progress, f.quiet)
	o := runner.Options{Dir: dir, Start: f.startTarget, ProgressEvery: d.every(), Adapt: adapt}
	if d.mode != progressNone {
		d.println(fmt.Sprintf("%s: running (workload %s, then up to %s to converge) → %s", s.Name, workloadLength(s), s.Checks.Observe, dir))
		o.Progress = func(p runner.Progress) { d.update(s.Name, p) }
	}
	res, err := runner.Run(ctx, s, o)
	d.done()
	return res, dir, err
}

func workloadLength(s *scenario.Scenario) string {
	if s.Workload.Duration > 0 {
		return s.Workload.Duration.String()
	}
	return fmt.Sprintf("%d ops", s.Workload.Ops)
}

// newRunDir makes parent/<scenario>-<time>, adding a suffix if taken.
func newRunDir(parent, name string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(parent, name+"-"+time.Now().Format("20060102-150405"))
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !os.IsExist(err) {
			return "", err
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// printResult prints the one-screen summary of a run, or its JSON.
func printResult(w io.Writer, r *reports.Result, dir string, asJSON bool) {
	if asJSON {
		json.NewEncoder(w).Encode(struct {
			Dir string `json:"dir"`
			*reports.Result
		}{dir, r})
		return
	}
	flaws := "none"
	if len(r.Flaws) > 0 {
		flaws = strings.Join(r.Flaws, ", ")
	}
	fmt.Fprintf(w, "\n%s  (target %s, flaws %s, seed %d)\n", r.Scenario, r.Target, flaws, r.Seed)
	for _, a := range r.Adapted {
		fmt.Fprintf(w, "  adapted    %s\n", a)
	}
	wl := r.Workload
	fmt.Fprintf(w, "  workload   %d ops in %s: %d ok, %d failed, %d unknown; %s written\n",
		wl.Ops, time.Duration(wl.ElapsedSeconds*float64(time.Second)).Round(time.Millisecond), wl.OK, wl.Failed, wl.Unknown, humanize.IBytes(uint64(max(wl.Bytes, 0))))
	for _, line := range faultLines(r.Faults) {
		fmt.Fprintf(w, "  fault      %s\n", line)
	}
	c := r.Convergence
	for _, line := range lagLines(c) {
		fmt.Fprintf(w, "  lag        %s\n", line)
	}
	fmt.Fprintf(w, "  keys       %d checked at %d sites\n", r.Keys, len(r.Sites))
	if len(r.Anomalies) == 0 {
		fmt.Fprintf(w, "  anomalies  none\n")
	} else {
		counts := map[string]int{}
		for _, a := range r.Anomalies {
			counts[a.Name]++
		}
		var names []string
		for n, k := range counts {
			names = append(names, fmt.Sprintf("%s ×%d", n, k))
		}
		sort.Strings(names)
		fmt.Fprintf(w, "  anomalies  %s\n", strings.Join(names, ", "))
		for i, a := range r.Anomalies {
			if i == 5 {
				fmt.Fprintf(w, "             … %d more in result.json\n", len(r.Anomalies)-5)
				break
			}
			fmt.Fprintf(w, "             %s %s/%s: %s\n", a.Name, a.Bucket, a.Key, a.Detail)
		}
	}
	if len(r.Checks.Expect) > 0 {
		fmt.Fprintf(w, "  expected   %s\n", strings.Join(r.Checks.Expect, ", "))
	}
	fmt.Fprintf(w, "  verdict    %s: %s\n", strings.ToUpper(r.Verdict), strings.Join(r.Reasons, "; "))
	if d := r.Decision(); d != "" {
		fmt.Fprintf(w, "  decision   %s\n", strings.ToUpper(d))
	}
	if dir != "" {
		fmt.Fprintf(w, "  run folder %s\n", dir)
		fmt.Fprintf(w, "  report     %s\n", filepath.Join(dir, reports.ReportFile))
	}
}

// faultLines pairs inject and heal events: "partition a→b 2.0s–8.0s".
func faultLines(fs []reports.Fault) []string {
	var out []string
	open := map[string]time.Duration{}
	var order []string
	for _, f := range fs {
		switch f.Kind {
		case "inject":
			open[f.Name] = f.At.Duration()
			order = append(order, f.Name)
			if f.Error != "" {
				out = append(out, fmt.Sprintf("%s at %s failed: %s", f.Name, f.At.Duration().Round(100*time.Millisecond), f.Error))
			}
		case "heal":
			if at, ok := open[f.Name]; ok {
				out = append(out, fmt.Sprintf("%s %s–%s", f.Name, at.Round(100*time.Millisecond), f.At.Duration().Round(100*time.Millisecond)))
				delete(open, f.Name)
			}
		}
	}
	for _, n := range order {
		if at, ok := open[n]; ok {
			out = append(out, fmt.Sprintf("%s from %s, never healed", n, at.Round(100*time.Millisecond)))
		}
	}
	return out
}

// lagLines summarise convergence per direction: writes, lag percentiles,
// share within the SLO, what is still pending, and the size fit.
func lagLines(c convergence.Result) []string {
	var out []string
	secs := func(v float64) string { return human.Seconds(v) }
	for _, d := range c.Directions {
		line := fmt.Sprintf("%s→%s: %d writes", d.From, d.To, d.Writes)
		if d.Lag != nil {
			line += fmt.Sprintf(", p50 %s p99 %s max %s", secs(d.Lag.P50), secs(d.Lag.P99), secs(d.Lag.Max))
		}
		line += fmt.Sprintf(", %.1f%% within %s", 100*d.WithinSLO, time.Duration(c.SLOSeconds*float64(time.Second)))
		if d.Pending > 0 {
			line += fmt.Sprintf(", %d pending (oldest %s)", d.Pending, secs(d.OldestPendingSeconds))
		}
		out = append(out, line)
	}
	if f := c.Overall.Fit; f.OK {
		// R² says how far to trust the breach size: on a fast link lag
		// barely grows with size, and the line is mostly noise.
		out = append(out, fmt.Sprintf("fit: %s/s effective, %s + size/bandwidth (R² %.2f); objects over %s would breach the SLO",
			humanize.IBytes(uint64(f.BandwidthBytesPerSecond)), secs(f.InterceptSeconds), f.R2, humanize.IBytes(uint64(f.SLOSizeBytes))))
	}
	out = append(out, fmt.Sprintf("verdict: %s: %s", c.Verdict.Outcome, c.Verdict.Reason))
	return out
}
