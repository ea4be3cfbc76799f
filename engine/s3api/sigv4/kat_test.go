package sigv4_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/engine/s3api/sigv4"
)

// Known-answer tests: the worked examples of the AWS S3 documentation
// ("Signature Calculations for the Authorization Header", "Query String
// Authentication" and "Signature Calculation for Streaming Upload").
const (
	katAccessKey = "AKIAIOSFODNN7EXAMPLE"
	katSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	katCred      = "Credential=" + katAccessKey + "/20130524/us-east-1/s3/aws4_request"
)

func katVerifier() *sigv4.Verifier {
	return &sigv4.Verifier{
		Lookup: func(ak string) (string, bool) { return katSecret, ak == katAccessKey },
		Now:    func() time.Time { return time.Date(2013, 5, 24, 0, 1, 0, 0, time.UTC) },
	}
}

func TestKnownAnswers(t *testing.T) {
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	tests := []struct {
		name, method, target, body string
		headers                    map[string]string
	}{
		{"GetObject", "GET", "http://examplebucket.s3.amazonaws.com/test.txt", "", map[string]string{
			"Range":                "bytes=0-9",
			"X-Amz-Content-Sha256": emptyHash,
			"X-Amz-Date":           "20130524T000000Z",
			"Authorization": "AWS4-HMAC-SHA256 " + katCred + ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," +
				"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		}},
		{"PutObject", "PUT", "http://examplebucket.s3.amazonaws.com/test$file.text", "Welcome to Amazon S3.", map[string]string{
			"Date":                 "Fri, 24 May 2013 00:00:00 GMT",
			"X-Amz-Storage-Class":  "REDUCED_REDUNDANCY",
			"X-Amz-Content-Sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			"X-Amz-Date":           "20130524T000000Z",
			"Authorization": "AWS4-HMAC-SHA256 " + katCred + ",SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class," +
				"Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		}},
		{"GetBucketLifecycle", "GET", "http://examplebucket.s3.amazonaws.com/?lifecycle", "", map[string]string{
			"X-Amz-Content-Sha256": emptyHash,
			"X-Amz-Date":           "20130524T000000Z",
			"Authorization": "AWS4-HMAC-SHA256 " + katCred + ",SignedHeaders=host;x-amz-content-sha256;x-amz-date," +
				"Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		}},
		{"ListObjects", "GET", "http://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J", "", map[string]string{
			"X-Amz-Content-Sha256": emptyHash,
			"X-Amz-Date":           "20130524T000000Z",
			"Authorization": "AWS4-HMAC-SHA256 " + katCred + ",SignedHeaders=host;x-amz-content-sha256;x-amz-date," +
				"Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		}},
		{"Presigned", "GET", "http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
			"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z" +
			"&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
			"", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			res, err := katVerifier().Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			if res.AccessKey != katAccessKey || res.Region != "us-east-1" {
				t.Fatalf("result %+v", res)
			}
			got, err := io.ReadAll(res.Body)
			if err != nil || string(got) != tc.body {
				t.Fatalf("body %q, %v", got, err)
			}
		})
	}
}

// katStreamingBody is the aws-chunked body of the AWS streaming example:
// 65536 + 1024 bytes of 'a' in two chunks and the final chunk.
func katStreamingBody() []byte {
	var b bytes.Buffer
	b.WriteString("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n")
	b.Write(bytes.Repeat([]byte{'a'}, 65536))
	b.WriteString("\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n")
	b.Write(bytes.Repeat([]byte{'a'}, 1024))
	b.WriteString("\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n")
	return b.Bytes()
}

func katStreamingRequest(body []byte) *http.Request {
	r := httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/chunkObject.txt", bytes.NewReader(body))
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", "66824")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 "+katCred+
		",SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class"+
		",Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	return r
}

func TestKnownAnswerStreaming(t *testing.T) {
	body := katStreamingBody()
	if len(body) != 66824 {
		t.Fatalf("example body is %d bytes", len(body))
	}
	res, err := katVerifier().Verify(katStreamingRequest(body))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Streaming || res.DecodedLength != 66560 {
		t.Fatalf("result %+v", res)
	}
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte{'a'}, 66560)) {
		t.Fatalf("decoded %d bytes", len(got))
	}

	// Flip one payload byte in each chunk: the chunk's signature must fail.
	for _, off := range []int{100, 65626 + 90} {
		bad := bytes.Clone(body)
		bad[off] = 'b'
		res, err := katVerifier().Verify(katStreamingRequest(bad))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(res.Body)
		wantCode(t, err, "SignatureDoesNotMatch")
	}
	// Truncate anywhere: never a success.
	for _, n := range []int{0, 10, 88, 65000, 65626, 66700, len(body) - 2} {
		res, err := katVerifier().Verify(katStreamingRequest(body[:n]))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(res.Body)
		wantCode(t, err, "IncompleteBody")
	}
	// Read with a tiny buffer to exercise every state transition.
	res, _ = katVerifier().Verify(katStreamingRequest(body))
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{res.Body}, make([]byte, 7))
	if err != nil || n != 66560 {
		t.Fatalf("copy %d, %v", n, err)
	}
}
