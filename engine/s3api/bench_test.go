package s3api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// benchModes are the encryption modes the benchmarks compare.
func benchModes(b *testing.B) []struct {
	name string
	put  encrypt.ServerSide
	get  encrypt.ServerSide
} {
	ssec := mustSSEC(b, customerKey)
	return []struct {
		name string
		put  encrypt.ServerSide
		get  encrypt.ServerSide
	}{
		{"none", nil, nil},
		{"SSE-S3", encrypt.NewSSE(), nil},
		{"SSE-C", ssec, ssec},
	}
}

// benchKeys bounds the key space so the memory store stays small however
// large b.N grows: PUTs overwrite.
const benchKeys = 1000

func BenchmarkPutSmall(b *testing.B) {
	data := randBytes(61, 4<<10)
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			e := newEnv(b)
			bucket := e.bucket("bench")
			ctx := context.Background()
			var n atomic.Int64
			b.SetBytes(int64(len(data)))
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("k%04d", n.Add(1)%benchKeys)
					if _, err := e.mc.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)),
						minio.PutObjectOptions{ServerSideEncryption: m.put}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func BenchmarkGetSmall(b *testing.B) {
	data := randBytes(62, 4<<10)
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			e := newEnv(b)
			bucket := e.bucket("bench")
			ctx := context.Background()
			for i := range 100 {
				e.put(bucket, fmt.Sprintf("k%04d", i), data, minio.PutObjectOptions{ServerSideEncryption: m.put})
			}
			var n atomic.Int64
			b.SetBytes(int64(len(data)))
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, len(data)+1)
				for pb.Next() {
					key := fmt.Sprintf("k%04d", n.Add(1)%100)
					obj, err := e.mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{ServerSideEncryption: m.get})
					if err != nil {
						b.Error(err)
						return
					}
					k, err := io.ReadFull(obj, buf)
					obj.Close()
					if k != len(data) || err != io.ErrUnexpectedEOF {
						b.Errorf("read %d bytes: %v", k, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func BenchmarkGetLarge(b *testing.B) {
	const size = 64 << 20
	data := randBytes(63, size)
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			e := newEnv(b)
			bucket := e.bucket("bench")
			ctx := context.Background()
			e.put(bucket, "large", data, minio.PutObjectOptions{ServerSideEncryption: m.put, PartSize: 16 << 20})
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				obj, err := e.mc.GetObject(ctx, bucket, "large", minio.GetObjectOptions{ServerSideEncryption: m.get})
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, obj)
				obj.Close()
				if err != nil || n != size {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}

// BenchmarkPutSmallFullBucket is BenchmarkPutSmall/none into a bucket that
// already holds 20,000 objects: a PUT's cost must not grow with the bucket.
func BenchmarkPutSmallFullBucket(b *testing.B) {
	data := randBytes(61, 4<<10)
	e := newEnv(b)
	bucket := e.bucket("bench")
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf("fill/%06d", i)
	}
	fillBucket(b, e, bucket, keys)
	ctx := context.Background()
	var n atomic.Int64
	b.SetBytes(int64(len(data)))
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("k%04d", n.Add(1)%benchKeys)
			if _, err := e.mc.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
