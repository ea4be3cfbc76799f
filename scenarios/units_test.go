package scenario_test

import (
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/scenarios"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want scenario.Size
		err  string // part of the error; "" for none
	}{
		{"0", 0, ""},
		{"1", 1, ""},
		{"4096", 4096, ""},
		{" 7 ", 7, ""},
		{"512B", 512, ""},
		{"4KiB", 4 << 10, ""},
		{"4 KiB", 4 << 10, ""},
		{"4kib", 4 << 10, ""},
		{"5MiB", 5 << 20, ""},
		{"12MiB", 12 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"10MB", 10_000_000, ""},
		{"1kb", 1000, ""},
		{"1.5KiB", 1536, ""},
		{"0.5KB", 500, ""},
		{"0.25MiB", 256 << 10, ""},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"9000000TiB", 0, "too large"},
		{"", 0, "malformed size"},
		{"KiB", 0, "malformed size"},
		{"-1", 0, "negative size"},
		{"-1KiB", 0, "negative size"},
		{"1.1B", 0, "not a whole number of bytes"},
		{"0.3", 0, "not a whole number of bytes"},
		{"1.KiB", 0, "malformed size"},
		{".5KiB", 0, "malformed size"},
		{"4KB2", 0, "malformed size"},
		{"1e3", 0, "malformed size"},
		{"0x10", 0, "malformed size"},
		{"4K", 0, `unknown unit "K"`},
		{"4 PiB", 0, `unknown unit "PiB"`},
		{"4 KiB/s", 0, "malformed size"},
	} {
		got, err := scenario.ParseSize(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSize(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.err)
		}
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   scenario.Size
		want string
	}{
		{0, "0B"}, {1, "1B"}, {1000, "1000B"}, {1024, "1KiB"}, {1536, "1536B"},
		{5 * scenario.MiB, "5MiB"}, {1025 * scenario.KiB, "1025KiB"}, {3 * scenario.GiB, "3GiB"}, {2 * scenario.TiB, "2TiB"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
		back, err := scenario.ParseSize(tc.want)
		if err != nil || back != tc.in {
			t.Errorf("ParseSize(%q) = %d, %v: no round trip", tc.want, back, err)
		}
		text, _ := tc.in.MarshalText()
		var u scenario.Size
		if err := u.UnmarshalText(text); err != nil || u != tc.in {
			t.Errorf("text round trip of %d: %d, %v", int64(tc.in), u, err)
		}
	}
	var u scenario.Size
	if err := u.UnmarshalText([]byte("lots")); err == nil {
		t.Error("UnmarshalText(lots): no error")
	}
}

// TestSizesInFiles: sizes as numbers and strings in a file.
func TestSizesInFiles(t *testing.T) {
	s := parse(t, minimal+`  sizes:
    - {size: 100}
    - {size: "2KiB"}
    - {size: 1 MiB}
    - {min: 0, max: 1.5MiB}
wan: {bandwidth: 10MB}
`)
	var got []scenario.Size
	for _, c := range s.Workload.Sizes {
		got = append(got, c.Size, c.Max)
	}
	want := []scenario.Size{100, 0, 2048, 0, 1 << 20, 0, 0, 3 << 19}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sizes %v, want %v", got, want)
		}
	}
	if s.WAN.Bandwidth != 10_000_000 {
		t.Errorf("bandwidth %d", s.WAN.Bandwidth)
	}
	if !s.Workload.Sizes[3].IsRange() || s.Workload.Sizes[0].IsRange() || s.Workload.Sizes[3].String() != "0B-1536KiB×1" {
		t.Errorf("classes %v", s.Workload.Sizes)
	}
}

// TestDurationsInFiles: durations are Go duration strings; 0 needs no unit.
func TestDurationsInFiles(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"0s", 0, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"1.5s", 1500 * time.Millisecond, ""},
		{"1h30m", 90 * time.Minute, ""},
		{`"15m"`, 15 * time.Minute, ""},
		{"1us", time.Microsecond, ""},
		{"20", 0, "(a unit is required)"},
		{"1.5", 0, "(a unit is required)"},
		{"2d", 0, "(units: ns, us, ms, s, m, h)"},
		{"1 s", 0, "malformed duration"},
		{"s", 0, "malformed duration"},
		{"true", 0, `malformed duration "true"`},
		{"{a: 1}", 0, "want a duration such as \"15s\", got a mapping"},
		{"99999999h", 0, "malformed duration"},
		{"-5s", 0, "negative duration -5s"},
	} {
		s, err := scenario.Parse("t.yaml", []byte(minimal+"checks:\n  observe: "+tc.in+"\n"))
		switch {
		case tc.err == "" && (err != nil || s.Checks.Observe != tc.want):
			t.Errorf("observe: %s: %v, want %v", tc.in, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("observe: %s: %v; want an error containing %q", tc.in, err, tc.err)
		case tc.err != "" && !strings.HasPrefix(err.Error(), "t.yaml:6:12: checks.observe: "):
			t.Errorf("observe: %s: error %v at the wrong place", tc.in, err)
		}
	}
}
