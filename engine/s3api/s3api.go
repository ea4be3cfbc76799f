// Package s3api is the S3 REST front end of the reference engine: it serves
// one endpoint's view of a store over the S3 protocol, authenticated with
// SigV4, with the semantics real S3 clients (minio-go, awscli, rclone,
// s3cmd) expect from AWS.
//
// Paths are never cleaned: "a/../b" and "./x" are object keys like any
// other, so the handler parses the request path itself instead of relying
// on a mux.
package s3api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/s3api/sigv4"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// handler serves S3 for one endpoint.
type handler struct {
	st       *store.Store
	cfg      *endpoint.Config
	kr       *sse.Keyring
	log      *slog.Logger
	verifier *sigv4.Verifier
	domains  []string // lower-case, for virtual-hosted style
	keyLocks keyLocks

	idPrefix string
	idSeq    atomic.Uint64
}

// New returns an http.Handler serving the S3 API of st as the endpoint cfg
// describes. Every request must be signed with SigV4 by one of cfg.Users.
func New(st *store.Store, cfg *endpoint.Config) http.Handler {
	h := &handler{st: st, cfg: cfg, kr: cfg.Keyring, log: cfg.Log()}
	h.verifier = &sigv4.Verifier{
		Lookup: func(ak string) (string, bool) {
			u, ok := cfg.LookupAccessKey(ak)
			return u.SecretKey, ok
		},
		Region: cfg.Region,
	}
	for _, d := range cfg.Domains {
		if d = strings.Trim(strings.ToLower(d), "."); d != "" {
			h.domains = append(h.domains, d)
		}
	}
	var b [4]byte
	rand.Read(b[:])
	h.idPrefix = strings.ToUpper(hex.EncodeToString(b[:]))
	return h
}

// request is one request in flight.
type request struct {
	h      *handler
	w      *respWriter
	r      *http.Request
	id     string
	bucket string
	key    string
	query  url.Values
	auth   *sigv4.Result
	user   endpoint.User
	// errCode is the S3 error code sent, for the log.
	errCode string
}

// nextID returns a request id: unique per process, cheap to make.
func (h *handler) nextID() string {
	return h.idPrefix + fmt.Sprintf("%012X", h.idSeq.Add(1))
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &respWriter{ResponseWriter: w}
	req := &request{h: h, w: rw, r: r, id: h.nextID()}
	rw.Header().Set("X-Amz-Request-Id", req.id)
	rw.Header().Set("Server", "replcheck")
	defer func() {
		// A response cut short (the data failed mid-stream, or a bug after
		// the headers went out) must end in a broken connection, never in
		// a response that looks complete.
		abort := false
		if p := recover(); p == http.ErrAbortHandler {
			abort = true
		} else if p != nil {
			// A bug must not take the server down or leak a stack trace.
			h.log.Error("s3: panic serving request", "request_id", req.id, "method", r.Method,
				"bucket", req.bucket, "key", req.key, "panic", fmt.Sprint(p))
			if rw.wroteHeader {
				abort = true
			} else {
				req.sendError(internalError(fmt.Errorf("panic: %v", p)))
			}
		}
		if req.auth != nil && req.auth.Body != nil {
			req.auth.Body.Close()
		}
		if h.log.Enabled(r.Context(), slog.LevelDebug) {
			attrs := []any{"request_id", req.id, "method", r.Method, "bucket", req.bucket, "key", req.key,
				"status", rw.status, "bytes_out", rw.n, "duration", time.Since(start)}
			if req.errCode != "" {
				attrs = append(attrs, "error", req.errCode)
			}
			if req.auth != nil && req.auth.DecodedLength > 0 {
				attrs = append(attrs, "bytes_in", req.auth.DecodedLength)
			}
			if abort {
				attrs = append(attrs, "aborted", true)
			}
			h.log.Debug("s3 request", attrs...)
		}
		if abort {
			panic(http.ErrAbortHandler)
		}
	}()
	req.serve()
}

func (q *request) serve() {
	if err := q.route(); err != nil {
		q.sendError(err)
		return
	}
	auth, err := q.h.verifier.Verify(q.r)
	if err != nil {
		q.sendError(err)
		return
	}
	q.auth = auth
	if auth.Anonymous {
		q.sendError(newErr(http.StatusForbidden, "AccessDenied",
			"Access Denied: anonymous requests are not allowed; sign the request with AWS Signature Version 4."))
		return
	}
	u, ok := q.h.cfg.LookupAccessKey(auth.AccessKey)
	if !ok {
		q.sendError(newErr(http.StatusForbidden, "InvalidAccessKeyId",
			"The AWS Access Key Id you provided does not exist in our records."))
		return
	}
	q.user = u
	if err := q.dispatch(); err != nil {
		q.sendError(err)
	}
}

