package swiftapi_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

var noSSE = sse.Params{}

func TestObjectLifecycle(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("c")
	data := []byte("0123456789abcdefghij")
	hdr, err := f.conn.ObjectPut(ctx, "c", "doc.txt", bytes.NewReader(data), true, "", "",
		swift.Headers{"X-Object-Meta-Color": "blue", "X-Object-Meta-My-Key": "v1", "Content-Encoding": "identity"})
	if err != nil {
		t.Fatal(err)
	}
	if hdr["Etag"] != md5hex(data) {
		t.Errorf("PUT ETag %q", hdr["Etag"])
	}

	// The store sees what S3 would: lower-case metadata, guessed type.
	v, err := f.st.GetObject("c", "doc.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	if v.UserMeta["color"] != "blue" || v.UserMeta["my-key"] != "v1" || len(v.UserMeta) != 2 {
		t.Errorf("stored user metadata %v", v.UserMeta)
	}
	if !strings.HasPrefix(v.ContentType, "text/plain") || v.Headers["Content-Encoding"] != "identity" {
		t.Errorf("stored content type %q, headers %v", v.ContentType, v.Headers)
	}

	info, h, err := f.conn.Object(ctx, "c", "doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != 20 || info.Hash != md5hex(data) || h["X-Object-Meta-My-Key"] != "v1" || h["X-Timestamp"] == "" ||
		h["Content-Encoding"] != "identity" || info.LastModified.IsZero() {
		t.Errorf("HEAD: %+v %v", info, h)
	}
	got, err := f.conn.ObjectGetBytes(ctx, "c", "doc.txt")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("GET %q, %v", got, err)
	}

	// Ranges, through ncw (Range header) and raw.
	var buf bytes.Buffer
	if _, err := f.conn.ObjectGet(ctx, "c", "doc.txt", &buf, false, swift.Headers{"Range": "bytes=3-6"}); err != nil || buf.String() != "3456" {
		t.Errorf("range GET %q, %v", buf.String(), err)
	}
	for _, c := range []struct {
		rng, want, crange string
		status            int
	}{
		{"bytes=0-0", "0", "bytes 0-0/20", 206},
		{"bytes=15-", "fghij", "bytes 15-19/20", 206},
		{"bytes=-3", "hij", "bytes 17-19/20", 206},
		{"bytes=-100", string(data), "bytes 0-19/20", 206},
		{"bytes=18-1000", "ij", "bytes 18-19/20", 206},
		{"bytes=18-99999999999999999999999", "ij", "bytes 18-19/20", 206},
		{"bytes=20-", "", "bytes */20", 416},
		{"bytes=-0", "", "bytes */20", 416},
		{"bytes=5-2", string(data), "", 200},
		{"bytes=x-y", string(data), "", 200},
		{"items=0-1", string(data), "", 200},
	} {
		resp, body := f.do("GET", "/c/doc.txt", map[string]string{"Range": c.rng}, nil)
		expect(t, resp, body, c.status)
		if c.status != 416 && string(body) != c.want || resp.Header.Get("Content-Range") != c.crange {
			t.Errorf("Range %s: %q %q, want %q %q", c.rng, body, resp.Header.Get("Content-Range"), c.want, c.crange)
		}
	}
	resp, body := f.do("GET", "/c/doc.txt", map[string]string{"Range": "bytes=0-1,5-6"}, nil)
	expect(t, resp, body, http.StatusPartialContent)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") ||
		!strings.Contains(string(body), "Content-Range: bytes 0-1/20\r\n") || !strings.Contains(string(body), "\r\n\r\n01\r\n--") ||
		!strings.Contains(string(body), "Content-Range: bytes 5-6/20\r\n") || !strings.Contains(string(body), "\r\n\r\n56\r\n--") {
		t.Errorf("multi-range: %s %q", resp.Header.Get("Content-Type"), body)
	}

	// Conditional requests.
	etag := md5hex(data)
	lm := resp.Header.Get("Last-Modified")
	for _, c := range []struct {
		hdr    map[string]string
		status int
	}{
		{map[string]string{"If-None-Match": `"` + etag + `"`}, 304},
		{map[string]string{"If-None-Match": "other"}, 200},
		{map[string]string{"If-Match": "other"}, 412},
		{map[string]string{"If-Match": etag}, 200},
		{map[string]string{"If-Match": "*"}, 200},
		{map[string]string{"If-Modified-Since": lm}, 304},
		{map[string]string{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200},
		{map[string]string{"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 412},
		{map[string]string{"If-Unmodified-Since": lm}, 200},
		{map[string]string{"Range": "bytes=0-1", "If-Range": "other"}, 200},
		{map[string]string{"Range": "bytes=0-1", "If-Range": etag}, 206},
	} {
		resp, body := f.do("GET", "/c/doc.txt", c.hdr, nil)
		expect(t, resp, body, c.status)
	}

	// POST replaces the user metadata and may change the type.
	if err := f.conn.ObjectUpdate(ctx, "c", "doc.txt", swift.Headers{"X-Object-Meta-Shape": "square", "Content-Type": "application/x-new"}); err != nil {
		t.Fatal(err)
	}
	v, _ = f.st.GetObject("c", "doc.txt", "")
	if len(v.UserMeta) != 1 || v.UserMeta["shape"] != "square" || v.ContentType != "application/x-new" {
		t.Errorf("after POST: meta %v type %q", v.UserMeta, v.ContentType)
	}
	resp, body = f.do("POST", "/c/doc.txt", map[string]string{"X-Object-Meta-A": "b"}, nil)
	expect(t, resp, body, http.StatusAccepted)
	resp, body = f.do("POST", "/c/missing", map[string]string{"X-Object-Meta-A": "b"}, nil)
	expect(t, resp, body, http.StatusNotFound)

	// Copy with COPY (ncw) and PUT + X-Copy-From, metadata kept and added.
	if _, err := f.conn.ObjectCopy(ctx, "c", "doc.txt", "c", "copy 1", swift.Headers{"X-Object-Meta-Extra": "yes"}); err != nil {
		t.Fatal(err)
	}
	c1, err := f.st.GetObject("c", "copy 1", "")
	if err != nil || c1.UserMeta["a"] != "b" || c1.UserMeta["extra"] != "yes" || c1.ContentType != "application/x-new" || c1.ETag != etag {
		t.Errorf("COPY result %+v, %v", c1, err)
	}
	f.mkContainer("d")
	resp, body = f.do("PUT", "/d/copy%202", map[string]string{"X-Copy-From": "/c/copy%201", "X-Fresh-Metadata": "true",
		"X-Object-Meta-Only": "this", "Content-Length": "0"}, nil)
	expect(t, resp, body, http.StatusCreated)
	if resp.Header.Get("X-Copied-From") != "c/copy%201" || resp.Header.Get("Etag") != etag {
		t.Errorf("copy headers %v", resp.Header)
	}
	c2, err := f.st.GetObject("d", "copy 2", "")
	if err != nil || len(c2.UserMeta) != 1 || c2.UserMeta["only"] != "this" {
		t.Errorf("fresh-metadata copy %+v, %v", c2, err)
	}
	if got, _ := f.conn.ObjectGetBytes(ctx, "d", "copy 2"); !bytes.Equal(got, data) {
		t.Errorf("copied data %q", got)
	}
	if err := f.conn.ObjectUpdateContentType(ctx, "d", "copy 2", "image/png"); err != nil {
		t.Fatal(err)
	}
	if c2, _ = f.st.GetObject("d", "copy 2", ""); c2.ContentType != "image/png" || c2.UserMeta["only"] != "this" {
		t.Errorf("content type update by self-copy: %+v", c2)
	}
	resp, body = f.do("COPY", "/c/missing", map[string]string{"Destination": "d/x"}, nil)
	expect(t, resp, body, http.StatusNotFound)
	resp, body = f.do("COPY", "/c/doc.txt", map[string]string{"Destination": "nocontainer/x"}, nil)
	expect(t, resp, body, http.StatusNotFound)
	resp, body = f.do("COPY", "/c/doc.txt", map[string]string{"Destination": "justone"}, nil)
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = f.do("COPY", "/c/doc.txt", map[string]string{"Destination": "d/x", "Destination-Account": "AUTH_other"}, nil)
	expect(t, resp, body, http.StatusForbidden)
	resp, body = f.do("COPY", "/c/doc.txt", map[string]string{"Destination": "d/x", "Destination-Account": "AUTH_acct"}, nil)
	expect(t, resp, body, http.StatusCreated)
	resp, body = f.do("PUT", "/d/y", map[string]string{"X-Copy-From": "c/doc.txt"}, []byte("body"))
	expect(t, resp, body, http.StatusBadRequest)

	// An empty object; a suffix range of it is served whole, others are unsatisfiable.
	resp, body = f.do("PUT", "/c/empty", map[string]string{"Content-Length": "0"}, []byte{})
	expect(t, resp, body, http.StatusCreated)
	if resp.Header.Get("Etag") != md5hex(nil) {
		t.Errorf("empty object ETag %q", resp.Header.Get("Etag"))
	}
	resp, body = f.do("GET", "/c/empty", map[string]string{"Range": "bytes=-5"}, nil)
	expect(t, resp, body, http.StatusOK)
	resp, body = f.do("GET", "/c/empty", map[string]string{"Range": "bytes=0-"}, nil)
	expect(t, resp, body, http.StatusRequestedRangeNotSatisfiable)
	resp, body = f.do("HEAD", "/c/empty", nil, nil)
	expect(t, resp, body, http.StatusOK)
	if resp.ContentLength != 0 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("HEAD empty: %d %q", resp.ContentLength, resp.Header.Get("Content-Type"))
	}

	// If-None-Match: * refuses to overwrite.
	resp, body = f.do("PUT", "/c/doc.txt", map[string]string{"If-None-Match": "*"}, []byte("new"))
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = f.do("PUT", "/c/fresh", map[string]string{"If-None-Match": "*"}, []byte("new"))
	expect(t, resp, body, http.StatusCreated)

	// Delete.
	if err := f.conn.ObjectDelete(ctx, "c", "doc.txt"); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.ObjectDelete(ctx, "c", "doc.txt"); !errors.Is(err, swift.ObjectNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, _, err := f.conn.Object(ctx, "c", "doc.txt"); !errors.Is(err, swift.ObjectNotFound) {
		t.Errorf("HEAD after delete: %v", err)
	}
	if err := f.conn.ObjectPutString(ctx, "nocontainer", "x", "y", ""); !errors.Is(err, swift.ObjectNotFound) {
		t.Errorf("PUT into missing container: %v", err)
	}
}

func TestObjectS3Metadata(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("c")
	f.putDirect("c", "from-s3", []byte("x"), store.ObjectMeta{
		ContentType: "application/json",
		UserMeta:    map[string]string{"color": "blue", "my-long-key": "v", "op_id": "42", "unicode": "blå ünï"},
		Headers:     map[string]string{"Cache-Control": "no-cache", "Content-Disposition": "attachment"},
	}, noSSE)
	_, h, err := f.conn.Object(ctx, "c", "from-s3")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"X-Object-Meta-Color": "blue", "X-Object-Meta-My-Long-Key": "v", "X-Object-Meta-Op_id": "42", "X-Object-Meta-Unicode": "blå ünï",
		"Content-Type": "application/json", "Cache-Control": "no-cache", "Content-Disposition": "attachment"} {
		if h[k] != v {
			t.Errorf("%s = %q, want %q", k, h[k], v)
		}
	}
	if m := h.ObjectMetadata(); len(m) != 4 || m["my-long-key"] != "v" {
		t.Errorf("ncw metadata %v", m)
	}
}

func TestUnicodeMetadataRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("c")
	if err := f.conn.ObjectPutString(ctx, "c", "o", "x", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.ObjectUpdate(ctx, "c", "o", swift.Metadata{"Note": "日本語 ok", "Op-Id": "a-1"}.ObjectHeaders()); err != nil {
		t.Fatal(err)
	}
	v, _ := f.st.GetObject("c", "o", "")
	if v.UserMeta["note"] != "日本語 ok" || v.UserMeta["op-id"] != "a-1" {
		t.Errorf("stored %v", v.UserMeta)
	}
	_, h, err := f.conn.Object(ctx, "c", "o")
	if err != nil || h.ObjectMetadata()["note"] != "日本語 ok" {
		t.Errorf("read back %v, %v", h, err)
	}
}

func TestETagMismatch(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("c")
	data := []byte("payload")
	_, err := f.conn.ObjectPut(ctx, "c", "o", bytes.NewReader(data), true, md5hex([]byte("other")), "", nil)
	if !errors.Is(err, swift.ObjectCorrupted) {
		t.Errorf("wrong ETag: %v, want ObjectCorrupted (422)", err)
	}
	resp, body := f.do("PUT", "/c/o", map[string]string{"Etag": "not-an-md5"}, data)
	expect(t, resp, body, http.StatusUnprocessableEntity)
	if _, err := f.st.GetObject("c", "o", ""); !errors.Is(err, store.ErrNoSuchKey) {
		t.Errorf("object stored despite ETag mismatch: %v", err)
	}
	// The right ETag, quoted, is accepted.
	resp, body = f.do("PUT", "/c/o", map[string]string{"Etag": `"` + md5hex(data) + `"`}, data)
	expect(t, resp, body, http.StatusCreated)
}

func TestAwkwardNames(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("c")
	names := []string{
		"with space", "ünïcødé/日本語.txt", "a/../b", "../up", "..", ".", "./dot", "a//b", "trailing/",
		"100%", "%41%2F", "plus+sign", "q?x#y&z=1", "semi;colon", "tab\tchar", "emoji 🎉", "back\\slash",
		strings.Repeat("l", 1024),
	}
	for i, n := range names {
		data := []byte(fmt.Sprintf("data %d", i))
		if _, err := f.conn.ObjectPut(ctx, "c", n, bytes.NewReader(data), true, "", "", nil); err != nil {
			t.Errorf("PUT %q: %v", n, err)
			continue
		}
		if _, err := f.st.GetObject("c", n, ""); err != nil {
			t.Errorf("store has no key %q: %v", n, err)
		}
		got, err := f.conn.ObjectGetBytes(ctx, "c", n)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("GET %q: %q, %v", n, got, err)
		}
		// Raw, every byte escaped.
		resp, body := f.do("GET", "/c/"+pathEscape(n), nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Errorf("raw GET %q: %d %q", n, resp.StatusCode, body)
		}
	}
	listed, err := f.conn.ObjectNamesAll(ctx, "c", nil)
	want := slices.Clone(names)
	sort.Strings(want)
	if err != nil || !slices.Equal(listed, want) {
		t.Errorf("listing %q, %v; want %q", listed, err, want)
	}
	// Copy between awkward names.
	if _, err := f.conn.ObjectCopy(ctx, "c", "a/../b", "c", "100% copy", nil); err != nil {
		t.Errorf("copy awkward: %v", err)
	}
	if s, _ := f.conn.ObjectGetString(ctx, "c", "100% copy"); s != "data 2" {
		t.Errorf("copied awkward %q", s)
	}
	// Awkward container names.
	for _, c := range []string{"sp ace", "ünï", "a+b", "x%y"} {
		f.mkContainer(c)
		if err := f.conn.ObjectPutString(ctx, c, "../o", "v", ""); err != nil {
			t.Errorf("PUT into %q: %v", c, err)
		}
		if s, err := f.conn.ObjectGetString(ctx, c, "../o"); s != "v" || err != nil {
			t.Errorf("GET from %q: %q %v", c, s, err)
		}
	}
}

func TestLargeStreamedObject(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("big")
	const size = 20 << 20
	data := randBytes(size, 7)
	w, err := f.conn.ObjectCreate(ctx, "big", "20MiB.bin", true, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < size; off += 1 << 20 {
		if _, err := w.Write(data[off : off+1<<20]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close upload: %v", err)
	}
	r, hdr, err := f.conn.ObjectOpen(ctx, "big", "20MiB.bin", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("checked close: %v", err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("20 MiB object differs")
	}
	if hdr["Content-Type"] != "application/octet-stream" {
		t.Errorf("content type %q", hdr["Content-Type"])
	}
}

func TestEncryptedObjects(t *testing.T) {
	f := newFixture(t)
	data := randBytes(200_000, 3)
	for _, c := range []struct {
		bucket string
		enc    *store.BucketEncryption
	}{
		{"sse-s3", &store.BucketEncryption{Mode: sse.SSES3}},
		{"sse-kms", &store.BucketEncryption{Mode: sse.SSEKMS}},
		{"sse-kms-named", &store.BucketEncryption{Mode: sse.SSEKMS, KMSKeyID: sse.GeneratedKMSKeyID}},
	} {
		t.Run(c.bucket, func(t *testing.T) {
			f.mkContainer(c.bucket)
			if err := f.st.SetBucketEncryption(c.bucket, c.enc); err != nil {
				t.Fatal(err)
			}
			// Written as the S3 front end does, with the bucket default.
			f.putDirect(c.bucket, "direct", data, store.ObjectMeta{}, sse.Params{Mode: c.enc.Mode, KMSKeyID: c.enc.KMSKeyID})
			// Written over Swift: the bucket default applies; ncw checks the PUT ETag.
			if _, err := f.conn.ObjectPut(ctx, c.bucket, "swift", bytes.NewReader(data), true, "", "", nil); err != nil {
				t.Fatalf("PUT into encrypted container: %v", err)
			}
			if _, err := f.conn.ObjectPut(ctx, c.bucket, "swift-md5", bytes.NewReader(data), true, md5hex(data), "", nil); err != nil {
				t.Fatalf("PUT with ETag into encrypted container: %v", err)
			}
			for _, key := range []string{"direct", "swift", "swift-md5"} {
				v, err := f.st.GetObject(c.bucket, key, "")
				if err != nil || v.SSE == nil || v.SSE.Mode != c.enc.Mode {
					t.Fatalf("%s: stored %+v, %v; want %s", key, v, err, c.enc.Mode)
				}
				// ncw checks the body against the ETag unless the object is flagged large.
				var buf bytes.Buffer
				if _, err := f.conn.ObjectGet(ctx, c.bucket, key, &buf, true, nil); err != nil || !bytes.Equal(buf.Bytes(), data) {
					t.Errorf("%s: GET %d bytes, %v", key, buf.Len(), err)
				}
				buf.Reset()
				if _, err := f.conn.ObjectGet(ctx, c.bucket, key, &buf, false, swift.Headers{"Range": "bytes=65530-131080"}); err != nil ||
					!bytes.Equal(buf.Bytes(), data[65530:131081]) {
					t.Errorf("%s: range GET %d bytes, %v", key, buf.Len(), err)
				}
			}
			// Copy out of the encrypted container into a plain one.
			f.mkContainer(c.bucket + "-plain")
			if _, err := f.conn.ObjectCopy(ctx, c.bucket, "direct", c.bucket+"-plain", "copy", nil); err != nil {
				t.Fatal(err)
			}
			v, _ := f.st.GetObject(c.bucket+"-plain", "copy", "")
			if v.SSE != nil || v.ETag != md5hex(data) {
				t.Errorf("copy to plain container: %+v", v)
			}
		})
	}
}

func TestSSECRefused(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("c")
	key := bytes.Repeat([]byte{0x42}, 32)
	f.putDirect("c", "secret", []byte("customer data"), store.ObjectMeta{UserMeta: map[string]string{"k": "v"}},
		sse.Params{Mode: sse.SSEC, CustomerKey: key, CustomerKeyMD5: sse.KeyMD5(key)})
	resp, body := f.do("GET", "/c/secret", nil, nil)
	expect(t, resp, body, http.StatusBadRequest)
	if !strings.Contains(string(body), "SSE-C") || !strings.Contains(string(body), "S3") {
		t.Errorf("SSE-C refusal %q", body)
	}
	if bytes.Contains(body, []byte("customer data")) {
		t.Errorf("refusal shows data")
	}
	if _, err := f.conn.ObjectGetBytes(ctx, "c", "secret"); !errors.Is(err, swift.BadRequest) {
		t.Errorf("ncw GET of SSE-C: %v", err)
	}
	resp, body = f.do("GET", "/c/secret", map[string]string{"Range": "bytes=0-3"}, nil)
	expect(t, resp, body, http.StatusBadRequest)
	resp, body = f.do("COPY", "/c/secret", map[string]string{"Destination": "c/copy"}, nil)
	expect(t, resp, body, http.StatusBadRequest)
	// Metadata stays visible, so clients can list, stat and delete it.
	_, h, err := f.conn.Object(ctx, "c", "secret")
	if err != nil || h["X-Object-Meta-K"] != "v" {
		t.Errorf("HEAD of SSE-C: %v %v", h, err)
	}
	if err := f.conn.ObjectDelete(ctx, "c", "secret"); err != nil {
		t.Errorf("delete SSE-C: %v", err)
	}
}

func TestMultipartObjects(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		bucket string
		enc    sse.Params
	}{{"mp-plain", noSSE}, {"mp-kms", sse.Params{Mode: sse.SSEKMS}}, {"mp-s3", sse.Params{Mode: sse.SSES3}}} {
		t.Run(c.bucket, func(t *testing.T) {
			f.mkContainer(c.bucket)
			sizes := []int{minPart, minPart + 17, 1000}
			var all []byte
			u, err := objio.CreateUpload(f.st, f.cfg.Keyring, c.bucket, "mp", store.ObjectMeta{ContentType: "video/mp4",
				UserMeta: map[string]string{"parts": "3"}}, c.enc)
			if err != nil {
				t.Fatal(err)
			}
			var parts []store.CompletePart
			for i, n := range sizes {
				d := randBytes(n, uint64(i+10))
				all = append(all, d...)
				p, err := objio.PutPart(f.st, f.cfg.Keyring, c.bucket, "mp", u.ID, i+1, objio.PutInput{Body: bytes.NewReader(d), Size: int64(n)})
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, store.CompletePart{Number: i + 1, ETag: p.ETag})
			}
			v, err := f.st.CompleteUpload(c.bucket, "mp", u.ID, parts)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			h, err := f.conn.ObjectGet(ctx, c.bucket, "mp", &buf, true, nil)
			if err != nil || !bytes.Equal(buf.Bytes(), all) {
				t.Fatalf("GET multipart: %d bytes, %v", buf.Len(), err)
			}
			if h["Etag"] != v.ETag || !strings.HasSuffix(v.ETag, "-3") || h["X-Static-Large-Object"] != "True" ||
				h["X-Object-Meta-Parts"] != "3" || h["Content-Type"] != "video/mp4" {
				t.Errorf("multipart headers %v (stored ETag %s)", h, v.ETag)
			}
			// ncw strips the quotes; Swift sends an SLO's ETag quoted.
			if resp, body := f.do("HEAD", "/"+c.bucket+"/mp", nil, nil); resp.Header.Get("Etag") != `"`+v.ETag+`"` {
				t.Errorf("raw ETag %q, want quoted %q (%s)", resp.Header.Get("Etag"), v.ETag, body)
			}
			for _, r := range [][2]int{{0, 10}, {minPart - 5, minPart + 5}, {2*minPart + 10, len(all) - 1}, {minPart - 1, 2*minPart + 17}} {
				resp, body := f.do("GET", "/"+c.bucket+"/mp", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", r[0], r[1])}, nil)
				expect(t, resp, body, http.StatusPartialContent)
				if !bytes.Equal(body, all[r[0]:r[1]+1]) {
					t.Errorf("range %v across parts differs", r)
				}
			}
			objs, err := f.conn.Objects(ctx, c.bucket, nil)
			if err != nil || len(objs) != 1 || objs[0].Hash != v.ETag || objs[0].Bytes != int64(len(all)) || objs[0].ObjectType != swift.StaticLargeObjectType {
				t.Errorf("listing %+v, %v", objs, err)
			}
			// The manifest view lists the parts, as an SLO's would.
			resp, body := f.do("GET", "/"+c.bucket+"/mp?multipart-manifest=get", nil, nil)
			expect(t, resp, body, http.StatusOK)
			if strings.Count(string(body), `"bytes"`) != 3 {
				t.Errorf("manifest %s", body)
			}
		})
	}
}
