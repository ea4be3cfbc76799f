package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

const (
	// maxPutSize is the largest single PUT (and part, and copy source) S3 takes.
	maxPutSize = 5 << 30
	// maxUserMeta is S3's limit on user metadata: names and values, in bytes.
	maxUserMeta = 2 << 10
	// defaultContentType is what S3 stores when a PUT names none.
	defaultContentType = "binary/octet-stream"
)

// storedHeaders are the representation headers kept with an object and
// sent back on GET and HEAD.
var storedHeaders = []string{"Content-Encoding", "Content-Disposition", "Cache-Control", "Content-Language", "Expires",
	"X-Amz-Website-Redirect-Location"}

// responseOverrides map GET query parameters to the headers they replace.
var responseOverrides = [][2]string{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

func md5Sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

// contentMD5 returns the Content-MD5 the client declared, nil if none.
func (q *request) contentMD5() ([]byte, error) {
	vs, ok := q.r.Header["Content-Md5"]
	if !ok {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vs[0]))
	if err != nil || len(raw) != md5.Size {
		return nil, newErr(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid: %q.", vs[0])
	}
	return raw, nil
}

// objectMeta collects what a PUT, copy with REPLACE or multipart initiation
// says about the new object besides its data.
func (q *request) objectMeta() (store.ObjectMeta, error) {
	h := q.r.Header
	meta := store.ObjectMeta{ContentType: h.Get("Content-Type")}
	if meta.ContentType == "" {
		meta.ContentType = defaultContentType
	}
	for _, name := range storedHeaders {
		v := h.Get(name)
		if name == "Content-Encoding" {
			v = dropAWSChunked(v)
		}
		if v != "" {
			if meta.Headers == nil {
				meta.Headers = map[string]string{}
			}
			meta.Headers[name] = v
		}
	}
	size := 0
	for name, vs := range h {
		if len(name) <= len("X-Amz-Meta-") || !strings.EqualFold(name[:len("X-Amz-Meta-")], "X-Amz-Meta-") {
			continue
		}
		k := strings.ToLower(name[len("X-Amz-Meta-"):])
		v := strings.Join(vs, ",")
		size += len(k) + len(v)
		if meta.UserMeta == nil {
			meta.UserMeta = map[string]string{}
		}
		meta.UserMeta[k] = v
	}
	if size > maxUserMeta {
		return meta, newErr(http.StatusBadRequest, "MetadataTooLarge",
			"Your metadata headers exceed the maximum allowed metadata size: %d bytes of x-amz-meta-* names and values, the limit is %d.",
			size, maxUserMeta)
	}
	return meta, nil
}

// dropAWSChunked removes the aws-chunked token, which describes the
// transfer of a streaming upload and not the object.
func dropAWSChunked(v string) string {
	if !strings.Contains(strings.ToLower(v), "aws-chunked") {
		return v
	}
	var keep []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, "aws-chunked") {
			keep = append(keep, t)
		}
	}
	return strings.Join(keep, ",")
}

// writeEncryption returns the encryption a write asks for in its headers,
// or else the bucket's default encryption.
func (q *request) writeEncryption(b store.Bucket) (sse.Params, error) {
	p, err := sse.ParseS3Headers(q.r.Header)
	if err != nil {
		return p, err
	}
	if p.Mode == sse.SSEKMS && p.KMSKeyID != "" && !q.h.hasKMSKey(p.KMSKeyID) {
		return p, newErr(http.StatusBadRequest, "KMS.NotFoundException",
			"Invalid keyId %q: the KMS key does not exist in this site's keyring.", p.KMSKeyID)
	}
	if p.Mode == sse.None && b.Encryption != nil {
		p = sse.Params{Mode: b.Encryption.Mode, KMSKeyID: b.Encryption.KMSKeyID}
	}
	return p, nil
}

// checkVersionID refuses version ids no store could have made: S3 answers
// malformed ids with 400 rather than 404. Any id of URL-safe characters
// passes, so that ids of other formats (another site's) still resolve.
func checkVersionID(id string) error {
	ok := len(id) <= 1024
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return newErr(http.StatusBadRequest, "InvalidArgument", "Invalid version id specified: %q.", id)
	}
	return nil
}

