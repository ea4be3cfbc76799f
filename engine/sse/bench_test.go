package sse_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/replcheck/replcheck/engine/sse"
)

const benchSize = 8 << 20

func BenchmarkEncrypt(b *testing.B) {
	dk := testKey(1)
	plain := plaintext(benchSize, 1)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.Copy(io.Discard, sse.EncryptReader(dk, 1, bytes.NewReader(plain))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	dk := testKey(1)
	ct := encrypt(b, dk, 1, plaintext(benchSize, 1))
	src := bytes.NewReader(ct)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		r, err := sse.NewDecryptReader(dk, 1, src, int64(len(ct)), 0, benchSize)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptRange reads unaligned ranges; bytes/s counts the range,
// not the up to two extra partial chunks that must be authenticated.
func BenchmarkDecryptRange(b *testing.B) {
	dk := testKey(1)
	ct := encrypt(b, dk, 1, plaintext(benchSize, 1))
	src := bytes.NewReader(ct)
	for _, bc := range []struct {
		name        string
		off, length int64
	}{
		{"1KiB", 3<<20 + 12345, 1 << 10},
		{"1MiB", 3<<20 + 12345, 1 << 20},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(bc.length)
			b.ReportAllocs()
			for b.Loop() {
				r, err := sse.NewDecryptReader(dk, 1, src, int64(len(ct)), bc.off, bc.length)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
