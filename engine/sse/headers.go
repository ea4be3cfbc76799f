package sse

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// S3 request and response header names, in canonical form.
const (
	HeaderSSE               = "X-Amz-Server-Side-Encryption"
	HeaderSSEKMSKeyID       = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	HeaderSSEContext        = "X-Amz-Server-Side-Encryption-Context"
	HeaderSSECAlgorithm     = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
	HeaderSSECKey           = "X-Amz-Server-Side-Encryption-Customer-Key"
	HeaderSSECKeyMD5        = "X-Amz-Server-Side-Encryption-Customer-Key-Md5"
	HeaderCopySSECAlgorithm = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm"
	HeaderCopySSECKey       = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"
	HeaderCopySSECKeyMD5    = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key-Md5"
)

const (
	sseAlgorithmAES256         = "AES256"
	sseAlgorithmKMS            = "aws:kms"
	sseAlgorithmKMSDSSE        = "aws:kms:dsse"
	errCodeInvalidArgument     = "InvalidArgument"
	errCodeInvalidEncAlgorithm = "InvalidEncryptionAlgorithmError"
)

// HeaderError is a request's invalid SSE header combination. Code is the S3
// error code real S3 answers with; all of them go with HTTP 400.
type HeaderError struct {
	Code    string // InvalidArgument or InvalidEncryptionAlgorithmError
	Message string // what is wrong, fit for the S3 error body
}

// Error returns the code and message.
func (e *HeaderError) Error() string { return "sse: " + e.Code + ": " + e.Message }

// StatusCode returns the HTTP status S3 sends with e: always 400.
func (e *HeaderError) StatusCode() int { return http.StatusBadRequest }

func invalidArgument(msg string) *HeaderError {
	return &HeaderError{Code: errCodeInvalidArgument, Message: msg}
}

// header returns the trimmed value of h's header name and whether it is
// present at all, so that a present but empty header counts as invalid
// rather than absent.
func header(h http.Header, name string) (string, bool) {
	v := h.Values(name)
	if len(v) == 0 {
		return "", false
	}
	return strings.TrimSpace(v[0]), true
}

