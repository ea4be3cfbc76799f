package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/harness"
)

// S3 is a Client for the S3 API of one endpoint, on minio-go. It sends
// each request once (minio-go's retries are off) so that an outcome is
// the outcome of what the workload did, not of a retry it never saw.
type S3 struct {
	site     string
	region   string
	endpoint *url.URL
	access   string
	secret   string
	mc       *minio.Client
	hc       *http.Client
	opts     options
}

var (
	_ Client     = (*S3)(nil)
	_ MetaWriter = (*S3)(nil)
)

// NewS3 returns an S3 client for the replicated (or non-replicated)
// endpoint of site, signing for site.Region(). It sends nothing until used.
func NewS3(site harness.Site, replicated bool, opts ...Option) (*S3, error) {
	ep := site.NonReplicated()
	if replicated {
		ep = site.Replicated()
	}
	u, err := url.Parse(ep.S3)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("s3 client for %s: endpoint %q is not an http(s) URL", site.Name(), ep.S3)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("s3 client for %s: endpoint %q has a path; S3 endpoints are served at the root", site.Name(), ep.S3)
	}
	o := newOptions(opts)
	if r, ok := site.(harness.ChunkedUploadRefuser); ok && r.RefusesChunkedUploads() {
		o.unsignedPayload = true
	}
	region := site.Region()
	if region == "" {
		region = "us-east-1"
	}
	cr := site.Credentials()
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cr.AccessKey, cr.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Transport:    o.rt,
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", site.Name(), err)
	}
	return &S3{site: site.Name(), region: region, endpoint: &url.URL{Scheme: u.Scheme, Host: u.Host},
		access: cr.AccessKey, secret: cr.SecretKey, mc: mc, hc: &http.Client{Transport: o.rt}, opts: o}, nil
}

// Site implements Client.
func (c *S3) Site() string { return c.site }

// API implements Client.
func (c *S3) API() string { return APIS3 }

// Minio returns the underlying minio-go client, for what Client does not offer.
func (c *S3) Minio() *minio.Client { return c.mc }

func wrap(api, op, bucket, key string, err error) error {
	if key == "" {
		return fmt.Errorf("%s %s %s: %w", api, op, bucket, err)
	}
	return fmt.Errorf("%s %s %s/%s: %w", api, op, bucket, key, err)
}

