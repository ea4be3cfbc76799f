package swiftapi

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// maxRanges is the most byte ranges served as such; more and the whole
// object is sent (swob's MAX_RANGES), against range amplification.
const maxRanges = 50

// byteRange is [start, end) of an object.
type byteRange struct{ start, end int64 }

// parseRange resolves a Range header against an object of size bytes as
// swob does. It returns nil when there is no usable header (serve the whole
// object: absent, malformed or too many ranges) and an empty non-nil slice
// when nothing is satisfiable (416).
func parseRange(header string, size int64) []byteRange {
	units, spec, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(units), "bytes") {
		return nil
	}
	type raw struct{ start, end int64 } // -1 = absent
	var raws []raw
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		a, b, ok := strings.Cut(part, "-")
		if !ok {
			return nil
		}
		r := raw{-1, -1}
		if a != "" {
			if r.start, ok = parseUint(a); !ok {
				return nil
			}
		}
		if b != "" {
			if r.end, ok = parseUint(b); !ok {
				return nil
			}
		}
		if r.start < 0 && r.end < 0 || r.start >= 0 && r.end >= 0 && r.end < r.start {
			return nil // "-" alone or a backwards range makes the header invalid
		}
		raws = append(raws, r)
	}
	out := []byteRange{}
	for _, r := range raws {
		switch {
		case r.start < 0: // suffix: the last r.end bytes
			if r.end == 0 {
				continue
			}
			out = append(out, byteRange{max(size-r.end, 0), size})
		case r.start >= size:
			continue
		case r.end < 0:
			out = append(out, byteRange{r.start, size})
		default:
			out = append(out, byteRange{r.start, min(r.end, size-1) + 1})
		}
	}
	if len(out) > maxRanges {
		return nil
	}
	if len(out) > 0 && size == 0 {
		return nil // "bytes=-N" of an empty object: swob sends it whole (200)
	}
	return out
}

// parseUint parses decimal digits, saturating at MaxInt64 (Python's ints
// have no overflow, so a huge end simply means "to the end").
func parseUint(s string) (int64, bool) {
	if !isDigits(s) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := int64(s[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return math.MaxInt64, true
		}
		n = n*10 + d
	}
	return n, true
}

// etagMatches reports whether a header's entity-tag list (If-Match,
// If-None-Match) names etag, quotes and weakness ignored; "*" names any.
func etagMatches(list, etag string) bool {
	etag = strings.Trim(etag, `"`)
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// checkConditions evaluates a GET or HEAD's preconditions (RFC 9110 order)
// against an object: it returns 0 to serve it, 304 or 412.
func checkConditions(r *http.Request, etag string, modified time.Time) int {
	mod := lastModified(modified)
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagMatches(im, etag) {
			return http.StatusPreconditionFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagMatches(inm, etag) {
			return http.StatusNotModified
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// rangeApplies evaluates If-Range: the Range header counts only when the
// validator still names the object.
func rangeApplies(r *http.Request, etag string, modified time.Time) bool {
	ir := strings.TrimSpace(r.Header.Get("If-Range"))
	if ir == "" {
		return true
	}
	if t, err := http.ParseTime(ir); err == nil {
		return lastModified(modified).Equal(t)
	}
	return strings.Trim(ir, `"`) == strings.Trim(etag, `"`)
}
