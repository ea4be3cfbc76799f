package swiftapi

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// statusClientDisconnect is Swift's answer when the body ends early.
const statusClientDisconnect = 499

func (h *handler) serveObject(rq *request) {
	switch rq.r.Method {
	case http.MethodGet, http.MethodHead:
		h.getObject(rq)
	case http.MethodPut:
		if rq.r.Header.Get("X-Copy-From") != "" {
			h.copyFrom(rq)
			return
		}
		h.putObject(rq)
	case http.MethodPost:
		h.postObject(rq)
	case http.MethodDelete:
		h.deleteObject(rq)
	case "COPY":
		h.copyTo(rq)
	default:
		h.notAllowed(rq, "GET, HEAD, PUT, POST, DELETE, COPY")
	}
}

// objectHeaders sets the headers describing v on a GET or HEAD.
func objectHeaders(hd http.Header, v *store.Version) {
	etag, large := swiftETag(v)
	hd.Set("Etag", etag)
	if large {
		hd.Set("X-Static-Large-Object", "True")
	}
	hd.Set("Content-Type", contentType(v))
	hd.Set("Last-Modified", httpDate(v.ModTime))
	hd.Set("X-Timestamp", xTimestamp(v.ModTime))
	hd.Set("Accept-Ranges", "bytes")
	for k, val := range v.Headers {
		if k = textproto.CanonicalMIMEHeaderKey(k); isKeptHeader(k) {
			hd.Set(k, val)
		}
	}
	setMetaHeaders(hd, objectMetaPrefix, v.UserMeta)
}

func isKeptHeader(k string) bool {
	for _, n := range keptHeaders {
		if n == k {
			return true
		}
	}
	return false
}

// isSSEC reports whether v is encrypted with a customer key, which Swift
// requests cannot carry.
func isSSEC(v *store.Version) bool { return v.SSE != nil && v.SSE.Mode == sse.SSEC }

// open returns the plaintext bytes [off, off+n) of v.
func (h *handler) open(v *store.Version, off, n int64) (io.ReadCloser, error) {
	if v.SSE != nil && h.cfg.Keyring == nil {
		return nil, errors.New("object is encrypted but the endpoint has no keyring")
	}
	return objio.Open(h.st, h.cfg.Keyring, v, sse.Params{}, off, n)
}

// encryption is what objects written into b over Swift are encrypted with:
// the bucket's default encryption, if any.
func (h *handler) encryption(b store.Bucket) (sse.Params, error) {
	if b.Encryption == nil || b.Encryption.Mode == sse.None {
		return sse.Params{}, nil
	}
	if h.cfg.Keyring == nil {
		return sse.Params{}, fmt.Errorf("container %s has default encryption but the endpoint has no keyring", b.Name)
	}
	return sse.Params{Mode: b.Encryption.Mode, KMSKeyID: b.Encryption.KMSKeyID}, nil
}

func (h *handler) getObject(rq *request) {
	v, err := h.st.GetObject(rq.container, rq.object, "")
	if err != nil {
		h.storeError(rq, err)
		return
	}
	get := rq.r.Method == http.MethodGet
	if get && isSSEC(v) {
		h.fail(rq, http.StatusBadRequest, sseCMessage, rq.container, rq.object)
		return
	}
	etag, large := swiftETag(v)
	q, _ := url.ParseQuery(rq.r.URL.RawQuery)
	if large && q.Get("multipart-manifest") == "get" {
		h.getManifest(rq, v, q.Get("format") == "raw")
		return
	}
	hd := rq.w.Header()
	objectHeaders(hd, v)
	switch checkConditions(rq.r, etag, v.ModTime) {
	case http.StatusNotModified:
		hd.Del("Content-Type")
		rq.w.WriteHeader(http.StatusNotModified)
		return
	case http.StatusPreconditionFailed:
		h.fail(rq, http.StatusPreconditionFailed, "Precondition Failed")
		return
	}
	var ranges []byteRange
	if rh := rq.r.Header.Get("Range"); rh != "" && rangeApplies(rq.r, etag, v.ModTime) {
		ranges = parseRange(rh, v.Size)
	}
	switch {
	case ranges != nil && len(ranges) == 0:
		hd.Set("Content-Range", fmt.Sprintf("bytes */%d", v.Size))
		h.fail(rq, http.StatusRequestedRangeNotSatisfiable, "Requested Range Not Satisfiable")
	case len(ranges) > 1:
		h.sendRanges(rq, v, ranges)
	case len(ranges) == 1:
		r := ranges[0]
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", r.start, r.end-1, v.Size))
		h.send(rq, v, http.StatusPartialContent, r.start, r.end-r.start)
	default:
		h.send(rq, v, http.StatusOK, 0, v.Size)
	}
}

