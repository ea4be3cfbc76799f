package client

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/verifier/history"
)

// notSent marks an error that happened before the operation's request
// could leave: a failed Swift authentication, a history that could not
// record the invocation.
type notSent struct{ err error }

func (e *notSent) Error() string { return e.err.Error() }
func (e *notSent) Unwrap() error { return e.err }

// mayHaveApplied marks an error answer to a request the server may have
// applied all the same: Swift's object server writes a delete's tombstone,
// and container sync ships it, before answering 404 for an object it did
// not hold.
type mayHaveApplied struct{ err error }

func (e *mayHaveApplied) Error() string {
	return e.err.Error() + " (a Swift store records the delete all the same)"
}
func (e *mayHaveApplied) Unwrap() error { return e.err }

// Classify says what an error of a Client tells about the operation:
//
//	error                                                outcome  why
//	nil                                                  OK
//	ErrUnsupported, ErrInvalid (refused by the client)   Failed   nothing was sent
//	Swift authentication failed before the request       Failed   the request was never sent
//	connect failed (refused, unreachable, dial timeout)  Failed   no connection, so no request
//	S3 4xx (NoSuchKey, AccessDenied, InvalidRequest,     Failed   the server answered and refused
//	  PreconditionFailed, …), Swift 4xx
//	S3 or Swift 501 (NotImplemented)                     Failed   the server does not do that at all
//	Swift DELETE answered 404                            Unknown  Swift writes the tombstone anyway
//	S3 or Swift 5xx (InternalError, SlowDown, …)         Unknown  the server may have applied it
//	context deadline or cancellation, ncw/swift's own    Unknown  the request may have been sent
//	  timeout, connection reset, broken pipe, EOF
//	anything else                                        Unknown  cannot tell: the safe answer
//
// A multipart upload is one operation: a 5xx on any of its requests is
// Unknown even when the upload was then aborted.
func Classify(err error) history.Outcome {
	if err == nil {
		return history.OK
	}
	var ns *notSent
	if errors.As(err, &ns) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrInvalid) {
		return history.Failed
	}
	var ma *mayHaveApplied
	if errors.As(err, &ma) {
		return history.Unknown
	}
	// ncw/swift's own timeout is a *swift.Error with status 408 made on the
	// client: it must not pass for the server's 408.
	if errors.Is(err, swift.TimeoutError) {
		return history.Unknown
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return history.Failed
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return history.Unknown
	}
	// 501: the server does not implement what was asked (RGW refuses some
	// SSE-KMS copies so), so it cannot have applied it.
	if code := StatusCode(err); code >= 400 && code < 500 || code == http.StatusNotImplemented {
		return history.Failed
	}
	return history.Unknown
}

// StatusCode is the HTTP status of a server's error response, 0 if err is
// not one.
func StatusCode(err error) int {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode
	}
	var se *swift.Error
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is the server saying the object, the
// version or the bucket does not exist (404: NoSuchKey, NoSuchVersion,
// NoSuchBucket; Swift's Object or Container Not Found).
func IsNotFound(err error) bool {
	if err == nil || errors.Is(err, swift.TimeoutError) {
		return false
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "NoSuchKey", "NoSuchVersion", "NoSuchBucket":
			return true
		}
	}
	return StatusCode(err) == http.StatusNotFound
}