// limitReader fails once more than n bytes were read.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errEntityTooLarge()
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return 0, errEntityTooLarge()
	}
	return n, err
}

func errEntityTooLarge() *apiError {
	return newErr(http.StatusBadRequest, "EntityTooLarge",
		"Your proposed upload exceeds the maximum allowed size: %d bytes for a single PUT or part; use multipart upload.", int64(maxPutSize))
}

// putBody returns the request body to store, its declared plaintext size
// (-1 when unknown) and the declared MD5.
func (q *request) putBody() (io.Reader, int64, []byte, error) {
	size := q.auth.DecodedLength
	if size > maxPutSize {
		return nil, 0, nil, errEntityTooLarge()
	}
	sum, err := q.contentMD5()
	if err != nil {
		return nil, 0, nil, err
	}
	var body io.Reader = q.auth.Body
	if size < 0 {
		body = &limitReader{r: body, n: maxPutSize}
	}
	return body, size, sum, nil
}

func (q *request) putObject() error {
	if err := checkCannedACL(q.r.Header); err != nil {
		return err
	}
	body, size, sum, err := q.putBody()
	if err != nil {
		return err
	}
	meta, err := q.objectMeta()
	if err != nil {
		return err
	}
	if meta.Tags, err = q.headerTags(); err != nil {
		return err
	}
	b, err := q.h.st.GetBucket(q.bucket)
	if err != nil {
		return q.fail(err)
	}
	enc, err := q.writeEncryption(b)
	if err != nil {
		return q.fail(err)
	}
	unlock, err := q.writeConditions()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := objio.Put(q.h.st, q.h.kr, q.bucket, q.key, objio.PutInput{Body: body, Size: size, ContentMD5: sum, Meta: meta, Encryption: enc})
	if err != nil {
		return q.fail(err)
	}
	h := q.w.Header()
	h.Set("ETag", etagXML(v.ETag))
	if b.Versioning != store.VersioningOff {
		h.Set("X-Amz-Version-Id", v.VersionID)
	}
	sse.SetS3ResponseHeaders(h, v.SSE)
	h.Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// readEncryption checks the SSE-C key a read of v carries (in the copy
// source headers when copySource is set) against how v is stored, and
// returns what objio.Open needs.
func readEncryption(h http.Header, v *store.Version, copySource bool) (sse.Params, error) {
	var p sse.Params
	var err error
	if copySource {
		p, err = sse.ParseS3CopySourceHeaders(h)
	} else {
		p, err = sse.ParseS3Headers(h)
	}
	if err != nil {
		return p, err
	}
	if p.Mode != sse.None && p.Mode != sse.SSEC {
		return p, newErr(http.StatusBadRequest, "InvalidArgument",
			"x-amz-server-side-encryption and the SSE-KMS headers are not allowed when reading an object; only the SSE-C headers are.")
	}
	stored := v.SSE != nil && v.SSE.Mode == sse.SSEC
	switch {
	case p.Mode == sse.SSEC && !stored:
		return p, newErr(http.StatusBadRequest, "InvalidRequest", msgSSECNotApplicable)
	case stored && p.Mode != sse.SSEC:
		return p, newErr(http.StatusBadRequest, "InvalidRequest", msgSSECRequired)
	case stored && v.SSE.CustomerKeyMD5 != "" && p.CustomerKeyMD5 != v.SSE.CustomerKeyMD5:
		return p, newErr(http.StatusForbidden, "AccessDenied", msgSSECKeyMismatch)
	}
	return p, nil
}

// byteRange is a resolved Range request.
type byteRange struct {
	off, length int64
}

// parseRange resolves a Range header against an object of size bytes. It
// returns nil for "the whole object": no header, another unit, several
// ranges or a syntactically invalid one (RFC 9110 says to ignore those, and
// S3 does). An unsatisfiable range is 416 InvalidRange.
func parseRange(spec string, size int64) (*byteRange, error) {
	spec = strings.TrimSpace(spec)
	if !strings.HasPrefix(spec, "bytes=") {
		return nil, nil
	}
	spec = strings.TrimSpace(spec[len("bytes="):])
	if strings.Contains(spec, ",") {
		return nil, nil
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return nil, nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	unsatisfiable := newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidRange",
		"The requested range is not satisfiable: %q for an object of %d bytes.", "bytes="+spec, size).
		withHeader("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	if first == "" {
		n, ok := parseDigits(last)
		if !ok {
			return nil, nil
		}
		if n == 0 || size == 0 {
			return nil, unsatisfiable
		}
		n = min(n, size)
		return &byteRange{off: size - n, length: n}, nil
	}
	a, ok := parseDigits(first)
	if !ok {
		return nil, nil
	}
	b := size - 1
	if last != "" {
		if b, ok = parseDigits(last); !ok || b < a {
			return nil, nil
		}
	}
	if a >= size {
		return nil, unsatisfiable
	}
	b = min(b, size-1)
	return &byteRange{off: a, length: b - a + 1}, nil
}

// parseDigits parses a non-negative decimal; values past int64 saturate.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/10 {
			n = 1 << 62
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// etagMatch reports whether the If-Match / If-None-Match list matches etag.
func etagMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// parseHTTPTime parses an HTTP date; ok is false when the header is absent
// or unparseable (S3 ignores such conditions).
func parseHTTPTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	return t, err == nil
}

