package payload_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// content reads all of s's content through Read.
func content(t testing.TB, s payload.Spec) []byte {
	t.Helper()
	b, err := io.ReadAll(payload.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference builds s's content from the documented format alone, a check
// that the format is what the package says it is (other checkers may
// regenerate it).
func reference(s payload.Spec) []byte {
	hdr := fmt.Sprintf("replcheck/1 %s %016x %d\n", s.OpID, s.Seed, s.Size)
	kin := append([]byte("replcheck/1 key\x00"+s.OpID+"\x00"), binary.LittleEndian.AppendUint64(nil, s.Seed)...)
	ks := sha256.Sum256(kin)
	key := binary.LittleEndian.Uint64(ks[:8])
	out := make([]byte, 0, s.Size+8)
	for i := uint64(0); int64(len(out)) < s.Size; i++ {
		z := key + i*0x9e3779b97f4a7c15 // SplitMix64
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		out = binary.LittleEndian.AppendUint64(out, z^z>>31)
	}
	out = out[:s.Size]
	copy(out, hdr)
	return out
}

var base = payload.Spec{OpID: "w-17", Seed: 0xfeedface12345678}

func sized(s payload.Spec, n int64) payload.Spec { s.Size = n; return s }

// hlen is the header length of base with a two-digit size.
var hlen = int64(len(sized(base, 50).Header()))

func TestHeader(t *testing.T) {
	got := sized(base, 1234).Header()
	if want := "replcheck/1 w-17 feedface12345678 1234\n"; got != want {
		t.Fatalf("header %q, want %q", got, want)
	}
	long := payload.Spec{OpID: string(bytes.Repeat([]byte("x"), payload.MaxOpIDLen)), Seed: ^uint64(0), Size: 1<<63 - 1}
	if n := len(long.Header()); n != payload.MaxHeaderLen {
		t.Fatalf("longest header is %d bytes, MaxHeaderLen %d", n, payload.MaxHeaderLen)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, hlen - 1, hlen, hlen + 1, 1<<20 + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := sized(base, n)
			got := content(t, s)
			if !bytes.Equal(got, reference(s)) {
				t.Fatalf("content differs from the documented format")
			}
			if int64(len(got)) != n {
				t.Fatalf("len %d", len(got))
			}
			var wt bytes.Buffer
			if m, err := payload.NewReader(s).(io.WriterTo).WriteTo(&wt); err != nil || m != n || !bytes.Equal(wt.Bytes(), got) {
				t.Fatalf("WriteTo: %d, %v; same bytes %v", m, err, bytes.Equal(wt.Bytes(), got))
			}
			if err := iotest.TestReader(payload.NewReader(s), got); err != nil {
				t.Fatal(err)
			}
			if sum := payload.SHA256(s); sum != sha256.Sum256(got) {
				t.Fatal("SHA256 differs from crypto/sha256 over the stream")
			}
			if sum := payload.MD5(s); sum != md5.Sum(got) {
				t.Fatal("MD5 differs from crypto/md5 over the stream")
			}
			if s.Identifiable() != (n >= hlen) {
				t.Fatalf("Identifiable %v", s.Identifiable())
			}

			res, err := payload.Identify(iotest.HalfReader(bytes.NewReader(got)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Size != n || res.SHA256 != sha256.Sum256(got) {
				t.Fatalf("size %d sha %x", res.Size, res.SHA256)
			}
			if n >= hlen {
				if !res.Valid || !res.HeaderOK || res.Spec != s || res.FirstMismatch != -1 {
					t.Fatalf("Identify(own content) = %+v", res)
				}
			} else if res.Valid || res.HeaderOK || res.FirstMismatch != 0 {
				t.Fatalf("content shorter than its header: %+v", res)
			}
			if ok, err := payload.Matches(s, iotest.OneByteReader(bytes.NewReader(got))); !ok || err != nil {
				t.Fatalf("Matches(own content) = %v, %v", ok, err)
			}
			other := s
			other.Seed++
			if ok, err := payload.Matches(other, bytes.NewReader(got)); ok != (n <= int64(len(payload.Magic)+len(s.OpID)+1)) || err != nil {
				// Up to the seed, every seed's content is the same.
				t.Fatalf("Matches(other seed) = %v, %v", ok, err)
			}
		})
	}
}

// TestLargeStreams runs a 64 MiB object through each streaming path once
// and bounds the memory each uses: none may buffer the object.
func TestLargeStreams(t *testing.T) {
	s := sized(base, 64<<20)
	if testing.Short() {
		s.Size = 8 << 20
	}

	// Read with small odd buffers, a different path from WriteTo.
	sh, mh := sha256.New(), md5.New()
	if _, err := io.CopyBuffer(io.MultiWriter(sh, mh), struct{ io.Reader }{payload.NewReader(s)}, make([]byte, 4093)); err != nil {
		t.Fatal(err)
	}
	wantSHA, wantMD5 := sh.Sum(nil), mh.Sum(nil)

	// bounded runs f once and fails if it allocated more than a few
	// buffers' worth.
	bounded := func(what string, f func()) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if bytes, n := after.TotalAlloc-before.TotalAlloc, after.Mallocs-before.Mallocs; bytes > 1<<20 || n > 100 {
			t.Errorf("%s of %d bytes allocated %d bytes in %d allocations", what, s.Size, bytes, n)
		}
	}
	var res payload.Result
	var err error
	bounded("Identify", func() { res, err = payload.Identify(payload.NewReader(s), 0) })
	if err != nil || !res.Valid || !bytes.Equal(res.SHA256[:], wantSHA) || res.Size != s.Size {
		t.Fatalf("Identify = %+v, %v", res, err)
	}
	var sum [16]byte
	bounded("MD5", func() { sum = payload.MD5(s) })
	if !bytes.Equal(sum[:], wantMD5) {
		t.Fatalf("MD5 %x, stream %x", sum, wantMD5)
	}
}

func TestSeekAndReadAt(t *testing.T) {
	s := sized(base, 1<<20+7)
	whole := content(t, s)
	rng := rand.New(rand.NewPCG(1, 2))
	r := payload.NewReader(s)
	ra := r.(io.ReaderAt)
	for range 500 {
		off := rng.Int64N(s.Size + 100)
		if rng.IntN(4) == 0 {
			off = s.Size - rng.Int64N(20) // near the end, often unaligned
		}
		n := rng.IntN(5000)
		want := whole[min(off, s.Size):min(off+int64(n), s.Size)]

		p := make([]byte, n)
		m, err := ra.ReadAt(p, off)
		if !bytes.Equal(p[:m], want) || (m < n) != (err == io.EOF) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d bytes", n, off, m, err, len(want))
		}

		if pos, err := r.Seek(off, io.SeekStart); pos != off || err != nil {
			t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
		}
		got, err := io.ReadAll(io.LimitReader(r, int64(n)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Seek(%d) then read %d: %d bytes, %v", off, n, len(got), err)
		}

		got, err = io.ReadAll(payload.Range(s, off, int64(n)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Range(%d, %d): %d bytes, %v", off, n, len(got), err)
		}
	}

	if pos, err := r.Seek(-10, io.SeekEnd); pos != s.Size-10 || err != nil {
		t.Fatalf("Seek(-10, end) = %d, %v", pos, err)
	}
	if pos, err := r.Seek(3, io.SeekCurrent); pos != s.Size-7 || err != nil {
		t.Fatalf("Seek(3, current) = %d, %v", pos, err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, whole[s.Size-7:]) {
		t.Fatal("read after relative seeks")
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to a negative position succeeded")
	}
	if _, err := ra.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("ReadAt at a negative offset succeeded")
	}
	for _, c := range []struct{ off, n, from, to int64 }{
		{0, -1, 0, s.Size}, {-5, 10, 0, 10}, {s.Size - 3, 100, s.Size - 3, s.Size}, {s.Size + 5, 10, s.Size, s.Size},
	} {
		if got, _ := io.ReadAll(payload.Range(s, c.off, c.n)); !bytes.Equal(got, whole[c.from:c.to]) {
			t.Fatalf("Range(%d, %d) not clipped to [%d, %d)", c.off, c.n, c.from, c.to)
		}
	}
}

func TestSpecsDiffer(t *testing.T) {
	a := sized(base, 1<<16)
	for _, b := range []payload.Spec{
		{OpID: a.OpID, Seed: a.Seed + 1, Size: a.Size},
		{OpID: a.OpID, Seed: a.Seed ^ 1<<63, Size: a.Size},
		{OpID: "w-18", Seed: a.Seed, Size: a.Size},
		{OpID: "w-17.", Seed: a.Seed, Size: a.Size},
	} {
		ca, cb := content(t, a), content(t, b)
		if bytes.Equal(ca, cb) || payload.SHA256(a) == payload.SHA256(b) || payload.MD5(a) == payload.MD5(b) {
			t.Fatalf("%v and %v have the same content", a, b)
		}
		// Past the headers, no 8-byte word is the same at the same offset.
		for off := 64; off < len(ca); off += 8 {
			if bytes.Equal(ca[off:off+8], cb[off:off+8]) {
				t.Fatalf("%v and %v agree at %d", a, b, off)
			}
		}
	}
	// The body does not depend on the size: a shorter write of the same op
	// is a prefix apart from the header.
	short := sized(base, 1000)
	if !bytes.Equal(content(t, short)[64:], content(t, a)[64:1000]) {
		t.Fatal("body depends on the size")
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []payload.Spec{
		{OpID: "", Size: 1},
		{OpID: "a b", Size: 1},
		{OpID: "a/b", Size: 1},
		{OpID: "é", Size: 1},
		{OpID: string(bytes.Repeat([]byte("x"), payload.MaxOpIDLen+1)), Size: 1},
		{OpID: "ok", Size: -1},
	} {
		if err := s.Validate(); !errors.Is(err, payload.ErrInvalidSpec) {
			t.Errorf("Validate(%+v) = %v", s, err)
		}
		if _, err := payload.Matches(s, bytes.NewReader(nil)); err == nil {
			t.Errorf("Matches(%+v) accepted it", s)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewReader(%+v) did not panic", s)
				}
			}()
			payload.NewReader(s)
		}()
	}
	if err := (payload.Spec{OpID: "Az09._:-", Size: 0}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestGolden pins the format: a change to it makes every recorded history
// unreadable, so it must be deliberate (and bump the version in Magic).
func TestGolden(t *testing.T) {
	sum := payload.SHA256(payload.Spec{OpID: "golden", Seed: 42, Size: 100000})
	if got, want := hex.EncodeToString(sum[:]), goldenSHA256; got != want {
		t.Fatalf("SHA-256 of the golden spec is %s, was %s", got, want)
	}
}

const goldenSHA256 = "92098b66bd8860a00ec3fc42912661269c924714e4643384f05425a840cc1f96"

// TestParseHeader: the first bytes of content name its write once they
// hold the whole header, and never name anything else.
func TestParseHeader(t *testing.T) {
	s := payload.Spec{OpID: "tok-a-000001", Seed: 7, Size: 4096}
	c, err := io.ReadAll(payload.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	h := len(s.Header())
	for _, n := range []int{0, 1, h - 1, h, h + 1, payload.MaxHeaderLen, len(c)} {
		got, ok := payload.ParseHeader(c[:n])
		if want := n >= h; ok != want || (ok && got != s) {
			t.Errorf("%d bytes: %v %v, want %v", n, got, ok, want)
		}
	}
	for _, bad := range []string{
		"replcheck/1 id 0000000000000007 4096",                             // no newline
		"replcheck/1 id 000000000000000A 4096\n",                           // upper-case hex
		"replcheck/2 id 0000000000000007 4096\n",                           // another version
		"xreplcheck/1 id 0000000000000007 4096\n",                          // not at the start
		"replcheck/1 id 0000000000000007 -1\n",                             // negative size
		"replcheck/1 i d 0000000000000007 4096\n",                          // space in the id
		"replcheck/1 " + strings.Repeat("i", 70) + " 0000000000000007 1\n", // id too long
	} {
		if got, ok := payload.ParseHeader([]byte(bad)); ok {
			t.Errorf("%q: parsed as %v", bad, got)
		}
	}
}
