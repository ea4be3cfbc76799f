package sigv4_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/engine/s3api/sigv4"
)

// awkwardKeys are object keys whose wire encoding differs from their text.
var awkwardKeys = []string{
	"plain.txt",
	"with space",
	"a+b",
	"100%",
	"100%25literal",
	"a=b&c=d",
	"tilde~dash-under_dot.",
	"ünïcödé/日本語/😀",
	"question?mark#hash",
	"semi;colon,comma:colon@at$dollar",
	"star*paren()bang!quote'",
	`back\slash"dq`,
	"[brackets]{braces}^caret`tick|pipe<lt>gt",
	"dir/sub/file",
	"//double//slash",
	"./dot/../segments",
	"trailing/",
	"%2F-looking",
}

func TestSignV4Roundtrip(t *testing.T) {
	h := newHarness(t)
	body := []byte("hello, world")
	for _, method := range []string{"GET", "HEAD", "DELETE", "PUT", "POST"} {
		var b []byte
		if method == "PUT" || method == "POST" {
			b = body
		}
		req := signed(newReq(t, method, h.objectURL("obj"), b), b)
		if method == "HEAD" {
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("HEAD: %v %v", resp, err)
			}
			resp.Body.Close()
			continue
		}
		o := h.ok(req)
		if o.AccessKey != testAK || o.Presigned || o.Anonymous || o.Streaming || !bytes.Equal(o.Body, b) {
			t.Fatalf("%s: %+v", method, o)
		}
		if o.Decoded != int64(len(b)) {
			t.Fatalf("%s: decoded length %d", method, o.Decoded)
		}
	}
}

func TestAwkwardKeys(t *testing.T) {
	h := newHarness(t)
	for _, key := range awkwardKeys {
		body := []byte("data of " + key)
		o := h.ok(signed(newReq(t, "PUT", h.objectURL(key), body), body))
		if o.Path != "/bucket/"+key || !bytes.Equal(o.Body, body) {
			t.Fatalf("key %q: server saw path %q", key, o.Path)
		}
		h.ok(signed(newReq(t, "GET", h.objectURL(key)+"?versionId=v+1&x-id=GetObject", nil), nil))
		h.ok(signer.PreSignV4(*newReq(t, "GET", h.objectURL(key), nil), testAK, testSK, "", testRegion, 600))
	}
}

// TestWireEncodingVariants sends the same key spelled differently on the
// wire than the client's canonical form: S3 normalises only the spelling.
func TestWireEncodingVariants(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ key, wire string }{
		{"a~b", "a%7eb"},             // over-encoded unreserved, lower-case hex
		{"a-b.c_d", "a%2Db%2ec%5Fd"}, // over-encoded unreserved
		{"a+b", "a%2bb"},             // lower-case hex
		{"a+b=c", "a+b=c"},           // sub-delims sent raw
		{"x$y,z;w:v@u", "x$y,z;w:v@u"},
		{"é", "%c3%a9"},
	} {
		req := newReq(t, "GET", h.url+"/bucket/"+tc.wire, nil)
		if req.URL.Path != "/bucket/"+tc.key {
			t.Fatalf("bad test case %q: path %q", tc.wire, req.URL.Path)
		}
		o := h.ok(signed(req, nil))
		if o.Path != "/bucket/"+tc.key || o.Wire != "/bucket/"+tc.wire {
			t.Fatalf("%q: server path %q, wire %q", tc.wire, o.Path, o.Wire)
		}
	}
}

func TestQueryCanonicalisation(t *testing.T) {
	h := newHarness(t)
	// Repeated names are sorted by value (AWS rule; minio-go keeps their
	// order, so the test sends them sorted).
	req := signed(newReq(t, "GET", h.url+"/bucket?list-type=2&prefix=a%20b%2Bc&delimiter=%2F&acl&marker=%C3%A9&z=1&z=2", nil), nil)
	h.ok(req)

	// Same parameters, respelled: '+' for space, bare name, other order.
	req = signed(newReq(t, "GET", h.url+"/bucket?prefix=a%20b%2Bc&delimiter=%2F&acl", nil), nil)
	req.URL.RawQuery = "acl&delimiter=/&prefix=a+b%2bc"
	h.ok(req)
}

func TestHeaderCanonicalisation(t *testing.T) {
	h := newHarness(t)
	req := newReq(t, "PUT", h.objectURL("k"), []byte("x"))
	req.Header.Set("X-Amz-Meta-Spaces", "a   b \t c")
	req.Header.Add("X-Amz-Meta-Multi", "one")
	req.Header.Add("X-Amz-Meta-Multi", " two  words ")
	req.Header.Set("X-Amz-Meta-Utf8", "grüße  dir")
	req.Header.Set("Content-Type", "text/plain;  charset=utf-8")
	h.ok(signed(req, []byte("x")))
}

