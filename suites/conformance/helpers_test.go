package conformance_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
)

// maxSites is how many sites the specs are generated for. The spec tree
// is built before the target starts, so specs are made per site index and
// a spec whose site the target lacks is skipped.
const maxSites = 2

// perSite runs body once per site index, inside a container that names it.
func perSite(body func(i int)) {
	for i := range maxSites {
		Context(fmt.Sprintf("at site %d", i+1), func() { body(i) })
	}
}

// siteAt returns the i-th site of the target, skipping the spec if it has
// fewer sites.
func siteAt(i int) harness.Site {
	sites := env.Sites()
	if i >= len(sites) {
		Skip(fmt.Sprintf("the target has %d site(s)", len(sites)))
	}
	s := sites[i]
	GinkgoWriter.Printf("site %s (region %s), replicated endpoint %s\n", s.Name(), s.Region(), s.Replicated().S3)
	return s
}

// peerOf returns the site after the i-th, skipping the spec if there is none.
func peerOf(i int) harness.Site {
	sites := env.Sites()
	if len(sites) < 2 {
		Skip("needs two sites")
	}
	return sites[(i+1)%len(sites)]
}

// needNonReplicated skips the spec if site has no non-replicated endpoint.
func needNonReplicated(s harness.Site) {
	skipIf(env.MissingNonReplicated(s))
}

// swiftSiteAt is siteAt for a spec that needs the Swift API at the site:
// it skips the spec if the site has none.
func swiftSiteAt(i int) harness.Site {
	s := siteAt(i)
	skipIf(env.MissingSwift(s))
	return s
}

// skipIf skips the spec, with why, unless why is "".
func skipIf(why string) {
	if why != "" {
		Skip(why)
	}
}

// bucketName is the run's name for a spec's bucket at site i.
func bucketName(name string, i int) string {
	return env.BucketName(fmt.Sprintf("%s-%d", name, i+1))
}

// s3Client is the unrecorded S3 client of site's (non-)replicated endpoint.
func s3Client(s harness.Site, replicated bool) *client.S3 {
	GinkgoHelper()
	c, err := env.Client(s, client.APIS3, replicated)
	Expect(err).NotTo(HaveOccurred())
	return c.(*client.S3)
}

// mc is the raw minio-go client of site's (non-)replicated endpoint.
func mc(s harness.Site, replicated bool) *minio.Client { return s3Client(s, replicated).Minio() }

// core is mc's low-level API.
func core(s harness.Site, replicated bool) minio.Core { return minio.Core{Client: mc(s, replicated)} }

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// md5Hex is the hex MD5 of b: a single-part object's ETag.
func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// unquote strips the quotes of an ETag.
func unquote(etag string) string { return strings.Trim(etag, `"`) }

// response is a whole HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string {
	body := string(r.Body)
	if len(body) > 400 {
		body = body[:400] + "…"
	}
	return fmt.Sprintf("HTTP %d %s", r.Status, body)
}

func readResponse(resp *http.Response) (response, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}, err
}

// s3Error is an S3 error document.
type s3Error struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// S3Error parses the response's S3 error document (empty for HEAD).
func (r response) S3Error() s3Error {
	var e s3Error
	_ = xml.Unmarshal(r.Body, &e)
	return e
}

// s3Raw sends SigV4-signed requests to one S3 endpoint, for what minio-go
// hides: exact statuses, headers, and requests signed with wrong keys.
type s3Raw struct {
	base           url.URL
	region         string
	access, secret string
}

// rawS3 returns the raw S3 client of site's (non-)replicated endpoint,
// with the site's credentials.
func rawS3(s harness.Site, replicated bool) s3Raw {
	GinkgoHelper()
	ep := s.NonReplicated()
	if replicated {
		ep = s.Replicated()
	}
	u, err := url.Parse(ep.S3)
	Expect(err).NotTo(HaveOccurred())
	region := s.Region()
	if region == "" {
		region = "us-east-1"
	}
	cr := s.Credentials()
	return s3Raw{base: url.URL{Scheme: u.Scheme, Host: u.Host}, region: region, access: cr.AccessKey, secret: cr.SecretKey}
}

// withKeys returns c signing with other credentials.
func (c s3Raw) withKeys(access, secret string) s3Raw {
	c.access, c.secret = access, secret
	return c
}

