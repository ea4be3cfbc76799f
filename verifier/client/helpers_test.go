package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/verifier/client"
)

// start starts an embedded topology for one test and returns its two sites.
func start(t testing.TB) (*embedded.Topology, harness.Site, harness.Site) {
	t.Helper()
	topo, err := embedded.Start(context.Background(), embedded.Options{NoSync: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	t.Cleanup(func() {
		if topo != nil {
			topo.Close(context.Background())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	s := topo.Sites()
	return topo, s[0], s[1]
}

func newS3(t testing.TB, s harness.Site, opts ...client.Option) *client.S3 {
	t.Helper()
	return newS3At(t, s, true, opts...)
}

// newS3At is an S3 client of the replicated or the non-replicated
// endpoint; tests that move many bytes use the latter, so that the sites
// do not ship them all to each other as well.
func newS3At(t testing.TB, s harness.Site, replicated bool, opts ...client.Option) *client.S3 {
	t.Helper()
	c, err := client.NewS3(s, replicated, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSwift(t testing.TB, s harness.Site, opts ...client.Option) *client.Swift {
	t.Helper()
	return newSwiftAt(t, s, true, opts...)
}

func newSwiftAt(t testing.TB, s harness.Site, replicated bool, opts ...client.Option) *client.Swift {
	t.Helper()
	c, err := client.NewSwift(s, replicated, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// both returns an S3 and a Swift client of site s.
func both(t testing.TB, s harness.Site) []client.Client {
	return []client.Client{newS3(t, s), newSwift(t, s)}
}

func mkbucket(t testing.TB, c client.Client, name string, o client.BucketOptions) {
	t.Helper()
	if err := c.CreateBucket(context.Background(), name, o); err != nil {
		t.Fatal(err)
	}
}

// payload returns n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func put(t testing.TB, c client.Client, bucket, key string, body []byte, o client.PutOptions) client.WriteResult {
	t.Helper()
	res, err := c.Put(context.Background(), bucket, key, bytes.NewReader(body), int64(len(body)), o)
	if err != nil {
		t.Fatalf("%s put %s/%s: %v", c.API(), bucket, key, err)
	}
	return res
}

func get(t testing.TB, c client.Client, bucket, key string, o client.GetOptions) ([]byte, client.ObjectInfo) {
	t.Helper()
	rc, info, err := c.Get(context.Background(), bucket, key, o)
	if err != nil {
		t.Fatalf("%s get %s/%s: %v", c.API(), bucket, key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s get %s/%s: reading: %v", c.API(), bucket, key, err)
	}
	return b, info
}

// fakeSite is a site whose endpoints are at given URLs.
type fakeSite struct{ s3, auth string }

func (f fakeSite) Name() string   { return "nowhere" }
func (f fakeSite) Region() string { return "europe-se-1" }
func (f fakeSite) Replicated() harness.Endpoint {
	return harness.Endpoint{S3: f.s3, SwiftAuth: f.auth}
}
func (f fakeSite) NonReplicated() harness.Endpoint { return f.Replicated() }
func (f fakeSite) Credentials() harness.Credentials {
	return harness.Credentials{AccessKey: "AK", SecretKey: "SK", SwiftUser: "a:u", SwiftKey: "k"}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func equalMeta(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
