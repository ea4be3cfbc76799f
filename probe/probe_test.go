package probe_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/probe"
	"github.com/replcheck/replcheck/verifier/client"
)

func startTopology(t *testing.T) *embedded.Topology {
	t.Helper()
	topo, err := embedded.Start(context.Background(), embedded.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close(context.Background()) })
	return topo
}

func s3(t *testing.T, s harness.Site) *client.S3 {
	t.Helper()
	c, err := client.NewS3(s, true, client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder is an Observer that keeps what it hears.
type recorder struct {
	mu       sync.Mutex
	started  []probe.Info
	statuses []probe.Snapshot
	onStart  func()
}

func (r *recorder) Started(i probe.Info) {
	r.mu.Lock()
	r.started = append(r.started, i)
	r.mu.Unlock()
	if r.onStart != nil {
		r.onStart()
	}
}

func (r *recorder) Status(s probe.Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, s)
}

// metric finds one series of a family by its from and to labels.
func metric(t *testing.T, reg *prometheus.Registry, name, from, to string) *dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["from"] == from && l["to"] == to {
				return m
			}
		}
	}
	t.Fatalf("no %s{from=%q,to=%q}", name, from, to)
	return nil
}

// assertGone checks that nothing is left under the probe's prefix at
// either site and, if the probe made its bucket, that it is gone.
func assertGone(t *testing.T, topo harness.Topology, res *probe.Result) {
	t.Helper()
	if !res.Cleanup.OK() || res.Cleanup.Removed != res.Cleanup.Canaries {
		t.Errorf("cleanup: %+v", res.Cleanup)
	}
	for _, s := range topo.Sites() {
		c := s3(t, s)
		ctx := context.Background()
		ok, err := c.Minio().BucketExists(ctx, res.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if res.CreatedBucket && ok {
			t.Errorf("bucket %s still at %s", res.Bucket, s.Name())
		}
		if !ok {
			continue
		}
		for v := range c.Minio().ListObjects(ctx, res.Bucket, minio.ListObjectsOptions{Prefix: probe.KeyPrefix, Recursive: true, WithVersions: true}) {
			if v.Err != nil {
				t.Fatal(v.Err)
			}
			t.Errorf("left at %s: %s (version %s, delete marker %v)", s.Name(), v.Key, v.VersionID, v.IsDeleteMarker)
		}
	}
}

func TestProbeGo(t *testing.T) {
	topo := startTopology(t)
	reg := prometheus.NewRegistry()
	rec := &recorder{}
	p, err := probe.New(probe.Config{Sites: topo.Sites(), Duration: time.Second, Interval: 100 * time.Millisecond,
		ReportEvery: 300 * time.Millisecond, SLO: 2 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Bucket(), probe.BucketPrefix+p.Token()) || p.Prefix() != probe.KeyPrefix+p.Token()+"/" {
		t.Fatalf("bucket %s, prefix %s for token %s", p.Bucket(), p.Prefix(), p.Token())
	}
	res, err := p.Run(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Go || res.Interrupted || !res.CreatedBucket {
		t.Fatalf("%s (interrupted %v, created %v)", res.Verdict, res.Interrupted, res.CreatedBucket)
	}
	if len(rec.started) != 1 || !rec.started[0].CreatedBucket || len(rec.statuses) < 2 {
		t.Errorf("observer heard %d starts, %d statuses", len(rec.started), len(rec.statuses))
	}
	for _, d := range res.Directions {
		// One canary at once and one per 100 ms for a second.
		if d.Written < 8 || d.Converged != d.Written || d.Pending != 0 || d.WriteFailures+d.PollFailures != 0 {
			t.Errorf("%s→%s: %+v", d.From, d.To, d)
		}
		if d.LastLagSeconds <= 0 || d.LastLagSeconds > 1 || d.P99Seconds < d.P50Seconds || d.WindowCount != d.Converged {
			t.Errorf("%s→%s lags: last %v p50 %v p99 %v over %d", d.From, d.To, d.LastLagSeconds, d.P50Seconds, d.P99Seconds, d.WindowCount)
		}
		h := metric(t, reg, probe.MetricLatency, d.From, d.To).GetHistogram()
		if int(h.GetSampleCount()) != d.Converged || h.GetSampleSum() <= 0 {
			t.Errorf("%s→%s histogram: %d observations, sum %v; converged %d", d.From, d.To, h.GetSampleCount(), h.GetSampleSum(), d.Converged)
		}
		if n := metric(t, reg, probe.MetricWritten, d.From, d.To).GetCounter().GetValue(); int(n) != d.Written {
			t.Errorf("%s→%s written counter %v, want %d", d.From, d.To, n, d.Written)
		}
		if ts := metric(t, reg, probe.MetricLastSuccess, d.From, d.To).GetGauge().GetValue(); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
			t.Errorf("%s→%s last success %v", d.From, d.To, ts)
		}
	}
	assertGone(t, topo, res)
}

func TestProbeNoGoWhenOneDirectionStalls(t *testing.T) {
	topo := startTopology(t)
	a, b := topo.Sites()[0].Name(), topo.Sites()[1].Name()
	link, err := topo.Link(a, b)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	// The partition starts once the bucket is at both sites.
	rec := &recorder{onStart: func() {
		if err := link.WAN().Partition(wan.Refuse); err != nil {
			t.Error(err)
		}
	}}
	t.Cleanup(func() { link.WAN().Heal() })
	p, err := probe.New(probe.Config{Sites: topo.Sites(), Duration: 800 * time.Millisecond, Interval: 100 * time.Millisecond,
		SLO: time.Second, MaxPendingAge: 300 * time.Millisecond, MaxOutstanding: 5, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Go || !strings.Contains(res.Verdict.String(), "from "+a+" to "+b+" still pending") ||
		strings.Contains(res.Verdict.String(), "from "+b+" to "+a) {
		t.Fatalf("%s", res.Verdict)
	}
	ab, ba := res.Directions[0], res.Directions[1]
	if ab.Converged != 0 || ab.Pending != 5 || ab.Skipped == 0 || ab.OldestPendingSeconds <= 0.3 {
		t.Errorf("stalled direction: %+v", ab)
	}
	if ba.Converged == 0 || ba.Pending != 0 {
		t.Errorf("healthy direction: %+v", ba)
	}
	if g := metric(t, reg, probe.MetricPending, a, b).GetGauge().GetValue(); int(g) != ab.Pending {
		t.Errorf("pending gauge %v, want %d", g, ab.Pending)
	}
	if g := metric(t, reg, probe.MetricOldestPending, a, b).GetGauge().GetValue(); g < ab.OldestPendingSeconds {
		t.Errorf("oldest pending gauge %v, want at least %v", g, ab.OldestPendingSeconds)
	}
	if n := metric(t, reg, probe.MetricSkipped, a, b).GetCounter().GetValue(); int(n) != ab.Skipped {
		t.Errorf("skipped counter %v, want %d", n, ab.Skipped)
	}
	// The removal of the bucket could not replicate: the probe removed it
	// at the second site itself.
	assertGone(t, topo, res)
}

func TestProbeInExistingVersionedBucket(t *testing.T) {
	topo := startTopology(t)
	sa, sb := s3(t, topo.Sites()[0]), s3(t, topo.Sites()[1])
	ctx := context.Background()
	const bucket = "team-data"
	if err := sa.CreateBucket(ctx, bucket, client.BucketOptions{Versioning: true}); err != nil {
		t.Fatal(err)
	}
	body := []byte("a user's object the probe must not touch")
	if _, err := sa.Put(ctx, bucket, "replcheck-probe-not-mine.txt", bytes.NewReader(body), int64(len(body)), client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := sb.Head(ctx, bucket, "replcheck-probe-not-mine.txt", client.GetOptions{})
		return err == nil
	})

	p, err := probe.New(probe.Config{Sites: topo.Sites(), Bucket: bucket, Duration: 500 * time.Millisecond,
		Interval: 100 * time.Millisecond, SLO: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Go || res.CreatedBucket || res.Cleanup.BucketRemoved {
		t.Fatalf("%s, created %v, removed %v", res.Verdict, res.CreatedBucket, res.Cleanup.BucketRemoved)
	}
	assertGone(t, topo, res) // no canary version, no delete marker
	for _, c := range []*client.S3{sa, sb} {
		info, err := c.Head(ctx, bucket, "replcheck-probe-not-mine.txt", client.GetOptions{})
		if err != nil || info.Size != int64(len(body)) {
			t.Errorf("the user's object at %s: %+v, %v", c.Site(), info, err)
		}
	}
}

func TestProbeRefusesMissingBucket(t *testing.T) {
	topo := startTopology(t)
	p, err := probe.New(probe.Config{Sites: topo.Sites(), Bucket: "no-such-bucket", Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(context.Background(), nil)
	if !errors.Is(err, probe.ErrNoBucket) || !strings.Contains(err.Error(), "bucket no-such-bucket at europe-se-1a") {
		t.Fatalf("%v", err)
	}
}

func TestProbeUntilInterrupted(t *testing.T) {
	topo := startTopology(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := probe.New(probe.Config{Sites: topo.Sites(), Interval: 50 * time.Millisecond, SLO: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Stop once both directions have converged canaries.
	go func() {
		defer cancel()
		waitFor(t, func() bool {
			for _, d := range p.Snapshot().Directions {
				if d.Converged < 3 {
					return false
				}
			}
			return true
		})
	}()
	res, err := p.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted {
		t.Fatalf("not interrupted: %+v", res)
	}
	assertGone(t, topo, res)
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  probe.Config
		want string
	}{
		{probe.Config{Interval: -time.Second}, "interval -1s"},
		{probe.Config{SLO: time.Second, MaxPendingAge: time.Minute}, "max pending age 1m0s is beyond the SLO 1s"},
		{probe.Config{MaxFailureRatio: 2}, "max failure ratio 2"},
		{probe.Config{Bucket: "Not_A_Bucket"}, `bucket "Not_A_Bucket"`},
		{probe.Config{Duration: -1}, "duration -1ns"},
	} {
		if err := tc.cfg.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if err := (probe.Config{}).Check(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := probe.New(probe.Config{}); err == nil || !strings.Contains(err.Error(), "0 sites given") {
		t.Errorf("no sites: %v", err)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Error("condition not met within 10s")
}
