package client_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
)

// refusing is a site that refuses aws-chunked uploads.
type refusing struct{ harness.Site }

func (refusing) RefusesChunkedUploads() bool { return true }

// payloadHashes records the x-amz-content-sha256 of every PUT.
type payloadHashes struct {
	mu     sync.Mutex
	hashes map[string]bool
}

func (p *payloadHashes) RoundTrip(r *http.Request) (*http.Response, error) {
	// Object and part uploads: PUTs to a key, not to a bucket.
	if r.Method == http.MethodPut && strings.Contains(strings.Trim(r.URL.Path, "/"), "/") {
		p.mu.Lock()
		p.hashes[r.Header.Get("X-Amz-Content-Sha256")] = true
		p.mu.Unlock()
	}
	return client.NewTransport().RoundTrip(r)
}

// TestUnsignedPayload: over plain HTTP uploads stream aws-chunked, except
// to a site that refuses that, single-part and multipart alike.
func TestUnsignedPayload(t *testing.T) {
	_, a, _ := start(t)
	for i, tc := range []struct {
		site harness.Site
		want string
	}{
		{a, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
		{refusing{a}, "UNSIGNED-PAYLOAD"},
	} {
		rec := &payloadHashes{hashes: map[string]bool{}}
		c := newS3At(t, tc.site, false, client.WithTransport(rec))
		bucket := fmt.Sprintf("unsigned-%d", i)
		mkbucket(t, c, bucket, client.BucketOptions{})
		body := payload(5, 11<<20)
		put(t, c, bucket, "single", body[:4096], client.PutOptions{})
		put(t, c, bucket, "multi", body, client.PutOptions{PartSize: 5 << 20})
		got, _ := get(t, c, bucket, "multi", client.GetOptions{})
		if !bytes.Equal(got, body) {
			t.Errorf("%T: multipart object read back differs", tc.site)
		}
		if len(rec.hashes) != 1 || !rec.hashes[tc.want] {
			t.Errorf("%T: uploads signed %v, want only %s", tc.site, rec.hashes, tc.want)
		}
	}
}
