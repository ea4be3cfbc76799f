package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	in := `goos: linux
BenchmarkSmall/put/replcheck-2   1000   250000 ns/op   4000 ops/s   100 B/op
BenchmarkSmall/put/gofakes3-2    1000   500000 ns/op   2000 ops/s   100 B/op
BenchmarkLarge/get/replcheck-2     10   1000000 ns/op   600.00 MB/s
BenchmarkLarge/get/gofakes3-2      10   2000000 ns/op   300.00 MB/s
BenchmarkAlone-2                  100   10 ns/op
`
	var out bytes.Buffer
	if err := report(strings.NewReader(in), &out, "replcheck"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"Small/put", "gofakes3", "2.00x"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	// Both units of the put benchmark favour replcheck by 2x; B/op is left out.
	if strings.Count(got, "2.00x") != 4 || strings.Contains(got, "B/op") {
		t.Errorf("unexpected ratios:\n%s", got)
	}
	if !strings.Contains(got, "Alone") {
		t.Errorf("benchmark without a peer missing:\n%s", got)
	}
}
