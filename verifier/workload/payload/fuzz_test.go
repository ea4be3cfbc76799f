package payload_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// FuzzIdentify checks that Identify never panics and that what it says of
// arbitrary bytes is true, and that content generated from any valid spec
// identifies as itself and stops doing so when a byte is flipped.
func FuzzIdentify(f *testing.F) {
	f.Add([]byte{}, "w-1", uint64(0), uint16(0), uint32(0))
	f.Add([]byte("replcheck/1 w-17 feedface12345678 40\n"), "w-17", uint64(0xfeedface12345678), uint16(40), uint32(39))
	f.Add([]byte("replcheck/1 a 0000000000000000 34\nx"), "a", uint64(1), uint16(1000), uint32(500))
	f.Add([]byte("replcheck/1 a 0000000000000000 999999999999\n"), "a:b.c_d-E", ^uint64(0), uint16(33), uint32(1<<31))
	f.Add(bytes.Repeat([]byte{0xff}, 200), "bad id", uint64(5), uint16(5), uint32(7))
	f.Fuzz(func(t *testing.T, data []byte, id string, seed uint64, size uint16, flip uint32) {
		// Arbitrary bytes.
		res, err := payload.Identify(bytes.NewReader(data), 0)
		if err != nil || res.Size != int64(len(data)) || res.SHA256 != sha256.Sum256(data) {
			t.Fatalf("Identify = %+v, %v", res, err)
		}
		switch {
		case !res.HeaderOK:
			if res.Valid || res.FirstMismatch != 0 || res.Spec != (payload.Spec{}) {
				t.Fatalf("no header but %+v", res)
			}
		case res.Valid:
			if res.FirstMismatch != -1 || res.Spec.Size != res.Size || !bytes.Equal(data, content(t, res.Spec)) {
				t.Fatalf("valid but not the spec's content: %+v", res)
			}
		default:
			m := res.FirstMismatch
			if m < 0 || m > res.Size {
				t.Fatalf("invalid with mismatch at %d of %d", m, res.Size)
			}
			want, _ := io.ReadAll(payload.Range(res.Spec, 0, m))
			if !bytes.Equal(data[:m], want) {
				t.Fatalf("bytes before the first mismatch (%d) differ from %v", m, res.Spec)
			}
			if m < res.Size && m < res.Spec.Size {
				var b [1]byte
				payload.Range(res.Spec, m, 1).Read(b[:])
				if b[0] == data[m] {
					t.Fatalf("byte %d is the spec's", m)
				}
			}
		}
		lim := int64(flip % 300)
		if r2, err := payload.Identify(bytes.NewReader(data), lim); (err != nil) != (lim > 0 && lim < int64(len(data))) || r2.Valid && !res.Valid {
			t.Fatalf("Identify(limit %d) = %+v, %v", lim, r2, err)
		}

		// Content of a fuzzed spec.
		s := payload.Spec{OpID: id, Seed: seed, Size: int64(size)}
		if s.Validate() != nil {
			return
		}
		if ok, err := payload.Matches(s, bytes.NewReader(data)); err != nil || ok != bytes.Equal(data, content(t, s)) {
			t.Fatalf("Matches(%v, data) = %v, %v", s, ok, err)
		}
		c := content(t, s)
		res = identify(t, c)
		if s.Identifiable() {
			if !res.Valid || res.Spec != s {
				t.Fatalf("content of %v identifies as %+v", s, res)
			}
		} else if res.HeaderOK {
			t.Fatalf("content of %v, shorter than its header, has one: %+v", s, res)
		}
		if ok, err := payload.Matches(s, bytes.NewReader(c)); !ok || err != nil {
			t.Fatalf("Matches(%v, own content) = %v, %v", s, ok, err)
		}
		if s.Size == 0 {
			return
		}
		pos := int64(flip) % s.Size
		c[pos] ^= byte(flip>>24) | 1
		if ok, _ := payload.Matches(s, bytes.NewReader(c)); ok {
			t.Fatalf("Matches(%v) with byte %d flipped", s, pos)
		}
		res = identify(t, c)
		if res.Valid && res.Spec == s {
			t.Fatalf("byte %d flipped, still %+v", pos, res)
		}
		if res.HeaderOK && res.Spec == s && res.FirstMismatch != pos {
			t.Fatalf("byte %d flipped, mismatch at %d", pos, res.FirstMismatch)
		}
	})
}
