package s3api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	minsse "github.com/minio/minio-go/v7/pkg/sse"

	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

var (
	customerKey  = bytes.Repeat([]byte{0x42}, 32)
	customerKey2 = bytes.Repeat([]byte{0x17}, 32)
)

func mustSSEC(t testing.TB, key []byte) encrypt.ServerSide {
	t.Helper()
	s, err := encrypt.NewSSEC(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storedBytes returns what the store holds for the latest version of key.
func storedBytes(t *testing.T, e *env, bucket, key string) []byte {
	t.Helper()
	v, err := e.st.GetObject(bucket, key, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.st.Open(v)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := io.ReadAll(io.NewSectionReader(d, 0, d.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSSEModes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("encrypted")
	kms, err := encrypt.NewSSEKMS(sse.GeneratedKMSKeyID, nil)
	if err != nil {
		t.Fatal(err)
	}
	ssec := mustSSEC(t, customerKey)
	small := randBytes(21, 200_000)
	large := randBytes(22, 11<<20+777)
	for _, tc := range []struct {
		name   string
		enc    encrypt.ServerSide
		header string // response header proving the mode
		value  string
	}{
		{"SSE-S3", encrypt.NewSSE(), "X-Amz-Server-Side-Encryption", "AES256"},
		{"SSE-KMS", kms, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", sse.GeneratedKMSKeyID},
		{"SSE-C", ssec, "X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getOpts := minio.GetObjectOptions{}
			if tc.enc.Type() == encrypt.SSEC {
				getOpts.ServerSideEncryption = tc.enc
			}
			for _, obj := range []struct {
				key  string
				data []byte
				opts minio.PutObjectOptions
			}{
				{tc.name + "/small", small, minio.PutObjectOptions{ServerSideEncryption: tc.enc}},
				{tc.name + "/multipart", large, minio.PutObjectOptions{ServerSideEncryption: tc.enc, PartSize: 5 << 20}},
			} {
				e.put(b, obj.key, obj.data, obj.opts)
				if got := e.mustGet(b, obj.key, getOpts); !bytes.Equal(got, obj.data) {
					t.Fatalf("%s: plaintext differs", obj.key)
				}
				if raw := storedBytes(t, e, b, obj.key); bytes.Contains(raw, obj.data[:4096]) || len(raw) <= len(obj.data) {
					t.Errorf("%s: the store holds plaintext (%d bytes)", obj.key, len(raw))
				}
				for _, r := range [][2]int64{{0, 0}, {1, 100}, {65535, 65537}, {int64(len(obj.data)) - 10, int64(len(obj.data)) - 1}, {100_000, 199_999}} {
					o := getOpts
					o.SetRange(r[0], r[1])
					if got := e.mustGet(b, obj.key, o); !bytes.Equal(got, obj.data[r[0]:r[1]+1]) {
						t.Errorf("%s range %v differs", obj.key, r)
					}
				}
				st, err := e.mc.StatObject(ctx, b, obj.key, minio.StatObjectOptions{ServerSideEncryption: getOpts.ServerSideEncryption})
				if err != nil {
					t.Fatal(err)
				}
				if st.Size != int64(len(obj.data)) || st.Metadata.Get(tc.header) != tc.value {
					t.Errorf("%s stat: size %d, %s=%q", obj.key, st.Size, tc.header, st.Metadata.Get(tc.header))
				}
			}
		})
	}

	// SSE-C key problems.
	key := "SSE-C/small"
	_, err = e.get(b, key, minio.GetObjectOptions{})
	expectCode(t, err, "InvalidRequest")
	_, err = e.get(b, key, minio.GetObjectOptions{ServerSideEncryption: mustSSEC(t, customerKey2)})
	expectCode(t, err, "AccessDenied")
	_, err = e.mc.StatObject(ctx, b, key, minio.StatObjectOptions{})
	expectCode(t, err, "InvalidRequest")
	_, err = e.mc.StatObject(ctx, b, key, minio.StatObjectOptions{ServerSideEncryption: mustSSEC(t, customerKey2)})
	expectCode(t, err, "AccessDenied")
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/" + key})
	se := expectError(t, resp, body, 400, "InvalidRequest")
	if se.Message != "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object." {
		t.Errorf("message %q", se.Message)
	}
	// SSE-C headers on an object that is not SSE-C.
	_, err = e.get(b, "SSE-S3/small", minio.GetObjectOptions{ServerSideEncryption: ssec})
	expectCode(t, err, "InvalidRequest")
	// Unknown KMS key.
	bad, _ := encrypt.NewSSEKMS("no-such-key", nil)
	_, err = e.mc.PutObject(ctx, b, "kms-bad", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{ServerSideEncryption: bad})
	expectCode(t, err, "KMS.NotFoundException")
	// Bad SSE header combinations are the sse package's HeaderErrors.
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/hdr", body: []byte("x"),
		header: http.Header{"X-Amz-Server-Side-Encryption": {"DES"}}})
	expectError(t, resp, body, 400, "InvalidEncryptionAlgorithmError")

	// SSE-C multipart parts need the key again.
	mp, err := e.core.NewMultipartUpload(ctx, b, "ssec-mp", minio.PutObjectOptions{ServerSideEncryption: ssec})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.core.PutObjectPart(ctx, b, "ssec-mp", mp, 1, bytes.NewReader([]byte("x")), 1, minio.PutObjectPartOptions{})
	expectCode(t, err, "InvalidRequest")
	_, err = e.core.PutObjectPart(ctx, b, "ssec-mp", mp, 1, bytes.NewReader([]byte("x")), 1, minio.PutObjectPartOptions{SSE: mustSSEC(t, customerKey2)})
	expectCode(t, err, "AccessDenied")
}

func TestSSEBucketDefaultAndCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("defaults")

	_, err := e.mc.GetBucketEncryption(ctx, b)
	expectCode(t, err, "ServerSideEncryptionConfigurationNotFoundError")
	if err := e.mc.SetBucketEncryption(ctx, b, minsse.NewConfigurationSSES3()); err != nil {
		t.Fatal(err)
	}
	cfg, err := e.mc.GetBucketEncryption(ctx, b)
	if err != nil || len(cfg.Rules) != 1 || cfg.Rules[0].Apply.SSEAlgorithm != "AES256" {
		t.Fatalf("GetBucketEncryption: %+v %v", cfg, err)
	}
	e.put(b, "by-default", []byte("secret default"), minio.PutObjectOptions{})
	resp, _ := e.raw(rawReq{method: http.MethodHead, path: "/" + b + "/by-default"})
	if resp.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Errorf("default SSE-S3 not applied: %v", resp.Header)
	}
	if bytes.Contains(storedBytes(t, e, b, "by-default"), []byte("secret default")) {
		t.Error("default-encrypted object stored in clear")
	}

	if err := e.mc.SetBucketEncryption(ctx, b, minsse.NewConfigurationSSEKMS(sse.GeneratedKMSKeyID)); err != nil {
		t.Fatal(err)
	}
	e.put(b, "by-kms", []byte("kms default"), minio.PutObjectOptions{})
	resp, _ = e.raw(rawReq{method: http.MethodHead, path: "/" + b + "/by-kms"})
	if resp.Header.Get("X-Amz-Server-Side-Encryption") != "aws:kms" {
		t.Errorf("default SSE-KMS not applied: %v", resp.Header)
	}
	err = e.mc.SetBucketEncryption(ctx, b, minsse.NewConfigurationSSEKMS("missing-key"))
	expectCode(t, err, "KMS.NotFoundException")
	if err := e.mc.RemoveBucketEncryption(ctx, b); err != nil {
		t.Fatal(err)
	}
	_, err = e.mc.GetBucketEncryption(ctx, b)
	expectCode(t, err, "ServerSideEncryptionConfigurationNotFoundError")
	resp, body := e.raw(rawReq{method: http.MethodPut, path: "/" + b, query: "encryption", body: []byte("<ServerSideEncryptionConfiguration>")})
	expectError(t, resp, body, 400, "MalformedXML")

	// Copy an SSE-C source to an SSE-S3 destination.
	ssec := mustSSEC(t, customerKey)
	data := randBytes(31, 150_000)
	e.put(b, "ssec-src", data, minio.PutObjectOptions{ServerSideEncryption: ssec})
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "s3-dst", Encryption: encrypt.NewSSE()},
		minio.CopySrcOptions{Bucket: b, Object: "ssec-src"})
	expectCode(t, err, "InvalidRequest")
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "s3-dst", Encryption: encrypt.NewSSE()},
		minio.CopySrcOptions{Bucket: b, Object: "ssec-src", Encryption: mustSSEC(t, customerKey2)})
	expectCode(t, err, "AccessDenied")
	if _, err := e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "s3-dst", Encryption: encrypt.NewSSE()},
		minio.CopySrcOptions{Bucket: b, Object: "ssec-src", Encryption: ssec}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustGet(b, "s3-dst", minio.GetObjectOptions{}); !bytes.Equal(got, data) {
		t.Error("SSE-C → SSE-S3 copy differs")
	}
	resp, _ = e.raw(rawReq{method: http.MethodHead, path: "/" + b + "/s3-dst"})
	if resp.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Errorf("copy destination not SSE-S3: %v", resp.Header)
	}
	// Copying an SSE-C object onto itself with a new key is a key rotation.
	if _, err := e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "ssec-src", Encryption: mustSSEC(t, customerKey2)},
		minio.CopySrcOptions{Bucket: b, Object: "ssec-src", Encryption: ssec}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustGet(b, "ssec-src", minio.GetObjectOptions{ServerSideEncryption: mustSSEC(t, customerKey2)}); !bytes.Equal(got, data) {
		t.Error("rotated SSE-C object differs")
	}
}

