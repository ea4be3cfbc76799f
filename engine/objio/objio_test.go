package objio_test

import (
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readRange(t *testing.T, st *store.Store, kr *sse.Keyring, v *store.Version, enc sse.Params, off, n int64) []byte {
	t.Helper()
	r, err := objio.Open(st, kr, v, enc, off, n)
	if err != nil {
		t.Fatalf("open %d+%d: %v", off, n, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %d+%d: %v", off, n, err)
	}
	return b
}

func modes() map[string]sse.Params {
	ck := bytes.Repeat([]byte{7}, 32)
	return map[string]sse.Params{
		"plain":   {},
		"sse-s3":  {Mode: sse.SSES3},
		"sse-kms": {Mode: sse.SSEKMS},
		"sse-c":   {Mode: sse.SSEC, CustomerKey: ck, CustomerKeyMD5: sse.KeyMD5(ck)},
	}
}

func TestPutOpenEveryMode(t *testing.T) {
	kr := sse.GenerateKeyring()
	for name, enc := range modes() {
		t.Run(name, func(t *testing.T) {
			st := store.NewMemoryStore(store.Options{})
			st.CreateBucket("b", store.BucketOptions{})
			data := randBytes(1, 300_000)
			sum := md5.Sum(data)
			v, err := objio.Put(st, kr, "b", "k", objio.PutInput{Body: bytes.NewReader(data), Size: int64(len(data)),
				ContentMD5: sum[:], Encryption: enc})
			if err != nil {
				t.Fatal(err)
			}
			if (v.SSE != nil) != (enc.Mode != sse.None) || v.Size != int64(len(data)) {
				t.Fatalf("version %+v", v)
			}
			plainETag := v.ETag == hexMD5(data)
			if plainETag != sse.ETagIsPlainMD5(enc.Mode) {
				t.Fatalf("ETag %s plain-md5=%v for %s", v.ETag, plainETag, name)
			}
			for _, r := range [][2]int64{{0, 300_000}, {0, 0}, {65535, 2}, {65536, 65536}, {299_999, 1}, {1000, 200_000}} {
				if got := readRange(t, st, kr, v, enc, r[0], r[1]); !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
					t.Fatalf("range %v differs", r)
				}
			}
			if enc.Mode == sse.SSEC {
				if _, err := objio.Open(st, kr, v, sse.Params{}, 0, 1); !errors.Is(err, sse.ErrMissingCustomerKey) {
					t.Fatalf("read without key: %v", err)
				}
			}
		})
	}
}

func hexMD5(b []byte) string {
	s := md5.Sum(b)
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 32)
	for i, c := range s {
		out[2*i], out[2*i+1] = hexdigits[c>>4], hexdigits[c&15]
	}
	return string(out)
}

func TestBadBodies(t *testing.T) {
	kr := sse.GenerateKeyring()
	st := store.NewMemoryStore(store.Options{})
	st.CreateBucket("b", store.BucketOptions{})
	orig := []byte("original")
	v0, _ := objio.Put(st, kr, "b", "k", objio.PutInput{Body: bytes.NewReader(orig), Size: -1})
	_, err := objio.Put(st, kr, "b", "k", objio.PutInput{Body: bytes.NewReader([]byte("short")), Size: 10})
	if !errors.Is(err, objio.ErrIncompleteBody) {
		t.Fatalf("short body: %v", err)
	}
	_, err = objio.Put(st, kr, "b", "k", objio.PutInput{Body: bytes.NewReader([]byte("x")), Size: -1, ContentMD5: make([]byte, 16)})
	if !errors.Is(err, objio.ErrBadDigest) {
		t.Fatalf("bad digest: %v", err)
	}
	v, err := st.GetObject("b", "k", "")
	if err != nil || v.ETag != v0.ETag || !bytes.Equal(readRange(t, st, kr, v, sse.Params{}, 0, v.Size), orig) {
		t.Fatalf("original damaged: %v", err)
	}
}

