package s3api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/engine/store"
)

// signAgain signs req anew after its headers changed.
func signAgain(req *http.Request) *http.Request {
	req.Header.Del("Authorization")
	return signer.SignV4(*req, accessKey, secretKey, "", region)
}

func TestPresigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("presign")
	e.put(b, "shared file", []byte("presigned content"), minio.PutObjectOptions{})

	u, err := e.mc.PresignedGetObject(ctx, b, "shared file", time.Minute, url.Values{"response-content-type": {"text/plain"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "presigned content" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("presigned GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	pu, err := e.mc.PresignedPutObject(ctx, b, "uploaded", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, pu.String(), strings.NewReader("via presigned PUT"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("presigned PUT: %d", resp.StatusCode)
	}
	if got := e.mustGet(b, "uploaded", minio.GetObjectOptions{}); string(got) != "via presigned PUT" {
		t.Errorf("presigned PUT stored %q", got)
	}

	// Tampering with a presigned URL breaks its signature.
	tampered := strings.Replace(u.String(), "shared%20file", "other", 1)
	resp, err = http.Get(tampered)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, resp, body, 403, "SignatureDoesNotMatch")

	expired, err := e.mc.PresignedGetObject(ctx, b, "shared file", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	resp, err = http.Get(expired.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, resp, body, 403, "AccessDenied")
}

// sendTruncated sends req over a raw connection with its body cut short
// by cut bytes, then half-closes, as a client that dies mid-upload.
func (e *env) sendTruncated(t *testing.T, req *http.Request, cut int) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", e.host())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(buf.Bytes()[:buf.Len()-cut])
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bucket("robust")
	original := randBytes(51, 10_000)
	e.put(b, "keep", original, minio.PutObjectOptions{UserMetadata: map[string]string{"m": "1"}})
	p := "/" + b + "/keep"

	for _, tc := range []struct {
		name   string
		req    rawReq
		status int
		code   string
	}{
		{"range past the end", rawReq{method: http.MethodGet, path: p, header: http.Header{"Range": {"bytes=999999999-"}}}, 416, "InvalidRange"},
		{"suffix range zero", rawReq{method: http.MethodGet, path: p, header: http.Header{"Range": {"bytes=-0"}}}, 416, "InvalidRange"},
		{"huge range number", rawReq{method: http.MethodGet, path: p, header: http.Header{"Range": {"bytes=99999999999999999999999-"}}}, 416, "InvalidRange"},
		{"metadata too large", rawReq{method: http.MethodPut, path: p, body: []byte("replaced"),
			header: http.Header{"X-Amz-Meta-Big": {strings.Repeat("m", 2049)}}}, 400, "MetadataTooLarge"},
		{"metadata too large in sum", rawReq{method: http.MethodPut, path: p, body: []byte("replaced"),
			header: http.Header{"X-Amz-Meta-A": {strings.Repeat("m", 1100)}, "X-Amz-Meta-B": {strings.Repeat("m", 1100)}}}, 400, "MetadataTooLarge"},
		{"NUL in key", rawReq{method: http.MethodPut, path: "/" + b + "/a\x00b", body: []byte("x")}, 400, "InvalidArgument"},
		{"key too long", rawReq{method: http.MethodPut, path: "/" + b + "/" + strings.Repeat("k", 1025), body: []byte("x")}, 400, "KeyTooLongError"},
		{"key too long on GET", rawReq{method: http.MethodGet, path: "/" + b + "/" + strings.Repeat("k", 1025)}, 400, "KeyTooLongError"},
		{"invalid bucket name", rawReq{method: http.MethodPut, path: "/Bad_Bucket"}, 400, "InvalidBucketName"},
		{"malformed delete", rawReq{method: http.MethodPost, path: "/" + b, query: "delete", body: []byte("<Delete><Object><Key>keep</Key>")}, 400, "MalformedXML"},
		{"delete not XML", rawReq{method: http.MethodPost, path: "/" + b, query: "delete", body: []byte("keep")}, 400, "MalformedXML"},
		{"empty delete", rawReq{method: http.MethodPost, path: "/" + b, query: "delete", body: []byte("<Delete></Delete>")}, 400, "MalformedXML"},
		{"malformed versioning", rawReq{method: http.MethodPut, path: "/" + b, query: "versioning", body: []byte("<VersioningConfiguration>")}, 400, "MalformedXML"},
		{"malformed complete", rawReq{method: http.MethodPost, path: p, query: "uploadId=abc", body: []byte("<<<")}, 400, "MalformedXML"},
		{"complete unknown upload", rawReq{method: http.MethodPost, path: p, query: "uploadId=abc",
			body: []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")}, 404, "NoSuchUpload"},
		{"bad copy source", rawReq{method: http.MethodPut, path: "/" + b + "/copy", header: http.Header{"X-Amz-Copy-Source": {"nobucketkey"}}}, 400, "InvalidArgument"},
		{"copy source bad encoding", rawReq{method: http.MethodPut, path: "/" + b + "/copy", header: http.Header{"X-Amz-Copy-Source": {"/" + b + "/%zz"}}}, 400, "InvalidArgument"},
		{"self copy", rawReq{method: http.MethodPut, path: p, header: http.Header{"X-Amz-Copy-Source": {"/" + b + "/keep"}}}, 400, "InvalidRequest"},
		{"bad metadata directive", rawReq{method: http.MethodPut, path: "/" + b + "/copy", header: http.Header{"X-Amz-Copy-Source": {"/" + b + "/keep"},
			"X-Amz-Metadata-Directive": {"MERGE"}}}, 400, "InvalidArgument"},
		{"SSE-C key of wrong length", rawReq{method: http.MethodPut, path: p, body: []byte("x"), header: http.Header{
			"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"},
			"X-Amz-Server-Side-Encryption-Customer-Key":       {"c2hvcnQ="},
			"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   {"AAAAAAAAAAAAAAAAAAAAAA=="}}}, 400, "InvalidArgument"},
		{"unknown sub-resource", rawReq{method: http.MethodPut, path: p, query: "retention", body: []byte("<Retention/>")}, 501, "NotImplemented"},
		{"bad version id", rawReq{method: http.MethodDelete, path: p, query: "versionId=..%2F..%2Fetc"}, 400, "InvalidArgument"},
		{"bad part number", rawReq{method: http.MethodGet, path: p, query: "partNumber=0"}, 400, "InvalidArgument"},
		{"range and part number", rawReq{method: http.MethodGet, path: p, query: "partNumber=1", header: http.Header{"Range": {"bytes=0-1"}}}, 400, "InvalidRequest"},
		{"bad max-keys", rawReq{method: http.MethodGet, path: "/" + b, query: "max-keys=lots"}, 400, "InvalidArgument"},
		{"bad encoding-type", rawReq{method: http.MethodGet, path: "/" + b, query: "list-type=2&encoding-type=base64"}, 400, "InvalidArgument"},
		{"bad list-type", rawReq{method: http.MethodGet, path: "/" + b, query: "list-type=3"}, 400, "InvalidArgument"},
		{"reserved tag on PUT", rawReq{method: http.MethodPut, path: "/" + b + "/tagged", body: []byte("x"), header: http.Header{"X-Amz-Tagging": {"aws:a=b"}}}, 400, "InvalidTag"},
		{"tagging on CreateBucket", rawReq{method: http.MethodPut, path: "/tagged-bucket", header: http.Header{"X-Amz-Tagging": {"a=b"}}}, 501, "NotImplemented"},
		{"object lock", rawReq{method: http.MethodPut, path: "/locked", header: http.Header{"X-Amz-Bucket-Object-Lock-Enabled": {"true"}}}, 501, "NotImplemented"},
	} {
		resp, body := e.raw(tc.req)
		t.Run(tc.name, func(t *testing.T) { expectError(t, resp, body, tc.status, tc.code) })
	}

	// A payload that does not match its signed hash.
	req := e.newRaw(rawReq{method: http.MethodPut, path: p, body: []byte("signed body")})
	req.Body = io.NopCloser(strings.NewReader("other body!"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, resp, body, 400, "XAmzContentSHA256Mismatch")

	// A body shorter than its Content-Length: the client died mid-upload.
	req = e.newRaw(rawReq{method: http.MethodPut, path: p, body: bytes.Repeat([]byte("y"), 100_000)})
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req = signAgain(req)
	resp, body = e.sendTruncated(t, req, 50_000)
	expectError(t, resp, body, 400, "IncompleteBody")

	// A declared size above 5 GiB is refused before any byte is read.
	req = e.newRaw(rawReq{method: http.MethodPut, path: p, body: []byte("tiny")})
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req = signAgain(req)
	req.ContentLength = 6 << 30
	req.Body = io.NopCloser(io.LimitReader(zeros{}, 6<<30))
	resp, body = e.sendHeaderOnly(t, req)
	expectError(t, resp, body, 400, "EntityTooLarge")

	// Nothing above touched the stored object.
	got, err := e.get(b, "keep", minio.GetObjectOptions{})
	if err != nil || !bytes.Equal(got, original) {
		t.Fatalf("stored object damaged: %v", err)
	}
	st, err := e.mc.StatObject(context.Background(), b, "keep", minio.StatObjectOptions{})
	if err != nil || st.UserMetadata["M"] != "1" {
		t.Errorf("stored metadata damaged: %v %v", st.UserMetadata, err)
	}
	ls, _ := e.st.ListObjects(b, store.ListOptions{})
	if len(ls.Objects) != 1 {
		t.Errorf("%d objects in the bucket, want 1", len(ls.Objects))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// sendHeaderOnly sends req's headers and reads the response without
// sending the body: the server must answer before reading it.
func (e *env) sendHeaderOnly(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", e.host())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	head.WriteString(req.Method + " " + req.URL.RequestURI() + " HTTP/1.1\r\nHost: " + req.Host + "\r\n")
	req.Header.Set("Content-Length", "6442450944")
	req.Header.Write(&head)
	head.WriteString("\r\n")
	conn.Write(head.Bytes())
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// signBytes signs a request whose wire path is escapedPath by hand, for
// paths minio-go's signer cannot express (invalid UTF-8).
func signBytes(t *testing.T, e *env, method, escapedPath string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+e.host()+escapedPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	amzDate, day := now.Format("20060102T150405Z"), now.Format("20060102")
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	canonical := strings.Join([]string{method, escapedPath, "",
		"host:" + req.Host, "x-amz-content-sha256:" + payload, "x-amz-date:" + amzDate, "",
		"host;x-amz-content-sha256;x-amz-date", payload}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	crSum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	key := []byte("AWS4" + secretKey)
	for _, s := range []string{day, region, "s3", "aws4_request"} {
		key = hmacSHA256(key, s)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+accessKey+"/"+scope+
		", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="+hex.EncodeToString(hmacSHA256(key, toSign)))
	return req
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func TestInvalidUTF8Key(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bucket("utf")
	// The hand signer agrees with the server on a valid key...
	resp, err := http.DefaultClient.Do(signBytes(t, e, http.MethodPut, "/utf/ok%20key", []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("hand-signed PUT: %d", resp.StatusCode)
	}
	// ...and an invalid UTF-8 key is InvalidArgument.
	for _, m := range []string{http.MethodPut, http.MethodGet} {
		resp, err = http.DefaultClient.Do(signBytes(t, e, m, "/utf/a%FFb", []byte("x")[:map[string]int{"PUT": 1, "GET": 0}[m]]))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		expectError(t, resp, body, 400, "InvalidArgument")
	}
}