// send answers with bytes [off, off+n) of v.
func (h *handler) send(rq *request, v *store.Version, status int, off, n int64) {
	hd := rq.w.Header()
	if rq.head() {
		hd.Set("Content-Length", strconv.FormatInt(n, 10))
		rq.w.WriteHeader(status)
		return
	}
	rc, err := h.open(v, off, n)
	if err != nil {
		clearObjectHeaders(hd)
		h.storeError(rq, err)
		return
	}
	defer rc.Close()
	hd.Set("Content-Length", strconv.FormatInt(n, 10))
	rq.w.WriteHeader(status)
	h.stream(rq, v, rq.w, rc, n)
}

// clearObjectHeaders removes what objectHeaders set, before an error answer.
func clearObjectHeaders(hd http.Header) {
	for k := range hd {
		if k != "X-Trans-Id" && k != "X-Openstack-Request-Id" {
			hd.Del(k)
		}
	}
}

// stream copies n bytes of an object to the client. Once the status is
// sent, a failure to read the store can only be told by cutting the
// connection, so the client sees a short body rather than a clean end.
func (h *handler) stream(rq *request, v *store.Version, w io.Writer, r io.Reader, n int64) {
	src := &errReader{r: r}
	_, err := io.CopyN(w, src, n)
	if err == nil {
		return
	}
	if src.err == nil && !errors.Is(err, io.EOF) {
		return // the client went away
	}
	h.log.Error("swift read failed mid-response", "site", h.cfg.Site, "container", v.Bucket,
		"object", v.Key, "tx", rq.tx, "err", firstErr(src.err, err))
	panic(http.ErrAbortHandler)
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// errReader remembers the first error of its source other than EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// sendRanges answers a multi-range GET with multipart/byteranges, as Swift does.
func (h *handler) sendRanges(rq *request, v *store.Version, ranges []byteRange) {
	ctype := contentType(v)
	mw := multipart.NewWriter(rq.w)
	hd := rq.w.Header()
	hd.Set("Content-Type", "multipart/byteranges;boundary="+mw.Boundary())
	hd.Del("Content-Length")
	if rq.head() {
		rq.w.WriteHeader(http.StatusPartialContent)
		return
	}
	// Open the first range before committing to 206, so that key problems
	// still get a proper error answer.
	rc, err := h.open(v, ranges[0].start, ranges[0].end-ranges[0].start)
	if err != nil {
		clearObjectHeaders(hd)
		h.storeError(rq, err)
		return
	}
	rq.w.WriteHeader(http.StatusPartialContent)
	for i, r := range ranges {
		if i > 0 {
			if rc, err = h.open(v, r.start, r.end-r.start); err != nil {
				h.log.Error("swift range open failed", "site", h.cfg.Site, "tx", rq.tx, "err", err)
				panic(http.ErrAbortHandler)
			}
		}
		if !h.writePart(rq, v, mw, rc, r, ctype) {
			return
		}
	}
	mw.Close()
}

// writePart writes one range of a multipart/byteranges body and closes rc.
func (h *handler) writePart(rq *request, v *store.Version, mw *multipart.Writer, rc io.ReadCloser, r byteRange, ctype string) bool {
	defer rc.Close()
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Type", ctype)
	ph.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", r.start, r.end-1, v.Size))
	pw, err := mw.CreatePart(ph)
	if err != nil {
		return false // the client went away
	}
	h.stream(rq, v, pw, rc, r.end-r.start)
	return true
}

// virtualSegments is the container that manifests name as holding the
// parts of objects shown as static large objects. It is 256 bytes long, one
// more than any bucket name, so it can never exist: clients that delete an
// overwritten SLO's segments (swift upload) get 404s and destroy nothing.
var virtualSegments = "replcheck-parts-of-multipart-objects-are-not-objects" +
	strings.Repeat("_", maxContainerNameLen-len("replcheck-parts-of-multipart-objects-are-not-objects"))

// getManifest answers multipart-manifest=get for an object shown as a
// static large object with a manifest of its parts, so that clients that
// read manifests (swift upload, to compare with --skip-identical or to
// clean up old segments) get part ETags and sizes instead of object data.
func (h *handler) getManifest(rq *request, v *store.Version, raw bool) {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range v.Parts {
		if i > 0 {
			b.WriteByte(',')
		}
		name := fmt.Sprintf("/%s/%s/%s/%05d", virtualSegments, v.Bucket, v.Key, p.Number)
		if raw {
			fmt.Fprintf(&b, `{"path":%s,"etag":%q,"size_bytes":%d}`, jsonString(name), p.ETag, p.PlainSize)
		} else {
			fmt.Fprintf(&b, `{"name":%s,"hash":%q,"bytes":%d,"content_type":"application/octet-stream","last_modified":%q}`,
				jsonString(name), p.ETag, p.PlainSize, isoTime(v.ModTime))
		}
	}
	b.WriteByte(']')
	sum := md5.Sum([]byte(b.String()))
	hd := rq.w.Header()
	hd.Set("X-Static-Large-Object", "True")
	hd.Set("Etag", hex.EncodeToString(sum[:]))
	hd.Set("Last-Modified", httpDate(v.ModTime))
	hd.Set("X-Timestamp", xTimestamp(v.ModTime))
	setMetaHeaders(hd, objectMetaPrefix, v.UserMeta)
	writeBody(rq.w, rq.r, http.StatusOK, "application/json; charset=utf-8", []byte(b.String()))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// bodyReader reads a PUT body, telling a client that sent too much or went
// away from other failures.
type bodyReader struct {
	r        io.Reader
	n, limit int64
	tooLarge bool
	err      error
}

var errTooLarge = errors.New("request body too large")

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		b.tooLarge = true
		return n, errTooLarge
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// unsupported returns why a write asks for a Swift feature this front end
// does not have, or "". Storing such a request as a plain object would be
// silently wrong (a DLO manifest or symlink would read back empty, an
// expiring object would never expire), so it is refused instead.
func unsupported(r *http.Request) string {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	switch {
	case r.Header.Get("X-Object-Manifest") != "":
		return "Dynamic large objects (X-Object-Manifest) are not supported; upload large objects with S3 multipart uploads"
	case q.Get("multipart-manifest") == "put":
		return "Static large object manifests are not supported; upload large objects with S3 multipart uploads"
	case r.Header.Get("X-Symlink-Target") != "":
		return "Symlinks (X-Symlink-Target) are not supported"
	case r.Header.Get("X-Delete-At") != "" || r.Header.Get("X-Delete-After") != "":
		return "Object expiry (X-Delete-At, X-Delete-After) is not supported"
	}
	return ""
}

// checkObjectName applies Swift's object name checks of a write.
func (h *handler) checkObjectName(rq *request, name string) bool {
	if len(name) > maxObjectNameLength {
		h.fail(rq, http.StatusBadRequest, "Object name length of %d longer than %d", len(name), maxObjectNameLength)
		return false
	}
	if err := store.CheckKey(name); err != nil {
		h.fail(rq, http.StatusBadRequest, "Bad request: %v", err)
		return false
	}
	return true
}

// requestContentType is the Content-Type a write asks for, guessed from
// name's extension when absent or when X-Detect-Content-Type is set.
func requestContentType(r *http.Request, name string, guess bool) string {
	ct := strings.TrimSpace(r.Header.Get("Content-Type"))
	if detect, _ := strconv.ParseBool(r.Header.Get("X-Detect-Content-Type")); detect || (ct == "" && guess) {
		ct = mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
	}
	return ct
}

// requestHeaders are the kept headers (Content-Encoding, …) a write sets.
func requestHeaders(r *http.Request) map[string]string {
	var m map[string]string
	for _, k := range keptHeaders {
		if v := r.Header.Get(k); v != "" {
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
		}
	}
	return m
}

func (h *handler) putObject(rq *request) {
	r := rq.r
	if !h.checkObjectName(rq, rq.object) {
		return
	}
	if msg := unsupported(r); msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	mu, msg := parseMeta(r.Header, objectMetaPrefix, removeObjectMetaPrefix)
	if msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	chunked := len(r.TransferEncoding) > 0
	size := r.ContentLength
	switch {
	case chunked:
		size = -1
	case r.Header.Get("Content-Length") == "" && size <= 0:
		// Go gives a request with neither header an empty body; Swift wants to know.
		h.fail(rq, http.StatusLengthRequired, "Length Required: send Content-Length or chunked Transfer-Encoding")
		return
	}
	if size > maxFileSize {
		h.fail(rq, http.StatusRequestEntityTooLarge, "Your request is too large: the limit is %d bytes", int64(maxFileSize))
		return
	}
	var wantMD5 []byte
	if et := strings.Trim(strings.TrimSpace(r.Header.Get("Etag")), `"`); et != "" {
		sum, err := hex.DecodeString(et)
		if err != nil || len(sum) != md5.Size {
			h.fail(rq, http.StatusUnprocessableEntity, "Unprocessable Entity: ETag %q is not an MD5", et)
			return
		}
		wantMD5 = sum
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if strings.TrimSpace(inm) != "*" {
			h.fail(rq, http.StatusBadRequest, "If-None-Match only supports *")
			return
		}
		if _, err := h.st.GetObject(rq.container, rq.object, ""); err == nil {
			h.fail(rq, http.StatusPreconditionFailed, "Precondition Failed: object %s/%s exists", rq.container, rq.object)
			return
		}
	}
	b, err := h.st.GetBucket(rq.container)
	if err != nil {
		h.storeError(rq, err)
		return
	}
	enc, err := h.encryption(b)
	if err != nil {
		h.storeError(rq, err)
		return
	}
	body := &bodyReader{r: r.Body, limit: maxFileSize}
	var in io.Reader = body
	// Swift answers a PUT with the MD5 of what it received, which clients
	// check; when the stored ETag is something else, compute it here.
	var plain hash.Hash
	if !sse.ETagIsPlainMD5(enc.Mode) {
		plain = md5.New()
		in = io.TeeReader(body, plain)
	}
	meta := store.ObjectMeta{
		ContentType: requestContentType(r, rq.object, true),
		Headers:     requestHeaders(r),
		UserMeta:    nilIfEmpty(mu.set),
	}
	v, err := objio.Put(h.st, h.cfg.Keyring, rq.container, rq.object,
		objio.PutInput{Body: in, Size: size, ContentMD5: wantMD5, Meta: meta, Encryption: enc})
	switch {
	case err == nil:
	case body.tooLarge:
		h.fail(rq, http.StatusRequestEntityTooLarge, "Your request is too large: the limit is %d bytes", int64(maxFileSize))
		return
	case body.err != nil || errors.Is(err, objio.ErrIncompleteBody):
		h.fail(rq, statusClientDisconnect, "Client Disconnect: the body ended before its declared length")
		return
	default:
		h.storeError(rq, err)
		return
	}
	etag := v.ETag
	if plain != nil {
		etag = hex.EncodeToString(plain.Sum(nil))
	}
	hd := rq.w.Header()
	hd.Set("Etag", etag)
	hd.Set("Last-Modified", httpDate(v.ModTime))
	noBody(rq.w, http.StatusCreated)
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// postObject replaces the user metadata (and, if sent, the content type)
// in place, as Swift's fast POST does.
func (h *handler) postObject(rq *request) {
	if msg := unsupported(rq.r); msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	mu, msg := parseMeta(rq.r.Header, objectMetaPrefix, removeObjectMetaPrefix)
	if msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	var ct *string
	if v := strings.TrimSpace(rq.r.Header.Get("Content-Type")); v != "" {
		ct = &v
	}
	if _, err := h.st.UpdateObjectMeta(rq.container, rq.object, nilIfEmpty(mu.set), ct); err != nil {
		h.storeError(rq, err)
		return
	}
	noBody(rq.w, http.StatusAccepted)
}

// deleteObject deletes the object; in a versioned bucket that leaves a
// delete marker, as an unversioned S3 DELETE does.
func (h *handler) deleteObject(rq *request) {
	if _, err := h.st.GetObject(rq.container, rq.object, ""); err != nil {
		h.storeError(rq, err)
		return
	}
	if _, err := h.st.DeleteObject(rq.container, rq.object, ""); err != nil {
		h.storeError(rq, err)
		return
	}
	noBody(rq.w, http.StatusNoContent)
}

// parseCopyPath reads an X-Copy-From or Destination value: a quoted
// "container/object", the leading slash optional.
func parseCopyPath(v string) (container, object string, ok bool) {
	p, err := url.PathUnescape(strings.TrimSpace(v))
	if err != nil || !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return "", "", false
	}
	p = strings.TrimPrefix(p, "/")
	container, object, _ = strings.Cut(p, "/")
	return container, object, container != "" && object != ""
}

// sameAccount reports whether an X-Copy-From-Account or Destination-Account
// header names the request's own account (or is absent).
func sameAccount(rq *request, header string) bool {
	a := strings.TrimSpace(rq.r.Header.Get(header))
	if a == "" {
		return true
	}
	if u, err := url.PathUnescape(a); err == nil {
		a = u
	}
	return a == rq.account
}

// copyFrom serves PUT with X-Copy-From.
func (h *handler) copyFrom(rq *request) {
	if rq.r.ContentLength > 0 || len(rq.r.TransferEncoding) > 0 {
		h.fail(rq, http.StatusBadRequest, "Copy requests require a zero byte body")
		return
	}
	c, o, ok := parseCopyPath(rq.r.Header.Get("X-Copy-From"))
	if !ok {
		h.fail(rq, http.StatusPreconditionFailed, "X-Copy-From header must be of the form <container name>/<object name>")
		return
	}
	if !sameAccount(rq, "X-Copy-From-Account") {
		h.fail(rq, http.StatusForbidden, "Forbidden: the token does not grant access to the source account")
		return
	}
	h.copyObject(rq, c, o, rq.container, rq.object)
}

// copyTo serves COPY with Destination.
func (h *handler) copyTo(rq *request) {
	dst := rq.r.Header.Get("Destination")
	if dst == "" {
		h.fail(rq, http.StatusPreconditionFailed, "Destination header required")
		return
	}
	c, o, ok := parseCopyPath(dst)
	if !ok {
		h.fail(rq, http.StatusPreconditionFailed, "Destination header must be of the form <container name>/<object name>")
		return
	}
	if !sameAccount(rq, "Destination-Account") {
		h.fail(rq, http.StatusForbidden, "Forbidden: the token does not grant access to the destination account")
		return
	}
	h.copyObject(rq, rq.container, rq.object, c, o)
}

// copyObject copies the plaintext of srcC/srcO into dstC/dstO, encrypted
// with the destination's default encryption. Metadata comes from the source
// unless X-Fresh-Metadata is set; the request's own metadata, content type
// and kept headers override it.
func (h *handler) copyObject(rq *request, srcC, srcO, dstC, dstO string) {
	r := rq.r
	if !h.checkObjectName(rq, dstO) {
		return
	}
	if msg := unsupported(r); msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	mu, msg := parseMeta(r.Header, objectMetaPrefix, removeObjectMetaPrefix)
	if msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	src, err := h.st.GetObject(srcC, srcO, "")
	switch {
	case errors.Is(err, store.ErrNoSuchBucket):
		h.fail(rq, http.StatusNotFound, "Container not found: %s", srcC)
		return
	case err != nil:
		h.fail(rq, http.StatusNotFound, "Object not found: %s/%s", srcC, srcO)
		return
	case isSSEC(src):
		h.fail(rq, http.StatusBadRequest, sseCMessage, srcC, srcO)
		return
	}
	dst, err := h.st.GetBucket(dstC)
	if err != nil {
		h.fail(rq, http.StatusNotFound, "Container not found: %s", dstC)
		return
	}
	enc, err := h.encryption(dst)
	if err != nil {
		h.storeError(rq, err)
		return
	}
	fresh, _ := strconv.ParseBool(r.Header.Get("X-Fresh-Metadata"))
	meta := store.ObjectMeta{ContentType: src.ContentType}
	if !fresh {
		meta.UserMeta = maps.Clone(src.UserMeta)
		meta.Headers = maps.Clone(src.Headers)
	}
	if ct := requestContentType(r, dstO, false); ct != "" {
		meta.ContentType = ct
	}
	for k, v := range requestHeaders(r) {
		if meta.Headers == nil {
			meta.Headers = map[string]string{}
		}
		meta.Headers[k] = v
	}
	if meta.UserMeta == nil {
		meta.UserMeta = map[string]string{}
	}
	for _, k := range mu.remove {
		delete(meta.UserMeta, k)
	}
	maps.Copy(meta.UserMeta, mu.set)
	meta.UserMeta = nilIfEmpty(meta.UserMeta)

	rc, err := h.open(src, 0, src.Size)
	if err != nil {
		h.storeError(rq, err)
		return
	}
	defer rc.Close()
	var in io.Reader = rc
	var plain hash.Hash
	if !sse.ETagIsPlainMD5(enc.Mode) {
		plain = md5.New()
		in = io.TeeReader(rc, plain)
	}
	v, err := objio.Put(h.st, h.cfg.Keyring, dstC, dstO,
		objio.PutInput{Body: in, Size: src.Size, Meta: meta, Encryption: enc})
	if err != nil {
		rq.container, rq.object = dstC, dstO // so that errors name the destination
		h.storeError(rq, err)
		return
	}
	etag := v.ETag
	if plain != nil {
		etag = hex.EncodeToString(plain.Sum(nil))
	}
	hd := rq.w.Header()
	hd.Set("Etag", etag)
	hd.Set("Last-Modified", httpDate(v.ModTime))
	hd.Set("X-Copied-From", (&url.URL{Path: srcC + "/" + srcO}).EscapedPath())
	hd.Set("X-Copied-From-Last-Modified", httpDate(src.ModTime))
	noBody(rq.w, http.StatusCreated)
}
