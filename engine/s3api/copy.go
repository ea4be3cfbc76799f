package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// copySource is the object an x-amz-copy-source header names, checked.
type copySource struct {
	bucket, key string
	v           *store.Version
	enc         sse.Params // the source's SSE-C key, if any
}

var copyConditions = [4]string{"X-Amz-Copy-Source-If-Match", "X-Amz-Copy-Source-If-Unmodified-Since",
	"X-Amz-Copy-Source-If-None-Match", "X-Amz-Copy-Source-If-Modified-Since"}

// copySource parses x-amz-copy-source ("[/]bucket/key[?versionId=id]",
// URL-encoded), finds the version and checks the source SSE-C key and the
// x-amz-copy-source-if-* conditions.
func (q *request) copySource() (*copySource, error) {
	raw := q.r.Header.Get("X-Amz-Copy-Source")
	// Split before decoding: an encoded '?' (%3F) belongs to the key.
	path, rawQuery, _ := strings.Cut(raw, "?")
	path, err := url.PathUnescape(path)
	if err != nil {
		return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Invalid copy source encoding: %q.", raw)
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, ok := strings.Cut(path, "/")
	if !ok || bucket == "" || key == "" {
		return nil, newErr(http.StatusBadRequest, "InvalidArgument",
			"Copy Source must mention the source bucket and key: sourcebucket/sourcekey; got %q.", raw)
	}
	if err := store.CheckKey(key); err != nil {
		return nil, toAPIError(err, target{bucket: bucket, key: key})
	}
	var vid string
	if rawQuery != "" {
		qv, err := url.ParseQuery(rawQuery)
		if err != nil {
			return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Invalid copy source query: %q.", rawQuery)
		}
		for name := range qv {
			if name != "versionId" {
				return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Unsupported copy source parameter %q; only versionId is allowed.", name)
			}
		}
		vid = qv.Get("versionId")
		if vid == "" {
			return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Empty versionId in the copy source %q.", raw)
		}
	}
	v, err := q.lookupVersion(bucket, key, vid)
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.Status == http.StatusMethodNotAllowed {
			return nil, newErr(http.StatusBadRequest, "InvalidRequest",
				"The source of a copy request may not specifically refer to a delete marker by version id: %q.", vid)
		}
		return nil, err
	}
	enc, err := readEncryption(q.r.Header, v, true)
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.Code == "InvalidRequest" && ae.Message == msgSSECRequired {
			ae.Message = "The source object of the COPY action is encrypted with SSE-C; provide its key in the " +
				"x-amz-copy-source-server-side-encryption-customer-* headers."
		}
		return nil, err
	}
	if c := evalConditions(q.r.Header, v, copyConditions); c != condOK {
		return nil, errPreconditionFailed("x-amz-copy-source-if-*")
	}
	return &copySource{bucket: bucket, key: key, v: v, enc: enc}, nil
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	NS           string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	NS           string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

func (q *request) copyObject() error {
	if err := checkCannedACL(q.r.Header); err != nil {
		return err
	}
	directive := strings.ToUpper(q.r.Header.Get("X-Amz-Metadata-Directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return newErr(http.StatusBadRequest, "InvalidArgument", "Unknown metadata directive %q: must be COPY or REPLACE.", directive)
	}
	tagDirective := strings.ToUpper(q.r.Header.Get("X-Amz-Tagging-Directive"))
	if tagDirective != "" && tagDirective != "COPY" && tagDirective != "REPLACE" {
		return newErr(http.StatusBadRequest, "InvalidArgument", "Unknown tagging directive %q: must be COPY or REPLACE.", tagDirective)
	}
	var tags map[string]string
	if tagDirective == "REPLACE" {
		var err error
		if tags, err = q.headerTags(); err != nil {
			return err
		}
	}
	src, err := q.copySource()
	if err != nil {
		return err
	}
	v := src.v
	if v.Size > maxPutSize {
		return newErr(http.StatusBadRequest, "InvalidRequest",
			"The specified copy source is larger than the maximum allowable size for a copy source: %d.", int64(maxPutSize))
	}
	b, err := q.h.st.GetBucket(q.bucket)
	if err != nil {
		return q.fail(err)
	}
	explicit, err := sse.ParseS3Headers(q.r.Header)
	if err != nil {
		return err
	}
	enc, err := q.writeEncryption(b)
	if err != nil {
		return q.fail(err)
	}
	if src.bucket == q.bucket && src.key == q.key && v.IsLatest && directive != "REPLACE" && tagDirective != "REPLACE" &&
		explicit.Mode == sse.None && q.r.Header.Get("X-Amz-Storage-Class") == "" &&
		q.r.Header.Get("X-Amz-Website-Redirect-Location") == "" && sameEncryption(v.SSE, enc) {
		return newErr(http.StatusBadRequest, "InvalidRequest",
			"This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, "+
				"storage class, website redirect location or encryption attributes.")
	}
	meta := store.ObjectMeta{ContentType: v.ContentType, Headers: v.Headers, UserMeta: v.UserMeta}
	if directive == "REPLACE" {
		if meta, err = q.objectMeta(); err != nil {
			return err
		}
	}
	meta.Tags = v.Tags
	if tagDirective == "REPLACE" {
		meta.Tags = tags
	}
	rc, err := objio.Open(q.h.st, q.h.kr, v, src.enc, 0, v.Size)
	if err != nil {
		return q.readFailure(err, v)
	}
	defer rc.Close()
	nv, err := objio.Put(q.h.st, q.h.kr, q.bucket, q.key, objio.PutInput{Body: rc, Size: v.Size, Meta: meta, Encryption: enc})
	if err != nil {
		return q.copyFailure(err, v)
	}
	h := q.w.Header()
	if v.VersionID != store.NullVersion {
		h.Set("X-Amz-Copy-Source-Version-Id", v.VersionID)
	}
	if b.Versioning != store.VersioningOff {
		h.Set("X-Amz-Version-Id", nv.VersionID)
	}
	sse.SetS3ResponseHeaders(h, nv.SSE)
	return q.writeXML(copyObjectResult{NS: s3NS, LastModified: xmlTime(nv.ModTime), ETag: etagXML(nv.ETag)})
}

// copyFailure maps an error of a copy's write: errors that can only come
// from reading the source (its stored data failing to decrypt) are
// internal, the rest are about the destination.
func (q *request) copyFailure(err error, src *store.Version) error {
	ae := q.fail(err).(*apiError)
	if ae.internal != nil {
		ae.internal = &wrapErr{"copying from " + src.Bucket + "/" + src.Key + " version " + src.VersionID, err}
	}
	return ae
}

type wrapErr struct {
	msg string
	err error
}

func (e *wrapErr) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wrapErr) Unwrap() error { return e.err }

