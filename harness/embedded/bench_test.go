package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/harness/embedded"
)

func BenchmarkTopologyStartClose(b *testing.B) {
	for range b.N {
		topo, err := embedded.Start(context.Background(), embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := topo.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// waitInSync waits until site a has nothing pending for its peer.
func waitInSync(b *testing.B, topo *embedded.Topology, name string) {
	s, _ := topo.EngineSite(name)
	for s.Replicator().Status().PendingOperations > 0 {
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkReplicateSmallObjects measures objects/s replicated A→B: the
// time from the first PUT until the last object is acknowledged by B.
func BenchmarkReplicateSmallObjects(b *testing.B) {
	topo := start(b, embedded.Options{})
	a, bs := sites(b, topo)
	ca, cb := s3c(b, a), s3c(b, bs)
	mkbucket(b, ca, cb, "bench")
	body := bytes.Repeat([]byte("x"), 4<<10)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := ca.PutObject(context.Background(), "bench", fmt.Sprint("k", i%1000), bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
			b.Fatal(err)
		}
	}
	waitInSync(b, topo, a.Name())
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "objects/s")
}

// BenchmarkReplicateThroughLimitedLink sends a large object through an A→B
// link limited to 4 MiB/s and reports the replication rate as a share of
// the link's rate.
func BenchmarkReplicateThroughLimitedLink(b *testing.B) {
	const rate, size = 4 << 20, 16 << 20
	topo := start(b, embedded.Options{})
	a, bs := sites(b, topo)
	ca, cb := s3c(b, a), s3c(b, bs)
	mkbucket(b, ca, cb, "bench")
	ab, _ := topo.Link(a.Name(), bs.Name())
	if err := ab.WAN().SetBandwidth(rate); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	b.SetBytes(size)
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		if _, err := ca.PutObject(context.Background(), "bench", fmt.Sprint("large", i), bytes.NewReader(body), size,
			minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		waitInSync(b, topo, a.Name())
		total += time.Since(t0)
	}
	achieved := float64(size) * float64(b.N) / total.Seconds()
	b.ReportMetric(achieved/(1<<20), "MiB/s")
	b.ReportMetric(100*achieved/rate, "%-of-link")
}

// BenchmarkIdleLag writes one object at a time on an idle topology and
// reports the replication lag p50 and p99 from the engine's ground truth:
// from the PUT's acknowledgement at A to the apply at B.
func BenchmarkIdleLag(b *testing.B) {
	topo := start(b, embedded.Options{})
	a, bs := sites(b, topo)
	ca, cb := s3c(b, a), s3c(b, bs)
	mkbucket(b, ca, cb, "bench")
	ea, _ := topo.EngineSite(a.Name())
	eb, _ := topo.EngineSite(bs.Name())
	var lags []time.Duration
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprint("lag", i)
		if _, err := ca.PutObject(context.Background(), "bench", key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		v, err := ea.Store().GetObject("bench", key, "")
		if err != nil {
			b.Fatal(err)
		}
		for {
			if at, ok := eb.Replicator().Receiver().AppliedAt("bench", key, v.VersionID, v.Stamp); ok {
				lags = append(lags, max(0, at.Sub(acked))) // applied before the client saw its ack: no lag
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	slices.Sort(lags)
	pct := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