// condition is the outcome of evaluating conditional request headers.
type condition int

const (
	condOK condition = iota
	condNotModified
	condFailed
)

// evalConditions applies If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since in RFC 9110's order. names gives the four header names
// (the plain ones, or the x-amz-copy-source-if-* ones).
func evalConditions(h http.Header, v *store.Version, names [4]string) condition {
	mod := v.ModTime.Truncate(time.Second)
	if im := h.Get(names[0]); im != "" {
		if !etagMatch(im, v.ETag) {
			return condFailed
		}
	} else if t, ok := parseHTTPTime(h.Get(names[1])); ok && mod.After(t) {
		return condFailed
	}
	if inm := h.Get(names[2]); inm != "" {
		if etagMatch(inm, v.ETag) {
			return condNotModified
		}
	} else if t, ok := parseHTTPTime(h.Get(names[3])); ok && !mod.After(t) {
		return condNotModified
	}
	return condOK
}

var plainConditions = [4]string{"If-Match", "If-Unmodified-Since", "If-None-Match", "If-Modified-Since"}

func errPreconditionFailed(what string) *apiError {
	return newErr(http.StatusPreconditionFailed, "PreconditionFailed",
		"At least one of the pre-conditions you specified did not hold: %s.", what)
}

// lookupVersion fetches the version a GET, HEAD or copy names, mapping
// delete markers as S3 does.
func (q *request) lookupVersion(bucket, key, versionID string) (*store.Version, error) {
	if err := checkVersionID(versionID); err != nil {
		return nil, err
	}
	v, err := q.h.st.GetObject(bucket, key, versionID)
	t := target{bucket: bucket, key: key, versionID: versionID}
	switch {
	case err != nil && v != nil && v.DeleteMarker:
		e := errNoSuchKey(bucket, key).withHeader("X-Amz-Delete-Marker", "true")
		if v.VersionID != store.NullVersion {
			e.withHeader("X-Amz-Version-Id", v.VersionID)
		}
		return nil, e
	case err != nil:
		return nil, toAPIError(err, t)
	case v.DeleteMarker:
		return nil, newErr(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The specified method is not allowed against this resource: version %q of key %q is a delete marker.", versionID, key).
			withHeader("X-Amz-Delete-Marker", "true").withHeader("X-Amz-Version-Id", v.VersionID).
			withHeader("Allow", "DELETE")
	}
	return v, nil
}

// setObjectHeaders sets the headers describing v on a GET or HEAD.
func (q *request) setObjectHeaders(v *store.Version) {
	h := q.w.Header()
	h.Set("Last-Modified", v.ModTime.UTC().Format(http.TimeFormat))
	h.Set("ETag", etagXML(v.ETag))
	h.Set("Accept-Ranges", "bytes")
	ct := v.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	h.Set("Content-Type", ct)
	for _, name := range storedHeaders {
		if val, ok := v.Headers[name]; ok {
			h.Set(name, val)
		}
	}
	for k, val := range v.UserMeta {
		// Lower-case on the wire, as S3 sends them.
		h["x-amz-meta-"+k] = []string{val}
	}
	for _, o := range responseOverrides {
		if val, ok := q.query[o[0]]; ok {
			h.Set(o[1], val[0])
		}
	}
	sse.SetS3ResponseHeaders(h, v.SSE)
	if v.VersionID != store.NullVersion || q.query.Get("versionId") != "" {
		h.Set("X-Amz-Version-Id", v.VersionID)
	}
	if v.Multipart {
		h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(len(v.Parts)))
	}
	setTagCount(h, v)
}

