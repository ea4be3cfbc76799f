package swiftapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
	"github.com/replcheck/replcheck/engine/swiftapi"
)

// FuzzSwiftRequest sends arbitrary requests, authenticated, to the handler
// over a memory store holding plain, encrypted and multipart objects. The
// header argument is "Name: value" (any other form is an object metadata
// value). The handler must never panic nor fail with a 500.
func FuzzSwiftRequest(f *testing.F) {
	st := store.NewMemoryStore(store.Options{MinPartSize: 16})
	cfg := &endpoint.Config{
		Site: "fuzz-1a", Replicated: true, Policies: endpoint.ReplicatedPolicies, DefaultPolicy: endpoint.PolicyHPIntensive,
		Users:   []endpoint.User{{Account: "acct", Name: "user", SecretKey: testSecret}},
		Keyring: sse.GenerateKeyring(),
	}
	h := swiftapi.New(st, cfg)
	token := fuzzToken(f, h)
	seedStore(f, st, cfg)

	for _, s := range []struct{ method, path, query, header, body string }{
		{"GET", "/v1/AUTH_acct/c/plain", "", "Range: bytes=2-5", ""},
		{"GET", "/v1/AUTH_acct/c/mp", "", "Range: bytes=10-40,-3", ""},
		{"GET", "/v1/AUTH_acct/c/kms", "", "If-None-Match: *", ""},
		{"GET", "/v1/AUTH_acct/c/ssec", "", "", ""},
		{"GET", "/v1/AUTH_acct/c/mp", "multipart-manifest=get&format=raw", "", ""},
		{"HEAD", "/v1/AUTH_acct/c/plain", "", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT", ""},
		{"PUT", "/v1/AUTH_acct/c/new", "", "X-Object-Meta-Color: blue", "data"},
		{"PUT", "/v1/AUTH_acct/kmsc/new", "", "Etag: 8d777f385d3dfec8815d20f7496026dc", "data"},
		{"PUT", "/v1/AUTH_acct/c/copy", "", "X-Copy-From: c/mp", ""},
		{"COPY", "/v1/AUTH_acct/c/kms", "", "Destination: c/kms2", ""},
		{"POST", "/v1/AUTH_acct/c/plain", "", "Content-Type: text/x", ""},
		{"DELETE", "/v1/AUTH_acct/c/plain", "", "", ""},
		{"GET", "/v1/AUTH_acct/c", "format=json&delimiter=/&prefix=d&limit=2", "", ""},
		{"GET", "/v1/AUTH_acct/c", "path=d&marker=a&end_marker=z", "Accept: application/xml;q=0.5, text/plain;q=0.1", ""},
		{"GET", "/v1/AUTH_acct", "format=xml", "", ""},
		{"PUT", "/v1/AUTH_acct/newc", "", "X-Storage-Policy: gp.recurring", ""},
		{"POST", "/v1/AUTH_acct/c", "", "X-Remove-Container-Meta-A: x", ""},
		{"DELETE", "/v1/AUTH_acct/c", "", "", ""},
		{"GET", "/v1/AUTH_acct/../..", "", "", ""},
		{"GET", "/auth/v1.0", "", "X-Auth-User: acct:user", ""},
		{"GET", "/info", "", "", ""},
	} {
		f.Add(s.method, s.path, s.query, s.header, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path, query, header string, body []byte) {
		if !validMethod(method) || len(body) > 1<<16 {
			return
		}
		raw := path
		if query != "" {
			raw += "?" + query
		}
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			return // a server never hands such a target to a handler
		}
		req := &http.Request{
			Method: method, URL: u, RequestURI: raw, Host: "fuzz.example",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"X-Auth-Token": {token}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
		name, value, ok := strings.Cut(header, ":")
		if !ok || !validHeaderName(name) {
			name, value = "X-Object-Meta-Fuzz", header
		}
		if validHeaderValue(value) {
			req.Header.Set(name, strings.TrimSpace(value))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code > 599 || rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %q: status %d, body %q", method, raw, rec.Code, rec.Body.String())
		}
		if rec.Header().Get("X-Trans-Id") == "" {
			t.Fatalf("%s %q: no X-Trans-Id", method, raw)
		}
	})
}

func fuzzToken(tb testing.TB, h http.Handler) string {
	req := httptest.NewRequest("GET", "/auth/v1.0", nil)
	req.Header.Set("X-Auth-User", "acct:user")
	req.Header.Set("X-Auth-Key", testSecret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	tok := rec.Header().Get("X-Auth-Token")
	if rec.Code != 200 || tok == "" {
		tb.Fatalf("auth: %d", rec.Code)
	}
	return tok
}

// seedStore fills the fuzz store with one object of each kind.
func seedStore(tb testing.TB, st *store.Store, cfg *endpoint.Config) {
	for _, b := range []string{"c", "kmsc"} {
		if _, err := st.CreateBucket(b, store.BucketOptions{Policy: endpoint.PolicyHPIntensive}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := st.SetBucketEncryption("kmsc", &store.BucketEncryption{Mode: sse.SSEKMS}); err != nil {
		tb.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	for name, enc := range map[string]sse.Params{
		"plain": {}, "d/x": {}, "kms": {Mode: sse.SSEKMS}, "s3": {Mode: sse.SSES3},
		"ssec": {Mode: sse.SSEC, CustomerKey: key},
	} {
		if _, err := objio.Put(st, cfg.Keyring, "c", name, objio.PutInput{Body: strings.NewReader("0123456789abcdef"), Size: 16,
			Meta: store.ObjectMeta{UserMeta: map[string]string{"m": "v"}}, Encryption: enc}); err != nil {
			tb.Fatal(err)
		}
	}
	u, err := objio.CreateUpload(st, cfg.Keyring, "c", "mp", store.ObjectMeta{}, sse.Params{Mode: sse.SSES3})
	if err != nil {
		tb.Fatal(err)
	}
	var parts []store.CompletePart
	for n := 1; n <= 3; n++ {
		p, err := objio.PutPart(st, cfg.Keyring, "c", "mp", u.ID, n, objio.PutInput{Body: bytes.NewReader(bytes.Repeat([]byte{byte(n)}, 20)), Size: 20})
		if err != nil {
			tb.Fatal(err)
		}
		parts = append(parts, store.CompletePart{Number: n, ETag: p.ETag})
	}
	if _, err := st.CompleteUpload("c", "mp", u.ID, parts); err != nil {
		tb.Fatal(err)
	}
}

func validMethod(m string) bool {
	return m != "" && validHeaderName(m)
}

// validHeaderName reports whether s is an HTTP token, as net/http requires
// of methods and header names.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue rejects what net/http would not deliver: control characters.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
