package swiftapi_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
	"github.com/replcheck/replcheck/engine/swiftapi"
)

const (
	testAccount = "acct"
	testUser    = "acct:user"
	testSecret  = "swift-secret-key-0123"
	otherUser   = "other:bob"
	otherSecret = "other-secret-key-4567"
	minPart     = 64 << 10 // small multipart parts keep tests fast
)

var ctx = context.Background()

// fixture is one endpoint's Swift front end on a memory store.
type fixture struct {
	t    testing.TB
	st   *store.Store
	cfg  *endpoint.Config
	srv  *httptest.Server
	conn *swift.Connection
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := store.NewMemoryStore(store.Options{MinPartSize: minPart})
	cfg := &endpoint.Config{
		Site:          "test-1a",
		Region:        "test-1",
		Replicated:    true,
		Policies:      endpoint.ReplicatedPolicies,
		DefaultPolicy: endpoint.PolicyHPIntensive,
		Users: []endpoint.User{
			{Account: "acct", Name: "user", AccessKey: "AKACCT", SecretKey: testSecret},
			{Account: "other", Name: "bob", AccessKey: "AKOTHER", SecretKey: otherSecret},
		},
		Keyring: sse.GenerateKeyring(),
	}
	srv := httptest.NewServer(swiftapi.New(st, cfg))
	t.Cleanup(srv.Close)
	conn := &swift.Connection{UserName: testUser, ApiKey: testSecret, AuthUrl: srv.URL + "/auth/v1.0"}
	if err := conn.Authenticate(ctx); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return &fixture{t: t, st: st, cfg: cfg, srv: srv, conn: conn}
}

// do sends a raw request to the storage URL plus rawPath (already escaped),
// with the fixture's token unless hdr sets X-Auth-Token (empty = none).
func (f *fixture) do(method, rawPath string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	f.t.Helper()
	return f.doURL(method, f.conn.StorageUrl+rawPath, hdr, body)
}

func (f *fixture) doURL(method, u string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		f.t.Fatalf("new request %s %s: %v", method, u, err)
	}
	req.Header.Set("X-Auth-Token", f.conn.AuthToken)
	for k, v := range hdr {
		if k == "X-Auth-Token" && v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp, data
}

// expect checks a raw response's status and that it carries a transaction id.
func expect(t testing.TB, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %q", resp.Request.Method, resp.Request.URL, resp.StatusCode, status, body)
	}
	if resp.Header.Get("X-Trans-Id") == "" || resp.Header.Get("X-Openstack-Request-Id") == "" {
		t.Fatalf("%s %s: no X-Trans-Id / X-Openstack-Request-Id", resp.Request.Method, resp.Request.URL)
	}
}

func (f *fixture) mkContainer(name string) {
	f.t.Helper()
	if err := f.conn.ContainerCreate(ctx, name, nil); err != nil {
		f.t.Fatalf("create container %q: %v", name, err)
	}
}

// putDirect writes an object through objio, as the S3 front end would.
func (f *fixture) putDirect(bucket, key string, data []byte, meta store.ObjectMeta, enc sse.Params) *store.Version {
	f.t.Helper()
	v, err := objio.Put(f.st, f.cfg.Keyring, bucket, key, objio.PutInput{
		Body: bytes.NewReader(data), Size: int64(len(data)), Meta: meta, Encryption: enc})
	if err != nil {
		f.t.Fatalf("objio.Put %s/%s: %v", bucket, key, err)
	}
	return v
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// escapePath escapes each segment of a container/object path for a raw URL.
func escapePath(p string) string {
	var b strings.Builder
	for i, seg := range strings.Split(p, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(pathEscape(seg))
	}
	return b.String()
}

// pathEscape escapes everything but unreserved characters, so that "..",
// "%" and "+" survive as data.
func pathEscape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}