// Put implements Client. A Put with o.PartSize set and size above it is a
// multipart upload (parts read one after the other from body); any other
// is a single PUT.
func (c *S3) Put(ctx context.Context, bucket, key string, body io.Reader, size int64, o PutOptions) (WriteResult, error) {
	fail := func(err error) (WriteResult, error) { return WriteResult{}, wrap(APIS3, "put", bucket, key, err) }
	if err := checkSize(size); err != nil {
		return fail(err)
	}
	if o.PartSize != 0 && o.PartSize < MinPartSize {
		return fail(fmt.Errorf("%w: part size %d is under S3's minimum of %d", ErrInvalid, o.PartSize, MinPartSize))
	}
	ss, err := writeSSE(o.SSE)
	if err != nil {
		return fail(err)
	}
	po := minio.PutObjectOptions{ContentType: o.ContentType, UserMetadata: amzMeta(o.Meta), ServerSideEncryption: ss,
		DisableContentSha256: c.opts.unsignedPayload}
	if o.Multipart(APIS3, size) {
		po.PartSize = uint64(o.PartSize)
	} else {
		po.DisableMultipart = true
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	info, err := c.mc.PutObject(ctx, bucket, key, body, size, po)
	if err != nil {
		return fail(err)
	}
	return WriteResult{VersionID: info.VersionID, ETag: info.ETag}, nil
}

// Get implements Client.
func (c *S3) Get(ctx context.Context, bucket, key string, o GetOptions) (io.ReadCloser, ObjectInfo, error) {
	fail := func(err error) (io.ReadCloser, ObjectInfo, error) {
		return nil, ObjectInfo{}, wrap(APIS3, "get", bucket, key, err)
	}
	if err := checkRange(o); err != nil {
		return fail(err)
	}
	gopts, err := getOptions(o)
	if err != nil {
		return fail(err)
	}
	if r := rangeHeader(o); r != "" {
		gopts.Set("Range", r)
	}
	ctx, cancel := c.opts.callCtx(ctx)
	rc, _, h, err := minio.Core{Client: c.mc}.GetObject(ctx, bucket, key, gopts)
	if err != nil {
		cancel()
		return fail(err)
	}
	return &cancelOnClose{ReadCloser: rc, cancel: cancel}, infoFromHeader(h), nil
}

// Head implements Client.
func (c *S3) Head(ctx context.Context, bucket, key string, o GetOptions) (ObjectInfo, error) {
	gopts, err := getOptions(o)
	if err != nil {
		return ObjectInfo{}, wrap(APIS3, "head", bucket, key, err)
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	oi, err := c.mc.StatObject(ctx, bucket, key, gopts)
	if err != nil {
		return ObjectInfo{}, wrap(APIS3, "head", bucket, key, err)
	}
	return ObjectInfo{Size: oi.Size, ETag: oi.ETag, VersionID: oi.VersionID, ContentType: oi.ContentType,
		Meta: userMeta(oi.Metadata, "x-amz-meta-"), SSE: sseMode(oi.Metadata), LastModified: oi.LastModified}, nil
}

// Delete implements Client. It reports the version id S3 answers with:
// the delete marker's, or the deleted version's when versionID is given.
// Deleting a key that does not exist succeeds, as S3 has it.
func (c *S3) Delete(ctx context.Context, bucket, key, versionID string) (WriteResult, error) {
	// minio-go's RemoveObject drops the response headers, so this one is
	// signed and sent here.
	q := url.Values{}
	if versionID != "" {
		q.Set("versionId", versionID)
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	h, err := c.raw(ctx, http.MethodDelete, bucket, key, q, nil)
	if err != nil {
		return WriteResult{}, wrap(APIS3, "delete", bucket, key, err)
	}
	return WriteResult{VersionID: h.Get("X-Amz-Version-Id")}, nil
}

// Copy implements Client. With o.Meta set it first reads the source's
// content type and representation headers (a HEAD, with o.SrcSSE's key),
// then copies with the REPLACE directive, on condition that the source
// still has the ETag it had (x-amz-copy-source-if-match).
func (c *S3) Copy(ctx context.Context, bucket, srcKey, dstKey string, o CopyOptions) (WriteResult, error) {
	fail := func(err error) (WriteResult, error) {
		return WriteResult{}, wrap(APIS3, "copy", bucket, srcKey+" to "+dstKey, err)
	}
	if err := o.SrcSSE.validate(); err != nil {
		return fail(err)
	}
	dst, err := writeSSE(o.DstSSE)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if o.Meta != nil {
		res, err := c.copyReplace(ctx, bucket, srcKey, dstKey, o.SrcSSE, &dst, o.Meta)
		if err != nil {
			return fail(err)
		}
		return res, nil
	}
	src, _ := readSSE(o.SrcSSE)
	info, err := c.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: dstKey, Encryption: dst},
		minio.CopySrcOptions{Bucket: bucket, Object: srcKey, Encryption: src})
	if err != nil {
		return fail(err)
	}
	return WriteResult{VersionID: info.VersionID, ETag: info.ETag}, nil
}

// UpdateMeta implements Client: see UpdateMetaResult.
func (c *S3) UpdateMeta(ctx context.Context, bucket, key string, meta map[string]string) error {
	_, err := c.UpdateMetaResult(ctx, bucket, key, meta)
	return err
}

// UpdateMetaResult implements MetaWriter. S3 cannot change metadata in
// place: this reads the object's headers (a HEAD) and copies it onto
// itself with the REPLACE directive, on condition that its ETag is still
// the one read, keeping its content type, representation headers and
// encryption (SSE-S3, or SSE-KMS with the same key id and context). The
// copy is a new version in a versioned bucket.
//
// What S3 cannot do: replace the metadata of an SSE-C object without its
// key (the HEAD is refused with 400, which this returns); UpdateMeta takes
// no key, so such objects need Copy with SrcSSE, DstSSE and Meta instead.
func (c *S3) UpdateMetaResult(ctx context.Context, bucket, key string, meta map[string]string) (WriteResult, error) {
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if meta == nil {
		meta = map[string]string{}
	}
	res, err := c.copyReplace(ctx, bucket, key, key, SSE{}, nil, meta)
	if err != nil {
		if StatusCode(err) == http.StatusBadRequest {
			err = fmt.Errorf("%w (if the object is SSE-C encrypted: S3 replaces metadata by copying, which needs the key)", err)
		}
		return WriteResult{}, wrap(APIS3, "update-meta", bucket, key, err)
	}
	return res, nil
}

// copyReplace copies src to dst replacing the user metadata with meta and
// keeping src's content type and representation headers. dstSSE nil
// keeps src's encryption.
func (c *S3) copyReplace(ctx context.Context, bucket, src, dst string, srcSSE SSE, dstSSE *encrypt.ServerSide,
	meta map[string]string,
) (WriteResult, error) {
	srcEnc, err := readSSE(srcSSE)
	if err != nil {
		return WriteResult{}, err
	}
	oi, err := c.mc.StatObject(ctx, bucket, src, minio.StatObjectOptions{ServerSideEncryption: srcEnc})
	if err != nil {
		return WriteResult{}, fmt.Errorf("reading the source's headers: %w", err)
	}
	var enc encrypt.ServerSide
	if dstSSE != nil {
		enc = *dstSSE
	} else if enc, err = keepSSE(oi.Metadata, srcSSE); err != nil {
		return WriteResult{}, err
	}
	h := oi.Metadata
	d := minio.CopyDestOptions{Bucket: bucket, Object: dst, Encryption: enc, ReplaceMetadata: true,
		UserMetadata: amzMeta(meta), ContentType: oi.ContentType, ContentEncoding: h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"), ContentLanguage: h.Get("Content-Language"),
		CacheControl: h.Get("Cache-Control")}
	if e, err := http.ParseTime(h.Get("Expires")); err == nil {
		d.Expires = e
	}
	info, err := c.mc.CopyObject(ctx, d, minio.CopySrcOptions{Bucket: bucket, Object: src, MatchETag: oi.ETag,
		Encryption: srcEnc})
	if err != nil {
		return WriteResult{}, err
	}
	return WriteResult{VersionID: info.VersionID, ETag: info.ETag}, nil
}

// keepSSE is the encryption that writes an object encrypted as the one
// whose headers are h: SSE-C needs the key, given as key.
func keepSSE(h http.Header, key SSE) (encrypt.ServerSide, error) {
	switch sseMode(h) {
	case SSES3:
		return encrypt.NewSSE(), nil
	case SSEKMS:
		var kctx map[string]string
		if raw, err := base64.StdEncoding.DecodeString(h.Get("X-Amz-Server-Side-Encryption-Context")); err == nil && len(raw) > 0 {
			_ = json.Unmarshal(raw, &kctx)
		}
		if kctx == nil {
			return encrypt.NewSSEKMS(h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"), nil)
		}
		return encrypt.NewSSEKMS(h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"), kctx)
	case SSEC:
		if key.Mode != SSEC {
			return nil, fmt.Errorf("%w: the object is SSE-C encrypted and no key was given", ErrInvalid)
		}
		return encrypt.NewSSEC(key.Key)
	}
	return nil, nil
}

// List implements Client (ListObjectsV2, 1000 keys a page).
func (c *S3) List(ctx context.Context, bucket, prefix string) ([]ListEntry, error) {
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	// Cancelling stops minio-go's lister if this returns early.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var out []ListEntry
	for oi := range c.mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, wrap(APIS3, "list", bucket, "", oi.Err)
		}
		out = append(out, ListEntry{Key: oi.Key, Size: oi.Size, ETag: oi.ETag})
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap(APIS3, "list", bucket, "", err)
	}
	return out, nil
}

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

// CreateBucket implements Client. A policy is asked for in the placement
// form of LocationConstraint, "<region>:<policy>", while the request is
// signed for the region alone; versioning is a second request.
func (c *S3) CreateBucket(ctx context.Context, bucket string, o BucketOptions) error {
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	loc := c.region
	if o.Policy != "" {
		loc += ":" + o.Policy
	}
	var body []byte
	if loc != "us-east-1" {
		var err error
		if body, err = xml.Marshal(createBucketConfiguration{LocationConstraint: loc}); err != nil {
			return wrap(APIS3, "create-bucket", bucket, "", err)
		}
	}
	if _, err := c.raw(ctx, http.MethodPut, bucket, "", nil, body); err != nil {
		return wrap(APIS3, "create-bucket", bucket, "", err)
	}
	if o.Versioning {
		if err := c.mc.EnableVersioning(ctx, bucket); err != nil {
			return wrap(APIS3, "create-bucket", bucket, "", fmt.Errorf("created, but enabling versioning: %w", err))
		}
	}
	return nil
}

// DeleteBucket implements Client.
func (c *S3) DeleteBucket(ctx context.Context, bucket string) error {
	ctx, cancel := c.opts.callCtx(ctx)
	defer cancel()
	if err := c.mc.RemoveBucket(ctx, bucket); err != nil {
		return wrap(APIS3, "delete-bucket", bucket, "", err)
	}
	return nil
}

// raw sends one SigV4-signed request with a small body and returns the
// response headers; an error response becomes a minio.ErrorResponse.
func (c *S3) raw(ctx context.Context, method, bucket, key string, q url.Values, body []byte) (http.Header, error) {
	p := "/" + bucket
	if key != "" {
		p += "/" + key
	}
	u := *c.endpoint
	u.Path, u.RawPath, u.RawQuery = p, s3utils.EncodePath(p), q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	sum := sha256.Sum256(body)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := c.hc.Do(signer.SignV4(*req, c.access, c.secret, "", c.region))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return resp.Header, nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	er := minio.ErrorResponse{}
	_ = xml.Unmarshal(data, &er)
	er.StatusCode, er.BucketName, er.Key = resp.StatusCode, bucket, key
	if er.Code == "" {
		er.Code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
		if resp.StatusCode == http.StatusNotFound {
			er.Code = "NoSuchKey"
			if key == "" {
				er.Code = "NoSuchBucket"
			}
		}
	}
	if er.Message == "" {
		er.Message = resp.Status
	}
	return nil, er
}

// writeSSE is the minio-go encryption of a write with s.
func writeSSE(s SSE) (encrypt.ServerSide, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	switch s.Mode {
	case SSES3:
		return encrypt.NewSSE(), nil
	case SSEKMS:
		return encrypt.NewSSEKMS(s.KMSKeyID, nil)
	case SSEC:
		return encrypt.NewSSEC(s.Key)
	}
	return nil, nil
}

// readSSE is the minio-go encryption a read with s sends: the SSE-C key,
// or nothing (S3 refuses SSE-S3 and SSE-KMS headers on reads).
func readSSE(s SSE) (encrypt.ServerSide, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Mode == SSEC {
		return encrypt.NewSSEC(s.Key)
	}
	return nil, nil
}

func getOptions(o GetOptions) (minio.GetObjectOptions, error) {
	enc, err := readSSE(o.SSE)
	if err != nil {
		return minio.GetObjectOptions{}, err
	}
	return minio.GetObjectOptions{VersionID: o.VersionID, ServerSideEncryption: enc}, nil
}

// amzMeta names user metadata the way minio-go sends it verbatim.
func amzMeta(meta map[string]string) map[string]string {
	if meta == nil {
		return nil
	}
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		out["x-amz-meta-"+strings.ToLower(k)] = v
	}
	return out
}