// TestMultipartEncrypted re-uploads a part (it must get a key of its own),
// completes with skipped part numbers, and reads ranges across parts.
func TestMultipartEncrypted(t *testing.T) {
	kr := sse.GenerateKeyring()
	for name, enc := range modes() {
		t.Run(name, func(t *testing.T) {
			st := store.NewMemoryStore(store.Options{MinPartSize: 1})
			st.CreateBucket("b", store.BucketOptions{})
			u, err := objio.CreateUpload(st, kr, "b", "k", store.ObjectMeta{ContentType: "x/y"}, enc)
			if err != nil {
				t.Fatal(err)
			}
			parts := map[int][]byte{1: randBytes(1, 70_000), 3: randBytes(3, 100_000), 7: randBytes(7, 5)}
			first, err := objio.PutPart(st, kr, "b", "k", u.ID, 3, objio.PutInput{Body: bytes.NewReader(randBytes(99, 100_000)), Size: -1, Encryption: enc})
			if err != nil {
				t.Fatal(err)
			}
			var done []store.CompletePart
			for _, n := range []int{1, 3, 7} {
				p, err := objio.PutPart(st, kr, "b", "k", u.ID, n, objio.PutInput{Body: bytes.NewReader(parts[n]), Size: -1, Encryption: enc})
				if err != nil {
					t.Fatal(err)
				}
				if n == 3 && enc.Mode != sse.None && bytes.Equal(p.Salt, first.Salt) {
					t.Fatal("re-uploaded part reuses its salt")
				}
				done = append(done, store.CompletePart{Number: n, ETag: p.ETag})
			}
			v, err := st.CompleteUpload("b", "k", u.ID, done)
			if err != nil {
				t.Fatal(err)
			}
			all := append(append(append([]byte{}, parts[1]...), parts[3]...), parts[7]...)
			if v.Size != int64(len(all)) || (v.SSE == nil) != (enc.Mode == sse.None) {
				t.Fatalf("completed %+v", v)
			}
			for _, r := range [][2]int64{{0, int64(len(all))}, {69_999, 2}, {70_000, 100_000}, {169_999, 6}, {170_004, 1}} {
				if got := readRange(t, st, kr, v, enc, r[0], r[1]); !bytes.Equal(got, all[r[0]:r[0]+r[1]]) {
					t.Fatalf("range %v differs", r)
				}
			}
			if enc.Mode == sse.SSEC {
				other := bytes.Repeat([]byte{8}, 32)
				_, err := objio.PutPart(st, kr, "b", "k", "nope", 1, objio.PutInput{Body: bytes.NewReader(nil), Size: -1})
				if !errors.Is(err, store.ErrNoSuchUpload) {
					t.Fatalf("unknown upload: %v", err)
				}
				u2, _ := objio.CreateUpload(st, kr, "b", "k2", store.ObjectMeta{}, enc)
				_, err = objio.PutPart(st, kr, "b", "k2", u2.ID, 1, objio.PutInput{Body: bytes.NewReader([]byte("x")), Size: -1,
					Encryption: sse.Params{Mode: sse.SSEC, CustomerKey: other, CustomerKeyMD5: sse.KeyMD5(other)}})
				if !errors.Is(err, sse.ErrCustomerKeyMismatch) {
					t.Fatalf("part with another customer key: %v", err)
				}
			}
		})
	}
}

// TestFlattenedPartsAreCorrupt joins an encrypted multipart object's parts
// into one, as a replica that lost the part layout would hold it: reading
// must fail, never return wrong bytes.
func TestFlattenedPartsAreCorrupt(t *testing.T) {
	kr := sse.GenerateKeyring()
	st := store.NewMemoryStore(store.Options{MinPartSize: 1})
	st.CreateBucket("b", store.BucketOptions{})
	enc := sse.Params{Mode: sse.SSES3}
	u, _ := objio.CreateUpload(st, kr, "b", "k", store.ObjectMeta{}, enc)
	var done []store.CompletePart
	for n := 1; n <= 2; n++ {
		p, _ := objio.PutPart(st, kr, "b", "k", u.ID, n, objio.PutInput{Body: bytes.NewReader(randBytes(uint64(n), 1000)), Size: -1, Encryption: enc})
		done = append(done, store.CompletePart{Number: n, ETag: p.ETag})
	}
	v, err := st.CompleteUpload("b", "k", u.ID, done)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := st.Open(v)
	joined, _ := io.ReadAll(io.NewSectionReader(data, 0, data.Size()))
	data.Close()
	id, n, _ := st.WriteBlob(bytes.NewReader(joined))
	flat := v.ObjectMeta
	flat.Parts = []store.Part{{Number: 1, Blob: id, Size: n, PlainSize: v.Size}}
	fv, err := st.CommitObject("b", "flat", flat)
	if err != nil {
		t.Fatal(err)
	}
	r, err := objio.Open(st, kr, fv, enc, 0, fv.Size)
	if err == nil {
		_, err = io.ReadAll(r)
		r.Close()
	}
	if !errors.Is(err, objio.ErrCorrupt) && !errors.Is(err, sse.ErrDecrypt) {
		t.Fatalf("flattened object read: %v", err)
	}
}
