// Package runner runs a scenario end to end: it starts the target's
// topology, creates the run's buckets, drives the workload while the fault
// timeline plays and the convergence probes watch, waits out the
// observation window, reads every site's final state, checks it against
// the history and leaves a run folder behind (result.json, history.jsonl,
// final-state.json).
//
// The runner knows targets only through harness.Topology: the caller
// passes the function that starts one.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/reports"
	scenario "github.com/replcheck/replcheck/scenarios"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
	"github.com/replcheck/replcheck/verifier/workload"
)

// StartFunc starts the topology a scenario asks for. dir is the run
// folder, for data and logs the target keeps.
type StartFunc func(ctx context.Context, s *scenario.Scenario, dir string) (harness.Topology, error)

// Options configure a run.
type Options struct {
	// Dir is the run folder; it is created and must not hold a run.
	Dir   string
	Start StartFunc
	// Progress, if set, is called about every ProgressEvery while the
	// run goes on, and once per phase change; never two calls at once.
	Progress      func(Progress)
	ProgressEvery time.Duration // default 1s
	// Adapt runs a scenario that asks for what its target lacks (Swift,
	// an SSE mode) with those shares moved to what it offers, recording
	// each move in Result.Adapted; without it such a run is refused.
	Adapt bool
	Log   *slog.Logger // default: discard
}

// Progress is a snapshot of a run for progress displays.
type Progress struct {
	Phase        string // starting, workload, observing, checking, done
	Elapsed      time.Duration
	Ops          int // operations completed
	PendingOps   int // acknowledged writes not yet seen at the peer
	PendingBytes int64
	// Lag is the median replication lag of the writes that reached their
	// peer in the last convergence.RecentWindow, LagMax the largest and
	// LagWrites how many they were; all zero when none did (before the
	// first write, or while a partition holds every write back).
	Lag, LagMax time.Duration
	LagWrites   int
	Faults      []string // active faults
}

// Phases of a run.
const (
	PhaseStarting  = "starting"
	PhaseWorkload  = "workload"
	PhaseObserving = "observing"
	PhaseChecking  = "checking"
	PhaseDone      = "done"
)

// InfraError is a run that could not be carried out: the target did not
// start, the run folder could not be written, a site could not be
// reached to set up or to read the final state. It says nothing about the
// system under test.
type InfraError struct{ Err error }

func (e *InfraError) Error() string { return e.Err.Error() }
func (e *InfraError) Unwrap() error { return e.Err }

func infra(format string, a ...any) error { return &InfraError{fmt.Errorf(format, a...)} }

// UnsupportedError is a scenario that asks for what its target does not
// offer (an API, an encryption mode): bad input, found once the target
// has said what it offers, before any operation.
type UnsupportedError struct{ Err error }

func (e *UnsupportedError) Error() string { return e.Err.Error() }
func (e *UnsupportedError) Unwrap() error { return e.Err }

// IsUnsupported reports whether err is an *UnsupportedError.
func IsUnsupported(err error) bool {
	var ue *UnsupportedError
	return errors.As(err, &ue)
}

