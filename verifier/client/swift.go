package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/harness"
)

// Swift is a Client for the Swift API (TempAuth v1) of one endpoint, on
// ncw/swift. It authenticates on first use and again when the token
// expires or a request is answered 401 (a GET or HEAD is then repeated;
// a PUT is repeated only if its body can seek, else it fails: refused,
// nothing stored).
//
// Swift has no versions and no client-chosen encryption: a version id on
// a read or delete, an SSE mode on a write, an SSE-C key on a read or
// copy source and a Put that would need parts are refused with
// ErrUnsupported before anything is sent. Objects encrypted with SSE-S3 or
// SSE-KMS read transparently; Swift does not say they are encrypted, so
// ObjectInfo.SSE is always "".
type Swift struct {
	site string
	conn *swift.Connection
	opts options
}

var (
	_ Client     = (*Swift)(nil)
	_ MetaWriter = (*Swift)(nil)
)

// NewSwift returns a Swift client for the replicated (or non-replicated)
// endpoint of site. It sends nothing until used.
func NewSwift(site harness.Site, replicated bool, opts ...Option) (*Swift, error) {
	ep := site.NonReplicated()
	if replicated {
		ep = site.Replicated()
	}
	if u, err := url.Parse(ep.SwiftAuth); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("swift client for %s: auth URL %q is not an http(s) URL", site.Name(), ep.SwiftAuth)
	}
	o := newOptions(opts)
	cr := site.Credentials()
	conn := &swift.Connection{
		UserName: cr.SwiftUser, ApiKey: cr.SwiftKey, AuthUrl: ep.SwiftAuth, AuthVersion: 1,
		Transport: o.rt, UserAgent: "replcheck",
		// One retry: what lets a request re-authenticate after a 401.
		Retries: 1,
		// ncw/swift's own timers: until the response headers (restarted
		// as the body uploads), and between reads of a response body.
		ConnectTimeout: DefaultResponseTimeout, Timeout: DefaultResponseTimeout,
	}
	return &Swift{site: site.Name(), conn: conn, opts: o}, nil
}

// Site implements Client.
func (c *Swift) Site() string { return c.site }

// API implements Client.
func (c *Swift) API() string { return APISwift }

// Connection returns the underlying ncw/swift connection, for what Client
// does not offer.
func (c *Swift) Connection() *swift.Connection { return c.conn }

// auth authenticates if there is no valid token, so that a failure to
// authenticate is told apart from a failure of the request: the request
// was then never sent.
func (c *Swift) auth(ctx context.Context) error {
	if c.conn.Authenticated() {
		return nil
	}
	if err := c.conn.Authenticate(ctx); err != nil {
		return &notSent{fmt.Errorf("authenticating: %w", err)}
	}
	return nil
}

func swiftMeta(meta map[string]string) swift.Headers {
	h := swift.Headers{}
	for k, v := range meta {
		h["X-Object-Meta-"+strings.ToLower(k)] = v
	}
	return h
}

// Put implements Client.
func (c *Swift) Put(ctx context.Context, bucket, key string, body io.Reader, size int64, o PutOptions) (WriteResult, error) {
	fail := func(err error) (WriteResult, error) { return WriteResult{}, wrap(APISwift, "put", bucket, key, err) }
	if err := checkSize(size); err != nil {
		return fail(err)
	}
	if err := o.SSE.validate(); err != nil {
		return fail(err)
	}
	if o.SSE.Mode != SSENone {
		return fail(fmt.Errorf("%w: Swift cannot ask for server-side encryption (%s); write over S3, or use a container with default encryption",
			ErrUnsupported, o.SSE.Mode))
	}
	if o.PartSize > 0 && size > o.PartSize {
		return fail(fmt.Errorf("%w: multipart upload of %d bytes in parts of %d: Swift has no multipart upload; write over S3",
			ErrUnsupported, size, o.PartSize))
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return fail(err)
	}
	h := swiftMeta(o.Meta)
	h["Content-Length"] = strconv.FormatInt(size, 10)
	ct := o.ContentType
	if ct == "" {
		ct = defaultContentType // as minio-go sends, rather than ncw/swift's guess from the name
	}
	rh, err := c.conn.ObjectPut(ctx, bucket, key, body, false, "", ct, h)
	if err != nil {
		return fail(err)
	}
	return WriteResult{ETag: rh["Etag"]}, nil
}

