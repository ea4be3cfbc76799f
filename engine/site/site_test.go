package site_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/engine/site"
)

func startSite(t testing.TB, cfg site.Config) *site.Site {
	t.Helper()
	s, err := site.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func s3Client(t testing.TB, s *site.Site, replicated bool) *minio.Client {
	t.Helper()
	u := s.Users()[0]
	c, err := minio.New(strings.TrimPrefix(s.URL(replicated), "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(u.AccessKey, u.SecretKey, ""), Region: s.Region()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func swiftConn(t testing.TB, s *site.Site, replicated bool) *swift.Connection {
	t.Helper()
	u := s.Users()[0]
	c := &swift.Connection{UserName: u.Account + ":" + u.Name, ApiKey: u.SecretKey, AuthUrl: s.SwiftAuthURL(replicated)}
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCrossAPI writes through each API and reads through the other: one
// namespace, the same bytes, the same user metadata.
func TestCrossAPI(t *testing.T) {
	ctx := context.Background()
	s := startSite(t, site.Config{})
	s3, sw := s3Client(t, s, true), swiftConn(t, s, true)

	if err := s3.MakeBucket(ctx, "shared", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("replcheck "), 10000)
	_, err := s3.PutObject(ctx, "shared", "from-s3", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{UserMetadata: map[string]string{"Color": "blue"}, ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := sw.ObjectGetBytes(ctx, "shared", "from-s3")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("swift read of an S3 object: %v (%d bytes)", err, len(got))
	}
	_, headers, err := sw.Object(ctx, "shared", "from-s3")
	if err != nil {
		t.Fatal(err)
	}
	if headers.ObjectMetadata()["color"] != "blue" || headers["Content-Type"] != "text/plain" {
		t.Fatalf("swift headers %v", headers)
	}

	if err := sw.ObjectPutBytes(ctx, "shared", "from-swift", body, "application/x-test"); err != nil {
		t.Fatal(err)
	}
	if err := sw.ObjectUpdate(ctx, "shared", "from-swift", swift.Metadata{"origin": "swift"}.ObjectHeaders()); err != nil {
		t.Fatal(err)
	}
	obj, err := s3.GetObject(ctx, "shared", "from-swift", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("S3 read of a Swift object: %v (%d bytes)", err, len(got))
	}
	info, _ := obj.Stat()
	if info.UserMetadata["Origin"] != "swift" || info.ContentType != "application/x-test" {
		t.Fatalf("S3 sees metadata %v, content type %q", info.UserMetadata, info.ContentType)
	}

	// A container made over Swift is a bucket over S3, and vice versa.
	if err := sw.ContainerCreate(ctx, "made-by-swift", nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := s3.BucketExists(ctx, "made-by-swift"); err != nil || !ok {
		t.Fatalf("bucket made by swift: %v %v", ok, err)
	}
	names, err := sw.ContainerNames(ctx, nil)
	if err != nil || strings.Join(names, ",") != "made-by-swift,shared" {
		t.Fatalf("swift containers %v %v", names, err)
	}
}

// TestEndpoints checks the replicated flag and the policies each endpoint offers.
func TestEndpoints(t *testing.T) {
	ctx := context.Background()
	s := startSite(t, site.Config{})
	repl, local := s3Client(t, s, true), s3Client(t, s, false)
	region := s.Region()

	for _, tc := range []struct {
		c      *minio.Client
		bucket string
		policy string
		ok     bool
	}{
		{repl, "r-hp", "hp.intensive", true},
		{repl, "r-gp", "gp.recurring", true},
		{repl, "r-std", "standard", false},
		{repl, "r-cold", "archive.cold", false},
		{local, "l-std", "standard", true},
		{local, "l-cold", "archive.cold", true},
		{local, "l-hp", "hp.intensive", true},
		{local, "l-bogus", "bogus", false},
	} {
		err := tc.c.MakeBucket(ctx, tc.bucket, minio.MakeBucketOptions{Region: region + ":" + tc.policy})
		if tc.ok != (err == nil) {
			t.Errorf("create %s with %s: %v", tc.bucket, tc.policy, err)
		}
		if err != nil && (minio.ToErrorResponse(err).Code != "InvalidLocationConstraint" || !strings.Contains(err.Error(), tc.policy)) {
			t.Errorf("refusal of %s should be InvalidLocationConstraint naming it: %v", tc.policy, err)
		}
	}
	// Default policies and the replicated mark, as HEAD shows them.
	repl.MakeBucket(ctx, "r-default", minio.MakeBucketOptions{Region: region})
	local.MakeBucket(ctx, "l-default", minio.MakeBucketOptions{Region: region})
	for bucket, want := range map[string][2]string{
		"r-default": {"hp.intensive", "true"}, "r-gp": {"gp.recurring", "true"},
		"l-default": {"standard", "false"}, "l-hp": {"hp.intensive", "false"},
	} {
		h := headBucket(t, s, bucket)
		if h.Get("X-Storage-Policy") != want[0] || h.Get("X-Replcheck-Replicated") != want[1] {
			t.Errorf("%s: policy %q replicated %q, want %v", bucket, h.Get("X-Storage-Policy"), h.Get("X-Replcheck-Replicated"), want)
		}
	}
	// Swift sees the same policy.
	_, h, err := swiftConn(t, s, false).Container(ctx, "r-gp")
	if err != nil || h["X-Storage-Policy"] != "gp.recurring" {
		t.Fatalf("swift policy of r-gp: %v %v", h["X-Storage-Policy"], err)
	}
}

func headBucket(t *testing.T, s *site.Site, bucket string) http.Header {
	t.Helper()
	c := swiftConn(t, s, true)
	_, h, err := c.Container(context.Background(), bucket)
	if err != nil {
		t.Fatalf("head %s: %v", bucket, err)
	}
	// Swift's HEAD gives the policy; the S3 HEAD carries it too.
	req, _ := http.NewRequest(http.MethodHead, s.URL(true)+"/"+bucket, nil)
	req = signed(t, s, req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Storage-Policy") != h["X-Storage-Policy"] {
		t.Fatalf("S3 and Swift disagree on the policy of %s", bucket)
	}
	return resp.Header
}

// TestDiskRestart stops a disk-backed site and starts it again on the same
// directory: everything written is still there.
func TestDiskRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := site.Config{DataDir: dir, NoSync: true}
	s, err := site.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Users, cfg.Keyring = s.Users(), s.Keyring()
	c := s3Client(t, s, true)
	c.MakeBucket(ctx, "persist", minio.MakeBucketOptions{})
	body := []byte("survives a restart")
	if _, err := c.PutObject(ctx, "persist", "k", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = startSite(t, cfg)
	obj, err := s3Client(t, s, true).GetObject(ctx, "persist", "k", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after restart: %q %v", got, err)
	}
}

// TestOversizedHeaders sends a request whose headers exceed the site's
// limit: it is refused before any handler runs, and stored data is intact.
func TestOversizedHeaders(t *testing.T) {
	ctx := context.Background()
	s := startSite(t, site.Config{})
	c := s3Client(t, s, true)
	c.MakeBucket(ctx, "hdr", minio.MakeBucketOptions{})
	body := []byte("keep me")
	if _, err := c.PutObject(ctx, "hdr", "k", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/hdr/k", "/v1/AUTH_replcheck/hdr/k"} {
		req, _ := http.NewRequest(http.MethodPut, s.URL(true)+path, strings.NewReader("overwrite"))
		// net/http reads up to 4 KiB past MaxHeaderBytes before refusing.
		req.Header.Set("X-Amz-Meta-Big", strings.Repeat("x", site.MaxHeaderBytes+8192))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%s with oversized headers: %d", path, resp.StatusCode)
		}
	}
	obj, _ := c.GetObject(ctx, "hdr", "k", minio.GetObjectOptions{})
	if got, err := io.ReadAll(obj); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("object after refused requests: %q %v", got, err)
	}
}
