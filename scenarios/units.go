package scenario

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"
)

// Size is a number of bytes. In a file it is a plain number of bytes or a
// string with a unit: "4KiB", "5MiB", "1.5GiB", "10MB", "512B".
type Size int64

// Size units. Binary (KiB, 1024) and decimal (KB, 1000) units are both
// accepted, case-insensitively.
const (
	B   Size = 1
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

// sizeUnitNames lists the units for error messages.
const sizeUnitNames = "B, KiB, MiB, GiB, TiB, KB, MB, GB, TB"

var sizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$`)

// ParseSize parses a size: a whole number of bytes, or a number (which may
// have a fraction) and a unit, with or without a space between. The result
// must be a whole number of bytes that fits an int64; sizes are never
// negative.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("negative size %q", s)
	}
	m := sizeRE.FindStringSubmatch(t)
	if m == nil {
		return 0, fmt.Errorf("malformed size %q: want bytes or a number with a unit (%s), e.g. \"4KiB\"", s, sizeUnitNames)
	}
	mult, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("malformed size %q: unknown unit %q (known: %s)", s, m[2], sizeUnitNames)
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("malformed size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(r.Num().Int64()), nil
}

// String is the size in the largest binary unit that divides it exactly:
// "4KiB", "12MiB"; in bytes otherwise: "1000B", "0B".
func (s Size) String() string {
	for _, u := range []struct {
		n    Size
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if s != 0 && s%u.n == 0 {
			return fmt.Sprintf("%d%s", s/u.n, u.name)
		}
	}
	return fmt.Sprintf("%dB", int64(s))
}

// MarshalText is String.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText is ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// parseDuration parses a Go duration string ("250ms", "15s", "1h30m"). A
// bare number other than 0 is an error: it has no unit.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err == nil {
		return d, nil
	}
	msg := fmt.Sprintf("malformed duration %q: want a Go duration such as \"250ms\", \"15s\", \"15m\" or \"1h30m\"", s)
	if strings.Contains(err.Error(), "missing unit") {
		msg += " (a unit is required)"
	} else if strings.Contains(err.Error(), "unknown unit") {
		msg += " (units: ns, us, ms, s, m, h)"
	}
	return 0, errors.New(msg)
}

// addDurations is a+b, saturating instead of overflowing.
func addDurations(a, b time.Duration) time.Duration {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
