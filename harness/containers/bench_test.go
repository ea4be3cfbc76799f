package containers_test

import (
	"context"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness/containers"
	"github.com/replcheck/replcheck/harness/embedded"
)

// BenchmarkTopology times a containers topology from Start to every site
// answering (the image cached, as from the second run on) and its
// teardown, next to the embedded topology as the peer in the same run.
func BenchmarkTopology(b *testing.B) {
	ctx := context.Background()
	b.Run("containers", func(b *testing.B) {
		needDocker(b)
		// The first start may build the image; the figure is for later ones.
		p, err := containers.Provider(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := containers.EnsureImage(ctx, p, binary); err != nil {
			b.Fatal(err)
		}
		p.Close()
		var up, down time.Duration
		for b.Loop() {
			t0 := time.Now()
			topo, err := containers.Start(ctx, containers.Options{Binary: binary, RunID: runID()})
			up += time.Since(t0)
			if err != nil {
				if topo != nil {
					topo.Close(ctx)
				}
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := topo.Close(ctx); err != nil {
				b.Fatal(err)
			}
			down += time.Since(t1)
		}
		b.ReportMetric(up.Seconds()/float64(b.N), "start-s/op")
		b.ReportMetric(down.Seconds()/float64(b.N), "teardown-s/op")
	})
	b.Run("embedded", func(b *testing.B) {
		var up, down time.Duration
		for b.Loop() {
			t0 := time.Now()
			topo, err := embedded.Start(ctx, embedded.Options{})
			up += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := topo.Close(ctx); err != nil {
				b.Fatal(err)
			}
			down += time.Since(t1)
		}
		b.ReportMetric(up.Seconds()/float64(b.N), "start-s/op")
		b.ReportMetric(down.Seconds()/float64(b.N), "teardown-s/op")
	})
}