// fit fits the workload of r's scenario to what its target offers: a
// site without a Swift endpoint, an SSE mode the engine does not offer.
// Without Options.Adapt such a scenario is refused; with it, the share
// moves to what the target offers (Swift's to S3, an SSE mode's to another
// encrypting mode, or to none) and each move is recorded in the result.
func (r *run) fit(topo harness.Topology) error {
	s := *r.s // the caller's scenario stays as it was
	r.s = &s
	w := &s.Workload
	refuse := func(format string, a ...any) error {
		return &UnsupportedError{fmt.Errorf(format+"; --adapt runs it with that share moved to what the target offers", a...)}
	}
	if w.APIs.Swift > 0 {
		for _, site := range topo.Sites() {
			if site.Replicated().SwiftAuth != "" {
				continue
			}
			if !r.o.Adapt {
				return refuse("scenario %s uses Swift (workload.apis.swift %d), and target %s offers no Swift API at site %s",
					s.Name, w.APIs.Swift, topo.Target(), site.Name())
			}
			r.res.Adapted = append(r.res.Adapted, fmt.Sprintf("workload.apis: swift's %d moved to s3 (target %s offers no Swift API)", w.APIs.Swift, topo.Target()))
			w.APIs.S3 += w.APIs.Swift
			w.APIs.Swift = 0
			break
		}
	}
	if vr, ok := topo.(harness.VersioningRefuser); ok && w.Versioning && vr.RefusesVersioning() {
		if !r.o.Adapt {
			return refuse("scenario %s versions its buckets (workload.versioning), and target %s has no S3 versioning", s.Name, topo.Target())
		}
		r.res.Adapted = append(r.res.Adapted, fmt.Sprintf("workload.versioning: off (target %s has no S3 versioning)", topo.Target()))
		w.Versioning = false
	}
	modes := []struct {
		name   string
		weight *int
	}{{client.SSEKMS, &w.SSE.KMS}, {client.SSES3, &w.SSE.S3}, {client.SSEC, &w.SSE.C}}
	for _, m := range modes {
		if *m.weight == 0 || harness.OffersSSE(topo, m.name) {
			continue
		}
		if !r.o.Adapt {
			return refuse("scenario %s writes with %s (workload.sse), which target %s does not offer (it offers %s)",
				s.Name, m.name, topo.Target(), harness.OfferedSSE(topo))
		}
		to, toWeight := "none", &w.SSE.None
		for _, o := range modes {
			if harness.OffersSSE(topo, o.name) {
				to, toWeight = o.name, o.weight
				break
			}
		}
		r.res.Adapted = append(r.res.Adapted, fmt.Sprintf("workload.sse: %s's %d moved to %s (target %s does not offer %s)",
			m.name, *m.weight, to, topo.Target(), m.name))
		*toWeight += *m.weight
		*m.weight = 0
	}
	return nil
}

// LogSaver is a topology whose parts keep logs of their own (the
// containers target): a run that does not pass saves them into LogsDir
// of its folder before the topology goes.
type LogSaver interface {
	SaveLogs(ctx context.Context, dir string) error
}

// LogsDir is the folder of a run folder that holds the topology's logs.
const LogsDir = "logs"

// passes judges a copy of the result as it stands.
func (r *run) passes() bool {
	res := *r.res
	res.Found = nil
	res.Judge()
	return res.Verdict == reports.Pass
}

// settle bounds how often the final state is re-read while the sites
// still disagree within the observation window.
const settle = 500 * time.Millisecond

// Run runs s and returns its result, also written to the run folder. An
// error is an *InfraError, or ctx's error if the run was interrupted; the
// verdict is in the result.
func Run(ctx context.Context, s *scenario.Scenario, o Options) (*reports.Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, infra("run folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, reports.HistoryFile)); err == nil {
		return nil, infra("run folder %s already holds a run", o.Dir)
	}
	r := &run{s: s, o: o, id: runID(s.Name), res: &reports.Result{
		Scenario: s.Name, ScenarioFile: s.File, Target: s.Topology.Target, Sites: s.Topology.Sites,
		Flaws: s.Topology.Flaws, Seed: s.Workload.Seed, Started: time.Now().UTC(),
		Checks: reports.Checks{SLOSeconds: s.Checks.SLO.Seconds(), ObserveSeconds: s.Checks.Observe.Seconds(),
			ClockUncertaintySeconds: s.Checks.ClockUncertainty.Seconds(), Expect: slices.Clone(s.Checks.Expect),
			GoNoGo: s.Checks.GoNoGo},
	}}
	r.res.Run = r.id
	r.phase.Store(PhaseStarting)
	err := r.do(ctx)
	r.res.Finished = time.Now().UTC()
	if err != nil {
		return nil, err
	}
	r.res.Judge()
	if err := reports.WriteResult(o.Dir, r.res); err != nil {
		return r.res, &InfraError{err}
	}
	if err := reports.WriteReports(o.Dir, r.res); err != nil {
		return r.res, &InfraError{err}
	}
	r.report(PhaseDone)
	return r.res, nil
}