func TestRegionFromScope(t *testing.T) {
	h := newHarness(t)
	req := newReq(t, "GET", h.objectURL("k"), nil)
	req.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
	o := h.ok(signer.SignV4(*req, testAK, testSK, "", "eu-central-1"))
	if o.Region != "eu-central-1" {
		t.Fatalf("region %q", o.Region)
	}
}

func TestHeaderAuthErrors(t *testing.T) {
	h := newHarness(t)
	body := []byte("payload")
	fresh := func() *http.Request {
		req := newReq(t, "PUT", h.objectURL("obj")+"?tagging", body)
		req.Header.Set("X-Amz-Meta-Color", "red")
		return req
	}
	sign := func(req *http.Request, ak, sk string) *http.Request {
		req.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
		return signer.SignV4(*req, ak, sk, "", testRegion)
	}

	h.ok(sign(fresh(), testAK, testSK))
	h.fail(sign(fresh(), testAK, "wrong"), "SignatureDoesNotMatch")
	h.fail(sign(fresh(), "AKIDUNKNOWN", testSK), "InvalidAccessKeyId")

	req := sign(fresh(), testAK, testSK)
	req.Header.Set("X-Amz-Meta-Color", "blue")
	h.fail(req, "SignatureDoesNotMatch")

	req = sign(fresh(), testAK, testSK)
	req.Header.Set("X-Amz-Meta-Injected", "1")
	h.fail(req, "AccessDenied")

	req = sign(fresh(), testAK, testSK)
	req.URL.Path = "/bucket/other"
	h.fail(req, "SignatureDoesNotMatch")

	req = sign(fresh(), testAK, testSK)
	req.URL.RawQuery = "tagging=&versionId=1"
	h.fail(req, "SignatureDoesNotMatch")

	req = sign(fresh(), testAK, testSK)
	req.Method = "POST"
	h.fail(req, "SignatureDoesNotMatch")

	req = sign(fresh(), testAK, testSK)
	req.Host = "evil.example:80"
	h.fail(req, "SignatureDoesNotMatch")

	req = sign(fresh(), testAK, testSK)
	req.Header.Del("X-Amz-Date")
	h.fail(req, "AccessDenied")

	req = fresh()
	h.fail(signer.SignV4(*req, testAK, testSK, "", testRegion), "InvalidRequest") // no x-amz-content-sha256

	req = fresh()
	req.Header.Set("X-Amz-Content-Sha256", "not-a-hash")
	h.fail(signer.SignV4(*req, testAK, testSK, "", testRegion), "InvalidArgument")

	o := h.fail(signer.SignV2(*fresh(), testAK, testSK, false), "InvalidRequest")
	if !strings.Contains(o.Message, "signature version 2") {
		t.Fatalf("SigV2 message %q", o.Message)
	}
	h.fail(signer.PreSignV2(*newReq(t, "GET", h.objectURL("obj"), nil), testAK, testSK, 60, false), "InvalidRequest")

	req = signer.PreSignV4(*newReq(t, "GET", h.objectURL("obj"), nil), testAK, testSK, "", testRegion, 60)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 whatever")
	h.fail(req, "InvalidArgument")
}

func TestSignatureMismatchDetails(t *testing.T) {
	req := signed(newReq(t, "GET", "http://example.com/bucket/key", nil), nil)
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), testAK, otherAK, 1))
	_, err := newVerifier().Verify(req)
	wantCode(t, err, "SignatureDoesNotMatch")
	var e *sigv4.Error
	errors.As(err, &e)
	if e.HTTPStatus != 403 || !strings.HasPrefix(e.CanonicalRequest, "GET\n/bucket/key\n\n") ||
		!strings.HasPrefix(e.StringToSign, "AWS4-HMAC-SHA256\n") {
		t.Fatalf("details: %+v", e)
	}
	for _, s := range []string{e.Message, e.Error(), e.CanonicalRequest, e.StringToSign} {
		if strings.Contains(s, testSK) || strings.Contains(s, "other-secret") {
			t.Fatalf("secret leaked: %q", s)
		}
	}
}

func TestClockSkew(t *testing.T) {
	v := newVerifier()
	for _, tc := range []struct {
		skew time.Duration
		code string
	}{
		{0, ""}, {14 * time.Minute, ""}, {-14 * time.Minute, ""},
		{16 * time.Minute, "RequestTimeTooSkewed"}, {-16 * time.Minute, "RequestTimeTooSkewed"},
	} {
		v.Now = func() time.Time { return time.Now().Add(tc.skew) }
		_, err := v.Verify(signed(newReq(t, "GET", "http://example.com/b/k", nil), nil))
		if tc.code == "" {
			if err != nil {
				t.Fatalf("skew %v: %v", tc.skew, err)
			}
			continue
		}
		wantCode(t, err, tc.code)
		var e *sigv4.Error
		errors.As(err, &e)
		if e.HTTPStatus != 403 {
			t.Fatalf("status %d", e.HTTPStatus)
		}
	}
	v.MaxSkew = time.Minute
	v.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	_, err := v.Verify(signed(newReq(t, "GET", "http://example.com/b/k", nil), nil))
	wantCode(t, err, "RequestTimeTooSkewed")
}