// sameEncryption reports whether writing with p would store an object
// encrypted as env already is.
func sameEncryption(env *sse.Envelope, p sse.Params) bool {
	if env == nil {
		return p.Mode == sse.None
	}
	if env.Mode != p.Mode {
		return false
	}
	return p.Mode != sse.SSEKMS || p.KMSKeyID == "" || p.KMSKeyID == env.KeyID
}

// parseCopyRange parses x-amz-copy-source-range, which must be exactly
// "bytes=first-last" within the source.
func parseCopyRange(spec string, size int64) (off, length int64, err error) {
	bad := newErr(http.StatusBadRequest, "InvalidArgument",
		"The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets "+
			"of the first and last bytes to copy; got %q.", spec)
	rest, ok := strings.CutPrefix(strings.TrimSpace(spec), "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, b, ok := strings.Cut(rest, "-")
	first, ok1 := parseDigits(a)
	last, ok2 := parseDigits(b)
	if !ok || !ok1 || !ok2 || last < first {
		return 0, 0, bad
	}
	if last >= size {
		return 0, 0, newErr(http.StatusBadRequest, "InvalidArgument",
			"Range specified is not valid for source object of size: %d (range %q).", size, spec)
	}
	return first, last - first + 1, nil
}

func (q *request) uploadPartCopy() error {
	n, uploadID, err := q.partParams()
	if err != nil {
		return err
	}
	u, err := q.h.st.GetUpload(q.bucket, q.key, uploadID)
	if err != nil {
		return q.fail(err)
	}
	enc, err := partEncryption(q.r.Header, u)
	if err != nil {
		return err
	}
	src, err := q.copySource()
	if err != nil {
		return err
	}
	v := src.v
	off, length := int64(0), v.Size
	if spec := q.r.Header.Get("X-Amz-Copy-Source-Range"); spec != "" {
		if off, length, err = parseCopyRange(spec, v.Size); err != nil {
			return err
		}
	}
	if length > maxPutSize {
		return newErr(http.StatusBadRequest, "InvalidRequest",
			"The specified copy source range is larger than the maximum allowable part size: %d.", int64(maxPutSize))
	}
	rc, err := objio.Open(q.h.st, q.h.kr, v, src.enc, off, length)
	if err != nil {
		return q.readFailure(err, v)
	}
	defer rc.Close()
	p, err := objio.PutPart(q.h.st, q.h.kr, q.bucket, q.key, uploadID, n, objio.PutInput{Body: rc, Size: length, Encryption: enc})
	if err != nil {
		return q.copyFailure(err, v)
	}
	h := q.w.Header()
	if v.VersionID != store.NullVersion {
		h.Set("X-Amz-Copy-Source-Version-Id", v.VersionID)
	}
	sse.SetS3ResponseHeaders(h, u.Meta.SSE)
	return q.writeXML(copyPartResult{NS: s3NS, LastModified: xmlTime(q.now()), ETag: etagXML(p.ETag)})
}

// partParams returns the part number and upload id of an UploadPart.
func (q *request) partParams() (int, string, error) {
	uploadID := q.query.Get("uploadId")
	if uploadID == "" {
		return 0, "", newErr(http.StatusBadRequest, "InvalidArgument", "An UploadPart request needs both partNumber and uploadId.")
	}
	s := q.query.Get("partNumber")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > store.MaxParts {
		return 0, "", newErr(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive; got %q.", s)
	}
	return n, uploadID, nil
}
