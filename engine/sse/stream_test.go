package sse_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/replcheck/replcheck/engine/sse"
)

const cs = sse.ChunkSize

// testKey returns a fixed data key derived from seed.
func testKey(seed byte) sse.DataKey {
	var dk sse.DataKey
	for i := range dk {
		dk[i] = seed + byte(i)*31
	}
	return dk
}

// plaintext returns n deterministic pseudo-random bytes.
func plaintext(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func encrypt(t testing.TB, dk sse.DataKey, part int, plain []byte) []byte {
	t.Helper()
	ct, err := io.ReadAll(sse.EncryptReader(dk, part, bytes.NewReader(plain)))
	if err != nil {
		t.Fatalf("encrypting %d bytes: %v", len(plain), err)
	}
	if want := sse.CiphertextSize(int64(len(plain))); int64(len(ct)) != want {
		t.Fatalf("ciphertext of %d bytes is %d bytes, CiphertextSize says %d", len(plain), len(ct), want)
	}
	return ct
}

// decryptRange reads [off, off+length) of a part, whether the error shows up
// in the constructor or in Read.
func decryptRange(dk sse.DataKey, part int, ct []byte, off, length int64) ([]byte, error) {
	return decryptRangeAt(dk, part, bytes.NewReader(ct), int64(len(ct)), off, length)
}

func decryptRangeAt(dk sse.DataKey, part int, src io.ReaderAt, size, off, length int64) ([]byte, error) {
	r, err := sse.NewDecryptReader(dk, part, src, size, off, length)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

var roundTripSizes = []int{0, 1, 15, 16, 17, cs - 1, cs, cs + 1, 2*cs - 1, 2 * cs, 2*cs + 1, 3<<20 + 12345}

func TestRoundTrip(t *testing.T) {
	dk := testKey(1)
	for _, n := range roundTripSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			plain := plaintext(n, uint64(n))
			ct := encrypt(t, dk, 1, plain)
			if n >= 16 && bytes.Contains(ct, plain[:16]) {
				t.Errorf("ciphertext contains the plaintext")
			}

			// The WriterTo path and a byte-at-a-time source give the same bytes.
			var viaCopy bytes.Buffer
			if _, err := io.Copy(&viaCopy, sse.EncryptReader(dk, 1, iotest.OneByteReader(bytes.NewReader(plain)))); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(viaCopy.Bytes(), ct) {
				t.Errorf("io.Copy with a one-byte source gives a different ciphertext")
			}
			if err := iotest.TestReader(sse.EncryptReader(dk, 1, bytes.NewReader(plain)), ct); err != nil {
				t.Errorf("EncryptReader: %v", err)
			}

			got, err := decryptRange(dk, 1, ct, 0, int64(n))
			if err != nil {
				t.Fatalf("decrypt: %v", err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("round trip of %d bytes differs", n)
			}
			r, err := sse.NewDecryptReader(dk, 1, bytes.NewReader(ct), int64(len(ct)), 0, int64(n))
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(r, plain); err != nil {
				t.Errorf("decrypt reader: %v", err)
			}
			var viaWriteTo bytes.Buffer
			r, _ = sse.NewDecryptReader(dk, 1, bytes.NewReader(ct), int64(len(ct)), 0, int64(n))
			if _, err := io.Copy(&viaWriteTo, r); err != nil || !bytes.Equal(viaWriteTo.Bytes(), plain) {
				t.Errorf("io.Copy of decrypt reader: err %v, equal %v", err, bytes.Equal(viaWriteTo.Bytes(), plain))
			}
		})
	}
}

func TestSizes(t *testing.T) {
	for _, c := range []struct{ plain, cipher int64 }{
		{0, 16},
		{1, 17},
		{cs - 1, cs + 15},
		{cs, cs + 16},
		{cs + 1, cs + 16 + 17},
		{2 * cs, 2*cs + 32},
		{1 << 30, 1<<30 + 16<<14},
	} {
		if got := sse.CiphertextSize(c.plain); got != c.cipher {
			t.Errorf("CiphertextSize(%d) = %d, want %d", c.plain, got, c.cipher)
		}
		if got, err := sse.PlaintextSize(c.cipher); err != nil || got != c.plain {
			t.Errorf("PlaintextSize(%d) = %d, %v; want %d", c.cipher, got, err, c.plain)
		}
	}
	// Every plaintext size round-trips around the chunk boundaries.
	for _, base := range []int64{0, cs, 5 * cs} {
		for p := max(0, base-40); p < base+40; p++ {
			if got, err := sse.PlaintextSize(sse.CiphertextSize(p)); err != nil || got != p {
				t.Errorf("PlaintextSize(CiphertextSize(%d)) = %d, %v", p, got, err)
			}
		}
	}
	impossible := []int64{-1, 0, 1, 15, cs + 16 + 1, cs + 16 + 15, cs + 16 + 16, 3*(cs+16) + 16}
	for _, c := range impossible {
		if got, err := sse.PlaintextSize(c); err == nil {
			t.Errorf("PlaintextSize(%d) = %d, want an error", c, got)
		}
	}
}