func TestPresigned(t *testing.T) {
	h := newHarness(t)
	req := newReq(t, "GET", h.objectURL("dir/obj name")+"?response-content-type=text%2Fplain%3B%20charset%3Dutf-8&versionId=3", nil)
	o := h.ok(signer.PreSignV4(*req, testAK, testSK, "", testRegion, 3600))
	if !o.Presigned || o.AccessKey != testAK {
		t.Fatalf("%+v", o)
	}

	body := []byte("presigned upload")
	req = signer.PreSignV4(*newReq(t, "PUT", h.objectURL("up"), nil), testAK, testSK, "", testRegion, 3600)
	setBody(req, body)
	o = h.ok(req)
	if !bytes.Equal(o.Body, body) {
		t.Fatalf("body %q", o.Body)
	}

	presign := func(expires int64) *http.Request {
		return signer.PreSignV4(*newReq(t, "GET", h.objectURL("obj"), nil), testAK, testSK, "", testRegion, expires)
	}
	edit := func(req *http.Request, f func(q map[string][]string)) *http.Request {
		q := req.URL.Query()
		f(q)
		req.URL.RawQuery = q.Encode()
		return req
	}
	h.fail(edit(presign(60), func(q map[string][]string) { q["X-Amz-Expires"] = []string{"61"} }), "SignatureDoesNotMatch")
	h.fail(edit(presign(60), func(q map[string][]string) { q["extra"] = []string{"1"} }), "SignatureDoesNotMatch")
	h.fail(edit(presign(60), func(q map[string][]string) { delete(q, "X-Amz-Date") }), "AuthorizationQueryParametersError")
	h.fail(edit(presign(60), func(q map[string][]string) { q["X-Amz-Algorithm"] = []string{"AWS4-HMAC-SHA1"} }), "AuthorizationQueryParametersError")
	h.fail(edit(presign(60), func(q map[string][]string) { q["X-Amz-Date"] = []string{"2024-01-01T00:00:00Z"} }), "AuthorizationQueryParametersError")
	h.fail(edit(presign(60), func(q map[string][]string) { q["X-Amz-Credential"] = []string{"AKID/20240101/us-east-1/s3"} }), "AuthorizationQueryParametersError")
	h.fail(edit(presign(60), func(q map[string][]string) { q["X-Amz-SignedHeaders"] = []string{"x-amz-date"} }), "AuthorizationQueryParametersError")
	h.fail(edit(presign(60), func(q map[string][]string) { q["X-Amz-Expires"] = []string{"soon"} }), "AuthorizationQueryParametersError")
	h.fail(presign(604801), "AuthorizationQueryParametersError")
	h.fail(presign(-1), "AuthorizationQueryParametersError")
	h.ok(presign(604800))

	req = presign(60)
	req.Header.Set("X-Amz-Meta-Unsigned", "1")
	h.fail(req, "AccessDenied")

	h.v.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	o = h.fail(presign(60), "AccessDenied")
	if o.Message != "Request has expired" || o.Status != 403 {
		t.Fatalf("%+v", o)
	}
	h.v.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	h.fail(presign(60), "AccessDenied")
}

func TestAnonymous(t *testing.T) {
	h := newHarness(t)
	o := h.ok(newReq(t, "PUT", h.objectURL("k"), []byte("anon")))
	if !o.Anonymous || string(o.Body) != "anon" || o.AccessKey != "" {
		t.Fatalf("%+v", o)
	}
}

