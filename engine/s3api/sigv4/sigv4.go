// Package sigv4 verifies AWS Signature Version 4 on the server side for the
// reference S3 front end: Authorization-header and presigned (query) requests,
// plain signed payloads and aws-chunked streaming uploads.
//
// It follows the behaviour of real S3 closely (error codes, canonicalisation)
// so that clients tested against the reference server behave as against AWS.
//
// Callers turn an *Error into an S3 error response with status HTTPStatus and
// <Code>/<Message> from Code and Message; S3 also returns <StringToSign> and
// <CanonicalRequest> on SignatureDoesNotMatch, which Error carries. Content-MD5
// is not checked here: it covers the (decoded) payload and is the handler's
// job, as are the x-amz-checksum-* values found in Result.Trailer.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Payload hash values of x-amz-content-sha256 (or the X-Amz-Content-Sha256
// query parameter of a presigned URL) that are not a hex SHA-256.
const (
	UnsignedPayload                 = "UNSIGNED-PAYLOAD"
	StreamingSignedPayload          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedPayloadTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

const (
	algorithm     = "AWS4-HMAC-SHA256"
	iso8601Format = "20060102T150405Z"
	dateFormat    = "20060102"
	scopeTerminal = "aws4_request"
	serviceS3     = "s3"
	emptySHA256   = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// MaxPresignExpires is the largest X-Amz-Expires S3 accepts: one week.
	MaxPresignExpires = 604800
	// DefaultMaxSkew is the clock skew S3 tolerates.
	DefaultMaxSkew = 15 * time.Minute
)

// CredentialLookup returns the secret for an access key.
type CredentialLookup func(accessKey string) (secret string, ok bool)

// Verifier verifies SigV4-signed requests. The zero value with Lookup set is
// ready to use; a Verifier is safe for concurrent use.
type Verifier struct {
	Lookup  CredentialLookup
	Now     func() time.Time // nil = time.Now
	MaxSkew time.Duration    // 0 = 15 minutes, as S3
	// Region, if set, is the region the site serves; requests scoped to
	// another region still verify (clients often sign with us-east-1 before
	// they know the region): the signature is computed with whatever region
	// the scope names. Result.Region tells the caller which one that was.
	Region string
	// The service in the credential scope must be "s3".
}

// Result is the outcome of a verified request.
type Result struct {
	AccessKey string
	// Anonymous is set when the request carries no Authorization header and
	// no X-Amz-Algorithm query: the caller decides (the site refuses
	// anonymous access). Body is then r.Body unchanged.
	Anonymous bool
	Presigned bool
	// Region is the region named in the credential scope.
	Region string
	// Streaming is set for aws-chunked uploads: the stored object's
	// Content-Encoding must drop the "aws-chunked" token, and its length is
	// DecodedLength, not r.ContentLength.
	Streaming bool
	// Body is what the handler must read instead of r.Body: for aws-chunked
	// streaming uploads (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
	// STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)
	// it decodes the chunk framing, verifies each chunk signature (signed
	// variants) and returns the payload only; the decoded length must equal
	// x-amz-decoded-content-length when that header is present. For a plain
	// signed payload (hex SHA-256 in x-amz-content-sha256) it hashes as it
	// reads and returns *Error XAmzContentSHA256Mismatch at EOF if the hash
	// differs. UNSIGNED-PAYLOAD: passthrough.
	//
	// Errors found while reading the body come out of Body.Read as *Error
	// values; bytes are handed out before the check that covers them (end of
	// chunk, end of body), so a handler must discard everything it read
	// unless Body returned io.EOF. A body that ends early yields
	// IncompleteBody; other I/O errors of r.Body pass through unchanged.
	// Body is never nil.
	Body io.ReadCloser
	// DecodedLength is the payload length: x-amz-decoded-content-length for
	// streaming uploads, r.ContentLength otherwise; -1 when unknown.
	DecodedLength int64
	// Trailer holds the trailing headers of an aws-chunked body
	// (x-amz-checksum-*), keyed canonically. It is filled in by the time
	// Body returns io.EOF; nil before, and for requests without trailers.
	// Signed-trailer requests have them verified; x-amz-trailer-signature
	// itself is not included.
	Trailer http.Header
}

// authKind selects the error code family: S3 reports header problems as
// AuthorizationHeaderMalformed and presign problems as
// AuthorizationQueryParametersError.
type authKind int

const (
	headerAuth authKind = iota
	queryAuth
)

func (k authKind) malformed(msg string) *Error {
	if k == queryAuth {
		return newError("AuthorizationQueryParametersError", http.StatusBadRequest, msg)
	}
	return newError("AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header is malformed; "+msg)
}

// authInfo is what the Authorization header or the presign query says.
type authInfo struct {
	kind             authKind
	accessKey        string
	scopeDate        string
	region           string
	service          string
	signedHeaders    []string
	signedHeadersRaw string
	signature        string
	amzDate          string // as signed, ISO 8601 basic
	t                time.Time
	payloadHash      string
	expires          int64
}

func (a *authInfo) scope() string {
	return a.scopeDate + "/" + a.region + "/" + a.service + "/" + scopeTerminal
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Verify checks the request's SigV4 signature (Authorization header, or
// presigned query X-Amz-Algorithm/X-Amz-Credential/X-Amz-Date/X-Amz-Expires/
// X-Amz-SignedHeaders/X-Amz-Signature). It does not consume r.Body except
// through Result.Body. Every error it returns is an *Error.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	res, err := v.verify(r)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (v *Verifier) verify(r *http.Request) (*Result, *Error) {
	authz, hasAuthz := r.Header["Authorization"]
	params := parseQuery(r.URL.RawQuery)
	var hasAlgo, v2Query bool
	for _, p := range params {
		switch p.key {
		case "X-Amz-Algorithm":
			hasAlgo = true
		case "AWSAccessKeyId", "Signature":
			v2Query = true
		}
	}
	var a *authInfo
	var e *Error
	switch {
	case hasAuthz && (hasAlgo || v2Query):
		return nil, newError("InvalidArgument", http.StatusBadRequest,
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case hasAuthz:
		if len(authz) != 1 {
			return nil, headerAuth.malformed("more than one Authorization header")
		}
		a, e = parseHeaderAuth(r, authz[0])
	case hasAlgo:
		a, e = parseQueryAuth(params)
	case v2Query:
		return nil, newError("InvalidRequest", http.StatusBadRequest, "query-string "+msgSigV2)
	default:
		return &Result{Anonymous: true, Body: bodyOf(r), DecodedLength: r.ContentLength}, nil
	}
	if e != nil {
		return nil, e
	}
	if e := checkHeadersSigned(r, a.signedHeaders); e != nil {
		return nil, e
	}

	var secret string
	ok := false
	if v.Lookup != nil {
		secret, ok = v.Lookup(a.accessKey)
	}
	if !ok {
		return nil, newError("InvalidAccessKeyId", http.StatusForbidden,
			"The AWS Access Key Id you provided does not exist in our records.")
	}

	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	t := now()
	if a.kind == queryAuth {
		if a.t.Sub(t) > skew {
			return nil, newError("AccessDenied", http.StatusForbidden, "Request is not valid yet")
		}
		if t.Sub(a.t) > time.Duration(a.expires)*time.Second {
			return nil, newError("AccessDenied", http.StatusForbidden, "Request has expired")
		}
	} else if d := t.Sub(a.t); d > skew || d < -skew {
		return nil, newError("RequestTimeTooSkewed", http.StatusForbidden,
			"The difference between the request time and the current time is too large.")
	}

	key := signingKey(secret, a.scopeDate, a.region, a.service)
	if e := a.checkSignature(r, params, key); e != nil {
		return nil, e
	}

	res := &Result{AccessKey: a.accessKey, Presigned: a.kind == queryAuth, Region: a.region, DecodedLength: r.ContentLength}
	body := bodyOf(r)
	switch a.payloadHash {
	case UnsignedPayload:
		res.Body = body
	case StreamingSignedPayload, StreamingSignedPayloadTrailer, StreamingUnsignedPayloadTrailer:
		res.Streaming = true
		res.DecodedLength = -1
		if vs := r.Header["X-Amz-Decoded-Content-Length"]; len(vs) > 0 {
			n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64)
			if err != nil || n < 0 || len(vs) > 1 {
				return nil, newError("InvalidArgument", http.StatusBadRequest,
					"x-amz-decoded-content-length must be a single non-negative integer")
			}
			res.DecodedLength = n
		}
		res.Body = newChunkedReader(body, res, a, key, r.Header.Get("X-Amz-Trailer") != "")
	default:
		var want [sha256.Size]byte
		hex.Decode(want[:], []byte(a.payloadHash)) // validated by checkPayloadHash
		res.Body = &hashingReader{src: body, h: sha256.New(), want: want}
	}
	return res, nil
}

func bodyOf(r *http.Request) io.ReadCloser {
	if r.Body == nil {
		return http.NoBody
	}
	return r.Body
}

// checkSignature computes the request signature and compares it with the
// one provided.
func (a *authInfo) checkSignature(r *http.Request, params []queryParam, key []byte) *Error {
	skip := ""
	if a.kind == queryAuth {
		skip = "X-Amz-Signature"
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 { // do not pin the buffer of an outsized request
			bufPool.Put(bp)
		}
	}()
	var sig [2 * sha256.Size]byte
	var canon, sts []byte
	for mode := trimUnicode; mode <= trimSpaceOnly; mode++ {
		var odd bool
		canon, odd = appendCanonicalRequest((*bp)[:0], r, params, skip, a.signedHeaders, a.signedHeadersRaw, a.payloadHash, mode)
		sum := sha256.Sum256(canon)
		sts = append(canon, algorithm+"\n"...)
		sts = append(sts, a.amzDate...)
		sts = append(sts, '\n')
		sts = append(sts, a.scopeDate...)
		sts = append(sts, '/')
		sts = append(sts, a.region...)
		sts = append(sts, '/')
		sts = append(sts, a.service...)
		sts = append(sts, "/"+scopeTerminal+"\n"...)
		sts = hex.AppendEncode(sts, sum[:])
		*bp = sts
		canon, sts = sts[:len(canon)], sts[len(canon):]
		m := hmac.New(sha256.New, key)
		m.Write(sts)
		hex.Encode(sig[:], m.Sum(nil))
		if hmac.Equal(sig[:], []byte(a.signature)) {
			return nil
		}
		if !odd {
			break
		}
	}
	e := errSignatureMismatch()
	e.CanonicalRequest = string(canon)
	e.StringToSign = string(sts)
	return e
}

// parseHeaderAuth parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." and the headers it relies on.
func parseHeaderAuth(r *http.Request, h string) (*authInfo, *Error) {
	switch {
	case strings.HasPrefix(h, "AWS "):
		return nil, newError("InvalidRequest", http.StatusBadRequest, msgSigV2)
	case strings.HasPrefix(h, "AWS4-ECDSA-P256-SHA256"):
		return nil, newError("InvalidRequest", http.StatusBadRequest, msgSigV4A)
	case !strings.HasPrefix(h, algorithm) || len(h) > len(algorithm) && h[len(algorithm)] != ' ':
		return nil, newError("InvalidArgument", http.StatusBadRequest, "Unsupported Authorization Type")
	}
	a := &authInfo{kind: headerAuth}
	var cred string
	var haveCred, haveSH, haveSig bool
	for part := range strings.SplitSeq(h[len(algorithm):], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, headerAuth.malformed("the authorization component \"" + trunc(part) + "\" is malformed.")
		}
		var dup bool
		switch k {
		case "Credential":
			cred, dup, haveCred = val, haveCred, true
		case "SignedHeaders":
			a.signedHeadersRaw, dup, haveSH = val, haveSH, true
		case "Signature":
			a.signature, dup, haveSig = val, haveSig, true
		default:
			return nil, headerAuth.malformed("unknown authorization component \"" + trunc(k) + "\".")
		}
		if dup {
			return nil, headerAuth.malformed("the authorization component \"" + k + "\" appears more than once.")
		}
	}
	if !haveCred || !haveSH || !haveSig {
		return nil, headerAuth.malformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	if e := a.parseCredential(cred); e != nil {
		return nil, e
	}
	if e := a.parseSignedHeaders(); e != nil {
		return nil, e
	}
	if a.signature == "" {
		return nil, headerAuth.malformed("the Signature component is empty.")
	}

	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, ok := parseAmzDate(d)
		if !ok {
			return nil, newError("AccessDenied", http.StatusForbidden, msgNoDate)
		}
		a.t, a.amzDate = t, d
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, newError("AccessDenied", http.StatusForbidden, msgNoDate)
		}
		a.t, a.amzDate = t.UTC(), t.UTC().Format(iso8601Format)
	} else {
		return nil, newError("AccessDenied", http.StatusForbidden, msgNoDate)
	}
	if e := a.checkScopeDate(); e != nil {
		return nil, e
	}

	vs := r.Header["X-Amz-Content-Sha256"]
	if len(vs) == 0 {
		return nil, newError("InvalidRequest", http.StatusBadRequest, "Missing required header for this request: x-amz-content-sha256")
	}
	if len(vs) > 1 {
		return nil, newError("InvalidArgument", http.StatusBadRequest, msgBadContentSHA256)
	}
	a.payloadHash = vs[0]
	if e := checkPayloadHash(a.payloadHash); e != nil {
		return nil, e
	}
	return a, nil
}