// recordingReaderAt records which byte ranges were read.
type recordingReaderAt struct {
	r     io.ReaderAt
	mu    sync.Mutex
	lo    int64
	hi    int64
	reads int
}

func (r *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	if r.reads == 0 || off < r.lo {
		r.lo = off
	}
	r.hi = max(r.hi, off+int64(len(p)))
	r.reads++
	r.mu.Unlock()
	return r.r.ReadAt(p, off)
}

func TestRangedRead(t *testing.T) {
	dk := testKey(2)
	size := int64(3*cs + 100)
	plain := plaintext(int(size), 7)
	ct := encrypt(t, dk, 3, plain)
	cases := []struct{ off, length int64 }{
		{0, 0}, {0, 1}, {0, cs - 1}, {0, cs}, {0, cs + 1}, {0, size},
		{1, 1}, {cs - 1, 1}, {cs - 1, 2}, {cs, 0}, {cs, 1}, {cs, cs}, {cs + 1, cs},
		{cs - 1, cs + 2}, {cs - 1, 2*cs + 2}, {2*cs + 50, 50}, {3 * cs, 100},
		{3*cs - 1, 101}, {size - 1, 1}, {size, 0}, {12345, size - 12345},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d+%d", c.off, c.length), func(t *testing.T) {
			rec := &recordingReaderAt{r: bytes.NewReader(ct)}
			got, err := decryptRangeAt(dk, 3, rec, int64(len(ct)), c.off, c.length)
			if err != nil {
				t.Fatal(err)
			}
			if want := plain[c.off : c.off+c.length]; !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes differing from the %d expected", len(got), len(want))
			}
			// Only the chunks covering the range are read.
			if c.length == 0 {
				if rec.reads != 0 {
					t.Errorf("empty range read %d times", rec.reads)
				}
				return
			}
			first, last := c.off/cs, (c.off+c.length-1)/cs
			if lo, hi := first*(cs+16), min((last+1)*(cs+16), int64(len(ct))); rec.lo != lo || rec.hi != hi {
				t.Errorf("read ciphertext [%d, %d), want [%d, %d)", rec.lo, rec.hi, lo, hi)
			}
		})
	}
}

func TestRangedReadRandom(t *testing.T) {
	dk := testKey(3)
	r := rand.New(rand.NewPCG(42, 43))
	for _, size := range []int64{1, cs, 4*cs + 777} {
		plain := plaintext(int(size), uint64(size))
		ct := encrypt(t, dk, 1, plain)
		for range 150 {
			off := r.Int64N(size + 1)
			length := r.Int64N(size - off + 1)
			dr, err := sse.NewDecryptReader(dk, 1, bytes.NewReader(ct), int64(len(ct)), off, length)
			if err != nil {
				t.Fatalf("size %d range %d+%d: %v", size, off, length, err)
			}
			// Odd read sizes exercise partial copies out of a chunk.
			got := make([]byte, 0, length)
			buf := make([]byte, 1+r.IntN(3*cs))
			for {
				n, err := dr.Read(buf[:1+r.IntN(len(buf))])
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("size %d range %d+%d: %v", size, off, length, err)
				}
			}
			if !bytes.Equal(got, plain[off:off+length]) {
				t.Fatalf("size %d range %d+%d: wrong plaintext", size, off, length)
			}
		}
	}
}

