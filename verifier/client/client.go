package client

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// APIs a Client speaks.
const (
	APIS3    = "s3"
	APISwift = "swift"
)

// SSE modes, as the history records them.
const (
	SSENone = ""
	SSES3   = "SSE-S3"
	SSEKMS  = "SSE-KMS"
	SSEC    = "SSE-C"
)

// defaultContentType is what a Put without a content type stores.
const defaultContentType = "application/octet-stream"

// MinPartSize is the smallest PutOptions.PartSize S3 accepts (5 MiB): every
// part but the last must be at least this large.
const MinPartSize = 5 << 20

// Errors a Client returns, wrapped, for requests it refuses before sending
// anything: Classify makes them Failed.
var (
	// ErrUnsupported is a request the API cannot express: SSE writes over
	// Swift, version ids over Swift, multipart uploads over Swift, ….
	ErrUnsupported = errors.New("not supported by this API")
	// ErrInvalid is a request with invalid options (an SSE-C key that is
	// not 32 bytes, a part size under 5 MiB, a negative size, …).
	ErrInvalid = errors.New("invalid request")
)

// Client is what the workload does against ONE endpoint of one site,
// whichever API it speaks. Implementations are safe for concurrent use.
//
// Every method's error can be given to Classify to learn whether the
// operation took effect (OK), certainly did not (Failed) or may have
// (Unknown).
type Client interface {
	// Site names the site the endpoint belongs to.
	Site() string
	// API is APIS3 or APISwift.
	API() string

	// Put writes body, which must yield exactly size bytes.
	Put(ctx context.Context, bucket, key string, body io.Reader, size int64, o PutOptions) (WriteResult, error)
	// Get reads an object (or a range of it, see GetOptions). The caller
	// must close the body; ObjectInfo.Size is the whole object's size.
	Get(ctx context.Context, bucket, key string, o GetOptions) (io.ReadCloser, ObjectInfo, error)
	// Head describes an object without reading it; o.Offset and o.Length
	// are ignored.
	Head(ctx context.Context, bucket, key string, o GetOptions) (ObjectInfo, error)
	// Delete deletes a key (versionID "": the current version, leaving a
	// delete marker in a versioned bucket) or one version of it.
	Delete(ctx context.Context, bucket, key, versionID string) (WriteResult, error)
	// Copy copies srcKey to dstKey within bucket on the server.
	Copy(ctx context.Context, bucket, srcKey, dstKey string, o CopyOptions) (WriteResult, error)
	// UpdateMeta replaces an object's user metadata, keeping its data,
	// content type and (where the API can) its encryption.
	UpdateMeta(ctx context.Context, bucket, key string, meta map[string]string) error
	// List returns every key under prefix, paginating as needed, in key order.
	List(ctx context.Context, bucket, prefix string) ([]ListEntry, error)

	CreateBucket(ctx context.Context, bucket string, o BucketOptions) error
	DeleteBucket(ctx context.Context, bucket string) error
}

// MetaWriter is a Client whose metadata updates report what they wrote:
// over S3 a metadata update is a copy onto itself, a new version with a
// new ETag. Recording uses it, when the client has it, to record both.
type MetaWriter interface {
	UpdateMetaResult(ctx context.Context, bucket, key string, meta map[string]string) (WriteResult, error)
}

// PutOptions configure a Put.
type PutOptions struct {
	ContentType string            // "" = application/octet-stream over either API
	Meta        map[string]string // user metadata; names lower case
	SSE         SSE
	// PartSize, over S3 only: when > 0 (and at least MinPartSize) an
	// object larger than PartSize is uploaded in parts of PartSize bytes
	// (the last smaller); 0 = always a single PUT. Swift refuses a Put
	// that would need parts.
	PartSize int64
}

// Multipart reports whether a Put of size bytes with o over api is a
// multipart upload.
func (o PutOptions) Multipart(api string, size int64) bool {
	return api == APIS3 && o.PartSize > 0 && size > o.PartSize
}

// GetOptions configure a Get or Head.
type GetOptions struct {
	VersionID string // "" = current version (S3 only)
	// SSE carries the SSE-C key an SSE-C object is read with. Other modes
	// need nothing to read (the server decrypts) and are not sent.
	SSE SSE
	// Offset and Length select a range (bytes): Length 0 = to the end.
	Offset, Length int64
}

