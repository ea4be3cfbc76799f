package payload_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/replcheck/replcheck/verifier/workload/payload"
)

func identify(t *testing.T, b []byte) payload.Result {
	t.Helper()
	res, err := payload.Identify(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(b)) || res.SHA256 != sha256.Sum256(b) {
		t.Fatalf("Identify: size %d hash %x for %d bytes", res.Size, res.SHA256, len(b))
	}
	return res
}

// wantMismatch checks that b is recognised as s's header with a body that
// goes wrong at off.
func wantMismatch(t *testing.T, b []byte, s payload.Spec, off int64) {
	t.Helper()
	res := identify(t, b)
	if res.Valid || !res.HeaderOK || res.Spec != s || res.FirstMismatch != off {
		t.Fatalf("Identify = %+v; want header of %v and first mismatch at %d", res, s, off)
	}
	if ok, err := payload.Matches(s, bytes.NewReader(b)); ok || err != nil {
		t.Fatalf("Matches = %v, %v", ok, err)
	}
}

func TestIdentifyFlippedByte(t *testing.T) {
	s := sized(base, 1<<20+7)
	good := content(t, s)
	for _, off := range []int64{hlen + 10, hlen + 11, 4096, 1 << 19, 65535, 65536, s.Size - 1} {
		b := bytes.Clone(good)
		b[off] ^= 0x10
		wantMismatch(t, b, s, off)
	}
	// A flip in the header names no write, or another one.
	for off := range hlen + 4 {
		b := bytes.Clone(good)
		b[off] ^= 0x01
		if res := identify(t, b); res.Valid || (res.HeaderOK && res.Spec == s) {
			t.Fatalf("flip at %d: %+v", off, res)
		}
	}
}

func TestIdentifyTruncation(t *testing.T) {
	s := sized(base, 1<<20+7)
	good := content(t, s)
	for _, n := range []int64{int64(len(s.Header())), int64(len(s.Header())) + 1, 1000, 65536, 65537, s.Size - 1} {
		wantMismatch(t, good[:n], s, n)
	}
	// Cut inside the header: nothing to name.
	if res := identify(t, good[:10]); res.HeaderOK || res.Valid || res.FirstMismatch != 0 {
		t.Fatalf("truncated header: %+v", res)
	}
}

func TestIdentifyExtension(t *testing.T) {
	for _, n := range []int64{hlen, 1000, 65536, 1<<20 + 7} {
		s := sized(base, n)
		good := content(t, s)
		wantMismatch(t, append(bytes.Clone(good), 0), s, n)
		wantMismatch(t, append(bytes.Clone(good), good...), s, n)
		// The op's own body carried on: still longer than the header says.
		more, _ := io.ReadAll(payload.Range(sized(base, n+100), n, 5))
		wantMismatch(t, append(bytes.Clone(good), more...), s, n)
	}
}

func TestIdentifySplice(t *testing.T) {
	a := sized(base, 1<<20+7)
	for _, b := range []payload.Spec{
		{OpID: a.OpID, Seed: a.Seed + 1, Size: a.Size},   // same op id, another seed
		{OpID: "w-99", Seed: a.Seed, Size: a.Size},       // another op, same seed
		{OpID: "w-1000", Seed: 7, Size: a.Size + 123456}, // another op and size
	} {
		ca, cb := content(t, a), content(t, b)
		for _, mid := range []int64{a.Size / 2, 65536, 65536 + 3, 4097, 200} {
			spliced := append(bytes.Clone(ca[:mid]), cb[mid:a.Size]...)
			// The first differing byte is at the splice point unless one
			// byte coincides by chance; words at the same offset never do.
			want := mid
			for ca[want] == cb[want] {
				want++
			}
			if want >= mid+8 {
				t.Fatalf("%v and %v agree on 8 bytes at %d", a, b, mid)
			}
			wantMismatch(t, spliced, a, want)
			// B's bytes with A's tail: B's header, wrong from mid on.
			back := append(bytes.Clone(cb[:mid]), ca[mid:]...)
			res := identify(t, back)
			if res.Valid || res.Spec != b || res.FirstMismatch != want {
				t.Fatalf("reverse splice at %d: %+v, want mismatch at %d", mid, res, want)
			}
		}
	}
}