func TestRangeOutOfBounds(t *testing.T) {
	dk := testKey(4)
	ct := encrypt(t, dk, 1, plaintext(100, 1))
	for _, c := range []struct{ off, length int64 }{{-1, 1}, {0, -1}, {0, 101}, {101, 0}, {50, 51}} {
		if _, err := sse.NewDecryptReader(dk, 1, bytes.NewReader(ct), int64(len(ct)), c.off, c.length); err == nil {
			t.Errorf("range %d+%d of 100 bytes: no error", c.off, c.length)
		} else if errors.Is(err, sse.ErrDecrypt) {
			t.Errorf("range %d+%d: a range error should not be ErrDecrypt: %v", c.off, c.length, err)
		}
	}
}

func TestInvalidPart(t *testing.T) {
	dk := testKey(5)
	for _, part := range []int{0, -1, 1 << 40} {
		if _, err := io.ReadAll(sse.EncryptReader(dk, part, bytes.NewReader([]byte("x")))); err == nil {
			t.Errorf("EncryptReader part %d: no error", part)
		}
		if _, err := sse.NewDecryptReader(dk, part, bytes.NewReader(make([]byte, 17)), 17, 0, 1); err == nil {
			t.Errorf("NewDecryptReader part %d: no error", part)
		}
	}
}

// wantDecryptError checks that reading the whole part fails with ErrDecrypt.
func wantDecryptError(t *testing.T, what string, dk sse.DataKey, part int, ct []byte) {
	t.Helper()
	plainSize, err := sse.PlaintextSize(int64(len(ct)))
	if err != nil {
		// A size no plaintext maps to must still be refused by the reader.
		plainSize = 0
	}
	_, err = decryptRange(dk, part, ct, 0, plainSize)
	if !errors.Is(err, sse.ErrDecrypt) {
		t.Errorf("%s: got error %v, want ErrDecrypt", what, err)
	}
}

func TestTamperDetected(t *testing.T) {
	dk := testKey(6)
	plain := plaintext(3*cs+10, 9)
	ct := encrypt(t, dk, 1, plain)
	for _, pos := range []int{0, 1, cs, cs + 15, cs + 16, 2*cs + 40, len(ct) - 17, len(ct) - 1} {
		bad := bytes.Clone(ct)
		bad[pos] ^= 0x01
		wantDecryptError(t, fmt.Sprintf("flipped byte %d", pos), dk, 1, bad)
	}
	// A range not covering the damaged chunk still reads fine.
	bad := bytes.Clone(ct)
	bad[len(ct)-1] ^= 0x80
	if got, err := decryptRange(dk, 1, bad, 0, 2*cs); err != nil || !bytes.Equal(got, plain[:2*cs]) {
		t.Errorf("range before the damaged chunk: %v", err)
	}
}

func TestTruncationDetected(t *testing.T) {
	dk := testKey(7)
	ct := encrypt(t, dk, 1, plaintext(3*cs+10, 10))
	wantDecryptError(t, "last byte cut", dk, 1, ct[:len(ct)-1])
	wantDecryptError(t, "last chunk cut but for its tag", dk, 1, ct[:3*(cs+16)+16])
	wantDecryptError(t, "last chunk dropped", dk, 1, ct[:3*(cs+16)])
	wantDecryptError(t, "two chunks dropped", dk, 1, ct[:2*(cs+16)])
	wantDecryptError(t, "one byte appended", dk, 1, append(bytes.Clone(ct), 0))

	// A full-chunk part truncated to nothing but an empty chunk's size.
	full := encrypt(t, dk, 1, plaintext(cs, 11))
	wantDecryptError(t, "tag only", dk, 1, full[len(full)-16:])

	// The stored ciphertext is shorter than the size recorded for it.
	short := ct[:len(ct)-100]
	_, err := decryptRangeAt(dk, 1, bytes.NewReader(short), int64(len(ct)), 0, 3*cs+10)
	if !errors.Is(err, sse.ErrDecrypt) {
		t.Errorf("short source: got %v, want ErrDecrypt", err)
	}
}

func TestReorderDetected(t *testing.T) {
	dk := testKey(8)
	ct := encrypt(t, dk, 1, plaintext(3*cs, 12))
	swapped := bytes.Clone(ct)
	copy(swapped[0:cs+16], ct[cs+16:2*(cs+16)])
	copy(swapped[cs+16:2*(cs+16)], ct[0:cs+16])
	wantDecryptError(t, "chunks 0 and 1 swapped", dk, 1, swapped)
	// Reading just the second chunk's range also notices.
	if _, err := decryptRange(dk, 1, swapped, cs, 10); !errors.Is(err, sse.ErrDecrypt) {
		t.Errorf("range in swapped chunk: %v", err)
	}
}

