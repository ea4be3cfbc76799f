package human

import (
	"math"
	"testing"
)

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0s"}, {0.00078, "780µs"}, {0.0026123, "2.61ms"}, {1.2344, "1.234s"},
		{900, "15m0s"}, {-0.5, "-500ms"}, {math.NaN(), "-"},
	} {
		if got := Seconds(tc.in); got != tc.want {
			t.Errorf("Seconds(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