// do sends one request (signed unless c has no access key) and reads
// the whole response.
func (c s3Raw) do(ctx context.Context, method, bucket, key string, q url.Values, h http.Header, body []byte) (response, error) {
	p := "/"
	if bucket != "" {
		p += bucket
		if key != "" {
			p += "/" + key
		}
	}
	u := c.base
	u.Path, u.RawPath, u.RawQuery = p, s3utils.EncodePath(p), q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for k, vs := range h {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if c.access != "" {
		sum := sha256.Sum256(body)
		req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		req = signer.SignV4(*req, c.access, c.secret, "", c.region)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	return readResponse(resp)
}

// must is do that fails the spec on a transport error.
func (c s3Raw) must(ctx context.Context, method, bucket, key string, q url.Values, h http.Header, body []byte) response {
	GinkgoHelper()
	r, err := c.do(ctx, method, bucket, key, q, h, body)
	Expect(err).NotTo(HaveOccurred())
	return r
}

// swiftSession is a Swift TempAuth v1 session with one endpoint.
type swiftSession struct {
	storageURL string
	token      string
}

// swiftAuth authenticates against authURL and returns the raw response.
func swiftAuth(ctx context.Context, authURL, user, key string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("X-Auth-User", user)
	req.Header.Set("X-Auth-Key", key)
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	return readResponse(resp)
}

// swiftLogin authenticates with the site's credentials at its
// (non-)replicated endpoint.
func swiftLogin(ctx context.Context, s harness.Site, replicated bool) *swiftSession {
	GinkgoHelper()
	ep := s.NonReplicated()
	if replicated {
		ep = s.Replicated()
	}
	if ep.SwiftAuth == "" {
		Skip(fmt.Sprintf("target %s has no Swift API at site %s (replicated endpoint: %v)", env.Target, s.Name(), replicated))
	}
	cr := s.Credentials()
	r, err := swiftAuth(ctx, ep.SwiftAuth, cr.SwiftUser, cr.SwiftKey)
	Expect(err).NotTo(HaveOccurred())
	Expect(r.Status).To(BeNumerically(">=", 200), r.String())
	Expect(r.Status).To(BeNumerically("<", 300), r.String())
	tok, su := r.Header.Get("X-Auth-Token"), r.Header.Get("X-Storage-Url")
	Expect(tok).NotTo(BeEmpty(), "X-Auth-Token")
	Expect(su).NotTo(BeEmpty(), "X-Storage-Url")
	return &swiftSession{storageURL: strings.TrimRight(su, "/"), token: tok}
}

// escapePath escapes each /-separated segment of p.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// do sends a request for container/object ("" for the account or the
// container) with the session's token.
func (s *swiftSession) do(ctx context.Context, method, container, object string, q url.Values, h http.Header, body []byte) (response, error) {
	u := s.storageURL
	if container != "" {
		u += "/" + url.PathEscape(container)
		if object != "" {
			u += "/" + escapePath(object)
		}
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return response{}, err
	}
	if body == nil && (method == http.MethodPut || method == http.MethodPost) {
		req.ContentLength = 0
		req.Body = http.NoBody
	}
	for k, vs := range h {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if _, ok := req.Header["X-Auth-Token"]; !ok {
		req.Header.Set("X-Auth-Token", s.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	return readResponse(resp)
}

// must is do that fails the spec on a transport error.
func (s *swiftSession) must(ctx context.Context, method, container, object string, q url.Values, h http.Header, body []byte) response {
	GinkgoHelper()
	r, err := s.do(ctx, method, container, object, q, h, body)
	Expect(err).NotTo(HaveOccurred())
	return r
}

// swiftEntry is one entry of a JSON container listing.
type swiftEntry struct {
	Name        string `json:"name"`
	Hash        string `json:"hash"`
	Bytes       int64  `json:"bytes"`
	ContentType string `json:"content_type"`
	Subdir      string `json:"subdir"`
}

// names lists the entries' names (subdirs by their subdir).
func names(es []swiftEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		if e.Subdir != "" {
			out = append(out, e.Subdir)
		} else {
			out = append(out, e.Name)
		}
	}
	return out
}

// list GETs the JSON listing of container with q (format=json added).
// An empty listing may be 200 "[]" or 204 with no body.
func (s *swiftSession) list(ctx context.Context, container string, q url.Values) []swiftEntry {
	GinkgoHelper()
	if q == nil {
		q = url.Values{}
	}
	q.Set("format", "json")
	r := s.must(ctx, http.MethodGet, container, "", q, nil, nil)
	if r.Status == http.StatusNoContent {
		return []swiftEntry{}
	}
	Expect(r.Status).To(Equal(http.StatusOK), r.String())
	es := []swiftEntry{}
	Expect(json.Unmarshal(r.Body, &es)).To(Succeed(), r.String())
	return es
}

// put PUTs an object and expects 201.
func (s *swiftSession) put(ctx context.Context, container, object string, body []byte, h http.Header) response {
	GinkgoHelper()
	r := s.must(ctx, http.MethodPut, container, object, nil, h, body)
	Expect(r.Status).To(Equal(http.StatusCreated), r.String())
	return r
}

// createContainer PUTs a container and expects 201 (or 202 if it exists).
func (s *swiftSession) createContainer(ctx context.Context, container string, h http.Header) {
	GinkgoHelper()
	r := s.must(ctx, http.MethodPut, container, "", nil, h, nil)
	Expect(r.Status).To(BeElementOf(http.StatusCreated, http.StatusAccepted), r.String())
}

// refusesChunked reports whether c talks to an endpoint of a site whose
// S3 API refuses aws-chunked uploads (harness.ChunkedUploadRefuser),
// which minio-go sends over plain HTTP unless told not to sign payloads.
func refusesChunked(c *minio.Client) bool {
	for _, s := range env.Sites() {
		r, ok := s.(harness.ChunkedUploadRefuser)
		if !ok || !r.RefusesChunkedUploads() {
			continue
		}
		for _, ep := range []string{s.Replicated().S3, s.NonReplicated().S3} {
			if u, err := url.Parse(ep); err == nil && ep != "" && u.Host == c.EndpointURL().Host {
				return true
			}
		}
	}
	return false
}

// partOptions are the options of a raw part upload through c.
func partOptions(c minio.Core) minio.PutObjectPartOptions {
	return minio.PutObjectPartOptions{DisableContentSha256: refusesChunked(c.Client)}
}

// s3Put writes body to bucket/key through minio-go in a single PUT.
func s3Put(ctx context.Context, c *minio.Client, bucket, key string, body []byte, o minio.PutObjectOptions) minio.UploadInfo {
	GinkgoHelper()
	o.DisableMultipart = true
	o.DisableContentSha256 = o.DisableContentSha256 || refusesChunked(c)
	info, err := c.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), o)
	Expect(err).NotTo(HaveOccurred())
	return info
}

// s3Get reads bucket/key (or a version of it) through minio-go.
func s3Get(ctx context.Context, c *minio.Client, bucket, key string, o minio.GetObjectOptions) ([]byte, error) {
	obj, err := c.GetObject(ctx, bucket, key, o)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

// s3Err is the S3 error response in err (minio-go's, possibly wrapped by
// verifier/client), or the zero value.
func s3Err(err error) minio.ErrorResponse {
	var er minio.ErrorResponse
	errors.As(err, &er)
	return er
}

// errCode is the S3 error code of a minio-go error.
func errCode(err error) string { return s3Err(err).Code }

// errStatus is the HTTP status of a minio-go error.
func errStatus(err error) int { return s3Err(err).StatusCode }

// createBucket creates bucket through c, failing the spec on error.
func createBucket(ctx context.Context, c client.Client, bucket string, o client.BucketOptions) {
	GinkgoHelper()
	Expect(c.CreateBucket(ctx, bucket, o)).To(Succeed())
}

// replicationWait is how long to wait for something to reach the peer.
func replicationWait() time.Duration { return *flagReplicationWait }

// poll is how often a wait polls.
const poll = 25 * time.Millisecond

// shortTimeout is the SpecTimeout of specs that only talk to one site.
const shortTimeout = 30 * time.Second

// peerTimeout is the SpecTimeout of specs that wait for the peer.
func peerTimeout() time.Duration { return 2*replicationWait() + *flagAbsenceWait + 30*time.Second }