func TestWrongPartOrKey(t *testing.T) {
	dk := testKey(9)
	for _, n := range []int{0, 10, cs, 2*cs + 1} {
		ct := encrypt(t, dk, 2, plaintext(n, 13))
		wantDecryptError(t, fmt.Sprintf("%d bytes of part 2 as part 1", n), dk, 1, ct)
		wantDecryptError(t, fmt.Sprintf("%d bytes with the wrong key", n), testKey(10), 2, ct)
		if _, err := decryptRange(dk, 2, ct, 0, int64(n)); err != nil {
			t.Errorf("%d bytes as part 2: %v", n, err)
		}
	}
	// The constructor already reports a wrong key, before any byte is served.
	ct := encrypt(t, dk, 1, plaintext(100, 14))
	if _, err := sse.NewDecryptReader(testKey(11), 1, bytes.NewReader(ct), int64(len(ct)), 10, 20); !errors.Is(err, sse.ErrDecrypt) {
		t.Errorf("constructor with wrong key: %v", err)
	}
}

func TestSourceErrors(t *testing.T) {
	dk := testKey(12)
	boom := errors.New("boom")
	src := io.MultiReader(bytes.NewReader(plaintext(cs+5, 1)), iotest.ErrReader(boom))
	if _, err := io.ReadAll(sse.EncryptReader(dk, 1, src)); !errors.Is(err, boom) {
		t.Errorf("EncryptReader: got %v, want the source's error", err)
	}
	src = io.MultiReader(bytes.NewReader(plaintext(cs, 1)), iotest.ErrReader(boom))
	if _, err := io.Copy(io.Discard, sse.EncryptReader(dk, 1, src)); !errors.Is(err, boom) {
		t.Errorf("EncryptReader WriteTo: got %v, want the source's error", err)
	}

	ct := encrypt(t, dk, 1, plaintext(2*cs, 2))
	_, err := decryptRangeAt(dk, 1, failingReaderAt{ct, cs + 16, boom}, int64(len(ct)), 0, 2*cs)
	if !errors.Is(err, boom) || errors.Is(err, sse.ErrDecrypt) {
		t.Errorf("decrypt with failing source: got %v, want the source's error and not ErrDecrypt", err)
	}
}

// failingReaderAt fails reads at or beyond from.
type failingReaderAt struct {
	b    []byte
	from int64
	err  error
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.from {
		return 0, f.err
	}
	return copy(p, f.b[off:]), nil
}

// patternReader yields n deterministic bytes without allocating.
type patternReader struct {
	n       int64
	pattern []byte
	pos     int
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	total := 0
	for total < len(p) {
		k := copy(p[total:], r.pattern[r.pos:])
		r.pos = (r.pos + k) % len(r.pattern)
		total += k
	}
	r.n -= int64(total)
	return total, nil
}

func TestEncryptStreams(t *testing.T) {
	const size = 64 << 20
	dk := testKey(13)
	pattern := plaintext(4093, 1) // odd length so reads never line up with chunks
	for _, name := range []string{"Read", "WriteTo"} {
		t.Run(name, func(t *testing.T) {
			src := &patternReader{n: size, pattern: pattern}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := sse.EncryptReader(dk, 1, src)
			var n int64
			var err error
			if name == "Read" {
				n, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, make([]byte, 32<<10))
			} else {
				n, err = io.Copy(io.Discard, r)
			}
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if n != sse.CiphertextSize(size) {
				t.Fatalf("got %d bytes, want %d", n, sse.CiphertextSize(size))
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("encrypting %d MiB allocated %d bytes", size>>20, alloc)
			if alloc > 2<<20 {
				t.Errorf("encrypting %d MiB allocated %d bytes; streaming should need about one chunk", size>>20, alloc)
			}
		})
	}
}

func TestDecryptAllocsPerChunk(t *testing.T) {
	dk := testKey(14)
	plain := plaintext(16*cs, 3)
	ct := encrypt(t, dk, 1, plain)
	src := bytes.NewReader(ct)
	allocs := testing.AllocsPerRun(5, func() {
		r, err := sse.NewDecryptReader(dk, 1, src, int64(len(ct)), 0, int64(len(plain)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
	})
	// A fixed set-up cost (cipher, reader, one buffer), nothing per chunk.
	if allocs > 10 {
		t.Errorf("decrypting 16 chunks made %v allocations", allocs)
	}
}