// copyBufPool holds the buffers object data is streamed through.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (q *request) getObject(head bool) error {
	vid := q.query.Get("versionId")
	v, err := q.lookupVersion(q.bucket, q.key, vid)
	if err != nil {
		return err
	}
	enc, err := readEncryption(q.r.Header, v, false)
	if err != nil {
		return err
	}
	switch evalConditions(q.r.Header, v, plainConditions) {
	case condFailed:
		return errPreconditionFailed("If-Match or If-Unmodified-Since")
	case condNotModified:
		h := q.w.Header()
		h.Set("Last-Modified", v.ModTime.UTC().Format(http.TimeFormat))
		h.Set("ETag", etagXML(v.ETag))
		if v.VersionID != store.NullVersion {
			h.Set("X-Amz-Version-Id", v.VersionID)
		}
		q.w.WriteHeader(http.StatusNotModified)
		return nil
	}

	status := http.StatusOK
	off, length := int64(0), v.Size
	rangeHdr := q.r.Header.Get("Range")
	if pn, ok := q.query["partNumber"]; ok {
		if rangeHdr != "" {
			return newErr(http.StatusBadRequest, "InvalidRequest", "Cannot specify both Range header and partNumber query parameter.")
		}
		n, err := strconv.Atoi(pn[0])
		if err != nil || n < 1 || n > store.MaxParts {
			return newErr(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive; got %q.", pn[0])
		}
		if n > len(v.Parts) && !(n == 1 && len(v.Parts) == 0) {
			return newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber",
				"The requested partnumber is not satisfiable: part %d of an object with %d parts.", n, max(len(v.Parts), 1))
		}
		if v.Multipart {
			for _, p := range v.Parts[:n-1] {
				off += p.PlainSize
			}
			length = v.Parts[n-1].PlainSize
			status = http.StatusPartialContent
		}
	} else if rangeHdr != "" {
		br, err := parseRange(rangeHdr, v.Size)
		if err != nil {
			return err
		}
		if br != nil {
			off, length, status = br.off, br.length, http.StatusPartialContent
		}
	}

	var rc io.ReadCloser
	var first []byte
	var bufp *[]byte
	if !head {
		rc, err = objio.Open(q.h.st, q.h.kr, v, enc, off, length)
		if err != nil {
			return q.readFailure(err, v)
		}
		defer rc.Close()
		bufp = copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bufp)
		// Read (and so decrypt and authenticate) the start before any
		// header goes out: a failure here is still a clean 500.
		n, err := io.ReadFull(rc, (*bufp)[:min(int64(len(*bufp)), length)])
		if err != nil && !(errors.Is(err, io.EOF) && length == 0) {
			return q.readFailure(err, v)
		}
		first = (*bufp)[:n]
	}

	q.setObjectHeaders(v)
	h := q.w.Header()
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if status == http.StatusPartialContent {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+length-1, 10)+"/"+strconv.FormatInt(v.Size, 10))
	}
	q.w.WriteHeader(status)
	if head {
		return nil
	}
	if _, err := q.w.Write(first); err != nil {
		return nil // the client went away
	}
	if int64(len(first)) == length {
		return nil
	}
	// A plain io.Writer wrapper keeps io.CopyBuffer on our large buffer
	// instead of the server's small one.
	_, err = io.CopyBuffer(struct{ io.Writer }{q.w}, struct{ io.Reader }{rc}, *bufp)
	if err != nil && !isClientGone(err) {
		q.h.log.Error("s3: reading object data failed mid-response", "request_id", q.id,
			"bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	return nil
}

// readFailure maps an error opening or reading stored data: a key problem
// (SSE-C key missing or wrong, KMS key gone) is reported as such, anything
// else (corruption, failed authentication of stored ciphertext) is an
// InternalError that the log explains.
func (q *request) readFailure(err error, v *store.Version) error {
	switch {
	case errors.Is(err, sse.ErrMissingCustomerKey), errors.Is(err, sse.ErrCustomerKeyMismatch), errors.Is(err, sse.ErrKMSKeyNotFound):
		return toAPIError(err, q.target())
	}
	return internalError(errors.New("reading " + v.Bucket + "/" + v.Key + " version " + v.VersionID + ": " + err.Error()))
}

// isClientGone reports whether a write failed because the client left.
func isClientGone(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "broken pipe") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "closed") || errors.Is(err, http.ErrHandlerTimeout)
}

