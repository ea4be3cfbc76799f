package sse_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/replcheck/replcheck/engine/sse"
)

// FuzzDecryptReader feeds arbitrary ciphertexts and ranges to the decrypt
// reader. It must never panic, must fail with ErrDecrypt or a range error,
// and may only accept a ciphertext that is exactly what EncryptReader makes
// of the plaintext it returns.
func FuzzDecryptReader(f *testing.F) {
	dk := testKey(99)
	for _, n := range []int{0, 1, 100, sse.ChunkSize, sse.ChunkSize + 3} {
		ct, _ := io.ReadAll(sse.EncryptReader(dk, 1, bytes.NewReader(plaintext(n, uint64(n)))))
		f.Add(ct, int64(0), int64(n))
		f.Add(ct, int64(n/2), int64(n/3))
	}
	f.Add([]byte("0123456789abcdef"), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, ct []byte, off, length int64) {
		r, err := sse.NewDecryptReader(dk, 1, bytes.NewReader(ct), int64(len(ct)), off, length)
		if err != nil {
			return
		}
		got, err := io.ReadAll(r)
		if err != nil {
			if !errors.Is(err, sse.ErrDecrypt) {
				t.Fatalf("error not wrapping ErrDecrypt: %v", err)
			}
			return
		}
		if int64(len(got)) != length {
			t.Fatalf("got %d bytes, want %d", len(got), length)
		}
		plainSize, _ := sse.PlaintextSize(int64(len(ct)))
		if off == 0 && length == plainSize {
			again, _ := io.ReadAll(sse.EncryptReader(dk, 1, bytes.NewReader(got)))
			if !bytes.Equal(again, ct) {
				t.Fatalf("accepted a ciphertext that is not the encryption of its plaintext")
			}
		}
	})
}
