package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

const upperHex = "0123456789ABCDEF"

// isUnreserved reports whether c is left as is by AWS URI encoding (RFC 3986
// unreserved characters).
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func appendPctByte(b []byte, c byte) []byte {
	return append(b, '%', upperHex[c>>4], upperHex[c&15])
}

// appendCanonicalPath appends the canonical URI for the escaped (wire) path p.
// S3 signs the path as the client encoded it, without double encoding and
// without dot-segment normalisation, so only the spelling of each byte is
// normalised: unreserved characters appear literally (even if sent as %7E),
// everything else as %XX with upper-case hex. An escaped slash (%2F) stays
// escaped because it was not a segment separator on the wire.
func appendCanonicalPath(b []byte, p string) []byte {
	if p == "" {
		return append(b, '/')
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/' || isUnreserved(c):
			b = append(b, c)
		case c == '%' && i+2 < len(p):
			hi, ok1 := unhex(p[i+1])
			lo, ok2 := unhex(p[i+2])
			if !ok1 || !ok2 {
				b = appendPctByte(b, c)
				continue
			}
			d := hi<<4 | lo
			if isUnreserved(d) {
				b = append(b, d)
			} else {
				b = appendPctByte(b, d)
			}
			i += 2
		default:
			b = appendPctByte(b, c)
		}
	}
	return b
}

// appendURIEncode appends s encoded per AWS rules: unreserved characters as
// is, every other byte (including '/' and space) as %XX.
func appendURIEncode(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; isUnreserved(c) {
			b = append(b, c)
		} else {
			b = appendPctByte(b, c)
		}
	}
	return b
}

// queryParam is one decoded name=value pair of the raw query.
type queryParam struct {
	key, value string
}

// parseQuery splits a raw query on '&' only (';' is an ordinary character to
// S3) and form-decodes each side, so '+' means space as it does to S3. A part
// with a broken escape is kept verbatim rather than rejected; the signature
// then decides.
func parseQuery(raw string) []queryParam {
	if raw == "" {
		return nil
	}
	params := make([]queryParam, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		params = append(params, queryParam{key: queryUnescape(k), value: queryUnescape(val)})
	}
	return params
}

func queryUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// appendCanonicalQuery appends the canonical query string: parameters encoded
// per AWS rules, sorted by encoded name and then by encoded value. skip names
// a parameter to leave out (X-Amz-Signature of a presigned URL).
func appendCanonicalQuery(b []byte, params []queryParam, skip string) []byte {
	if len(params) == 0 {
		return b
	}
	enc := make([]queryParam, 0, len(params))
	var tmp []byte
	for _, p := range params {
		if skip != "" && p.key == skip {
			continue
		}
		tmp = appendURIEncode(tmp[:0], p.key)
		k := string(tmp)
		tmp = appendURIEncode(tmp[:0], p.value)
		enc = append(enc, queryParam{key: k, value: string(tmp)})
	}
	slices.SortFunc(enc, func(x, y queryParam) int {
		if c := strings.Compare(x.key, y.key); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	})
	for i, p := range enc {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.key...)
		b = append(b, '=')
		b = append(b, p.value...)
	}
	return b
}

// headerValues returns the values of the (lower-case) signed header name.
// Go's server moves Host, Content-Length and Transfer-Encoding out of
// r.Header, so those come from the request fields instead. lower is a
// lower-cased index of r.Header, built on first need only.
func headerValues(r *http.Request, name string, lower *map[string][]string) []string {
	switch name {
	case "host":
		if r.Host != "" {
			return []string{r.Host}
		}
		if r.URL != nil {
			return []string{r.URL.Host}
		}
		return nil
	case "content-length":
		if vs := r.Header["Content-Length"]; len(vs) > 0 {
			return vs
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		if vs := r.Header["Transfer-Encoding"]; len(vs) > 0 {
			return vs
		}
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
		return nil
	}
	if vs, ok := r.Header[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return vs
	}
	// Names that are not valid tokens are stored uncanonicalised. An index
	// rather than a scan per name keeps hostile requests (thousands of
	// headers and signed names) linear.
	if *lower == nil {
		*lower = make(map[string][]string, len(r.Header))
		for k, vs := range r.Header {
			(*lower)[strings.ToLower(k)] = vs
		}
	}
	return (*lower)[name]
}

// Header value trimming modes. AWS says "trim and collapse sequential spaces";
// SDKs disagree on what a space is: minio-go and botocore collapse any Unicode
// white space, aws-sdk-go-v2 only ' '. The first mode is tried first, the
// second only when a value holds other white space and the first failed.
const (
	trimUnicode = iota
	trimSpaceOnly
)

// appendHeaderValue appends v trimmed and collapsed per mode and reports
// whether v contains white space other than ' ' (so the modes differ).
func appendHeaderValue(b []byte, v string, mode int) ([]byte, bool) {
	simple := len(v) == 0 || (v[0] != ' ' && v[len(v)-1] != ' ')
	if simple {
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c >= utf8.RuneSelf || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
				(c == ' ' && i+1 < len(v) && v[i+1] == ' ') {
				simple = false
				break
			}
		}
	}
	if simple {
		return append(b, v...), false
	}
	odd := strings.ContainsFunc(v, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) })
	if mode == trimUnicode || !odd {
		for i, f := range strings.Fields(v) {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, f...)
		}
		return b, odd
	}
	v = strings.Trim(v, " ")
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return b, odd
}

// appendCanonicalRequest builds the canonical request; odd reports that a
// header value would canonicalise differently under the other trim mode.
func appendCanonicalRequest(b []byte, r *http.Request, params []queryParam, skipParam string,
	signedHeaders []string, signedHeadersRaw, payloadHash string, mode int) (_ []byte, odd bool) {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalPath(b, r.URL.EscapedPath())
	b = append(b, '\n')
	b = appendCanonicalQuery(b, params, skipParam)
	b = append(b, '\n')
	var lower map[string][]string
	for _, name := range signedHeaders {
		b = append(b, name...)
		b = append(b, ':')
		for i, v := range headerValues(r, strings.ToLower(name), &lower) {
			if i > 0 {
				b = append(b, ',')
			}
			var o bool
			b, o = appendHeaderValue(b, v, mode)
			odd = odd || o
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, signedHeadersRaw...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b, odd
}

// keyCacheKey identifies a derived signing key.
type keyCacheKey struct {
	secret, date, region, service string
}

// keyCache memoises signing keys: deriving one costs four HMACs, and a client
// reuses the same key for a whole day. It is shared by all Verifiers and
// simply cleared when it grows past keyCacheMax (new day, many keys).
var (
	keyCache    sync.Map // keyCacheKey -> []byte
	keyCacheLen atomic.Int64
)

const keyCacheMax = 4096

func signingKey(secret, date, region, service string) []byte {
	k := keyCacheKey{secret, date, region, service}
	if v, ok := keyCache.Load(k); ok {
		return v.([]byte)
	}
	key := hmacSum([]byte("AWS4"+secret), date)
	key = hmacSum(key, region)
	key = hmacSum(key, service)
	key = hmacSum(key, "aws4_request")
	if keyCacheLen.Add(1) > keyCacheMax {
		keyCache.Clear()
		keyCacheLen.Store(1)
	}
	keyCache.Store(k, key)
	return key
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
