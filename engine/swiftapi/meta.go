package swiftapi

import (
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Metadata header prefixes, canonical.
const (
	objectMetaPrefix          = "X-Object-Meta-"
	removeObjectMetaPrefix    = "X-Remove-Object-Meta-"
	containerMetaPrefix       = "X-Container-Meta-"
	removeContainerMetaPrefix = "X-Remove-Container-Meta-"
)

// keptHeaders are the object headers Swift stores and returns besides
// metadata that S3 has as well, so both APIs show them.
var keptHeaders = []string{"Content-Encoding", "Content-Disposition", "Cache-Control", "Content-Language", "Expires"}

// metaUpdate is the metadata a request sets and removes. Names are lower
// case without prefix, as the store keeps them.
type metaUpdate struct {
	set    map[string]string
	remove []string
}

// parseMeta collects prefix metadata from hd and checks it as Swift's
// check_metadata does. An empty value, or a removePrefix header, removes
// the name. It returns a message for a 400 when the metadata is refused.
func parseMeta(hd http.Header, prefix, removePrefix string) (metaUpdate, string) {
	u := metaUpdate{set: map[string]string{}}
	count, size := 0, 0
	// Sorted, so that which problem is reported does not vary between runs.
	names := make([]string, 0, len(hd))
	for k := range hd {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		value := strings.Join(hd[k], ",")
		remove := false
		var name string
		switch {
		case hasPrefixFold(k, prefix):
			name = k[len(prefix):]
		case hasPrefixFold(k, removePrefix):
			name, remove = k[len(removePrefix):], true
		default:
			continue
		}
		if len(value) > maxHeaderSize {
			return u, fmt.Sprintf("Header value too long: %s", k)
		}
		if name == "" {
			return u, "Metadata name cannot be empty"
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return u, "Metadata must be valid UTF-8"
		}
		name = strings.ToLower(name)
		if remove || value == "" {
			u.remove = append(u.remove, name)
			delete(u.set, name)
			continue
		}
		count++
		size += len(name) + len(value)
		switch {
		case len(name) > maxMetaNameLength:
			return u, fmt.Sprintf("Metadata name too long: %s%s", prefix, name)
		case len(value) > maxMetaValueLength:
			return u, fmt.Sprintf("Metadata value longer than %d: %s%s", maxMetaValueLength, prefix, name)
		case count > maxMetaCount:
			return u, fmt.Sprintf("Too many metadata items; max %d", maxMetaCount)
		case size > maxMetaOverallSize:
			return u, fmt.Sprintf("Total metadata too large; max %d", maxMetaOverallSize)
		}
		u.set[name] = value
	}
	return u, ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// setMetaHeaders presents store metadata (lower-case names) the Swift way:
// "my-key" becomes X-Object-Meta-My-Key.
func setMetaHeaders(hd http.Header, prefix string, meta map[string]string) {
	for k, v := range meta {
		name := prefix + k
		if !validToken(name) {
			continue // the S3 side stored a name no HTTP header can carry
		}
		hd[textproto.CanonicalMIMEHeaderKey(name)] = []string{v}
	}
}

// validToken reports whether s is an HTTP token (RFC 9110), i.e. a valid header name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// xTimestamp formats t as Swift's X-Timestamp: seconds with five decimals.
func xTimestamp(t time.Time) string {
	return fmt.Sprintf("%010d.%05d", t.Unix(), t.Nanosecond()/10000)
}

// lastModified is t rounded up to the second, as Swift's Last-Modified
// (the ceiling of X-Timestamp).
func lastModified(t time.Time) time.Time {
	s := t.Truncate(time.Second)
	if t.Nanosecond()/10000 > 0 {
		s = s.Add(time.Second)
	}
	return s.UTC()
}

func httpDate(t time.Time) string { return lastModified(t).Format(http.TimeFormat) }

// isoTime formats t as Swift listings do: UTC, microseconds, no zone.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }
