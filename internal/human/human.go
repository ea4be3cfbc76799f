// Package human formats measurements for people: the CLI's summaries,
// the probe's lines and the reports share one way of printing a lag.
package human

import "time"

// Seconds formats a duration given in seconds: 780µs, 2.61ms, 1.234s,
// 15m0s; "-" for NaN.
func Seconds(s float64) string {
	if s != s { // NaN
		return "-"
	}
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < 0:
		return "-" + Seconds(-s)
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
