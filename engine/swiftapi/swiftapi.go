// Package swiftapi is the OpenStack Swift front end of the reference engine:
// TempAuth v1 authentication and the account, container and object API,
// served over the same store as the S3 front end. A container is an S3
// bucket and an object is an S3 object, with the same data, content type and
// user metadata whichever API wrote it.
//
// Every account a user authenticates as sees the whole namespace of the
// site: accounts only scope tokens, as the store has no notion of ownership.
//
// Objects whose stored ETag is not the MD5 of their plaintext (S3 multipart
// uploads, SSE-KMS and SSE-C objects) are shown as Swift shows static large
// objects: ETag quoted, X-Static-Large-Object: True, so that clients do not
// check the body against it, and multipart-manifest=get describes their
// parts. A PUT always answers with the MD5 of the body it received.
//
// Not offered, and refused rather than stored wrongly: DLO and SLO
// manifests, symlinks, object expiry, account metadata. Container ACLs,
// container sync and Swift's own versioning headers are ignored.
package swiftapi

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// Limits, as Swift's defaults (swift/common/constraints.py).
const (
	maxFileSize         = 5<<30 + 2
	maxObjectNameLength = store.MaxKeyLength
	maxContainerNameLen = 256
	listingLimit        = 10000
	maxMetaNameLength   = 128
	maxMetaValueLength  = 256
	maxMetaCount        = 90
	maxMetaOverallSize  = 4096
	maxHeaderSize       = 8192
	// resellerPrefix starts every TempAuth account path and token.
	resellerPrefix = "AUTH_"
)

// handler serves one endpoint's Swift API.
type handler struct {
	st      *store.Store
	cfg     *endpoint.Config
	log     *slog.Logger
	auth    *tempAuth
	started time.Time
}

// New returns the Swift front end of an endpoint over st. It serves TempAuth
// at /auth/v1.0 and /auth/1.0, the storage API under /v1/AUTH_<account>, and
// Swift's capability document at /info.
func New(st *store.Store, cfg *endpoint.Config) http.Handler {
	return &handler{st: st, cfg: cfg, log: cfg.Log(), auth: newTempAuth(time.Now), started: time.Now().UTC()}
}

// request is one storage request after authentication and path parsing.
type request struct {
	w         *respWriter
	r         *http.Request
	tx        string
	account   string // path segment, AUTH_<account>
	container string
	object    string
}

func (rq *request) head() bool { return rq.r.Method == http.MethodHead }

// respWriter records what was answered, for the request log.
type respWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newTransID makes an id in Swift's form: "tx", 21 hex digits, a dash and the
// time in hex. It identifies a request in logs, not a secret.
func newTransID(now time.Time) string {
	return fmt.Sprintf("tx%016x%05x-%010x", rand.Uint64(), rand.Uint32()&0xfffff, now.Unix())
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	tx := newTransID(start)
	rw := &respWriter{ResponseWriter: w}
	rw.Header().Set("X-Trans-Id", tx)
	rw.Header().Set("X-Openstack-Request-Id", tx)
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		// Path and status only: headers carry the key and the token.
		defer func() {
			h.log.Debug("swift request", "site", h.cfg.Site, "endpoint", h.cfg.Name(),
				"method", r.Method, "path", r.URL.EscapedPath(), "status", rw.status,
				"bytes", rw.bytes, "tx", tx, "remote", r.RemoteAddr, "duration", time.Since(start))
		}()
	}
	// Decode exactly once, never clean: ".." and "%" are legal in object names.
	p, err := url.PathUnescape(r.URL.EscapedPath())
	if err != nil {
		h.plain(rw, r, http.StatusBadRequest, "Invalid path encoding")
		return
	}
	switch {
	case p == "/auth/v1.0" || p == "/auth/1.0":
		h.serveAuth(rw, r)
	case p == "/info":
		h.serveInfo(rw, r)
	case p == "/v1" || strings.HasPrefix(p, "/v1/"):
		h.serveStorage(rw, r, tx, p)
	default:
		h.plain(rw, r, http.StatusNotFound, "Not found: "+p)
	}
}

// plain answers with a short text body (none for HEAD).
func (h *handler) plain(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeBody(w, r, status, "text/plain; charset=utf-8", []byte(msg+"\n"))
}