type run struct {
	s   *scenario.Scenario
	o   Options
	id  string
	res *reports.Result

	topo    harness.Topology
	hist    *history.Writer
	tracker *convergence.Tracker
	ssec    client.SSE
	probes  map[string]client.Client // site → unrecorded S3 client
	rt      *http.Transport          // every client's, closed before the topology
	start   time.Time

	phase  atomic.Value // string
	ops    atomic.Int64
	mu     sync.Mutex
	active []string // faults injected and not healed
	// reporting serialises Progress calls from the ticker and the phases.
	reporting sync.Mutex
}

func (r *run) do(ctx context.Context) (err error) {
	s := r.s
	r.start = time.Now()
	r.report(PhaseStarting)
	stop := r.progressLoop(ctx)
	defer stop()

	topo, err := r.o.Start(ctx, s, r.o.Dir)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return infra("%w", err) // the target's error says what failed to start
	}
	r.topo = topo
	r.rt = client.NewTransport()
	defer func() {
		// Idle keep-alive connections would hold the sites' graceful
		// shutdown for its whole timeout.
		r.rt.CloseIdleConnections()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if ls, ok := topo.(LogSaver); ok && (err != nil || !r.passes()) {
			if lerr := ls.SaveLogs(cctx, filepath.Join(r.o.Dir, LogsDir)); lerr != nil {
				r.o.Log.Warn("save the topology's logs", "err", lerr)
			}
		}
		if err := topo.Close(cctx); err != nil {
			r.o.Log.Warn("stop topology", "err", err)
		}
	}()
	tl, err := s.Timeline()
	if err != nil {
		return infra("%w", err)
	}
	if err := tl.Validate(topo); err != nil {
		return infra("fault timeline on target %s: %w", topo.Target(), err)
	}
	if err := r.fit(topo); err != nil {
		return err
	}
	s = r.s

	key := make([]byte, 32)
	rand.Read(key)
	r.ssec = client.SSE{Mode: client.SSEC, Key: key}
	recorded, err := r.clients()
	if err != nil {
		return err
	}
	buckets, err := r.buckets(ctx)
	if err != nil {
		return err
	}
	r.res.Buckets = buckets

	r.hist, err = history.Create(filepath.Join(r.o.Dir, reports.HistoryFile), r.id)
	if err != nil {
		return infra("%w", err)
	}
	defer r.hist.Close()
	tracker, err := convergence.New(convergence.Config{
		Sites: s.Topology.Sites, Probes: r.probes, SSEC: r.ssec, SLO: s.Checks.SLO,
		Clock: r.hist.Now, ClockUncertainty: s.Checks.ClockUncertainty,
	})
	if err != nil {
		return infra("convergence probes: %w", err)
	}
	// The progress loop reads the tracker from its own goroutine.
	r.mu.Lock()
	r.tracker = tracker
	r.mu.Unlock()
	r.hist.OnComplete(func(op history.Op) {
		r.ops.Add(1)
		r.tracker.Observe(op)
	})
	pctx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	r.tracker.Start(pctx)
	rec := make([]client.Client, 0, len(recorded))
	for _, c := range recorded {
		rec = append(rec, client.NewRecording(c, r.hist, client.WithIDs(client.Sequence(r.token()+"-"+c.Site()))))
	}

	// The timeline and the workload start together; the timeline runs
	// on (its WAN baseline lasts the observation window too) until the
	// checks begin.
	r.phase.Store(PhaseWorkload)
	r.report(PhaseWorkload)
	tctx, stopTimeline := context.WithCancel(ctx)
	events := make(chan nemesis.Event, 2*len(tl)+2)
	timelineDone := make(chan error, 1)
	go func() { timelineDone <- tl.Run(tctx, topo, events) }()
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		r.faultEvents(events)
	}()
	finishTimeline := func() error {
		stopTimeline()
		err := <-timelineDone
		close(events)
		<-eventsDone
		return err
	}

	cfg, err := r.workloadConfig(buckets, key)
	if err != nil {
		finishTimeline()
		return infra("%w", err)
	}
	st, werr := workload.Run(ctx, cfg, rec)
	r.res.Workload = reports.Workload{Ops: st.Ops, OK: st.OK, Failed: st.Failed, Unknown: st.Unknown,
		Bytes: st.Bytes, ElapsedSeconds: st.Elapsed.Seconds(), ByKind: map[string]int{}}
	for k, n := range st.ByKind {
		r.res.Workload.ByKind[string(k)] = n
	}
	if werr != nil {
		finishTimeline()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return infra("workload: %w", werr)
	}

	// Observation: wait for the faults to be over, then for the writes
	// to converge, within the window.
	r.phase.Store(PhaseObserving)
	r.report(PhaseObserving)
	deadline := time.Now().Add(s.Checks.Observe)
	faultsEnd := time.Duration(0)
	for _, f := range s.Faults {
		end := f.At + f.For
		if f.For == 0 {
			end = s.Workload.Duration
		}
		faultsEnd = max(faultsEnd, end)
	}
	// Offsets of the timeline count from when the workload started,
	// which is close to the history's start.
	sleepUntil(ctx, r.hist.Start().Add(faultsEnd))
	octx, cancel := context.WithDeadline(ctx, deadline)
	werr = r.tracker.Wait(octx)
	cancel()
	if ctx.Err() != nil {
		finishTimeline()
		return ctx.Err()
	}
	fs, h, err := r.finalState(ctx, buckets, deadline)
	if terr := finishTimeline(); terr != nil {
		r.o.Log.Warn("fault timeline", "err", terr)
	}
	stopProbes()
	r.res.Convergence = r.tracker.Stop()
	if err != nil {
		return err
	}
	r.phase.Store(PhaseChecking)
	r.report(PhaseChecking)
	if err := reports.WriteState(r.o.Dir, fs); err != nil {
		return &InfraError{err}
	}
	r.engineStatus(ctx)
	r.res.Check(h, fs)
	return nil
}