// ParseS3Headers returns the encryption a PUT, POST (multipart initiation),
// GET or HEAD asks for: Mode None when no SSE header is present. An invalid
// combination is a *[HeaderError]:
//
//   - x-amz-server-side-encryption other than AES256 or aws:kms
//     (aws:kms:dsse is refused): InvalidEncryptionAlgorithmError;
//   - SSE-C headers with x-amz-server-side-encryption or KMS headers, an
//     incomplete SSE-C header set, an algorithm other than AES256, a key that
//     is not base64 of 32 bytes, a key MD5 that does not match the key, KMS
//     headers without aws:kms, or an encryption context that is not base64
//     of a JSON object of strings: InvalidArgument.
//
// An SSE-KMS key id given as an ARN ("arn:aws:kms:region:account:key/ID")
// is reduced to ID; anything else is kept as sent.
func ParseS3Headers(h http.Header) (Params, error) {
	sse, hasSSE := header(h, HeaderSSE)
	kmsKeyID, hasKMSKeyID := header(h, HeaderSSEKMSKeyID)
	kmsContext, hasKMSContext := header(h, HeaderSSEContext)

	p, err := parseSSEC(h, HeaderSSECAlgorithm, HeaderSSECKey, HeaderSSECKeyMD5)
	if err != nil {
		return Params{}, err
	}
	if p.Mode == SSEC {
		if hasSSE {
			return Params{}, invalidArgument("Server side encryption specified with both SSE-C and SSE-S3 or SSE-KMS headers.")
		}
		if hasKMSKeyID || hasKMSContext {
			return Params{}, invalidArgument("Server side encryption with customer provided keys cannot be combined with SSE-KMS headers.")
		}
		return p, nil
	}

	switch {
	case !hasSSE:
		if hasKMSKeyID || hasKMSContext {
			return Params{}, invalidArgument("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
		return Params{}, nil
	case sse == sseAlgorithmAES256:
		if hasKMSKeyID || hasKMSContext {
			return Params{}, invalidArgument("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
		return Params{Mode: SSES3}, nil
	case sse == sseAlgorithmKMS:
		if hasKMSKeyID && kmsKeyID == "" {
			return Params{}, invalidArgument("The x-amz-server-side-encryption-aws-kms-key-id header is empty.")
		}
		if hasKMSContext && !validKMSContext(kmsContext) {
			return Params{}, invalidArgument("The x-amz-server-side-encryption-context header must be a base64-encoded UTF-8 JSON object of string values.")
		}
		return Params{Mode: SSEKMS, KMSKeyID: kmsKeyIDFromARN(kmsKeyID), KMSContext: kmsContext}, nil
	case sse == sseAlgorithmKMSDSSE:
		return Params{}, &HeaderError{Code: errCodeInvalidEncAlgorithm, Message: "The encryption method aws:kms:dsse is not supported by this server; use AES256 or aws:kms."}
	default:
		return Params{}, &HeaderError{Code: errCodeInvalidEncAlgorithm, Message: "The encryption request you specified is not valid. The valid values are AES256 and aws:kms; got " + strconv.Quote(sse) + "."}
	}
}

// ParseS3CopySourceHeaders returns the SSE-C key of a copy source
// (x-amz-copy-source-server-side-encryption-customer-*), Mode None if there
// is none. It checks them like [ParseS3Headers] checks the SSE-C headers.
func ParseS3CopySourceHeaders(h http.Header) (Params, error) {
	return parseSSEC(h, HeaderCopySSECAlgorithm, HeaderCopySSECKey, HeaderCopySSECKeyMD5)
}

// parseSSEC parses one set of SSE-C headers; Mode None if none is present.
func parseSSEC(h http.Header, algName, keyName, md5Name string) (Params, error) {
	alg, hasAlg := header(h, algName)
	key, hasKey := header(h, keyName)
	keyMD5, hasMD5 := header(h, md5Name)
	if !hasAlg && !hasKey && !hasMD5 {
		return Params{}, nil
	}
	switch {
	case !hasAlg || alg == "":
		return Params{}, invalidArgument("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
	case alg != sseAlgorithmAES256:
		return Params{}, invalidArgument("The encryption algorithm specified is not valid: " + strconv.Quote(alg) + "; SSE-C supports only AES256.")
	case !hasKey || key == "":
		return Params{}, invalidArgument("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
	case !hasMD5 || keyMD5 == "":
		return Params{}, invalidArgument("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != KeySize {
		return Params{}, invalidArgument("The secret key was invalid for the specified algorithm.")
	}
	if KeyMD5(raw) != keyMD5 {
		return Params{}, invalidArgument("The calculated MD5 hash of the key did not match the hash that was provided.")
	}
	return Params{Mode: SSEC, CustomerKey: raw, CustomerKeyMD5: keyMD5}, nil
}

// validKMSContext reports whether v is base64 of a JSON object of strings,
// which is what S3 accepts as an encryption context.
func validKMSContext(v string) bool {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return false
	}
	var m map[string]string
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// kmsKeyIDFromARN turns "arn:aws:kms:region:account:key/ID" into ID, since
// S3 clients may name a key either way.
func kmsKeyIDFromARN(id string) string {
	if !strings.HasPrefix(id, "arn:aws:kms:") {
		return id
	}
	if i := strings.LastIndex(id, ":key/"); i >= 0 && i+len(":key/") < len(id) {
		return id[i+len(":key/"):]
	}
	return id
}

// SetS3ResponseHeaders sets the headers S3 returns for an object stored with
// env: x-amz-server-side-encryption AES256, or aws:kms with the key id (and
// the encryption context if any), or the SSE-C algorithm and key MD5. It
// sets nothing for a nil envelope or Mode None and never writes key material.
func SetS3ResponseHeaders(h http.Header, env *Envelope) {
	if env == nil {
		return
	}
	switch env.Mode {
	case SSES3:
		h.Set(HeaderSSE, sseAlgorithmAES256)
	case SSEKMS:
		h.Set(HeaderSSE, sseAlgorithmKMS)
		if env.KeyID != "" {
			h.Set(HeaderSSEKMSKeyID, env.KeyID)
		}
		if env.KMSContext != "" {
			h.Set(HeaderSSEContext, env.KMSContext)
		}
	case SSEC:
		h.Set(HeaderSSECAlgorithm, sseAlgorithmAES256)
		h.Set(HeaderSSECKeyMD5, env.CustomerKeyMD5)
	}
}

// ETagIsPlainMD5 reports whether S3 gives objects of mode m the MD5 of their
// plaintext as ETag (single-part uploads): true for None and SSE-S3, false
// for SSE-C and SSE-KMS, whose ETags are opaque.
func ETagIsPlainMD5(m Mode) bool {
	return m == None || m == SSES3
}
