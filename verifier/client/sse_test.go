package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

var customerKey = bytes.Repeat([]byte{7}, 32)

// TestSSEModesS3 writes with every SSE mode over S3 and reads back,
// single-part and multipart; Swift reads what it can.
func TestSSEModesS3(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	s3, sw := newS3At(t, a, false), newSwiftAt(t, a, false)
	mkbucket(t, s3, "enc", client.BucketOptions{})
	ssec := client.SSE{Mode: client.SSEC, Key: customerKey}
	for _, sse := range []client.SSE{{}, {Mode: client.SSES3}, {Mode: client.SSEKMS}, ssec} {
		for _, size := range []int{3000, 11 << 20} {
			t.Run(fmt.Sprintf("%s/%d", sse, size), func(t *testing.T) {
				key := fmt.Sprintf("%s-%d", sse.Mode, size)
				body := payload(uint64(size), size)
				put(t, s3, "enc", key, body, client.PutOptions{SSE: sse, PartSize: 5 << 20, Meta: map[string]string{"k": key}})
				read := client.GetOptions{}
				if sse.Mode == client.SSEC {
					read.SSE = ssec
					_, _, err := s3.Get(ctx, "enc", key, client.GetOptions{})
					if err == nil || client.Classify(err) != history.Failed {
						t.Errorf("SSE-C read without the key: %v", err)
					}
					if _, err := s3.Head(ctx, "enc", key, client.GetOptions{}); err == nil || client.Classify(err) != history.Failed {
						t.Errorf("SSE-C head without the key: %v", err)
					}
				}
				got, info := get(t, s3, "enc", key, read)
				if !bytes.Equal(got, body) || info.SSE != sse.Mode || info.Meta["k"] != key {
					t.Errorf("get: %d bytes, %+v", len(got), info)
				}
				got, info = get(t, s3, "enc", key, client.GetOptions{SSE: read.SSE, Offset: 100, Length: 50})
				if !bytes.Equal(got, body[100:150]) || info.Size != int64(size) {
					t.Errorf("range: %d bytes, size %d", len(got), info.Size)
				}
				if info, err := s3.Head(ctx, "enc", key, read); err != nil || info.SSE != sse.Mode || info.Size != int64(size) {
					t.Errorf("head: %+v %v", info, err)
				}

				// Copy: SSE-C sources need the key; the copy is SSE-S3.
				_, err := s3.Copy(ctx, "enc", key, key+"-copy", client.CopyOptions{SrcSSE: read.SSE, DstSSE: client.SSE{Mode: client.SSES3}})
				if err != nil {
					t.Fatal(err)
				}
				got, info = get(t, s3, "enc", key+"-copy", client.GetOptions{})
				if !bytes.Equal(got, body) || info.SSE != client.SSES3 || info.Meta["k"] != key {
					t.Errorf("copy: %d bytes, %+v", len(got), info)
				}
				if sse.Mode == client.SSEC {
					_, err := s3.Copy(ctx, "enc", key, key+"-nokey", client.CopyOptions{})
					if err == nil || client.Classify(err) != history.Failed {
						t.Errorf("copy of an SSE-C source without its key: %v", err)
					}
					// Copy with metadata, SSE-C to SSE-C with the key.
					_, err = s3.Copy(ctx, "enc", key, key+"-c2", client.CopyOptions{SrcSSE: ssec, DstSSE: ssec, Meta: map[string]string{"n": "2"}})
					if err != nil {
						t.Fatal(err)
					}
					if info, err := s3.Head(ctx, "enc", key+"-c2", read); err != nil || info.SSE != client.SSEC || info.Meta["n"] != "2" {
						t.Errorf("SSE-C copy with metadata: %+v %v", info, err)
					}
				}

				// Metadata update keeps the encryption; SSE-C is refused.
				err = s3.UpdateMeta(ctx, "enc", key, map[string]string{"updated": "yes"})
				if sse.Mode == client.SSEC {
					if err == nil || client.Classify(err) != history.Failed || !strings.Contains(err.Error(), "SSE-C") {
						t.Errorf("update-meta of an SSE-C object: %v", err)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					got, info := get(t, s3, "enc", key, client.GetOptions{})
					if !bytes.Equal(got, body) || info.SSE != sse.Mode || info.Meta["updated"] != "yes" {
						t.Errorf("after update-meta: %d bytes, %+v", len(got), info)
					}
				}

				// Swift reads SSE-S3 and SSE-KMS transparently, refuses SSE-C.
				rc, info, err := sw.Get(ctx, "enc", key, client.GetOptions{})
				if sse.Mode == client.SSEC {
					if err == nil || client.Classify(err) != history.Failed {
						t.Errorf("Swift read of SSE-C: %v", err)
					}
					_, _, err = sw.Get(ctx, "enc", key, client.GetOptions{SSE: ssec})
					if !errors.Is(err, client.ErrUnsupported) {
						t.Errorf("Swift read with an SSE-C key: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				var buf bytes.Buffer
				if _, err := buf.ReadFrom(rc); err != nil || !bytes.Equal(buf.Bytes(), body) || info.Size != int64(size) {
					t.Errorf("Swift read: %d bytes, %+v, %v", buf.Len(), info, err)
				}
			})
		}
	}
}

func TestSwiftRefusesSSEWrites(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	sw := newSwift(t, a)
	mkbucket(t, sw, "swift-enc", client.BucketOptions{})
	put(t, sw, "swift-enc", "plain", []byte("x"), client.PutOptions{})
	for _, sse := range []client.SSE{{Mode: client.SSES3}, {Mode: client.SSEKMS}, {Mode: client.SSEC, Key: customerKey}} {
		_, err := sw.Put(ctx, "swift-enc", "k", strings.NewReader("x"), 1, client.PutOptions{SSE: sse})
		if !errors.Is(err, client.ErrUnsupported) || client.Classify(err) != history.Failed ||
			!strings.Contains(err.Error(), "Swift cannot ask for server-side encryption") {
			t.Errorf("%s: %v", sse, err)
		}
		_, err = sw.Copy(ctx, "swift-enc", "plain", "k", client.CopyOptions{DstSSE: sse})
		if !errors.Is(err, client.ErrUnsupported) {
			t.Errorf("copy %s: %v", sse, err)
		}
	}
	if _, err := sw.Head(ctx, "swift-enc", "k", client.GetOptions{}); !client.IsNotFound(err) {
		t.Errorf("a refused write left an object: %v", err)
	}
}

func TestSSEValidation(t *testing.T) {
	_, a, _ := start(t)
	s3 := newS3(t, a)
	for _, sse := range []client.SSE{{Mode: "AES"}, {Mode: client.SSEC, Key: []byte("short")}, {Mode: client.SSES3, KMSKeyID: "k"}} {
		_, err := s3.Put(context.Background(), "any", "k", strings.NewReader("x"), 1, client.PutOptions{SSE: sse})
		if !errors.Is(err, client.ErrInvalid) || client.Classify(err) != history.Failed {
			t.Errorf("%+v: %v", sse.Mode, err)
		}
	}
}

func TestSSENeverShowsKey(t *testing.T) {
	key := bytes.Repeat([]byte("K"), 32)
	s := client.SSE{Mode: client.SSEC, Key: key}
	o := client.PutOptions{SSE: s}
	js, _ := json.Marshal(o)
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v %s", s, o, o, s), string(js)} {
		if strings.Contains(out, "KKKK") || strings.Contains(out, "S0tL") /* base64 */ || strings.Contains(out, "4b4b") {
			t.Errorf("key shown: %s", out)
		}
		if !strings.Contains(out, "SSE-C") {
			t.Errorf("mode not shown: %s", out)
		}
	}
	if got := (client.SSE{Mode: client.SSEKMS, KMSKeyID: "k1"}).String(); got != "SSE-KMS(k1)" {
		t.Errorf("KMS: %s", got)
	}
}
