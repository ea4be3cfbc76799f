package sigv4_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/engine/s3api/sigv4"
)

const (
	testAK     = "AKIDREPLCHECK01"
	testSK     = "s3cr3t/with+odd=chars"
	testRegion = "us-east-1"
	otherAK    = "AKIDREPLCHECK02"
)

func lookup(ak string) (string, bool) {
	switch ak {
	case testAK:
		return testSK, true
	case otherAK:
		return "other-secret", true
	}
	return "", false
}

func newVerifier() *sigv4.Verifier { return &sigv4.Verifier{Lookup: lookup, Region: testRegion} }

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var e *sigv4.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *sigv4.Error %s, got %v", code, err)
	}
	if e.Code != code {
		t.Fatalf("want %s, got %s (%s)", code, e.Code, e.Message)
	}
	if e.HTTPStatus == 0 || e.Message == "" {
		t.Fatalf("incomplete error %+v", e)
	}
}

// outcome is what the test server saw.
type outcome struct {
	Code      string // error code, "" on success
	Status    int
	Message   string
	AccessKey string
	Presigned bool
	Anonymous bool
	Region    string
	Streaming bool
	Decoded   int64
	Path      string // r.URL.Path as the server parsed it
	Wire      string // r.RequestURI, as sent
	Query     string
	Body      []byte
	Trailer   http.Header
}

// harness is a real HTTP server whose handler verifies and reads the body, so
// the verifier sees requests exactly as parsed off the wire.
type harness struct {
	t   *testing.T
	v   *sigv4.Verifier
	url string
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, v: newVerifier()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := outcome{Status: 200, Path: r.URL.Path, Wire: r.RequestURI, Query: r.URL.RawQuery}
		res, err := h.v.Verify(r)
		if err == nil {
			o.AccessKey, o.Presigned, o.Anonymous, o.Region = res.AccessKey, res.Presigned, res.Anonymous, res.Region
			o.Streaming, o.Decoded = res.Streaming, res.DecodedLength
			o.Body, err = io.ReadAll(res.Body)
			o.Trailer = res.Trailer
		}
		if err != nil {
			var e *sigv4.Error
			if errors.As(err, &e) {
				o.Code, o.Status, o.Message = e.Code, e.HTTPStatus, e.Message
			} else {
				o.Code, o.Status, o.Message = "internal", 500, err.Error()
			}
		}
		json.NewEncoder(w).Encode(o)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// with returns h reporting to t, for use in subtests.
func (h *harness) with(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// do sends req and returns what the server saw.
func (h *harness) do(req *http.Request) outcome {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var o outcome
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		h.t.Fatal(err)
	}
	return o
}

func (h *harness) ok(req *http.Request) outcome {
	h.t.Helper()
	o := h.do(req)
	if o.Code != "" {
		h.t.Fatalf("%s %s: %s: %s", req.Method, req.URL, o.Code, o.Message)
	}
	return o
}

func (h *harness) fail(req *http.Request, code string) outcome {
	h.t.Helper()
	o := h.do(req)
	if o.Code != code {
		h.t.Fatalf("%s %s: want %s, got %q (%s)", req.Method, req.URL, code, o.Code, o.Message)
	}
	if o.Message == "" || o.Status < 400 {
		h.t.Fatalf("incomplete error %+v", o)
	}
	return o
}

// objectURL is how an S3 client spells bucket/key on the wire.
func (h *harness) objectURL(key string) string {
	return h.url + "/bucket/" + s3utils.EncodePath(key)
}

func newReq(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signed returns req signed by minio-go with a hex payload hash.
func signed(req *http.Request, body []byte) *http.Request {
	req.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
	return signer.SignV4(*req, testAK, testSK, "", testRegion)
}

// sha256Hasher adapts crypto/sha256 to the md5simd.Hasher minio-go wants.
type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

// streamingSigned signs req for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER).
func streamingSigned(req *http.Request, n int64, trailer http.Header) *http.Request {
	req.Trailer = trailer
	return signer.StreamingSignV4(req, testAK, testSK, "", testRegion, n, time.Now().UTC(), sha256Hasher{sha256.New()})
}

// unsignedTrailer signs req for STREAMING-UNSIGNED-PAYLOAD-TRAILER as
// minio-go's client does.
func unsignedTrailer(req *http.Request, trailer http.Header) *http.Request {
	req.Header.Set("X-Amz-Content-Sha256", sigv4.StreamingUnsignedPayloadTrailer)
	return signer.SignV4Trailer(*req, testAK, testSK, "", testRegion, trailer)
}

// wire returns the encoded body of a signed streaming request and replaces
// it by a re-readable copy.
func wire(t testing.TB, req *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	setBody(req, b)
	return b
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}