func (c *Swift) readable(o GetOptions) error {
	if err := o.SSE.validate(); err != nil {
		return err
	}
	if o.VersionID != "" {
		return fmt.Errorf("%w: Swift cannot read version %q; read versions over S3", ErrUnsupported, o.VersionID)
	}
	if o.SSE.Mode == SSEC {
		return fmt.Errorf("%w: Swift cannot pass an SSE-C key; read SSE-C objects over S3", ErrUnsupported)
	}
	return nil
}

// Get implements Client.
func (c *Swift) Get(ctx context.Context, bucket, key string, o GetOptions) (io.ReadCloser, ObjectInfo, error) {
	fail := func(err error) (io.ReadCloser, ObjectInfo, error) {
		return nil, ObjectInfo{}, wrap(APISwift, "get", bucket, key, err)
	}
	if err := checkRange(o); err != nil {
		return fail(err)
	}
	if err := c.readable(o); err != nil {
		return fail(err)
	}
	ctx, cancel := c.opts.callCtx(ctx)
	if err := c.auth(ctx); err != nil {
		cancel()
		return fail(err)
	}
	var h swift.Headers
	if r := rangeHeader(o); r != "" {
		h = swift.Headers{"Range": r}
	}
	f, rh, err := c.conn.ObjectOpen(ctx, bucket, key, false, h)
	if err != nil {
		cancel()
		return fail(err)
	}
	return &cancelOnClose{ReadCloser: f, cancel: cancel}, swiftInfo(rh), nil
}

// Head implements Client.
func (c *Swift) Head(ctx context.Context, bucket, key string, o GetOptions) (ObjectInfo, error) {
	if err := c.readable(o); err != nil {
		return ObjectInfo{}, wrap(APISwift, "head", bucket, key, err)
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return ObjectInfo{}, wrap(APISwift, "head", bucket, key, err)
	}
	_, rh, err := c.conn.Object(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, wrap(APISwift, "head", bucket, key, err)
	}
	return swiftInfo(rh), nil
}

// swiftInfo describes the object a GET or HEAD answered for.
func swiftInfo(rh swift.Headers) ObjectInfo {
	h := http.Header{}
	for k, v := range rh {
		h.Set(k, v)
	}
	info := ObjectInfo{Size: objectSize(h), ETag: strings.Trim(h.Get("Etag"), `"`), ContentType: h.Get("Content-Type"),
		Meta: userMeta(h, "x-object-meta-")}
	if t, ok := swiftTime(h.Get("X-Timestamp")); ok {
		info.LastModified = t
	} else if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		info.LastModified = t
	}
	return info
}

// swiftTime parses Swift's X-Timestamp (seconds with decimals), which is
// finer than Last-Modified.
func swiftTime(v string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if ns, err = strconv.ParseInt((frac + "000000000")[:9], 10, 64); err != nil {
			return time.Time{}, false
		}
	}
	return time.Unix(s, ns).UTC(), true
}

// Delete implements Client. Deleting a key that does not exist is a 404
// over Swift (Failed), unlike S3.
func (c *Swift) Delete(ctx context.Context, bucket, key, versionID string) (WriteResult, error) {
	if versionID != "" {
		return WriteResult{}, wrap(APISwift, "delete", bucket, key,
			fmt.Errorf("%w: Swift cannot delete version %q; delete versions over S3", ErrUnsupported, versionID))
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return WriteResult{}, wrap(APISwift, "delete", bucket, key, err)
	}
	if err := c.conn.ObjectDelete(ctx, bucket, key); err != nil {
		if errors.Is(err, swift.ObjectNotFound) {
			err = &mayHaveApplied{err}
		}
		return WriteResult{}, wrap(APISwift, "delete", bucket, key, err)
	}
	return WriteResult{}, nil
}