// TestSSECorruptData: stored ciphertext that fails authentication is a 500,
// never plaintext garbage.
func TestSSECorruptData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.logs.allow("decryption failed")
	b := e.bucket("corrupt")
	e.put(b, "good", []byte("some data"), minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE()})
	good, err := e.st.GetObject(b, "good", "")
	if err != nil {
		t.Fatal(err)
	}
	// Random bytes of the right size under a real envelope.
	const n = 100_000
	id, size, err := e.st.WriteBlob(bytes.NewReader(randBytes(41, int(sse.CiphertextSize(n)))))
	if err != nil {
		t.Fatal(err)
	}
	meta := store.ObjectMeta{Size: n, ETag: "0123456789abcdef0123456789abcdef", SSE: good.SSE,
		Parts: []store.Part{{Number: 1, Blob: id, Size: size, PlainSize: n, ETag: "0123456789abcdef0123456789abcdef"}}}
	if _, err := e.st.CommitObject(b, "bad", meta); err != nil {
		t.Fatal(err)
	}
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/bad"})
	expectError(t, resp, body, 500, "InternalError")
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/bad", header: http.Header{"Range": {"bytes=70000-70010"}}})
	expectError(t, resp, body, 500, "InternalError")

	// Corruption past the first chunks: the headers are out when it is
	// found, so the response must break off rather than end normally.
	env, dk, err := e.cfg.Keyring.Seal(sse.Params{Mode: sse.SSES3})
	if err != nil {
		t.Fatal(err)
	}
	plain := randBytes(42, 1<<20)
	ct, err := io.ReadAll(sse.EncryptReader(dk, 1, bytes.NewReader(plain)))
	if err != nil {
		t.Fatal(err)
	}
	ct[900_000] ^= 1
	id, size, err = e.st.WriteBlob(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	meta = store.ObjectMeta{Size: int64(len(plain)), ETag: "0123456789abcdef0123456789abcdef", SSE: env,
		Parts: []store.Part{{Number: 1, Blob: id, Size: size, PlainSize: int64(len(plain)), ETag: "0123456789abcdef0123456789abcdef"}}}
	if _, err := e.st.CommitObject(b, "late", meta); err != nil {
		t.Fatal(err)
	}
	req := e.newRaw(rawReq{method: http.MethodGet, path: "/" + b + "/late"})
	lresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(lresp.Body)
	lresp.Body.Close()
	if err == nil || len(got) >= 900_000 || !bytes.Equal(got, plain[:len(got)]) {
		t.Errorf("late corruption: status %d, read %d bytes, err %v; want a broken-off prefix of the plaintext", lresp.StatusCode, len(got), err)
	}
	if got := e.mustGet(b, "good", minio.GetObjectOptions{}); string(got) != "some data" {
		t.Errorf("good object: %q", got)
	}
}
