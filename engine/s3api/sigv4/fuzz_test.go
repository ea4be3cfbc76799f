package sigv4_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/engine/s3api/sigv4"
)

// fuzzTemplate is a request signed once at setup; the fuzzer varies its body.
type fuzzTemplate struct {
	header http.Header
	url    *url.URL
	body   []byte
	t      time.Time
}

func template(t testing.TB, req *http.Request) fuzzTemplate {
	ts, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
	if err != nil {
		ts = time.Now()
	}
	var body []byte
	if req.Body != nil {
		body = wire(t, req)
	}
	return fuzzTemplate{header: req.Header.Clone(), url: req.URL, body: body, t: ts}
}

// FuzzVerify feeds arbitrary Authorization headers, query strings, paths and
// aws-chunked bodies to Verify and reads the body to the end. Modes 1-3 use
// a valid seed signature so that the chunk parser is reached.
func FuzzVerify(f *testing.F) {
	data := payload(300)
	trailer := http.Header{"x-amz-checksum-crc32c": {"sOO8/Q=="}}
	now := time.Now().UTC()
	templates := []fuzzTemplate{
		1: template(f, streamingSigned(newReq(f, "PUT", "http://example.com/b/k", data), int64(len(data)), nil)),
		2: template(f, unsignedTrailer(newReq(f, "PUT", "http://example.com/b/k", data), trailer)),
		3: template(f, streamingSigned(newReq(f, "PUT", "http://example.com/b/k", data), int64(len(data)), trailer)),
	}
	signedReq := signed(newReq(f, "PUT", "http://example.com/b/k?acl", data), data)
	presigned := signer.PreSignV4(*newReq(f, "GET", "http://example.com/b/k%20x?a=b", nil), testAK, testSK, "", testRegion, 600)

	f.Add(uint8(0), signedReq.Header.Get("Authorization"), "acl", data)
	f.Add(uint8(0), "", presigned.URL.RawQuery, []byte{})
	f.Add(uint8(0), "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request, SignedHeaders=host, Signature=00", "X-Amz-Algorithm=x", []byte{})
	f.Add(uint8(4), "", "/b/%zz%2F%7e/..//+", []byte{})
	for mode := 1; mode <= 3; mode++ {
		f.Add(uint8(mode), "", "", templates[mode].body)
	}
	f.Add(uint8(2), "", "", []byte("3\r\nabc\r\n0\r\n\r\nx-amz-checksum-crc32c:x\r\n\r\n"))

	f.Fuzz(func(t *testing.T, mode uint8, auth, query string, body []byte) {
		v := newVerifier()
		r := &http.Request{
			Method:        "PUT",
			URL:           &url.URL{Path: "/b/k"},
			Host:          "example.com",
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		switch mode %= 5; mode {
		case 0:
			r.URL.RawQuery = query
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			r.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
			r.Header.Set("X-Amz-Content-Sha256", sigv4.StreamingUnsignedPayloadTrailer)
		case 4:
			r.URL.RawPath = query
			if p, err := url.PathUnescape(query); err == nil {
				r.URL.Path = p
			}
			r.Header = signedReq.Header.Clone()
			r.Header.Set("Authorization", auth+r.Header.Get("Authorization"))
		default:
			tpl := templates[mode]
			r.Header = tpl.header.Clone()
			r.URL = tpl.url
			v.Now = func() time.Time { return tpl.t }
		}
		res, err := v.Verify(r)
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Code == "" || e.HTTPStatus < 400 {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		n, err := io.Copy(io.Discard, res.Body)
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Code == "" || e.HTTPStatus < 400 {
				t.Fatalf("bad body error %#v", err)
			}
			return
		}
		if res.Streaming && res.DecodedLength >= 0 && n != res.DecodedLength {
			t.Fatalf("decoded %d bytes, declared %d", n, res.DecodedLength)
		}
	})
}

// BenchmarkVerify measures a small signed PUT: verification plus reading
// and hashing a 1 KiB body.
func BenchmarkVerify(b *testing.B) {
	body := payload(1024)
	req := signed(newReq(b, "PUT", "http://example.com/bucket/some/object-key.txt", body), body)
	req.Header.Set("User-Agent", "bench")
	v := newVerifier()
	rd := bytes.NewReader(body)
	req.Body = io.NopCloser(rd)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		res, err := v.Verify(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := res.Body.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkVerifyStreaming measures a 64 KiB signed aws-chunked PUT.
func BenchmarkVerifyStreaming(b *testing.B) {
	data := payload(64 << 10)
	req := streamingSigned(newReq(b, "PUT", "http://example.com/bucket/key", data), int64(len(data)), nil)
	w := wire(b, req)
	v := newVerifier()
	rd := bytes.NewReader(w)
	req.Body = io.NopCloser(rd)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(w)
		res, err := v.Verify(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{res.Body}, buf); err != nil {
			b.Fatal(err)
		}
	}
}
