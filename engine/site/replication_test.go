package site_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/replcheck/replcheck/engine/site"
	"github.com/replcheck/replcheck/engine/sse"
)

// pair starts two replicating sites connected directly (no WAN link).
func pair(t *testing.T) (a, b *site.Site) {
	t.Helper()
	secret, kr := site.GenerateSecret(), sse.GenerateKeyring()
	cfgs := []site.Config{{Name: "europe-se-1a"}, {Name: "europe-se-1b"}}
	u := site.GenerateUser()
	var sites []*site.Site
	for _, c := range cfgs {
		c.Keyring = kr
		c.Users = append(c.Users, u)
		c.Replication = &site.Replication{Secret: secret, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
		sites = append(sites, startSite(t, c))
	}
	a, b = sites[0], sites[1]
	a.ConnectPeer(b.Name(), b.InternalURL())
	b.ConnectPeer(a.Name(), a.InternalURL())
	return a, b
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readObject(c *minio.Client, bucket, key string, opts minio.GetObjectOptions) ([]byte, error) {
	obj, err := c.GetObject(context.Background(), bucket, key, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

func TestPairReplicatesBothWays(t *testing.T) {
	ctx := context.Background()
	a, b := pair(t)
	ca, cb := s3Client(t, a, true), s3Client(t, b, true)
	if err := ca.MakeBucket(ctx, "repl", minio.MakeBucketOptions{Region: a.Region() + ":gp.recurring"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bucket at b", func() error {
		ok, err := cb.BucketExists(ctx, "repl")
		if err == nil && !ok {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
	ssec, _ := encrypt.NewSSEC(bytes.Repeat([]byte{9}, 32))
	body := bytes.Repeat([]byte("abc"), 3<<20) // 9 MiB: multipart
	if _, err := ca.PutObject(ctx, "repl", "from-a", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ServerSideEncryption: ssec, PartSize: 5 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.PutObject(ctx, "repl", "from-b", bytes.NewReader(body[:1000]), 1000,
		minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "from-a at b", func() error {
		got, err := readObject(cb, "repl", "from-a", minio.GetObjectOptions{ServerSideEncryption: ssec})
		if err == nil && !bytes.Equal(got, body) {
			t.Fatal("from-a differs at b")
		}
		return err
	})
	eventually(t, "from-b at a", func() error {
		got, err := readObject(ca, "repl", "from-b", minio.GetObjectOptions{})
		if err == nil && !bytes.Equal(got, body[:1000]) {
			t.Fatal("from-b differs at a")
		}
		return err
	})
	// Non-replicated buckets stay home.
	if err := s3Client(t, a, false).MakeBucket(ctx, "local", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	ca.RemoveObject(ctx, "repl", "from-a", minio.RemoveObjectOptions{})
	eventually(t, "delete at b", func() error {
		_, err := cb.StatObject(ctx, "repl", "from-a", minio.StatObjectOptions{ServerSideEncryption: ssec})
		if err == nil {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if ok, _ := cb.BucketExists(ctx, "local"); ok {
		t.Fatal("non-replicated bucket reached the peer")
	}
	for _, s := range []*site.Site{a, b} {
		if st := s.Replicator().Status(); !st.InSync || st.ShippedOperations == 0 {
			t.Fatalf("%s status %+v", s.Name(), st)
		}
	}
}
