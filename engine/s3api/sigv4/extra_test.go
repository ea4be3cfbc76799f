package sigv4_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSignedContentLength: SDKs such as the Java one sign Content-Length,
// which Go's client sends from req.ContentLength rather than the header map.
func TestSignedContentLength(t *testing.T) {
	h := newHarness(t)
	body := []byte("12345")
	req := newReq(t, "PUT", h.objectURL("cl"), body)
	req.Header.Set("Content-Length", "5")
	req.Header.Set("Content-Md5", "gnzLDuqKcGxMNKFokfhOew==")
	h.ok(signed(req, body))
}

func hmacHex(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// TestDateHeaderOnly signs with the Date header instead of X-Amz-Date, which
// minio-go never does; the signature is computed here from the AWS recipe.
func TestDateHeaderOnly(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	date := now.Format(http.TimeFormat)
	amz := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	canon := "GET\n/b/k\n\ndate:" + date + "\nhost:example.com\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\n" +
		"date;host;x-amz-content-sha256\nUNSIGNED-PAYLOAD"
	sum := sha256.Sum256([]byte(canon))
	sts := "AWS4-HMAC-SHA256\n" + amz + "\n" + day + "/us-west-2/s3/aws4_request\n" + hex.EncodeToString(sum[:])
	key := hmacHex(hmacHex(hmacHex(hmacHex([]byte("AWS4"+testSK), day), "us-west-2"), "s3"), "aws4_request")
	sig := hex.EncodeToString(hmacHex(key, sts))

	r := httptest.NewRequest("GET", "http://example.com/b/k", nil)
	r.Header.Set("Date", date)
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/"+day+"/us-west-2/s3/aws4_request, "+
		"SignedHeaders=date;host;x-amz-content-sha256, Signature="+sig)
	res, err := newVerifier().Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Region != "us-west-2" || res.Body == nil {
		t.Fatalf("%+v", res)
	}
	r.Header.Set("Date", now.Add(time.Second).Format(http.TimeFormat))
	_, err = newVerifier().Verify(r)
	wantCode(t, err, "SignatureDoesNotMatch")
	r.Header.Set("Date", "yesterday")
	_, err = newVerifier().Verify(r)
	wantCode(t, err, "AccessDenied")
}

// TestHostileSizes: huge header and signed-header counts must stay cheap.
func TestHostileSizes(t *testing.T) {
	start := time.Now()
	r := httptest.NewRequest("GET", "http://example.com/b/k?"+strings.Repeat("a=b&", 20000), nil)
	for i := range 20000 {
		r.Header["X-Amz-Meta-H"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+hex.EncodeToString([]byte{byte(i), byte(i >> 8)})] = []string{"v"}
	}
	names := make([]string, 0, 50000)
	names = append(names, "host")
	for i := range 50000 {
		names = append(names, "x-odd_name"+hex.EncodeToString([]byte{byte(i), byte(i >> 8)}))
	}
	day := time.Now().UTC().Format("20060102")
	r.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/"+day+"/us-east-1/s3/aws4_request,SignedHeaders="+
		strings.Join(names, ";")+",Signature="+strings.Repeat("0", 64))
	_, err := newVerifier().Verify(r)
	wantCode(t, err, "AccessDenied") // the x-amz-meta headers are not signed

	for k := range r.Header {
		if strings.HasPrefix(k, "X-Amz-Meta") {
			delete(r.Header, k)
		}
	}
	names = append(names, "x-amz-content-sha256", "x-amz-date")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/"+day+"/us-east-1/s3/aws4_request,SignedHeaders="+
		strings.Join(names, ";")+",Signature="+strings.Repeat("0", 64))
	_, err = newVerifier().Verify(r)
	wantCode(t, err, "SignatureDoesNotMatch")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestNilBody(t *testing.T) {
	req := signed(newReq(t, "GET", "http://example.com/b/k", nil), nil)
	if req.Body != nil {
		t.Fatal("test wants a nil body")
	}
	res, err := newVerifier().Verify(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(res.Body); err != nil || len(b) != 0 {
		t.Fatalf("%q %v", b, err)
	}
}
