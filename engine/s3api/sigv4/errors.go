package sigv4

import (
	"errors"
	"io"
	"net/http"
)

// Error is an S3-style authentication error. Code, Message and HTTPStatus map
// one to one onto the <Code>, <Message> and status of an S3 error response.
type Error struct {
	Code       string // S3 error code
	Message    string // says what is wrong, never contains a secret or a full signature computed by the server
	HTTPStatus int

	// CanonicalRequest and StringToSign are set on SignatureDoesNotMatch for
	// the request signature (not for chunk signatures). S3 returns both in its
	// error body so that client authors can see what the server signed; they
	// hold no secret and no signature.
	CanonicalRequest string
	StringToSign     string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(code string, status int, msg string) *Error {
	return &Error{Code: code, Message: msg, HTTPStatus: status}
}

// Messages follow the wording of real S3 where S3 has one, so that clients
// that match on them behave as against AWS.
const (
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	msgNoDate            = "AWS authentication requires a valid Date or x-amz-date header"
	msgSigV2             = "signature version 2 is not supported; use AWS4-HMAC-SHA256 (signature version 4)"
	msgSigV4A            = "signature version 4A (AWS4-ECDSA-P256-SHA256) is not supported; use AWS4-HMAC-SHA256"
	msgPresignParams     = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	msgBadContentSHA256  = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value."
	msgIncompleteBody    = "You did not provide the number of bytes specified by the Content-Length HTTP header."
)

func errSignatureMismatch() *Error {
	return newError("SignatureDoesNotMatch", http.StatusForbidden, msgSignatureMismatch)
}

func errMalformedChunk(what string) *Error {
	return newError("InvalidArgument", http.StatusBadRequest, "malformed aws-chunked body: "+what)
}

func errIncompleteBody(what string) *Error {
	if what == "" {
		return newError("IncompleteBody", http.StatusBadRequest, msgIncompleteBody)
	}
	return newError("IncompleteBody", http.StatusBadRequest, msgIncompleteBody+" ("+what+")")
}

// bodyReadError converts a short read of the underlying body into IncompleteBody;
// other I/O errors (client gone, http.MaxBytesError) pass through unchanged so
// the caller can still recognise them.
func bodyReadError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errIncompleteBody(what)
	}
	return err
}
