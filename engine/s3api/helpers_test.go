package s3api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/s3api"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

const (
	region    = "europe-se-1"
	accessKey = "AKIAREPLCHECK0000001"
	secretKey = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ0000000"
)

// env is one S3 endpoint on a memory store, served over real HTTP.
type env struct {
	t    testing.TB
	st   *store.Store
	cfg  *endpoint.Config
	srv  *httptest.Server
	mc   *minio.Client
	core *minio.Core
	logs *recordingHandler
}

type envOption func(*store.Options, *endpoint.Config)

// quickParts lets multipart tests use 1-byte minimum parts.
func quickParts(o *store.Options, _ *endpoint.Config) { o.MinPartSize = 1 }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	var so store.Options
	logs := &recordingHandler{}
	cfg := &endpoint.Config{
		Site:          "europe-se-1a",
		Region:        region,
		Replicated:    true,
		Policies:      endpoint.ReplicatedPolicies,
		DefaultPolicy: endpoint.PolicyHPIntensive,
		Users:         []endpoint.User{{Account: "tester", Name: "tester", AccessKey: accessKey, SecretKey: secretKey}},
		Keyring:       sse.GenerateKeyring(),
		Domains:       []string{"s3.test.local"},
		Logger:        slog.New(logs),
	}
	for _, o := range opts {
		o(&so, cfg)
	}
	e := &env{t: t, st: store.NewMemoryStore(so), cfg: cfg, logs: logs}
	e.srv = httptest.NewServer(s3api.New(e.st, cfg))
	t.Cleanup(func() {
		e.srv.Close()
		e.logs.check(t)
	})
	e.mc = e.client(accessKey, secretKey)
	e.core = &minio.Core{Client: e.mc}
	return e
}

func (e *env) host() string { return strings.TrimPrefix(e.srv.URL, "http://") }

func (e *env) client(ak, sk string) *minio.Client {
	e.t.Helper()
	mc, err := minio.New(e.host(), &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), Region: region})
	if err != nil {
		e.t.Fatal(err)
	}
	return mc
}

// bucket creates a bucket with a fresh name.
func (e *env) bucket(name string) string {
	e.t.Helper()
	if err := e.mc.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		e.t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}

func (e *env) put(bucket, key string, data []byte, opts minio.PutObjectOptions) minio.UploadInfo {
	e.t.Helper()
	info, err := e.mc.PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		e.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return info
}

func (e *env) get(bucket, key string, opts minio.GetObjectOptions) ([]byte, error) {
	obj, err := e.mc.GetObject(context.Background(), bucket, key, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

func (e *env) mustGet(bucket, key string, opts minio.GetObjectOptions) []byte {
	e.t.Helper()
	data, err := e.get(bucket, key, opts)
	if err != nil {
		e.t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return data
}

// rawReq is a request built by hand, signed with minio-go's SigV4 signer.
type rawReq struct {
	method string
	path   string // decoded: "/bucket/key"
	query  string // raw query
	header http.Header
	body   []byte
	host   string // Host header override (virtual-hosted style)
	// unsigned leaves the request anonymous.
	unsigned bool
}

func (e *env) newRaw(r rawReq) *http.Request {
	e.t.Helper()
	u := &url.URL{Scheme: "http", Host: e.host(), Path: r.path, RawQuery: r.query}
	// Encode the path exactly as the signer will, so both sides agree.
	u.RawPath = encodePath(r.path)
	req, err := http.NewRequest(r.method, u.String(), bytes.NewReader(r.body))
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if r.body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.host != "" {
		req.Host = r.host
	}
	if r.unsigned {
		return req
	}
	sum := sha256.Sum256(r.body)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	return signer.SignV4(*req, accessKey, secretKey, "", region)
}

func encodePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// raw sends a hand-made signed request and returns the response with its body read.
func (e *env) raw(r rawReq) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(e.newRaw(r))
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", r.method, r.path, err)
	}
	return resp, body
}

// s3Error is the error document.
type s3Error struct {
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
	Resource  string `xml:"Resource"`
	RequestID string `xml:"RequestId"`
}

// expectError checks a raw response's status and error code.
func expectError(t testing.TB, resp *http.Response, body []byte, status int, code string) s3Error {
	t.Helper()
	var se s3Error
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if resp.Header.Get("X-Amz-Request-Id") == "" {
		t.Errorf("no x-amz-request-id on a %d response", resp.StatusCode)
	}
	if len(body) == 0 {
		if code != "" {
			t.Errorf("empty error body, want code %s", code)
		}
		return se
	}
	if err := xml.Unmarshal(body, &se); err != nil {
		t.Errorf("error body is not XML: %v: %s", err, body)
	}
	if se.Code != code {
		t.Errorf("code %q, want %q (message %q)", se.Code, code, se.Message)
	}
	if se.RequestID == "" || se.Message == "" {
		t.Errorf("error document lacks RequestId or Message: %s", body)
	}
	return se
}

// minioCode returns the S3 error code of a minio-go error.
func minioCode(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	if err == nil {
		return ""
	}
	return "not an S3 error: " + err.Error()
}

func expectCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := minioCode(err); got != code {
		t.Errorf("error %v: code %q, want %q", err, got, code)
	}
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// recordingHandler is a slog.Handler that keeps Error records, so that a
// test fails when the handler logged a panic or an unexpected internal error.
type recordingHandler struct {
	mu      sync.Mutex
	errors  []string
	allowed []string // substrings of expected internal errors
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	h.mu.Lock()
	h.errors = append(h.errors, b.String())
	h.mu.Unlock()
	return nil
}

func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// allow marks internal errors containing s as expected.
func (h *recordingHandler) allow(s string) {
	h.mu.Lock()
	h.allowed = append(h.allowed, s)
	h.mu.Unlock()
}

func (h *recordingHandler) check(t testing.TB) {
	h.mu.Lock()
	defer h.mu.Unlock()
next:
	for _, e := range h.errors {
		for _, a := range h.allowed {
			if strings.Contains(e, a) {
				continue next
			}
		}
		t.Errorf("handler logged an error: %s", e)
	}
}