// userMeta collects the headers named prefix… as metadata, lower case.
func userMeta(h http.Header, prefix string) map[string]string {
	var m map[string]string
	for k, vs := range h {
		lk := strings.ToLower(k)
		if len(lk) <= len(prefix) || !strings.HasPrefix(lk, prefix) {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[lk[len(prefix):]] = strings.Join(vs, ",")
	}
	return m
}

// sseMode is the mode S3 response headers h report.
func sseMode(h http.Header) string {
	if h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" {
		return SSEC
	}
	switch strings.ToLower(h.Get("X-Amz-Server-Side-Encryption")) {
	case "aes256":
		return SSES3
	case "aws:kms", "aws:kms:dsse":
		return SSEKMS
	}
	return SSENone
}

// infoFromHeader describes the object an S3 GET answered for.
func infoFromHeader(h http.Header) ObjectInfo {
	info := ObjectInfo{ETag: strings.Trim(h.Get("ETag"), `"`), VersionID: h.Get("X-Amz-Version-Id"),
		ContentType: h.Get("Content-Type"), Meta: userMeta(h, "x-amz-meta-"), SSE: sseMode(h),
		Size: objectSize(h)}
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		info.LastModified = t
	}
	return info
}

// objectSize is the whole object's size: the total of a Content-Range,
// else the Content-Length.
func objectSize(h http.Header) int64 {
	if cr := h.Get("Content-Range"); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				return n
			}
		}
	}
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil {
		return -1
	}
	return n
}