// finalState reads every site's final state and checks it; while the
// sites still disagree or the check finds anomalies, it reads again until
// the deadline, so a slow but correct engine is not blamed for what it
// was about to fix. It returns the last state read and the history.
func (r *run) finalState(ctx context.Context, buckets []string, deadline time.Time) (checker.FinalState, *history.History, error) {
	readers := make([]client.Client, 0, len(r.probes))
	for _, name := range r.s.Topology.Sites {
		readers = append(readers, r.probes[name])
	}
	// Ops still in flight at the end of the workload are complete now;
	// the file is read as it stands, open for the probes' sake.
	for {
		h, err := history.ReadFile(filepath.Join(r.o.Dir, reports.HistoryFile))
		if err != nil {
			return checker.FinalState{}, nil, infra("read history back: %w", err)
		}
		fs, err := state.Read(ctx, readers, buckets, h, state.Options{SSEC: r.ssec})
		if err != nil {
			if ctx.Err() != nil {
				return fs, h, ctx.Err()
			}
			return fs, h, infra("%w", err)
		}
		res := checker.Check(h, fs, checker.Options{ClockUncertainty: r.s.Checks.ClockUncertainty})
		if len(res.Anomalies) == 0 || time.Now().Add(settle).After(deadline) {
			return fs, h, nil
		}
		if !sleepUntil(ctx, time.Now().Add(settle)) {
			return fs, h, ctx.Err()
		}
	}
}