func (q *request) deleteObject() error {
	vid := q.query.Get("versionId")
	if err := checkVersionID(vid); err != nil {
		return err
	}
	res, err := q.h.st.DeleteObject(q.bucket, q.key, vid)
	if err != nil {
		return q.fail(err)
	}
	h := q.w.Header()
	if res.DeleteMarker {
		h.Set("X-Amz-Delete-Marker", "true")
	}
	if res.VersionID != "" {
		h.Set("X-Amz-Version-Id", res.VersionID)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       *string `xml:"Key"`
		VersionID string  `xml:"VersionId"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	NS      string          `xml:"xmlns,attr"`
	Deleted []deletedObject `xml:"Deleted"`
	Errors  []deleteError   `xml:"Error"`
}

type deletedObject struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

type deleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

// maxDeleteKeys is the most keys one DeleteObjects request may name.
const maxDeleteKeys = 1000

func (q *request) deleteObjects() error {
	var req deleteRequest
	if err := q.readXML(maxDeleteXML, &req); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > maxDeleteKeys {
		return errMalformedXML("a Delete request must name between 1 and 1000 objects, this one names " + strconv.Itoa(len(req.Objects)))
	}
	res := deleteResult{NS: s3NS}
	for _, o := range req.Objects {
		if o.Key == nil {
			return errMalformedXML("an Object element has no Key")
		}
		key := *o.Key
		fail := func(e *apiError) {
			res.Errors = append(res.Errors, deleteError{Key: key, VersionID: o.VersionID, Code: e.Code, Message: e.Message})
		}
		if err := store.CheckKey(key); err != nil {
			fail(toAPIError(err, target{bucket: q.bucket, key: key}))
			continue
		}
		if err := checkVersionID(o.VersionID); err != nil {
			fail(toAPIError(err, target{}))
			continue
		}
		dr, err := q.h.st.DeleteObject(q.bucket, key, o.VersionID)
		if errors.Is(err, store.ErrNoSuchBucket) {
			return q.fail(err)
		}
		if err != nil {
			e := toAPIError(err, target{bucket: q.bucket, key: key, versionID: o.VersionID})
			if e.internal != nil {
				q.h.log.Error("s3: delete failed", "request_id", q.id, "bucket", q.bucket, "key", key, "error", e.internal.Error())
			}
			fail(e)
			continue
		}
		if req.Quiet {
			continue
		}
		d := deletedObject{Key: key}
		if o.VersionID != "" {
			d.VersionID = o.VersionID
			if dr.DeleteMarker {
				d.DeleteMarker, d.DeleteMarkerVersionID = true, o.VersionID
			}
		} else if dr.DeleteMarker {
			d.DeleteMarker, d.DeleteMarkerVersionID = true, dr.VersionID
		}
		res.Deleted = append(res.Deleted, d)
	}
	return q.writeXML(res)
}