// parseQueryAuth parses the X-Amz-* parameters of a presigned URL.
func parseQueryAuth(params []queryParam) (*authInfo, *Error) {
	a := &authInfo{kind: queryAuth, payloadHash: UnsignedPayload}
	var alg, cred, date, expires string
	var seen [7]bool
	for _, p := range params {
		var dst *string
		var i int
		switch p.key {
		case "X-Amz-Algorithm":
			dst, i = &alg, 0
		case "X-Amz-Credential":
			dst, i = &cred, 1
		case "X-Amz-Date":
			dst, i = &date, 2
		case "X-Amz-Expires":
			dst, i = &expires, 3
		case "X-Amz-SignedHeaders":
			dst, i = &a.signedHeadersRaw, 4
		case "X-Amz-Signature":
			dst, i = &a.signature, 5
		case "X-Amz-Content-Sha256":
			dst, i = &a.payloadHash, 6
		default:
			continue
		}
		if seen[i] {
			return nil, queryAuth.malformed("the parameter " + p.key + " appears more than once.")
		}
		seen[i] = true
		*dst = p.value
	}
	for _, s := range seen[:6] {
		if !s {
			return nil, queryAuth.malformed(msgPresignParams)
		}
	}
	if alg != algorithm {
		if alg == "AWS4-ECDSA-P256-SHA256" {
			return nil, newError("InvalidRequest", http.StatusBadRequest, msgSigV4A)
		}
		return nil, queryAuth.malformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	if e := a.parseCredential(cred); e != nil {
		return nil, e
	}
	t, ok := parseAmzDate(date)
	if !ok {
		return nil, queryAuth.malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	a.t, a.amzDate = t, date
	n, err := strconv.ParseInt(expires, 10, 64)
	switch {
	case err != nil:
		return nil, queryAuth.malformed("X-Amz-Expires should be a number")
	case n < 0:
		return nil, queryAuth.malformed("X-Amz-Expires must be non-negative")
	case n > MaxPresignExpires:
		return nil, queryAuth.malformed("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	a.expires = n
	if e := a.parseSignedHeaders(); e != nil {
		return nil, e
	}
	if a.signature == "" {
		return nil, queryAuth.malformed("X-Amz-Signature is empty")
	}
	if e := a.checkScopeDate(); e != nil {
		return nil, e
	}
	if e := checkPayloadHash(a.payloadHash); e != nil {
		return nil, e
	}
	return a, nil
}

// parseCredential splits "AKID/yyyymmdd/region/s3/aws4_request". The scope is
// taken from the right so that an access key containing '/' still parses.
func (a *authInfo) parseCredential(cred string) *Error {
	prefix := "the Credential is mal-formed; "
	if a.kind == queryAuth {
		prefix = "Error parsing the X-Amz-Credential parameter; "
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return a.kind.malformed(prefix + "expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	n := len(parts)
	a.accessKey = strings.Join(parts[:n-4], "/")
	a.scopeDate, a.region, a.service = parts[n-4], parts[n-3], parts[n-2]
	switch {
	case a.accessKey == "":
		return a.kind.malformed(prefix + "the access key is empty.")
	case parts[n-1] != scopeTerminal:
		return a.kind.malformed(prefix + "incorrect terminal \"" + trunc(parts[n-1]) + "\". This endpoint uses \"aws4_request\".")
	case a.service != serviceS3:
		return a.kind.malformed(prefix + "incorrect service \"" + trunc(a.service) + "\". This endpoint belongs to \"s3\".")
	case a.region == "":
		return a.kind.malformed(prefix + "the region is empty.")
	}
	if _, err := time.Parse(dateFormat, a.scopeDate); err != nil || len(a.scopeDate) != 8 {
		return a.kind.malformed(prefix + "incorrect date format \"" + trunc(a.scopeDate) + "\". This date in the credential must be in the format \"yyyyMMdd\".")
	}
	return nil
}

// parseSignedHeaders splits the SignedHeaders list. The list is signed as
// given, in the order given; host must be part of it.
func (a *authInfo) parseSignedHeaders() *Error {
	if a.signedHeadersRaw == "" {
		return a.kind.malformed("SignedHeaders is empty; it must include host.")
	}
	a.signedHeaders = strings.Split(a.signedHeadersRaw, ";")
	host := false
	for _, h := range a.signedHeaders {
		if h == "" {
			return a.kind.malformed("SignedHeaders contains an empty header name.")
		}
		host = host || strings.EqualFold(h, "host")
	}
	if !host {
		return a.kind.malformed("SignedHeaders must include host.")
	}
	return nil
}

func (a *authInfo) checkScopeDate() *Error {
	if d := a.t.Format(dateFormat); d != a.scopeDate {
		what := "X-Amz-Date"
		if a.kind == headerAuth {
			what = "the request date"
		}
		return a.kind.malformed("Invalid credential date \"" + a.scopeDate + "\". This date is not the same as " + what + ": \"" + d + "\".")
	}
	return nil
}

// parseAmzDate parses the ISO 8601 basic format strictly: time.Parse alone
// accepts one-digit hours, which would sign a different string.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(iso8601Format) {
		return time.Time{}, false
	}
	t, err := time.Parse(iso8601Format, s)
	if err != nil || t.Format(iso8601Format) != s {
		return time.Time{}, false
	}
	return t, true
}

func checkPayloadHash(h string) *Error {
	switch h {
	case UnsignedPayload, StreamingSignedPayload, StreamingSignedPayloadTrailer, StreamingUnsignedPayloadTrailer:
		return nil
	case "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER":
		return newError("InvalidRequest", http.StatusBadRequest, msgSigV4A)
	}
	if len(h) == 2*sha256.Size {
		if _, err := hex.DecodeString(h); err == nil {
			return nil
		}
	}
	return newError("InvalidArgument", http.StatusBadRequest, msgBadContentSHA256)
}

// checkHeadersSigned enforces S3's rule that every x-amz-* header present
// must be signed; otherwise anyone on the path could add, say, x-amz-acl.
func checkHeadersSigned(r *http.Request, signed []string) *Error {
	var missing []string
	var set map[string]bool // for long lists, so hostile requests stay linear
	for k := range r.Header {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") {
			continue
		}
		found := false
		if len(signed) > 16 {
			if set == nil {
				set = make(map[string]bool, len(signed))
				for _, s := range signed {
					set[strings.ToLower(s)] = true
				}
			}
			found = set[strings.ToLower(k)]
		} else {
			for _, s := range signed {
				if strings.EqualFold(s, k) {
					found = true
					break
				}
			}
		}
		if !found {
			missing = append(missing, strings.ToLower(k))
		}
	}
	if len(missing) > 0 {
		return newError("AccessDenied", http.StatusForbidden,
			"There were headers present in the request which were not signed: "+trunc(strings.Join(missing, ", ")))
	}
	return nil
}

// trunc keeps client-supplied text in error messages short.
func trunc(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}
