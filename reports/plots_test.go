package reports

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/plot"

	"github.com/replcheck/replcheck/internal/human"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

func TestFaultWindows(t *testing.T) {
	at := func(s float64) history.Time { return history.Time(s * float64(time.Second)) }
	got := faultWindows([]Fault{
		{Name: "heal first", Kind: "heal", At: at(0.5)}, // no inject: not a window
		{Name: "latency", Kind: "inject", At: at(0)},
		{Name: "partition", Kind: "inject", At: at(2)},
		{Name: "partition", Kind: "heal", At: at(4)},
		{Name: "partition", Kind: "inject", At: at(6), Error: "toxic: refused"},
		{Name: "crash", Kind: "inject", At: at(7)},
		{Name: "partition", Kind: "heal", At: at(8)},
		{Name: "latency", Kind: "heal", At: at(9)},
	}, 12)
	want := []faultWindow{
		{N: 1, Name: "latency", From: 0, To: 9, Healed: true},
		{N: 2, Name: "partition", From: 2, To: 4, Healed: true},
		{N: 3, Name: "partition", From: 6, To: 8, Healed: true, Error: "toxic: refused"},
		{N: 4, Name: "crash", From: 7, To: 12}, // never healed: to the end
	}
	if !slices.Equal(got, want) {
		t.Errorf("windows\n got %+v\nwant %+v", got, want)
	}
}

func TestThinKeepsTheSlowest(t *testing.T) {
	var ws []*convergence.Write
	for i := range 12000 {
		ws = append(ws, &convergence.Write{Op: fmt.Sprint(i), LagSeconds: float64((i * 7919) % 12000)})
	}
	lag := func(w *convergence.Write) float64 { return w.LagSeconds }
	keep := thin(ws, maxScatter, lag)
	if len(keep) > maxScatter || len(keep) < maxScatter/2 {
		t.Fatalf("kept %d of %d, want at most %d and not far fewer", len(keep), len(ws), maxScatter)
	}
	for _, w := range ws {
		if w.LagSeconds >= 12000-maxScatter/10 && !keep[w] {
			t.Errorf("the write with lag %v, among the slowest, was dropped", w.LagSeconds)
		}
	}
	if small := thin(ws[:10], maxScatter, lag); len(small) != 10 {
		t.Errorf("thinned a small run to %d", len(small))
	}
	if got := spread(5000, maxCurve); len(got) != maxCurve || got[0] != 0 || got[len(got)-1] != 4999 {
		t.Errorf("spread: %d points from %d to %d", len(got), got[0], got[len(got)-1])
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		ticks  func(lo, hi float64) []string
		want   []string
	}{
		{3e-4, 2e3, labels(durationTicks{}.Ticks), []string{"1ms", "10ms", "100ms", "1s", "10s", "1m", "10m"}},
		{4e-4, 4e-2, labels(durationTicks{}.Ticks), []string{"500µs", "1ms", "2ms", "5ms", "10ms", "20ms"}},
		{1e-6, 1e5, labels(durationTicks{}.Ticks), []string{"1µs", "100µs", "10ms", "1s", "1m", "1h", "1d"}},
		{1.2, 1.9, labels(durationTicks{}.Ticks), []string{"1.2s", "1.9s"}},
		{100, 3e11, labels(sizeTicks{}.Ticks), []string{"1 KiB", "1 MiB", "1 GiB"}},
		{3000, 70000, labels(sizeTicks{}.Ticks), []string{"4 KiB", "16 KiB", "64 KiB"}},
		{0, 3300, labels(byteTicks{}.Ticks), []string{"0 B", "1 KiB", "2 KiB", "3 KiB"}},
		{0, 1.1, labels(integerTicks{}.Ticks), []string{"0", "1"}},
	} {
		if got := tc.ticks(tc.lo, tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("[%g, %g]: labels %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}

// labels wraps a ticker to return its labelled ticks' labels.
func labels(f func(lo, hi float64) []plot.Tick) func(lo, hi float64) []string {
	return func(lo, hi float64) []string {
		var out []string
		for _, t := range f(lo, hi) {
			if t.Label != "" {
				out = append(out, t.Label)
			}
		}
		return out
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{human.Seconds(0.000780), "780µs"}, {human.Seconds(0.0026123), "2.61ms"}, {human.Seconds(1.2344), "1.234s"},
		{human.Seconds(900), "15m0s"}, {human.Seconds(0), "0s"}, {human.Seconds(math.NaN()), "-"},
		{fmtBytes(512), "512 B"}, {fmtBytes(1536), "1.5 KiB"}, {fmtBytes(216 << 30), "216 GiB"}, {fmtBytes(1 << 20), "1 MiB"},
		{tickDuration(900), "15m"}, {tickDuration(5e-4), "500µs"}, {tickDuration(3600), "1h"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}
