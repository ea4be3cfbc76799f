package s3api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/s3api"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// FuzzS3Request sends arbitrary signed requests to the handler: it must
// never panic and must always answer with a sane status and, for errors,
// an S3 error document.
func FuzzS3Request(f *testing.F) {
	logs := &recordingHandler{}
	cfg := &endpoint.Config{
		Site: "europe-se-1a", Region: region, Replicated: true,
		Policies: endpoint.ReplicatedPolicies, DefaultPolicy: endpoint.PolicyHPIntensive,
		Users:   []endpoint.User{{Account: "tester", Name: "tester", AccessKey: accessKey, SecretKey: secretKey}},
		Keyring: sse.GenerateKeyring(), Domains: []string{"s3.test.local"}, Logger: slog.New(logs),
	}
	st := store.NewMemoryStore(store.Options{MinPartSize: 1})
	if _, err := st.CreateBucket("fuzz", store.BucketOptions{Policy: "hp.intensive"}); err != nil {
		f.Fatal(err)
	}
	for _, k := range []string{"obj", "dir/a", "dir/b"} {
		if _, err := objio.Put(st, cfg.Keyring, "fuzz", k, objio.PutInput{Body: strings.NewReader("hello fuzz"), Size: 10}); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := objio.Put(st, cfg.Keyring, "fuzz", "enc", objio.PutInput{Body: strings.NewReader("secret"), Size: 6,
		Encryption: sse.Params{Mode: sse.SSES3}}); err != nil {
		f.Fatal(err)
	}
	h := s3api.New(st, cfg)

	seeds := []struct{ method, path, query, hname, hvalue, body string }{
		{"GET", "/", "", "", "", ""},
		{"GET", "/fuzz", "list-type=2&prefix=dir/&delimiter=/", "", "", ""},
		{"GET", "/fuzz", "versions&key-marker=obj&version-id-marker=null", "", "", ""},
		{"GET", "/fuzz/obj", "", "Range", "bytes=1-3", ""},
		{"GET", "/fuzz/obj", "partNumber=1", "If-None-Match", "*", ""},
		{"HEAD", "/fuzz/enc", "", "X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256", ""},
		{"PUT", "/fuzz/new", "", "X-Amz-Meta-A", "b", "data"},
		{"PUT", "/fuzz/copy", "", "X-Amz-Copy-Source", "/fuzz/obj?versionId=null", ""},
		{"PUT", "/fuzz/part", "partNumber=1&uploadId=x", "", "", "data"},
		{"POST", "/fuzz", "delete", "", "", "<Delete><Object><Key>obj</Key></Object></Delete>"},
		{"POST", "/fuzz/mp", "uploads", "Content-Type", "text/plain", ""},
		{"POST", "/fuzz/mp", "uploadId=abc", "", "", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"},
		{"PUT", "/newbucket", "", "", "", "<CreateBucketConfiguration><LocationConstraint>europe-se-1:gp.recurring</LocationConstraint></CreateBucketConfiguration>"},
		{"PUT", "/fuzz", "versioning", "", "", "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"},
		{"PUT", "/fuzz", "encryption", "", "", "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"},
		{"DELETE", "/fuzz/dir/a", "versionId=null", "", "", ""},
		{"GET", "/fuzz/a/../b", "acl", "", "", ""},
		{"GET", "/fuzz", "uploads&delimiter=/", "", "", ""},
		{"PUT", "/fuzz/x", "cors", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.hname, s.hvalue, []byte(s.body))
	}

	f.Fuzz(func(t *testing.T, method, path, rawQuery, hname, hvalue string, body []byte) {
		if len(body) > 1<<20 {
			return
		}
		req := &http.Request{
			Method:     method,
			URL:        &url.URL{Scheme: "http", Host: "127.0.0.1:9000", Path: path, RawQuery: rawQuery},
			Proto:      "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{},
			Host:          "127.0.0.1:9000",
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		if hname != "" && validHeaderName(hname) && !strings.ContainsAny(hvalue, "\r\n\x00") {
			req.Header.Set(hname, hvalue)
		}
		if req.Header.Get("X-Amz-Content-Sha256") == "" {
			sum := sha256.Sum256(body)
			req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		}
		req = signer.SignV4(*req, accessKey, secretKey, "", region)
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s %q ?%q %s=%q: handler panicked: %v", method, path, rawQuery, hname, hvalue, p)
				}
			}()
			h.ServeHTTP(rec, req)
		}()
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Header().Get("X-Amz-Request-Id") == "" {
			t.Fatalf("no request id")
		}
		if rec.Code >= 400 && method != http.MethodHead {
			var e struct {
				Code    string `xml:"Code"`
				Message string `xml:"Message"`
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%d with a bad error document: %v: %q", rec.Code, err, rec.Body.String())
			}
			if e.Code == "InternalError" {
				t.Fatalf("%s %q ?%q %s=%q: InternalError", method, path, rawQuery, hname, hvalue)
			}
		}
		logs.mu.Lock()
		errs := logs.errors
		logs.errors = nil
		logs.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("handler logged errors: %q", errs)
		}
	})
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return s != ""
}
