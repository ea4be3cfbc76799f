package convergence_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

// BenchmarkLagAccuracy measures b.N writes across a 60 ms WAN and reports
// how far the measured lags are from the engine's ground truth.
func BenchmarkLagAccuracy(b *testing.B) {
	a := measureAccuracy(b, 60*time.Millisecond, b.N)
	b.ReportMetric(a.mean*1000, "mean-abs-error-ms")
	b.ReportMetric(a.worstRel, "worst-relative-error")
	b.ReportMetric(a.res.Overall.MeanResolutionSeconds*1000, "mean-resolution-ms")
}

// BenchmarkObserve is the cost of taking one acknowledged write: what
// every completion pays on the workload's goroutine.
func BenchmarkObserve(b *testing.B) {
	tr, err := convergence.New(convergence.Config{Sites: []string{"a", "b"},
		Probes: map[string]client.Client{"a": newFake("a"), "b": newFake("b")},
		Clock:  func() history.Time { return history.Time(time.Now().UnixNano()) }})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			tr.Observe(history.Op{ID: fmt.Sprint("op", i), Site: "a", Kind: history.Overwrite, Bucket: "b",
				Key: keys[i%int64(len(keys))], Size: 4096, Invoke: history.Time(i), Complete: history.Time(i + 1),
				Outcome: history.OK})
		}
	})
	b.StopTimer()
	if ops, _ := tr.Pending(); ops != int(n.Load()) {
		b.Fatalf("%d pending of %d", ops, n.Load())
	}
}