// Copy implements Client (COPY with Destination; X-Fresh-Metadata when
// o.Meta replaces the metadata). The copy takes the container's default
// encryption, whatever the source's.
func (c *Swift) Copy(ctx context.Context, bucket, srcKey, dstKey string, o CopyOptions) (WriteResult, error) {
	fail := func(err error) (WriteResult, error) {
		return WriteResult{}, wrap(APISwift, "copy", bucket, srcKey+" to "+dstKey, err)
	}
	if err := o.SrcSSE.validate(); err != nil {
		return fail(err)
	}
	if err := o.DstSSE.validate(); err != nil {
		return fail(err)
	}
	if o.SrcSSE.Mode == SSEC {
		return fail(fmt.Errorf("%w: Swift cannot pass the SSE-C key of a copy source; copy over S3", ErrUnsupported))
	}
	if o.DstSSE.Mode != SSENone {
		return fail(fmt.Errorf("%w: Swift cannot ask for server-side encryption (%s) of a copy; copy over S3",
			ErrUnsupported, o.DstSSE.Mode))
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return fail(err)
	}
	h := swift.Headers{}
	if o.Meta != nil {
		h = swiftMeta(o.Meta)
		h["X-Fresh-Metadata"] = "true"
	}
	rh, err := c.conn.ObjectCopy(ctx, bucket, srcKey, bucket, dstKey, h)
	if err != nil {
		return fail(err)
	}
	return WriteResult{ETag: rh["Etag"]}, nil
}

// UpdateMeta implements Client: a POST, which replaces the user metadata
// in place and keeps everything else.
func (c *Swift) UpdateMeta(ctx context.Context, bucket, key string, meta map[string]string) error {
	_, err := c.UpdateMetaResult(ctx, bucket, key, meta)
	return err
}

// UpdateMetaResult implements MetaWriter. Swift's POST answers with no
// version or ETag: the result is empty.
func (c *Swift) UpdateMetaResult(ctx context.Context, bucket, key string, meta map[string]string) (WriteResult, error) {
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return WriteResult{}, wrap(APISwift, "update-meta", bucket, key, err)
	}
	if err := c.conn.ObjectUpdate(ctx, bucket, key, swiftMeta(meta)); err != nil {
		return WriteResult{}, wrap(APISwift, "update-meta", bucket, key, err)
	}
	return WriteResult{}, nil
}

// listPage is how many names a listing request asks for.
const listPage = 1000

// List implements Client.
func (c *Swift) List(ctx context.Context, bucket, prefix string) ([]ListEntry, error) {
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return nil, wrap(APISwift, "list", bucket, "", err)
	}
	objs, err := c.conn.ObjectsAll(ctx, bucket, &swift.ObjectsOpts{Prefix: prefix, Limit: listPage})
	if err != nil {
		return nil, wrap(APISwift, "list", bucket, "", err)
	}
	out := make([]ListEntry, 0, len(objs))
	for _, o := range objs {
		out = append(out, ListEntry{Key: o.Name, Size: o.Bytes, ETag: strings.Trim(o.Hash, `"`)})
	}
	return out, nil
}

// CreateBucket implements Client: a container PUT with X-Storage-Policy.
// Swift has no versioning to ask for: o.Versioning is refused.
func (c *Swift) CreateBucket(ctx context.Context, bucket string, o BucketOptions) error {
	if o.Versioning {
		return wrap(APISwift, "create-bucket", bucket, "",
			fmt.Errorf("%w: Swift cannot turn on S3 versioning; create the bucket over S3", ErrUnsupported))
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return wrap(APISwift, "create-bucket", bucket, "", err)
	}
	var h swift.Headers
	if o.Policy != "" {
		h = swift.Headers{"X-Storage-Policy": o.Policy}
	}
	if err := c.conn.ContainerCreate(ctx, bucket, h); err != nil {
		return wrap(APISwift, "create-bucket", bucket, "", err)
	}
	return nil
}

// DeleteBucket implements Client.
func (c *Swift) DeleteBucket(ctx context.Context, bucket string) error {
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.auth(ctx); err != nil {
		return wrap(APISwift, "delete-bucket", bucket, "", err)
	}
	if err := c.conn.ContainerDelete(ctx, bucket); err != nil {
		return wrap(APISwift, "delete-bucket", bucket, "", err)
	}
	return nil
}
