package site_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/replcheck/replcheck/engine/site"
)

// The benchmarks drive the site through HTTP with minio-go, and drive a
// peer, gofakes3 (an in-memory S3 fake widely used in Go tests; no
// signature checks, no encryption), with the same client in the same run,
// so results read as a ratio: replcheck / gofakes3.

type target struct {
	name   string
	client *minio.Client
}

func benchTargets(b *testing.B) []target {
	s := startSite(b, site.Config{})
	peer := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	b.Cleanup(peer.Close)
	pc, err := minio.New(strings.TrimPrefix(peer.URL, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4("peer", "peersecret", ""), Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	return []target{{"replcheck", s3Client(b, s, true)}, {"gofakes3", pc}}
}

func BenchmarkSmallObjects(b *testing.B) {
	ctx := context.Background()
	body := bytes.Repeat([]byte("x"), 4<<10)
	for _, tg := range benchTargets(b) {
		if err := tg.client.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		b.Run("put-4KiB/"+tg.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("k%d", n.Add(1)%1000)
					if _, err := tg.client.PutObject(ctx, "bench", key, bytes.NewReader(body), int64(len(body)),
						minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run("get-4KiB/"+tg.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					obj, err := tg.client.GetObject(ctx, "bench", fmt.Sprintf("k%d", i%int(min(n.Load(), 1000))), minio.GetObjectOptions{})
					if err == nil {
						_, err = io.Copy(io.Discard, obj)
						obj.Close()
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func BenchmarkLargeObjects(b *testing.B) {
	ctx := context.Background()
	const size = 64 << 20
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	ssec, _ := encrypt.NewSSEC(bytes.Repeat([]byte("k"), 32))
	modes := []struct {
		name string
		put  encrypt.ServerSide
		get  encrypt.ServerSide
	}{
		{"plain", nil, nil},
		{"sse-s3", encrypt.NewSSE(), nil},
		{"sse-c", ssec, ssec},
	}
	for _, tg := range benchTargets(b) {
		tg.client.MakeBucket(ctx, "bench", minio.MakeBucketOptions{})
		for _, m := range modes {
			if m.put != nil && tg.name != "replcheck" {
				continue // the peer has no server-side encryption
			}
			key := "large-" + m.name
			b.Run("put-64MiB-"+m.name+"/"+tg.name, func(b *testing.B) {
				b.SetBytes(size)
				for range b.N {
					if _, err := tg.client.PutObject(ctx, "bench", key, bytes.NewReader(body), size,
						minio.PutObjectOptions{ServerSideEncryption: m.put, DisableContentSha256: true, DisableMultipart: true}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("get-64MiB-"+m.name+"/"+tg.name, func(b *testing.B) {
				b.SetBytes(size)
				for range b.N {
					obj, err := tg.client.GetObject(ctx, "bench", key, minio.GetObjectOptions{ServerSideEncryption: m.get})
					if err != nil {
						b.Fatal(err)
					}
					if n, err := io.Copy(io.Discard, obj); err != nil || n != size {
						b.Fatalf("read %d bytes: %v", n, err)
					}
					obj.Close()
				}
			})
		}
	}
}