// route finds the bucket and key: virtual-hosted style when the Host is
// "<bucket>.<domain>", path style otherwise. The path is the decoded
// request path, never cleaned.
func (q *request) route() error {
	path := q.r.URL.Path
	if q.r.URL.Opaque != "" || path != "" && path[0] != '/' {
		return newErr(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI.")
	}
	path = strings.TrimPrefix(path, "/")
	if b := q.h.hostBucket(q.r.Host); b != "" {
		q.bucket, q.key = b, path
	} else if i := strings.IndexByte(path, '/'); i >= 0 {
		q.bucket, q.key = path[:i], path[i+1:]
	} else {
		q.bucket = path
	}
	q.query = q.r.URL.Query()
	return nil
}

// hostBucket returns the bucket a virtual-hosted style Host names, or "".
func (h *handler) hostBucket(host string) string {
	if len(h.domains) == 0 || host == "" {
		return ""
	}
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range h.domains {
		if len(host) > len(d)+1 && strings.HasSuffix(host, d) && host[len(host)-len(d)-1] == '.' {
			return host[:len(host)-len(d)-1]
		}
	}
	return ""
}

// unsupported are S3 sub-resources this server does not implement; a
// request naming one gets 501 rather than being mistaken for a plain
// object or bucket request. ?tagging is implemented for objects only, so
// bucketOp refuses it itself.
var unsupported = map[string]bool{
	"accelerate": true, "analytics": true, "attributes": true, "cors": true,
	"intelligent-tiering": true, "inventory": true, "lifecycle": true, "legal-hold": true,
	"logging": true, "metadataTable": true, "metrics": true, "notification": true,
	"object-lock": true, "ownershipControls": true, "policy": true, "policyStatus": true,
	"publicAccessBlock": true, "replication": true, "requestPayment": true, "restore": true,
	"retention": true, "select": true, "select-type": true, "session": true,
	"torrent": true, "website": true, "renameObject": true, "abac": true,
}

func (q *request) has(name string) bool {
	_, ok := q.query[name]
	return ok
}

// dispatch runs the operation the method, path and sub-resources name.
func (q *request) dispatch() error {
	for name := range q.query {
		if unsupported[name] {
			return errNotImplemented("the ?" + name + " sub-resource")
		}
	}
	m := q.r.Method
	if q.bucket == "" && q.key != "" {
		return newErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid: the path %q names no bucket.", q.r.URL.Path)
	}
	if q.bucket == "" {
		if m == http.MethodGet {
			return q.listBuckets()
		}
		return errMethodNotAllowed(m, "the service (no bucket)")
	}
	if q.key == "" {
		if q.has("tagging") {
			return errNotImplemented("the ?tagging sub-resource")
		}
		return q.bucketOp(m)
	}
	if err := store.CheckKey(q.key); err != nil {
		return toAPIError(err, q.target())
	}
	return q.objectOp(m)
}

func (q *request) bucketOp(m string) error {
	switch m {
	case http.MethodGet:
		switch {
		case q.has("location"):
			return q.getBucketLocation()
		case q.has("versioning"):
			return q.getBucketVersioning()
		case q.has("encryption"):
			return q.getBucketEncryption()
		case q.has("acl"):
			return q.getBucketACL()
		case q.has("versions"):
			return q.listObjectVersions()
		case q.has("uploads"):
			return q.listMultipartUploads()
		case q.query.Get("list-type") == "2":
			return q.listObjectsV2()
		case q.has("list-type"):
			return newErr(http.StatusBadRequest, "InvalidArgument", "Invalid list-type %q: must be 2 or absent.", q.query.Get("list-type"))
		}
		return q.listObjectsV1()
	case http.MethodHead:
		return q.headBucket()
	case http.MethodPut:
		switch {
		case q.has("versioning"):
			return q.putBucketVersioning()
		case q.has("encryption"):
			return q.putBucketEncryption()
		case q.has("acl"):
			return q.putBucketACL()
		}
		return q.createBucket()
	case http.MethodDelete:
		switch {
		case q.has("encryption"):
			return q.deleteBucketEncryption()
		case q.has("versioning"), q.has("acl"), q.has("location"):
			return errMethodNotAllowed(m, "this bucket sub-resource")
		}
		return q.deleteBucket()
	case http.MethodPost:
		if q.has("delete") {
			return q.deleteObjects()
		}
		return errNotImplemented("POST to a bucket (browser-based uploads)")
	}
	return errMethodNotAllowed(m, "a bucket")
}

func (q *request) objectOp(m string) error {
	switch m {
	case http.MethodGet:
		switch {
		case q.has("tagging"):
			return q.getObjectTagging()
		case q.has("uploadId"):
			return q.listParts()
		case q.has("acl"):
			return q.getObjectACL()
		}
		return q.getObject(false)
	case http.MethodHead:
		return q.getObject(true)
	case http.MethodPut:
		switch {
		case q.has("tagging"):
			return q.putObjectTagging()
		case q.has("uploadId") || q.has("partNumber"):
			if q.r.Header.Get("X-Amz-Copy-Source") != "" {
				return q.uploadPartCopy()
			}
			return q.uploadPart()
		case q.has("acl"):
			return q.putObjectACL()
		case q.r.Header.Get("X-Amz-Copy-Source") != "":
			return q.copyObject()
		}
		return q.putObject()
	case http.MethodPost:
		switch {
		case q.has("uploads"):
			return q.createMultipartUpload()
		case q.has("uploadId"):
			return q.completeMultipartUpload()
		}
		return errMethodNotAllowed(m, "an object without ?uploads or ?uploadId")
	case http.MethodDelete:
		switch {
		case q.has("tagging"):
			return q.deleteObjectTagging()
		case q.has("uploadId"):
			return q.abortMultipartUpload()
		}
		return q.deleteObject()
	}
	return errMethodNotAllowed(m, "an object")
}

func errMethodNotAllowed(method, what string) *apiError {
	return newErr(http.StatusMethodNotAllowed, "MethodNotAllowed",
		"The specified method is not allowed against this resource: %s on %s.", method, what)
}

// target describes the request's resource for error messages.
func (q *request) target() target {
	return target{bucket: q.bucket, key: q.key, versionID: q.query.Get("versionId"), uploadID: q.query.Get("uploadId")}
}

// fail maps err to an S3 error about the request's resource.
func (q *request) fail(err error) error {
	return toAPIError(err, q.target())
}

// sendError writes err as an S3 error response. HEAD responses carry no
// body, so the code also goes in x-minio-error-code, which minio-go reads.
func (q *request) sendError(err error) {
	ae := toAPIError(err, q.target())
	if ae.internal != nil {
		q.h.log.Error("s3: internal error", "request_id", q.id, "method", q.r.Method,
			"bucket", q.bucket, "key", q.key, "error", ae.internal.Error())
	}
	q.errCode = ae.Code
	if q.w.wroteHeader {
		// Too late for an error document: cut the response short so the
		// client sees a failed transfer, never a complete-looking one.
		panic(http.ErrAbortHandler)
	}
	h := q.w.Header()
	// Headers describing a successful object must not leak into an error.
	for _, name := range []string{"Etag", "Last-Modified", "Content-Range", "Accept-Ranges"} {
		h.Del(name)
	}
	for name, vs := range ae.header {
		h[name] = vs
	}
	if q.r.Method == http.MethodHead {
		h.Set("X-Minio-Error-Code", ae.Code)
		h.Set("X-Minio-Error-Desc", strconv.Quote(ae.Message))
		h.Del("Content-Length")
		q.w.WriteHeader(ae.Status)
		return
	}
	body := errorDoc{Code: ae.Code, Message: ae.Message, Resource: q.r.URL.Path, RequestID: q.id}
	if ae.Code == "NoSuchBucket" || ae.Code == "BucketNotEmpty" || ae.Code == "BucketAlreadyOwnedByYou" {
		body.BucketName = q.bucket
	}
	if ae.Code == "NoSuchKey" {
		body.Key = q.key
	}
	if ae.Code == "NoSuchUpload" {
		body.UploadID = q.query.Get("uploadId")
	}
	q.writeXMLStatus(ae.Status, body)
}

// respWriter records the status and the bytes sent, for the log.
type respWriter struct {
	http.ResponseWriter
	status      int
	n           int64
	wroteHeader bool
}

func (w *respWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.status, w.wroteHeader = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