func TestMalformedAuthorization(t *testing.T) {
	now := time.Now().UTC()
	date := now.Format("20060102")
	cred := "Credential=" + testAK + "/" + date + "/us-east-1/s3/aws4_request"
	sig := "Signature=" + strings.Repeat("0", 64)
	sh := "SignedHeaders=host;x-amz-content-sha256;x-amz-date"
	for _, tc := range []struct{ auth, code string }{
		{"", "InvalidArgument"},
		{"Bearer token", "InvalidArgument"},
		{"AWS4-HMAC-SHA256", "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256X " + cred, "InvalidArgument"},
		{"AWS " + testAK + ":c2lnbmF0dXJl", "InvalidRequest"},
		{"AWS4-ECDSA-P256-SHA256 " + cred + "," + sh + "," + sig, "InvalidRequest"},
		{"AWS4-HMAC-SHA256 " + cred + "," + sh, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + "," + sh + "," + sig + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + "," + sh + "," + sig + ",Foo=bar", "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + "," + sh + ",Signature", "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + "," + sh + ",Signature=", "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=" + testAK + "/" + date + "/us-east-1/s3," + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=/" + date + "/us-east-1/s3/aws4_request," + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=" + testAK + "/" + date + "/us-east-1/ec2/aws4_request," + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=" + testAK + "/" + date + "/us-east-1/s3/aws5_request," + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=" + testAK + "/" + date + "//s3/aws4_request," + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=" + testAK + "/2013-5-24/us-east-1/s3/aws4_request," + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=" + testAK + "/20000101/us-east-1/s3/aws4_request," + sh + "," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=x-amz-content-sha256;x-amz-date," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host;;x-amz-date," + sig, "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 " + cred + "," + sh + "," + sig, "SignatureDoesNotMatch"},
		{"AWS4-HMAC-SHA256 Credential=AKIDNOPE/" + date + "/us-east-1/s3/aws4_request," + sh + "," + sig, "InvalidAccessKeyId"},
		{"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host," + sig, "AccessDenied"}, // x-amz-* headers not signed
	} {
		r := httptest.NewRequest("GET", "http://example.com/b/k", nil)
		r.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
		r.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
		r.Header.Set("Authorization", tc.auth)
		_, err := newVerifier().Verify(r)
		t.Run(tc.code, func(t *testing.T) { wantCode(t, err, tc.code) })
	}

	// Bad dates.
	for _, d := range []string{"", "20130524T000000", "2013-05-24T00:00:00Z", "20130524T0000000Z"} {
		r := httptest.NewRequest("GET", "http://example.com/b/k", nil)
		r.Header.Set("X-Amz-Date", d)
		r.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 "+cred+","+sh+","+sig)
		_, err := newVerifier().Verify(r)
		wantCode(t, err, "AccessDenied")
	}
}

func TestBodyHashMismatch(t *testing.T) {
	h := newHarness(t)
	req := signed(newReq(t, "PUT", h.objectURL("k"), []byte("hello")), []byte("hello"))
	setBody(req, []byte("hellO"))
	h.fail(req, "XAmzContentSHA256Mismatch")

	// The mismatch surfaces at EOF, after the data itself.
	req = signed(newReq(t, "PUT", "http://example.com/b/k", []byte("hello")), []byte("hello"))
	setBody(req, []byte("hellO"))
	res, err := newVerifier().Verify(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	if string(got) != "hellO" {
		t.Fatalf("got %q", got)
	}
	wantCode(t, err, "XAmzContentSHA256Mismatch")
	if _, err := res.Body.Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Fatalf("error not sticky: %v", err)
	}

	// A short body is IncompleteBody, not a hash mismatch.
	req = signed(newReq(t, "PUT", "http://example.com/b/k", []byte("hello")), []byte("hello"))
	req.Body = io.NopCloser(io.MultiReader(strings.NewReader("he"), errReader{io.ErrUnexpectedEOF}))
	res, _ = newVerifier().Verify(req)
	_, err = io.ReadAll(res.Body)
	wantCode(t, err, "IncompleteBody")
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestVerifyLeavesBodyOnError(t *testing.T) {
	req := signed(newReq(t, "PUT", "http://example.com/b/k", []byte("hello")), []byte("hello"))
	req.Header.Set("X-Amz-Meta-Late", "1")
	if _, err := newVerifier().Verify(req); err == nil {
		t.Fatal("want error")
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "hello" {
		t.Fatalf("body consumed: %q", b)
	}
}

func TestKeyRotation(t *testing.T) {
	v := newVerifier()
	if _, err := v.Verify(signed(newReq(t, "GET", "http://example.com/b/k", nil), nil)); err != nil {
		t.Fatal(err)
	}
	v.Lookup = func(string) (string, bool) { return "rotated", true }
	_, err := v.Verify(signed(newReq(t, "GET", "http://example.com/b/k", nil), nil))
	wantCode(t, err, "SignatureDoesNotMatch")
	v.Lookup = nil
	_, err = v.Verify(signed(newReq(t, "GET", "http://example.com/b/k", nil), nil))
	wantCode(t, err, "InvalidAccessKeyId")
}

func TestConcurrentVerify(t *testing.T) {
	v := newVerifier()
	body := []byte("concurrent")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				region := []string{"us-east-1", "eu-west-1", "ap-south-1"}[(g+i)%3]
				req := newReq(t, "PUT", "http://example.com/b/k", body)
				req.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
				req = signer.SignV4(*req, testAK, testSK, "", region)
				res, err := v.Verify(req)
				if err != nil {
					t.Error(err)
					return
				}
				if b, err := io.ReadAll(res.Body); err != nil || !bytes.Equal(b, body) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
