package s3api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/store"
)

func TestBucketLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	if err := e.mc.MakeBucket(ctx, "alpha", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	ok, err := e.mc.BucketExists(ctx, "alpha")
	if err != nil || !ok {
		t.Fatalf("BucketExists = %v, %v", ok, err)
	}
	ok, err = e.mc.BucketExists(ctx, "nothere")
	if err != nil || ok {
		t.Fatalf("BucketExists(missing) = %v, %v", ok, err)
	}
	expectCode(t, e.mc.MakeBucket(ctx, "alpha", minio.MakeBucketOptions{}), "BucketAlreadyOwnedByYou")

	resp, _ := e.raw(rawReq{method: http.MethodHead, path: "/alpha"})
	if resp.StatusCode != 200 || resp.Header.Get("X-Storage-Policy") != "hp.intensive" ||
		resp.Header.Get("X-Replcheck-Replicated") != "true" || resp.Header.Get("X-Amz-Bucket-Region") != region {
		t.Errorf("HEAD bucket: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := e.raw(rawReq{method: http.MethodHead, path: "/nothere"})
	if resp.StatusCode != 404 || len(body) != 0 {
		t.Errorf("HEAD missing bucket: %d %q", resp.StatusCode, body)
	}

	loc, err := e.mc.GetBucketLocation(ctx, "alpha")
	if err != nil || loc != region {
		t.Errorf("GetBucketLocation = %q, %v", loc, err)
	}

	e.put("alpha", "obj", []byte("x"), minio.PutObjectOptions{})
	expectCode(t, e.mc.RemoveBucket(ctx, "alpha"), "BucketNotEmpty")
	if err := e.mc.RemoveObject(ctx, "alpha", "obj", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.mc.RemoveBucket(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	expectCode(t, e.mc.RemoveBucket(ctx, "alpha"), "NoSuchBucket")
	_, err = e.mc.StatObject(ctx, "alpha", "obj", minio.StatObjectOptions{})
	expectCode(t, err, "NoSuchBucket")
	_, err = e.get("alpha", "obj", minio.GetObjectOptions{})
	expectCode(t, err, "NoSuchBucket")
}

func TestBucketPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	policyOf := func(bucket string) string {
		resp, _ := e.raw(rawReq{method: http.MethodHead, path: "/" + bucket})
		return resp.Header.Get("X-Storage-Policy")
	}

	if err := e.mc.MakeBucket(ctx, "gpbucket", minio.MakeBucketOptions{Region: region + ":gp.recurring"}); err != nil {
		t.Fatal(err)
	}
	if p := policyOf("gpbucket"); p != "gp.recurring" {
		t.Errorf("policy %q, want gp.recurring", p)
	}
	if err := e.mc.MakeBucket(ctx, "plain", minio.MakeBucketOptions{Region: region}); err != nil {
		t.Fatal(err)
	}
	if p := policyOf("plain"); p != "hp.intensive" {
		t.Errorf("policy %q, want the default hp.intensive", p)
	}

	for _, p := range []string{"standard", "archive.cold", "nonsense"} {
		err := e.mc.MakeBucket(ctx, "refused", minio.MakeBucketOptions{Region: region + ":" + p})
		expectCode(t, err, "InvalidLocationConstraint")
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("refusal of %s does not name it: %v", p, err)
		}
	}
	err := e.mc.MakeBucket(ctx, "refused", minio.MakeBucketOptions{Region: "us-west-2"})
	expectCode(t, err, "InvalidLocationConstraint")
	if ok, _ := e.mc.BucketExists(ctx, "refused"); ok {
		t.Error("a refused bucket exists")
	}

	// A raw request with a malformed configuration.
	resp, body := e.raw(rawReq{method: http.MethodPut, path: "/badxml", body: []byte("<CreateBucketConfiguration><Location")})
	expectError(t, resp, body, 400, "MalformedXML")

	// ListBuckets shows both.
	bs, err := e.mc.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	if strings.Join(names, ",") != "gpbucket,plain" {
		t.Errorf("buckets %v", names)
	}
}

func TestBucketNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"ab", strings.Repeat("a", 64), "Upper", "under_score", "-lead", "trail-",
		"two..dots", "192.168.1.1", "xn--punycode", "bucket-s3alias", "sp%20ace"} {
		path := "/" + name
		resp, body := e.raw(rawReq{method: http.MethodPut, path: path})
		expectError(t, resp, body, 400, "InvalidBucketName")
	}
	for _, name := range []string{"abc", "a.b-c", strings.Repeat("z", 63), "0start"} {
		resp, body := e.raw(rawReq{method: http.MethodPut, path: "/" + name})
		if resp.StatusCode != 200 {
			t.Errorf("create %q: %d %s", name, resp.StatusCode, body)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.bucket("auth")
	e.put("auth", "k", []byte("v"), minio.PutObjectOptions{})

	_, err := e.client(accessKey, "wrong-secret").ListBuckets(ctx)
	expectCode(t, err, "SignatureDoesNotMatch")
	_, err = e.client("AKIAUNKNOWN000000000", secretKey).ListBuckets(ctx)
	expectCode(t, err, "InvalidAccessKeyId")

	anon, err := minio.New(e.host(), &minio.Options{Creds: credentials.NewStaticV4("", "", ""), Region: region})
	if err != nil {
		t.Fatal(err)
	}
	_, err = anon.ListBuckets(ctx)
	expectCode(t, err, "AccessDenied")
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/auth/k", unsigned: true})
	expectError(t, resp, body, 403, "AccessDenied")

	// Virtual-hosted style.
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/k", host: "auth.s3.test.local"})
	if resp.StatusCode != 200 || string(body) != "v" {
		t.Errorf("virtual-hosted GET: %d %q", resp.StatusCode, body)
	}
}

func TestUnsupported(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bucket("subres")
	for _, sub := range []string{"cors", "lifecycle", "policy", "tagging", "replication", "object-lock", "website"} {
		resp, body := e.raw(rawReq{method: http.MethodGet, path: "/subres", query: sub})
		se := expectError(t, resp, body, 501, "NotImplemented")
		if !strings.Contains(se.Message, sub) {
			t.Errorf("?%s: message %q does not name it", sub, se.Message)
		}
	}
	// Object tagging is implemented; bucket tagging is not.
	resp, body := e.raw(rawReq{method: http.MethodPut, path: "/subres", query: "tagging", body: []byte("<Tagging><TagSet/></Tagging>")})
	expectError(t, resp, body, 501, "NotImplemented")
	resp, body = e.raw(rawReq{method: "PATCH", path: "/subres/obj"})
	expectError(t, resp, body, 405, "MethodNotAllowed")

	// ACLs: read the canned owner ACL; only "private" may be set.
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/subres", query: "acl"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "FULL_CONTROL") {
		t.Errorf("GET ?acl: %d %s", resp.StatusCode, body)
	}
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/subres", query: "acl", header: http.Header{"X-Amz-Acl": {"private"}}})
	if resp.StatusCode != 200 {
		t.Errorf("PUT ?acl private: %d %s", resp.StatusCode, body)
	}
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/subres", query: "acl", header: http.Header{"X-Amz-Acl": {"public-read"}}})
	expectError(t, resp, body, 501, "NotImplemented")
	// The document GET ?acl returns can be put back; a public grant cannot.
	_, private := e.raw(rawReq{method: http.MethodGet, path: "/subres", query: "acl"})
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/subres", query: "acl", body: private})
	if resp.StatusCode != 200 {
		t.Errorf("PUT ?acl with the private document: %d %s", resp.StatusCode, body)
	}
	public := strings.Replace(string(private), "</AccessControlList>", `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">`+
		`<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList>`, 1)
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/subres", query: "acl", body: []byte(public)})
	expectError(t, resp, body, 501, "NotImplemented")
	// Object ACLs.
	e.put("subres", "obj", []byte("x"), minio.PutObjectOptions{})
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/subres/obj", query: "acl"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Permission>FULL_CONTROL</Permission>") {
		t.Errorf("GET object ?acl: %d %s", resp.StatusCode, body)
	}
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/subres/missing", query: "acl"})
	expectError(t, resp, body, 404, "NoSuchKey")
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/subres/obj", query: "acl", header: http.Header{"X-Amz-Acl": {"private"}}})
	if resp.StatusCode != 200 {
		t.Errorf("PUT object ?acl private: %d %s", resp.StatusCode, body)
	}
	if _, err := e.mc.GetObjectACL(context.Background(), "subres", "obj"); err != nil {
		t.Errorf("minio GetObjectACL: %v", err)
	}
}

func TestNonReplicatedEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(_ *store.Options, c *endpoint.Config) {
		c.Replicated, c.Policies, c.DefaultPolicy = false, endpoint.SitePolicies, endpoint.PolicyStandard
	})
	ctx := context.Background()
	if err := e.mc.MakeBucket(ctx, "cold", minio.MakeBucketOptions{Region: region + ":archive.cold"}); err != nil {
		t.Fatal(err)
	}
	resp, _ := e.raw(rawReq{method: http.MethodHead, path: "/cold"})
	if resp.Header.Get("X-Storage-Policy") != "archive.cold" || resp.Header.Get("X-Replcheck-Replicated") != "false" {
		t.Errorf("HEAD: %v", resp.Header)
	}
	e.bucket("plain")
	resp, _ = e.raw(rawReq{method: http.MethodHead, path: "/plain"})
	if resp.Header.Get("X-Storage-Policy") != "standard" {
		t.Errorf("default policy %q", resp.Header.Get("X-Storage-Policy"))
	}
	err := e.mc.MakeBucket(ctx, "refused", minio.MakeBucketOptions{Region: region + ":gold"})
	expectCode(t, err, "InvalidLocationConstraint")
}