func TestIdentifyForeignContent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 100000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"empty":           nil,
		"random":          random,
		"one byte":        {'r'},
		"newline":         []byte("\n"),
		"header only":     []byte("replcheck/1 \n"),
		"upper-case hex":  []byte("replcheck/1 w-17 FEEDFACE12345678 40\n"),
		"short seed":      []byte("replcheck/1 w-17 feedface 32\n"),
		"leading zero":    []byte("replcheck/1 w-17 feedface12345678 040\n"),
		"plus sign":       []byte("replcheck/1 w-17 feedface12345678 +40\n"),
		"negative size":   []byte("replcheck/1 w-17 feedface12345678 -1\n"),
		"size overflows":  []byte("replcheck/1 w-17 feedface12345678 99999999999999999999\n"),
		"double space":    []byte("replcheck/1 w-17  feedface12345678 40\n"),
		"bad id":          []byte("replcheck/1 w/17 feedface12345678 40\n"),
		"no newline":      []byte("replcheck/1 w-17 feedface12345678 40 "),
		"crlf":            []byte("replcheck/1 w-17 feedface12345678 40\r\n"),
		"other version":   []byte("replcheck/2 w-17 feedface12345678 40\n"),
		"id too long":     []byte("replcheck/1 " + strings.Repeat("x", 65) + " feedface12345678 40\n"),
		"newline too far": append([]byte("replcheck/1 "), append(bytes.Repeat([]byte("x"), payload.MaxHeaderLen), '\n')...),
		"leading space":   []byte(" " + sized(base, 100).Header()),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			res := identify(t, b)
			if res.HeaderOK || res.Valid || res.FirstMismatch != 0 || res.Spec != (payload.Spec{}) {
				t.Fatalf("Identify = %+v", res)
			}
		})
	}
	// Of course, a header alone that says so is a valid object.
	s := payload.Spec{OpID: "x", Seed: 1, Size: 50}
	s.Size = int64(len(s.Header())) // still two digits
	if res := identify(t, []byte(s.Header())); !res.Valid || res.Spec != s {
		t.Fatalf("header-only object: %+v", res)
	}
}

func TestIdentifyLimit(t *testing.T) {
	s := sized(base, 200000)
	good := content(t, s)
	for _, c := range []struct {
		name     string
		b        []byte
		limit    int64
		err      error
		valid    bool
		mismatch int64
		size     int64
	}{
		{"at size", good, s.Size, nil, true, -1, s.Size},
		{"above size", good, s.Size + 1, nil, true, -1, s.Size},
		{"below size", good, s.Size - 1, payload.ErrLimit, false, -1, s.Size - 1},
		{"small", good, 10, payload.ErrLimit, false, 0, 10},
		{"extended, at size", append(bytes.Clone(good), 1), s.Size, payload.ErrLimit, false, s.Size, s.Size},
		{"extended, past size", append(bytes.Clone(good), 1, 2), s.Size + 1, payload.ErrLimit, false, s.Size, s.Size + 1},
		{"truncated", good[:1000], 5000, nil, false, 1000, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Also with the last bytes arriving together with io.EOF.
			for _, r := range []io.Reader{bytes.NewReader(c.b), iotest.DataErrReader(bytes.NewReader(c.b))} {
				res, err := payload.Identify(r, c.limit)
				if !errors.Is(err, c.err) || res.Valid != c.valid || res.FirstMismatch != c.mismatch || res.Size != c.size ||
					res.SHA256 != sha256.Sum256(c.b[:c.size]) {
					t.Fatalf("Identify(limit %d) = %+v, %v", c.limit, res, err)
				}
			}
		})
	}
}

func TestIdentifyReadError(t *testing.T) {
	s := sized(base, 300000)
	good := content(t, s)
	boom := errors.New("connection reset")
	res, err := payload.Identify(io.MultiReader(bytes.NewReader(good[:150000]), iotest.ErrReader(boom)), 0)
	if !errors.Is(err, boom) || res.Valid || !res.HeaderOK || res.Size != 150000 || res.FirstMismatch != -1 {
		t.Fatalf("Identify = %+v, %v", res, err)
	}
	if _, err := payload.Matches(s, io.MultiReader(bytes.NewReader(good[:150000]), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Fatalf("Matches: %v", err)
	}
	// A reader that makes no progress is an error, not a hang.
	if _, err := payload.Identify(stuck{}, 0); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Identify(stuck) = %v", err)
	}
}

