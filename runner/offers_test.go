package runner_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/runner"
	scenario "github.com/replcheck/replcheck/scenarios"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

// offering is the embedded topology as an engine that offers less: no
// Swift endpoint, SSE-S3 only, buckets prepared per bucket, and reads
// that must go through a probe transport. It counts what the runner asks
// of it.
type offering struct {
	harness.Topology
	probed atomic.Int64

	mu       sync.Mutex
	prepared []string
}

type noSwift struct{ harness.Site }

func (s noSwift) Replicated() harness.Endpoint {
	e := s.Site.Replicated()
	e.SwiftAuth = ""
	return e
}

func (o *offering) Sites() []harness.Site {
	var out []harness.Site
	for _, s := range o.Topology.Sites() {
		out = append(out, noSwift{s})
	}
	return out
}

func (o *offering) Site(name string) (harness.Site, error) { return harness.FindSite(o.Sites(), name) }

func (o *offering) SSEModes() []string { return []string{client.SSES3} }

func (o *offering) RefusesVersioning() bool { return true }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (o *offering) ProbeTransport(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		o.probed.Add(1)
		return rt.RoundTrip(r)
	})
}

func (o *offering) PrepareBucket(ctx context.Context, bucket string) error {
	c, err := client.NewS3(o.Sites()[0], true)
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.prepared = append(o.prepared, bucket)
	o.mu.Unlock()
	return c.CreateBucket(ctx, bucket, client.BucketOptions{})
}

// TestFitToTarget: a scenario asking for Swift and SSE-C is refused, as
// bad input, on a target that offers neither; with Adapt it runs with
// those shares moved (and says so in the result), its buckets prepared
// by the target and its probes sent through the target's probe transport.
func TestFitToTarget(t *testing.T) {
	yaml := `name: t
description: test
workload:
  duration: 2s
  rate: 40
  keys: 20
  versioning: true
  apis: {s3: 50, swift: 50}
  sse: {none: 50, sse-c: 50}
checks:
  observe: 10s
`
	var last *offering
	start := func(ctx context.Context, s *scenario.Scenario, dir string) (harness.Topology, error) {
		topo, err := embedded.Start(ctx, embedded.Options{Sites: s.Topology.Sites, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		if err != nil {
			return nil, err
		}
		last = &offering{Topology: topo}
		return last, nil
	}
	_, err := runner.Run(context.Background(), parse(t, yaml), runner.Options{Dir: t.TempDir(), Start: start})
	if !runner.IsUnsupported(err) || !strings.Contains(err.Error(), "offers no Swift API") || !strings.Contains(err.Error(), "--adapt") {
		t.Fatalf("err %v, want the Swift share refused, pointing at --adapt", err)
	}

	s3only := strings.NewReplacer("{s3: 50, swift: 50}", "{s3: 100}", "{none: 50, sse-c: 50}", "{none: 100}").Replace(yaml)
	_, err = runner.Run(context.Background(), parse(t, s3only), runner.Options{Dir: t.TempDir(), Start: start})
	if !runner.IsUnsupported(err) || !strings.Contains(err.Error(), "has no S3 versioning") {
		t.Fatalf("err %v, want the versioned buckets refused", err)
	}

	s := parse(t, yaml)
	dir := t.TempDir()
	res, err := runner.Run(context.Background(), s, runner.Options{Dir: dir, Start: start, Adapt: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != reports.Pass {
		t.Fatalf("verdict %s: %v", res.Verdict, res.Reasons)
	}
	if len(res.Adapted) != 3 || !strings.Contains(res.Adapted[0], "swift's 50 moved to s3") ||
		!strings.Contains(res.Adapted[1], "workload.versioning: off") || !strings.Contains(res.Adapted[2], "SSE-C's 50 moved to SSE-S3") {
		t.Errorf("adapted %q", res.Adapted)
	}
	if s.Workload.APIs.Swift != 50 || s.Workload.SSE.C != 50 || !s.Workload.Versioning {
		t.Errorf("the caller's scenario changed: %+v", s.Workload)
	}
	h, err := history.ReadFile(dir + "/" + reports.HistoryFile)
	if err != nil {
		t.Fatal(err)
	}
	sse := map[string]int{}
	for _, op := range h.Ops {
		if op.API == client.APISwift {
			t.Fatalf("operation %s went through Swift", op.ID)
		}
		sse[op.SSE]++
	}
	if sse[client.SSEC] > 0 || sse[client.SSES3] == 0 {
		t.Errorf("SSE modes written: %v; want SSE-S3 in place of SSE-C", sse)
	}
	if strings.Join(last.prepared, ",") != strings.Join(res.Buckets, ",") || len(res.Buckets) == 0 {
		t.Errorf("prepared %v, run buckets %v", last.prepared, res.Buckets)
	}
	if last.probed.Load() == 0 {
		t.Error("no probe went through the target's probe transport")
	}
}