// engineStatus records each site's own replication status at the end,
// for the status-mismatch check.
func (r *run) engineStatus(ctx context.Context) {
	if !r.topo.Capabilities()[harness.CapRepStatus] {
		return
	}
	r.res.EngineStatus = map[string]harness.ReplicationStatus{}
	for _, site := range r.topo.Sites() {
		sr, ok := site.(harness.StatusReporter)
		if !ok {
			continue
		}
		st, err := sr.ReplicationStatus(ctx)
		if err != nil {
			r.o.Log.Warn("replication status", "site", site.Name(), "err", err)
			continue
		}
		r.res.EngineStatus[site.Name()] = st
	}
}

// clients builds an S3 client per site (and a Swift one where the
// workload uses Swift) for the workload, and unrecorded S3 clients for
// probes and the final state.
func (r *run) clients() ([]client.Client, error) {
	r.probes = map[string]client.Client{}
	var out []client.Client
	swift := r.s.Workload.APIs.Swift > 0
	for _, name := range r.s.Topology.Sites {
		site, err := r.topo.Site(name)
		if err != nil {
			return nil, infra("%w", err)
		}
		c, err := client.NewS3(site, true, client.WithTransport(r.rt))
		if err != nil {
			return nil, infra("%w", err)
		}
		out = append(out, c)
		// Probes and final-state reads must see what the site itself
		// holds, never a copy it fetched from its peer.
		prt := http.RoundTripper(r.rt)
		if pt, ok := r.topo.(harness.ProbeTransporter); ok {
			prt = pt.ProbeTransport(r.rt)
		}
		if r.probes[name], err = client.NewS3(site, true, client.WithTransport(prt)); err != nil {
			return nil, infra("%w", err)
		}
		if swift {
			sc, err := client.NewSwift(site, true, client.WithTransport(r.rt))
			if err != nil {
				return nil, infra("%w", err)
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// buckets creates the run's buckets at the first site and waits until the
// other site has them too.
func (r *run) buckets(ctx context.Context) ([]string, error) {
	prefix := "rc-" + r.token()
	first := r.probes[r.s.Topology.Sites[0]]
	var out []string
	bp, perBucket := r.topo.(harness.BucketPreparer)
	for i := range r.s.Workload.Buckets {
		b := fmt.Sprintf("%s-%d", prefix, i)
		if perBucket {
			// Replication is set per bucket on this target, at every site.
			if err := bp.PrepareBucket(ctx, b); err != nil {
				return nil, infra("prepare bucket %s on target %s: %w", b, r.topo.Target(), err)
			}
			out = append(out, b)
			continue
		}
		if err := first.CreateBucket(ctx, b, client.BucketOptions{Versioning: r.s.Workload.Versioning}); err != nil {
			return nil, infra("create bucket %s at %s: %w", b, first.Site(), err)
		}
		out = append(out, b)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, name := range r.s.Topology.Sites[1:] {
		for _, b := range out {
			for {
				_, err := r.probes[name].List(wait, b, "")
				if err == nil {
					break
				}
				if !client.IsNotFound(err) || !sleepUntil(wait, time.Now().Add(20*time.Millisecond)) {
					return nil, infra("bucket %s did not reach %s: %w", b, name, err)
				}
			}
		}
	}
	return out, nil
}

// workloadConfig maps the scenario's workload onto workload.Config.
func (r *run) workloadConfig(buckets []string, key []byte) (workload.Config, error) {
	w := r.s.Workload
	cfg := workload.Config{Ops: w.Ops, Duration: w.Duration, Concurrency: w.Concurrency, Rate: w.Rate,
		Keys: w.Keys, Buckets: buckets, Seed: w.Seed, SSECKey: key,
		BothSites: w.BothSites.Sequential, BothSitesConcurrent: w.BothSites.Concurrent,
		Mix: map[history.Kind]int{history.Put: w.Mix.Put, history.Overwrite: w.Mix.Overwrite, history.Delete: w.Mix.Delete,
			history.Multipart: w.Mix.Multipart, history.Copy: w.Mix.Copy, history.Meta: w.Mix.Meta, history.Get: w.Mix.Get},
		APIs:  map[string]int{client.APIS3: w.APIs.S3, client.APISwift: w.APIs.Swift},
		Sites: maps.Clone(w.Sites),
		SSE:   map[string]int{client.SSENone: w.SSE.None, client.SSES3: w.SSE.S3, client.SSEKMS: w.SSE.KMS, client.SSEC: w.SSE.C},
	}
	cfg.Sizes = sizes(w.Sizes)
	if kn, ok := r.topo.(harness.KMSKeyNamer); ok {
		cfg.KMSKeyID = kn.KMSKeyID()
	}
	return cfg, cfg.Validate()
}

// rangeSteps is how many sizes a Min–Max size class is spread over.
const rangeSteps = 8

// sizes turns size classes into weighted sizes: a range becomes
// rangeSteps sizes spaced geometrically from Min to Max.
func sizes(classes []scenario.SizeClass) []workload.Size {
	var out []workload.Size
	for _, c := range classes {
		if !c.IsRange() {
			out = append(out, workload.Size{Size: int64(c.Size), Weight: c.Weight * rangeSteps})
			continue
		}
		lo, hi := float64(max(c.Min, 1)), float64(c.Max)
		for i := range rangeSteps {
			sz := int64(math.Round(lo * math.Pow(hi/lo, float64(i)/float64(rangeSteps-1))))
			if i == 0 {
				sz = int64(c.Min)
			}
			out = append(out, workload.Size{Size: sz, Weight: c.Weight})
		}
	}
	return out
}

// faultEvents records the timeline's events in the history and the result.
func (r *run) faultEvents(events <-chan nemesis.Event) {
	for e := range events {
		if err := r.hist.RecordFault(e.Fault, e.Kind, e.At, e.Err); err != nil {
			r.o.Log.Warn("record fault", "err", err)
		}
		f := reports.Fault{Name: e.Fault, Kind: e.Kind, At: history.Time(e.At.Sub(r.hist.Start()))}
		if e.Err != nil {
			f.Error = e.Err.Error()
		}
		r.mu.Lock()
		r.res.Faults = append(r.res.Faults, f)
		if e.Kind == nemesis.KindInject && e.Err == nil {
			r.active = append(r.active, e.Fault)
		} else if i := slices.Index(r.active, e.Fault); e.Kind == nemesis.KindHeal && i >= 0 {
			r.active = slices.Delete(r.active, i, i+1)
		}
		r.mu.Unlock()
		r.o.Log.Info("fault", "event", e.String())
	}
}

// progressLoop reports progress until the returned stop is called.
func (r *run) progressLoop(ctx context.Context) (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.report(r.phase.Load().(string))
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (r *run) report(phase string) {
	if r.o.Progress == nil {
		return
	}
	p := Progress{Phase: phase, Elapsed: time.Since(r.start), Ops: int(r.ops.Load())}
	r.mu.Lock()
	tracker := r.tracker
	p.Faults = slices.Clone(r.active)
	r.mu.Unlock()
	if tracker != nil {
		p.PendingOps, p.PendingBytes = tracker.Pending()
		l := tracker.RecentLag()
		p.Lag, p.LagMax, p.LagWrites = l.Median, l.Max, l.Writes
	}
	r.reporting.Lock()
	defer r.reporting.Unlock()
	r.o.Progress(p)
}

// token is the random part of the run id: short enough for operation ids
// and bucket names, unique enough to keep runs apart.
func (r *run) token() string { return r.id[len(r.id)-8:] }

// runID names a run: scenario, UTC time, and random bits that also name
// its buckets.
func runID(name string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%s-%s", name, time.Now().UTC().Format("20060102-150405"), hex.EncodeToString(b))
}

// sleepUntil sleeps until t or until ctx ends; false if ctx ended.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// IsInfra reports whether err is an infrastructure failure.
func IsInfra(err error) bool {
	var ie *InfraError
	return errors.As(err, &ie)
}
