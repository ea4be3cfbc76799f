// Package client is what the workload talks to object storage through:
// one Client per endpoint of a site, S3 (minio-go) or Swift (ncw/swift),
// behind one API-neutral interface, and Recording, a Client that writes
// every object operation into the run's history as it happens.
//
// # Outcomes
//
// Classify turns any error of a Client into the outcome the history
// records: OK, Failed (the operation certainly did not take effect) or
// Unknown (it may have). The rule is whether the request may have reached
// the server and been applied:
//
//	nil                                                   OK
//	refused by the client before sending (ErrUnsupported,
//	  ErrInvalid), Swift authentication failed             Failed
//	connect failed: refused, unreachable, dial timeout     Failed   (no connection, so no request)
//	S3 or Swift 4xx: NoSuchKey, AccessDenied,
//	  InvalidRequest, PreconditionFailed, …                Failed   (the server refused)
//	S3 or Swift 5xx                                        Unknown  (the server may have applied it)
//	timeout, context deadline or cancellation, reset,
//	  broken pipe, EOF, anything else                      Unknown
//
// A refused connection is Failed: TCP never connected, so not a byte of
// the request left (Go's transport only retries a write on a new
// connection when nothing of it was written on the old one). A reset or
// EOF on a connection that carried the request is Unknown.
//
// # Kinds
//
// Put versus Overwrite is the caller's knowledge; it travels in the
// call's context: client.WithKind(ctx, history.Overwrite), or
// client.Annotate with the id, kind, seed and declared hash at once. A Put
// without a kind is Put, or Multipart when it uploads in parts (S3 with
// PartSize set and the size above it). See Recording for what each
// operation records.
//
// # Timeouts
//
// Every call runs under the caller's context (and WithTimeout's bound, if
// set); the default transport bounds connecting (5 s) and waiting for
// response headers (2 min). Clients never retry a request on their own,
// except ncw/swift repeating a GET or HEAD once, and any request after a
// 401 to re-authenticate.
package client
