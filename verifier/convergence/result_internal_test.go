package convergence

import (
	"math"
	"testing"
	"time"

	"github.com/replcheck/replcheck/verifier/history"
)

func TestFit(t *testing.T) {
	// lag = 0.1 s + size / 1 MB/s
	sizes := []float64{1e6, 2e6, 4e6, 4e6}
	lags := []float64{1.1, 2.1, 4.1, 4.1}
	f := fit(sizes, lags, 900)
	if !f.OK || f.Points != 4 || f.DistinctSizes != 3 || math.Abs(f.BandwidthBytesPerSecond-1e6) > 1 ||
		math.Abs(f.InterceptSeconds-0.1) > 1e-9 || math.Abs(f.SLOSizeBytes-899.9e6) > 1 || math.Abs(f.R2-1) > 1e-9 {
		t.Fatalf("%+v", f)
	}
	if f := fit([]float64{1, 2}, []float64{0.5, 0.4}, 900); f.OK || f.Reason == "" {
		t.Fatalf("a falling lag fitted: %+v", f)
	}
	if f := fit([]float64{5, 5}, []float64{0.5, 0.4}, 900); f.OK || f.Reason == "" || f.DistinctSizes != 1 {
		t.Fatalf("one size fitted: %+v", f)
	}
	if f := fit([]float64{1e6, 2e6}, []float64{1000, 1001}, 900); !f.OK || f.SLOSizeBytes != 0 {
		t.Fatalf("an intercept over the SLO: %+v", f)
	}
}

func TestRank(t *testing.T) {
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	for q, want := range map[float64]float64{0.5: 500, 0.9: 900, 0.99: 990, 0.999: 999, 1: 1000} {
		if got := NearestRank(xs, q); got != want {
			t.Errorf("rank %v = %v, want %v", q, got, want)
		}
	}
	if NearestRank([]float64{7}, 0.999) != 7 {
		t.Error("one sample")
	}
}

func TestSeriesStaysBounded(t *testing.T) {
	var s series
	step := history.Time(sampleEvery)
	for i := range 20000 {
		s.add(history.Time(i)*step, i%7, int64(i), false)
	}
	s.add(history.Time(20000)*step, 0, 0, true)
	if len(s.pts) > maxSamples || len(s.pts) < maxSamples/4 {
		t.Fatalf("%d points", len(s.pts))
	}
	if s.pts[0].T != 0 || s.pts[len(s.pts)-1] != (Sample{T: 20000 * step}) {
		t.Fatalf("ends %+v … %+v", s.pts[0], s.pts[len(s.pts)-1])
	}
	for i := 1; i < len(s.pts); i++ {
		if s.pts[i].T <= s.pts[i-1].T {
			t.Fatalf("out of order at %d", i)
		}
	}
	// Unchanged values are not repeated, except now and then.
	var q series
	for i := range 1000 {
		q.add(history.Time(i)*step, 3, 3, false)
	}
	if want := int(999*step/keepAlive) + 1; len(q.pts) != want {
		t.Fatalf("%d points for a flat line, want %d (one per %v)", len(q.pts), want, time.Duration(keepAlive))
	}
}