type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }

func TestIdentifyCandidates(t *testing.T) {
	small := []payload.Spec{
		sized(base, 0),
		sized(base, 1),
		sized(base, 5),
		{OpID: "w-18", Seed: base.Seed, Size: 20},
		sized(base, 20),
		sized(base, hlen-1),
		{OpID: base.OpID, Seed: base.Seed + 1, Size: hlen - 1},
		sized(base, 1<<20),
	}
	for i, s := range small {
		got, ok, err := payload.IdentifyCandidates(bytes.NewReader(content(t, s)), small)
		if err != nil || !ok {
			t.Fatalf("candidate %d (%v): %v, %v", i, s, ok, err)
		}
		if got != s {
			// Only when the content cannot tell them apart.
			if !bytes.Equal(content(t, got), content(t, s)) {
				t.Fatalf("candidate %d (%v) identified as %v", i, s, got)
			}
		}
	}
	if _, ok, err := payload.IdentifyCandidates(bytes.NewReader([]byte("hello")), small); ok || err != nil {
		t.Fatalf("foreign content: %v, %v", ok, err)
	}
	if _, ok, err := payload.IdentifyCandidates(bytes.NewReader(nil), nil); ok || err != nil {
		t.Fatalf("no candidates: %v, %v", ok, err)
	}
	// Reading stops once no candidate is left: an endless stream is fine.
	if _, ok, err := payload.IdentifyCandidates(endless{}, small); ok || err != nil {
		t.Fatalf("endless stream: %v, %v", ok, err)
	}
	if ok, err := payload.Matches(sized(base, 1<<20), io.MultiReader(bytes.NewReader(content(t, sized(base, 1<<20))), endless{})); ok || err != nil {
		t.Fatalf("endless extension: %v, %v", ok, err)
	}
	huge := sized(base, 1<<63-1)
	if ok, err := payload.Matches(huge, payload.Range(huge, 0, 100000)); ok || err != nil {
		t.Fatalf("prefix of the largest object: %v, %v", ok, err)
	}
	if res, err := payload.Identify(payload.Range(huge, 0, 100000), 0); err != nil || res.Valid || res.Spec != huge || res.FirstMismatch != 100000 {
		t.Fatalf("prefix of the largest object: %+v, %v", res, err)
	}
	if _, _, err := payload.IdentifyCandidates(bytes.NewReader(nil), []payload.Spec{{OpID: "bad id"}}); !errors.Is(err, payload.ErrInvalidSpec) {
		t.Fatalf("invalid candidate: %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestMatchAll: every candidate with the same content is returned, in the
// candidates' order (objects shorter than the header's start are the same
// for every write); different content of the same size is not.
func TestMatchAll(t *testing.T) {
	one1 := payload.Spec{OpID: "w-1", Seed: 1, Size: 1}
	one2 := payload.Spec{OpID: "w-2", Seed: 2, Size: 1}
	long1 := payload.Spec{OpID: "w-3", Seed: 3, Size: 30}
	long2 := payload.Spec{OpID: "w-4", Seed: 4, Size: 30}
	cands := []payload.Spec{one2, long1, one1, long2}
	got, err := payload.MatchAll(bytes.NewReader(content(t, one1)), cands)
	if err != nil || len(got) != 2 || got[0] != one2 || got[1] != one1 {
		t.Fatalf("1 byte: %v, %v; want [%v %v]", got, err, one2, one1)
	}
	got, err = payload.MatchAll(bytes.NewReader(content(t, long2)), cands)
	if err != nil || len(got) != 1 || got[0] != long2 {
		t.Fatalf("30 bytes of %v: %v, %v", long2, got, err)
	}
	if got, err := payload.MatchAll(bytes.NewReader([]byte("hello")), cands); len(got) != 0 || err != nil {
		t.Fatalf("foreign content: %v, %v", got, err)
	}
}
