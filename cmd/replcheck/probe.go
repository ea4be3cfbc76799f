package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/probe"
	scenario "github.com/replcheck/replcheck/scenarios"
)

// probeFlags are the flags of replcheck probe.
type probeFlags struct {
	sites, target, bucket, metrics string
	cfg                            probe.Config
	json, quiet                    bool
}

func newProbeCmd() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "A replication canary: lag both ways, Prometheus metrics, a go / no-go",
		Long: `Write a small canary object at each site every --interval, poll the other
site until it shows up there, and measure each canary's replication lag (from
the write's acknowledgement to the midpoint of its arrival bracket, with the
bracket's width as the resolution). Prints a line per direction every
--report-every; serves Prometheus metrics with --metrics ADDR.

Targets: --sites FILE (your own two sites, docs/sites-file.md), or --target
embedded|containers to start a topology of the reference engine for the
probe.

What it writes: keys replcheck-probe/<token>/<site>/<n> in a bucket it
creates, replcheck-probe-<token> (at the first site; it waits for it at the
second), or with --bucket NAME in an existing bucket, under that prefix only.
Each canary is deleted at both sites once seen at the peer; at the end
(--duration, SIGINT, SIGTERM) every canary left is deleted at both sites by
name, and a bucket it created is removed. It never deletes what it did not
write; what it could not remove is reported.

Go / no-go (with --duration): after the duration, writing stops and the
probe waits for pending canaries until none is pending or the oldest pending
one is older than --max-pending-age. It is go (exit 0) when, in each
direction, every canary converged within --slo (the end of its arrival
bracket), none is still pending, and no more than --max-failures of the
writes, nor of the polls, failed; no-go (exit 1) otherwise, with the reasons.
--max-pending-age defaults to --slo and may not exceed it; lower it to decide
sooner when replication stalls. A probe interrupted before its duration is
no-go. Without --duration it runs until SIGINT or SIGTERM, prints a summary
and exits 0.

Exit codes: 0 go (or stopped without --duration), 1 no-go, 2 bad flags,
sites file or bucket, 3 the sites could not be reached or refused the probe.`,
		Example: `  replcheck probe --sites sites.yaml --metrics 127.0.0.1:9464
  replcheck probe --sites sites.yaml --bucket ops-canary --duration 5m --slo 1m
  replcheck probe --target embedded --duration 30s --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProbe(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.sites, "sites", "", "probe your own two sites, described by this sites file (docs/sites-file.md)")
	fl.StringVar(&f.target, "target", "", "start a topology for the probe: embedded or containers (default embedded; external with --sites)")
	fl.StringVar(&f.bucket, "bucket", "", "write canaries in this existing bucket (at both sites) instead of creating one")
	fl.DurationVar(&f.cfg.Duration, "duration", 0, "stop after this long and judge go / no-go (default: run until interrupted)")
	fl.DurationVar(&f.cfg.Interval, "interval", probe.DefaultInterval, "time between two canaries of one direction")
	fl.DurationVar(&f.cfg.Poll, "poll", probe.DefaultPoll, "time between polls of a pending canary (the first come sooner: 1, 2, 4, … ms after the write; old ones slow to 2% of their age, at most max(this, SLO/100))")
	fl.IntVar(&f.cfg.MaxOutstanding, "max-outstanding", probe.DefaultMaxOutstanding, "canaries in flight or pending per direction, at most; ticks beyond it write nothing")
	fl.DurationVar(&f.cfg.SLO, "slo", probe.DefaultSLO, "replication lag target")
	fl.DurationVar(&f.cfg.MaxPendingAge, "max-pending-age", 0, "at the end, canaries pending longer than this make a no-go (default: --slo)")
	fl.Float64Var(&f.cfg.MaxFailureRatio, "max-failures", probe.DefaultMaxFailureRatio, "share of failed writes, and of failed polls, per direction that still allows a go")
	fl.DurationVar(&f.cfg.Window, "window", probe.DefaultWindow, "span of the p50 / p99 lag in the live lines")
	fl.DurationVar(&f.cfg.ReportEvery, "report-every", probe.DefaultReportEvery, "time between live lines")
	fl.DurationVar(&f.cfg.RequestTimeout, "request-timeout", probe.DefaultRequestTimeout, "bound on each request to a site")
	fl.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; default off)")
	fl.BoolVar(&f.json, "json", false, "print JSON lines (start, status, result) instead of text")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no live lines; only the result")
	return cmd
}

func runProbe(cmd *cobra.Command, f *probeFlags) error {
	// Flags first, so that bad input never starts or contacts anything.
	positive := []struct {
		name string
		v    time.Duration
	}{{"--interval", f.cfg.Interval}, {"--poll", f.cfg.Poll}, {"--slo", f.cfg.SLO}, {"--window", f.cfg.Window},
		{"--report-every", f.cfg.ReportEvery}, {"--request-timeout", f.cfg.RequestTimeout}}
	for _, p := range positive {
		if p.v <= 0 {
			return usageErr("%s %v: want a positive duration", p.name, p.v)
		}
	}
	switch {
	case f.cfg.Duration < 0:
		return usageErr("--duration %v: want a positive duration (or none, to run until interrupted)", f.cfg.Duration)
	case f.cfg.MaxPendingAge < 0:
		return usageErr("--max-pending-age %v: want a positive duration", f.cfg.MaxPendingAge)
	case f.cfg.MaxPendingAge > f.cfg.SLO:
		return usageErr("--max-pending-age %v exceeds --slo %v: a canary pending that long has missed the SLO already", f.cfg.MaxPendingAge, f.cfg.SLO)
	case f.cfg.MaxOutstanding < 1:
		return usageErr("--max-outstanding %d: want at least 1", f.cfg.MaxOutstanding)
	case !(f.cfg.MaxFailureRatio >= 0 && f.cfg.MaxFailureRatio <= 1):
		return usageErr("--max-failures %v: want a share between 0 and 1 (0.01 is 1%%)", f.cfg.MaxFailureRatio)
	}
	switch f.target {
	case "", scenario.TargetEmbedded, scenario.TargetContainers, scenario.TargetExternal,
		scenario.TargetMinIO, scenario.TargetCeph, scenario.TargetSwift:
	default:
		return usageErr("--target %q: want embedded, containers, minio, ceph or swift (or --sites FILE for your own sites)", f.target)
	}
	if f.target == scenario.TargetExternal && f.sites == "" {
		return usageErr("--target external needs --sites FILE (see docs/sites-file.md)")
	}
	var ln net.Listener
	if f.metrics != "" {
		if _, _, err := net.SplitHostPort(f.metrics); err != nil {
			return usageErr("--metrics %q: want HOST:PORT, e.g. 127.0.0.1:9464: %v", f.metrics, err)
		}
		var err error
		if ln, err = net.Listen("tcp", f.metrics); err != nil {
			return usageErr("--metrics %s: %v", f.metrics, err)
		}
		defer ln.Close()
	}
	f.cfg.Bucket = f.bucket
	// A probe is a scenario's topology without its workload: run's
	// target selection and start do the rest.
	s := &scenario.Scenario{Name: "probe", Topology: scenario.Topology{Target: scenario.TargetEmbedded, Sites: scenario.DefaultSites}}
	rf := runFlags{target: f.target, sites: f.sites}
	if err := rf.retarget(s); err != nil {
		return err
	}
	if err := f.cfg.Check(); err != nil {
		return usageErr("%w", err)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal during cleanup ends the process at once.
	context.AfterFunc(ctx, stop)

	logDir, err := os.MkdirTemp("", "replcheck-probe-")
	if err != nil {
		return infraErr(err)
	}
	defer os.RemoveAll(logDir)
	topo, err := rf.startTarget(ctx, s, logDir)
	if err != nil {
		return infraErr(err)
	}
	defer topo.Close(context.WithoutCancel(ctx))

	f.cfg.Sites = topo.Sites()
	reg := prometheus.NewRegistry()
	f.cfg.Registerer = reg
	p, err := probe.New(f.cfg)
	if err != nil {
		return usageErr("%w", err)
	}
	out := &probe.Printer{W: cmd.OutOrStdout(), JSON: f.json, Quiet: f.quiet}
	if ln != nil {
		out.Metrics = "http://" + ln.Addr().String() + "/metrics"
		srv := &http.Server{Handler: metricsMux(reg), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}
	res, err := p.Run(ctx, out)
	if err != nil {
		if errors.Is(err, probe.ErrNoBucket) {
			return usageErr("%w", err)
		}
		return infraErr(err)
	}
	judged := f.cfg.Duration > 0 || !res.Interrupted
	out.Result(res, judged)
	if !res.Cleanup.OK() {
		fmt.Fprintf(cmd.ErrOrStderr(), "replcheck: probe %s: not everything it wrote could be removed (above); remove keys under %s in bucket %s by hand\n",
			res.Token, res.Prefix, res.Bucket)
	}
	if judged && !res.Go {
		return &exitError{exitFail, errSilent}
	}
	return nil
}

// metricsMux serves the registry at /metrics and a pointer to it at /.
func metricsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "replcheck probe: metrics at /metrics")
	})
	return mux
}