// CopyOptions configure a Copy.
type CopyOptions struct {
	SrcSSE SSE // the source's SSE-C key, if it has one
	DstSSE SSE // encryption of the copy
	// Meta replaces the user metadata of the copy; nil copies the
	// source's. The content type is the source's either way.
	Meta map[string]string
}

// BucketOptions configure CreateBucket.
type BucketOptions struct {
	// Policy is the storage policy (flavor), e.g. hp.intensive; "" = the
	// endpoint's default. S3 asks for it with LocationConstraint
	// "<region>:<policy>", Swift with X-Storage-Policy.
	Policy string
	// Versioning turns S3 versioning on; Swift refuses it.
	Versioning bool
}

// WriteResult is what a write returned.
type WriteResult struct {
	VersionID string // "" when the bucket is not versioned or the API does not say (Swift)
	ETag      string // unquoted
}

// ObjectInfo describes an object as a Get or Head saw it.
type ObjectInfo struct {
	Size         int64 // of the whole object, also for a range
	ETag         string
	VersionID    string
	ContentType  string
	Meta         map[string]string // user metadata, names lower case
	SSE          string            // the mode the server reports; Swift reports none
	LastModified time.Time
}

// ListEntry is one key of a listing.
type ListEntry struct {
	Key  string
	Size int64
	ETag string
}

// SSE is a server-side encryption choice. The zero value is no
// encryption. String, GoString, MarshalJSON and LogValue never show Key.
type SSE struct {
	Mode     string // SSENone, SSES3, SSEKMS or SSEC
	Key      []byte // SSE-C: the 32-byte customer key
	KMSKeyID string // SSE-KMS: the key id; "" = the endpoint's default key
}

// String names the mode, the KMS key id and, for SSE-C, the key's MD5
// (which S3 itself sends in headers), never the key.
func (s SSE) String() string {
	switch s.Mode {
	case SSENone:
		return "none"
	case SSEKMS:
		if s.KMSKeyID != "" {
			return SSEKMS + "(" + s.KMSKeyID + ")"
		}
	case SSEC:
		if len(s.Key) > 0 {
			return SSEC + "(key md5 " + s.keyMD5() + ")"
		}
	}
	return s.Mode
}

// GoString is String, so that %#v does not show the key either.
func (s SSE) GoString() string { return "client.SSE{" + s.String() + "}" }

// LogValue implements slog.LogValuer.
func (s SSE) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the mode and KMS key id, never the key.
func (s SSE) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Mode     string `json:"mode,omitempty"`
		KMSKeyID string `json:"kmsKeyId,omitempty"`
	}{s.Mode, s.KMSKeyID})
}

func (s SSE) keyMD5() string {
	sum := md5.Sum(s.Key)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// validate checks s; errors wrap ErrInvalid.
func (s SSE) validate() error {
	switch s.Mode {
	case SSENone, SSES3:
		if len(s.Key) > 0 || s.KMSKeyID != "" {
			return fmt.Errorf("%w: %s takes neither a customer key nor a KMS key id", ErrInvalid, s.mode())
		}
	case SSEKMS:
		if len(s.Key) > 0 {
			return fmt.Errorf("%w: SSE-KMS takes no customer key", ErrInvalid)
		}
	case SSEC:
		if len(s.Key) != 32 {
			return fmt.Errorf("%w: an SSE-C key is 32 bytes, this one %d", ErrInvalid, len(s.Key))
		}
		if s.KMSKeyID != "" {
			return fmt.Errorf("%w: SSE-C takes no KMS key id", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: unknown SSE mode %q (want %q, %q, %q or none)", ErrInvalid, s.Mode, SSES3, SSEKMS, SSEC)
	}
	return nil
}

func (s SSE) mode() string {
	if s.Mode == SSENone {
		return "no encryption"
	}
	return s.Mode
}

func checkSize(size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: size %d: the size must be known", ErrInvalid, size)
	}
	return nil
}

func checkRange(o GetOptions) error {
	if o.Offset < 0 || o.Length < 0 {
		return fmt.Errorf("%w: range offset %d length %d", ErrInvalid, o.Offset, o.Length)
	}
	return nil
}

// rangeHeader is the HTTP Range o asks for, "" for the whole object.
func rangeHeader(o GetOptions) string {
	switch {
	case o.Length > 0:
		return fmt.Sprintf("bytes=%d-%d", o.Offset, o.Offset+o.Length-1)
	case o.Offset > 0:
		return fmt.Sprintf("bytes=%d-", o.Offset)
	}
	return ""
}
