package s3api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/s3api/sigv4"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// apiError is an S3 error response: an HTTP status, an S3 error code and a
// message that says what is wrong.
type apiError struct {
	Status  int
	Code    string
	Message string
	// internal is the cause of an InternalError; it is logged, never sent.
	internal error
	// header holds extra response headers (x-amz-delete-marker, Allow, …).
	header http.Header
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, format string, args ...any) *apiError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &apiError{Status: status, Code: code, Message: msg}
}

// withHeader adds a response header to e and returns it.
func (e *apiError) withHeader(name, value string) *apiError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Set(name, value)
	return e
}

// internalError hides err from the client and keeps it for the log.
func internalError(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalError",
		Message: "We encountered an internal error. Please try again.", internal: err}
}

// Messages S3 sends verbatim and clients sometimes match on.
const (
	msgSSECRequired = "The object was stored using a form of Server Side Encryption. " +
		"The correct parameters must be provided to retrieve the object."
	msgSSECNotApplicable = "The encryption parameters are not applicable to this object."
	msgSSECKeyMismatch   = "Access Denied: the SSE-C key provided does not match the key the object was stored with."
	msgMalformedXML      = "The XML you provided was not well-formed or did not validate against our published schema."
)

func errMalformedXML(detail string) *apiError {
	if detail == "" {
		return newErr(http.StatusBadRequest, "MalformedXML", msgMalformedXML)
	}
	return newErr(http.StatusBadRequest, "MalformedXML", "%s (%s)", msgMalformedXML, detail)
}

func errNotImplemented(what string) *apiError {
	return newErr(http.StatusNotImplemented, "NotImplemented",
		"A header or query you provided requested a function that is not implemented: %s.", what)
}

func errNoSuchBucket(bucket string) *apiError {
	return newErr(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist: %q.", bucket)
}

func errNoSuchKey(bucket, key string) *apiError {
	return newErr(http.StatusNotFound, "NoSuchKey", "The specified key does not exist: %q in bucket %q.", key, bucket)
}

// target names what a request was about, for error messages.
type target struct {
	bucket, key, versionID, uploadID string
}

// toAPIError maps an error from the store, objio, sse or sigv4 to an S3
// error. Anything unknown becomes InternalError.
func toAPIError(err error, t target) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		status := se.HTTPStatus
		if status == 0 {
			status = http.StatusForbidden
		}
		return &apiError{Status: status, Code: se.Code, Message: se.Message}
	}
	var he *sse.HeaderError
	if errors.As(err, &he) {
		return &apiError{Status: http.StatusBadRequest, Code: he.Code, Message: he.Message}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newErr(http.StatusBadRequest, "EntityTooLarge",
			"Your proposed upload exceeds the maximum allowed size of %d bytes.", mbe.Limit)
	}
	switch {
	case errors.Is(err, store.ErrNoSuchBucket):
		return errNoSuchBucket(t.bucket)
	case errors.Is(err, store.ErrBucketExists):
		return newErr(http.StatusConflict, "BucketAlreadyOwnedByYou",
			"Your previous request to create the named bucket succeeded and you already own it: %q.", t.bucket)
	case errors.Is(err, store.ErrBucketNotEmpty):
		return newErr(http.StatusConflict, "BucketNotEmpty",
			"The bucket you tried to delete is not empty: %q (delete every object version and delete marker first).", t.bucket)
	case errors.Is(err, store.ErrInvalidBucketName):
		return newErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid: %q.", t.bucket)
	case errors.Is(err, store.ErrNoSuchKey):
		return errNoSuchKey(t.bucket, t.key)
	case errors.Is(err, store.ErrDeleteMarker):
		e := newErr(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The specified method is not allowed against this resource: version %q of key %q is a delete marker.", t.versionID, t.key).
			withHeader("X-Amz-Delete-Marker", "true").withHeader("Allow", "DELETE")
		if t.versionID != "" {
			e.withHeader("X-Amz-Version-Id", t.versionID)
		}
		return e
	case errors.Is(err, store.ErrNoSuchVersion):
		return newErr(http.StatusNotFound, "NoSuchVersion",
			"The specified version does not exist: version %q of key %q in bucket %q.", t.versionID, t.key, t.bucket)
	case errors.Is(err, store.ErrKeyTooLong):
		return newErr(http.StatusBadRequest, "KeyTooLongError", "Your key is too long: %s.", trimStorePrefix(err))
	case errors.Is(err, store.ErrInvalidKey):
		return newErr(http.StatusBadRequest, "InvalidArgument", "Invalid object key: %s.", trimStorePrefix(err))
	case errors.Is(err, store.ErrNoSuchUpload):
		return newErr(http.StatusNotFound, "NoSuchUpload",
			"The specified multipart upload does not exist: upload %q of key %q in bucket %q. "+
				"The upload ID may be invalid, or the upload may have been aborted or completed.", t.uploadID, t.key, t.bucket)
	case errors.Is(err, store.ErrInvalidPartOrder):
		return newErr(http.StatusBadRequest, "InvalidPartOrder",
			"The list of parts was not in ascending order. Parts must be ordered by part number.")
	case errors.Is(err, store.ErrInvalidPart):
		return newErr(http.StatusBadRequest, "InvalidPart",
			"One or more of the specified parts could not be found or did not match: %s.", trimStorePrefix(err))
	case errors.Is(err, store.ErrEntityTooSmall):
		return newErr(http.StatusBadRequest, "EntityTooSmall",
			"Your proposed upload is smaller than the minimum allowed object size: %s.", trimStorePrefix(err))
	case errors.Is(err, store.ErrMetadataTooLarge):
		return newErr(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
	case errors.Is(err, objio.ErrBadDigest):
		return newErr(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
	case errors.Is(err, objio.ErrIncompleteBody):
		return newErr(http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header: %s.", trimPrefix(err, objio.ErrIncompleteBody))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newErr(http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header.")
	case errors.Is(err, sse.ErrMissingCustomerKey):
		return newErr(http.StatusBadRequest, "InvalidRequest", msgSSECRequired)
	case errors.Is(err, sse.ErrCustomerKeyMismatch):
		return newErr(http.StatusForbidden, "AccessDenied", msgSSECKeyMismatch)
	case errors.Is(err, sse.ErrKMSKeyNotFound):
		return newErr(http.StatusBadRequest, "KMS.NotFoundException", "%s", trimPrefix(err, nil))
	}
	return internalError(err)
}

// trimStorePrefix returns the detail after the store's "error: " prefix.
func trimStorePrefix(err error) string {
	return trimPrefix(err, errors.Unwrap(err))
}

// trimPrefix drops "<base>: " from err's text, leaving its detail.
func trimPrefix(err, base error) string {
	s := err.Error()
	if base != nil {
		if b := base.Error() + ": "; len(s) > len(b) && s[:len(b)] == b {
			return s[len(b):]
		}
	}
	if len(s) > 5 && s[:5] == "sse: " {
		return s[5:]
	}
	return s
}