// writeBody answers with body, or only its headers for HEAD.
func writeBody(w http.ResponseWriter, r *http.Request, status int, ctype string, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// noBody answers with an empty body, as Swift does for 201, 202 and 204.
func noBody(w http.ResponseWriter, status int) {
	if status != http.StatusNoContent {
		w.Header().Set("Content-Length", "0")
	}
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(status)
}

func (h *handler) serveStorage(w *respWriter, r *http.Request, tx, p string) {
	token := r.Header.Get("X-Auth-Token")
	if token == "" {
		token = r.Header.Get("X-Storage-Token")
	}
	if token == "" {
		w.Header().Set("Www-Authenticate", `Swift realm="unknown"`)
		h.plain(w, r, http.StatusUnauthorized, "Unauthorized: an X-Auth-Token is required")
		return
	}
	user, ok := h.auth.lookup(token)
	if !ok {
		w.Header().Set("Www-Authenticate", `Swift realm="unknown"`)
		h.plain(w, r, http.StatusUnauthorized, "Unauthorized: the token is invalid or has expired")
		return
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(p, "/v1"), "/")
	account, rest, _ := strings.Cut(rest, "/")
	container, object, _ := strings.Cut(rest, "/")
	if account != resellerPrefix+user.Account {
		h.plain(w, r, http.StatusForbidden, "Forbidden: the token does not grant access to this account")
		return
	}
	// Swift's check_utf8, on the whole decoded path.
	if !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		h.plain(w, r, http.StatusPreconditionFailed, "Invalid UTF8 or contains NULL")
		return
	}
	rq := &request{w: w, r: r, tx: tx, account: account, container: container, object: object}
	switch {
	case container == "" && object != "":
		h.plain(w, r, http.StatusNotFound, "Bad URL: empty container name")
	case container == "":
		h.serveAccount(rq)
	case object == "":
		h.serveContainer(rq)
	default:
		h.serveObject(rq)
	}
}

func (h *handler) notAllowed(rq *request, allow string) {
	rq.w.Header().Set("Allow", allow)
	h.plain(rq.w, rq.r, http.StatusMethodNotAllowed, "Method not allowed: "+rq.r.Method)
}

// fail answers with a status and a short message.
func (h *handler) fail(rq *request, status int, format string, args ...any) {
	h.plain(rq.w, rq.r, status, fmt.Sprintf(format, args...))
}

// sseCMessage explains why an SSE-C object cannot be read over Swift.
const sseCMessage = "Bad request: object %s/%s is encrypted with a customer-provided key (SSE-C); Swift cannot pass the key, read it over S3"

// storeError answers for an error of the store, objio or sse.
func (h *handler) storeError(rq *request, err error) {
	switch {
	case errors.Is(err, store.ErrNoSuchBucket):
		h.fail(rq, http.StatusNotFound, "Container not found: %s", rq.container)
	case errors.Is(err, store.ErrNoSuchKey), errors.Is(err, store.ErrNoSuchVersion):
		h.fail(rq, http.StatusNotFound, "Object not found: %s/%s", rq.container, rq.object)
	case errors.Is(err, store.ErrKeyTooLong):
		h.fail(rq, http.StatusBadRequest, "Object name length of %d longer than %d", len(rq.object), maxObjectNameLength)
	case errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrInvalidBucketName),
		errors.Is(err, store.ErrMetadataTooLarge):
		h.fail(rq, http.StatusBadRequest, "Bad request: %v", err)
	case errors.Is(err, store.ErrBucketNotEmpty):
		h.fail(rq, http.StatusConflict, "Conflict: container %s is not empty", rq.container)
	case errors.Is(err, sse.ErrMissingCustomerKey), errors.Is(err, sse.ErrCustomerKeyMismatch):
		h.fail(rq, http.StatusBadRequest, sseCMessage, rq.container, rq.object)
	case errors.Is(err, objio.ErrBadDigest):
		h.fail(rq, http.StatusUnprocessableEntity, "Unprocessable Entity: the ETag does not match the MD5 of the body")
	default:
		// The error may name backend paths; the log gets it, the client a reference.
		h.log.Error("swift request failed", "site", h.cfg.Site, "method", rq.r.Method,
			"container", rq.container, "object", rq.object, "tx", rq.tx, "err", err)
		h.fail(rq, http.StatusInternalServerError, "Internal server error (transaction %s)", rq.tx)
	}
}
