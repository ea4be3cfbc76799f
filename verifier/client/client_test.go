package client_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestRoundTrip(t *testing.T) {
	_, a, _ := start(t)
	for _, c := range both(t, a) {
		t.Run(c.API(), func(t *testing.T) {
			ctx := context.Background()
			bucket := "rt-" + c.API()
			mkbucket(t, c, bucket, client.BucketOptions{})
			body := payload(1, 1000)
			meta := map[string]string{"op": "w1", "color": "blue"}
			res := put(t, c, bucket, "dir/a", body, client.PutOptions{ContentType: "text/plain", Meta: meta})
			if res.ETag != md5hex(body) {
				t.Errorf("put ETag %q, want the body's MD5 %s", res.ETag, md5hex(body))
			}

			got, info := get(t, c, bucket, "dir/a", client.GetOptions{})
			if !bytes.Equal(got, body) {
				t.Fatalf("get returned %d bytes, not what was put", len(got))
			}
			if info.Size != 1000 || info.ContentType != "text/plain" || !equalMeta(info.Meta, meta) ||
				info.ETag != res.ETag || info.LastModified.IsZero() || info.SSE != "" {
				t.Errorf("get info %+v", info)
			}
			got, info = get(t, c, bucket, "dir/a", client.GetOptions{Offset: 10, Length: 20})
			if !bytes.Equal(got, body[10:30]) || info.Size != 1000 {
				t.Errorf("range 10+20: %d bytes, size %d", len(got), info.Size)
			}
			got, _ = get(t, c, bucket, "dir/a", client.GetOptions{Offset: 990})
			if !bytes.Equal(got, body[990:]) {
				t.Errorf("range from 990: %d bytes", len(got))
			}
			hinfo, err := c.Head(ctx, bucket, "dir/a", client.GetOptions{})
			if err != nil || hinfo.Size != 1000 || hinfo.ETag != res.ETag || !equalMeta(hinfo.Meta, meta) ||
				hinfo.ContentType != "text/plain" {
				t.Errorf("head %+v %v", hinfo, err)
			}

			// Copy keeping the metadata, then replacing it.
			if _, err := c.Copy(ctx, bucket, "dir/a", "dir/b", client.CopyOptions{}); err != nil {
				t.Fatal(err)
			}
			if got, info := get(t, c, bucket, "dir/b", client.GetOptions{}); !bytes.Equal(got, body) ||
				!equalMeta(info.Meta, meta) || info.ContentType != "text/plain" {
				t.Errorf("copy: %d bytes, info %+v", len(got), info)
			}
			if _, err := c.Copy(ctx, bucket, "dir/a", "dir/c", client.CopyOptions{Meta: map[string]string{"x": "y"}}); err != nil {
				t.Fatal(err)
			}
			if info, err := c.Head(ctx, bucket, "dir/c", client.GetOptions{}); err != nil ||
				!equalMeta(info.Meta, map[string]string{"x": "y"}) || info.ContentType != "text/plain" {
				t.Errorf("copy with metadata: %+v %v", info, err)
			}

			// Metadata update keeps data and content type.
			if err := c.UpdateMeta(ctx, bucket, "dir/a", map[string]string{"color": "red"}); err != nil {
				t.Fatal(err)
			}
			got, info = get(t, c, bucket, "dir/a", client.GetOptions{})
			if !bytes.Equal(got, body) || !equalMeta(info.Meta, map[string]string{"color": "red"}) || info.ContentType != "text/plain" {
				t.Errorf("after update-meta: %d bytes, info %+v", len(got), info)
			}

			put(t, c, bucket, "other", []byte("x"), client.PutOptions{})
			list, err := c.List(ctx, bucket, "dir/")
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, e := range list {
				keys = append(keys, e.Key)
				if e.Size != 1000 || e.ETag != md5hex(body) {
					t.Errorf("list entry %+v", e)
				}
			}
			if !slices.Equal(keys, []string{"dir/a", "dir/b", "dir/c"}) {
				t.Errorf("list dir/: %q", keys)
			}

			if _, err := c.Delete(ctx, bucket, "dir/b", ""); err != nil {
				t.Fatal(err)
			}
			_, err = c.Head(ctx, bucket, "dir/b", client.GetOptions{})
			if !client.IsNotFound(err) || client.Classify(err) != history.Failed {
				t.Errorf("head after delete: %v (not found %v, %s)", err, client.IsNotFound(err), client.Classify(err))
			}
			_, _, err = c.Get(ctx, bucket, "dir/b", client.GetOptions{})
			if !client.IsNotFound(err) || client.Classify(err) != history.Failed || !strings.Contains(err.Error(), bucket+"/dir/b") {
				t.Errorf("get after delete: %v", err)
			}

			err = c.DeleteBucket(ctx, bucket)
			if err == nil || client.Classify(err) != history.Failed {
				t.Errorf("deleting a bucket with objects: %v", err)
			}
			for _, k := range []string{"dir/a", "dir/c", "other"} {
				if _, err := c.Delete(ctx, bucket, k, ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.DeleteBucket(ctx, bucket); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCrossAPI writes over one API and reads over the other, at one site.
func TestCrossAPI(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	s3, sw := newS3(t, a), newSwift(t, a)
	mkbucket(t, s3, "cross", client.BucketOptions{})
	meta := map[string]string{"op": "w1", "seed": "42"}
	for _, tc := range []struct{ from, to client.Client }{{s3, sw}, {sw, s3}} {
		key := "from-" + tc.from.API()
		body := payload(2, 4096)
		put(t, tc.from, "cross", key, body, client.PutOptions{ContentType: "application/x-test", Meta: meta})
		got, info := get(t, tc.to, "cross", key, client.GetOptions{})
		if !bytes.Equal(got, body) || !equalMeta(info.Meta, meta) || info.ContentType != "application/x-test" ||
			info.Size != 4096 || info.ETag != md5hex(body) {
			t.Errorf("%s → %s: %d bytes, info %+v", tc.from.API(), tc.to.API(), len(got), info)
		}
		if err := tc.to.UpdateMeta(ctx, "cross", key, map[string]string{"by": tc.to.API()}); err != nil {
			t.Fatal(err)
		}
		info, err := tc.from.Head(ctx, "cross", key, client.GetOptions{})
		if err != nil || !equalMeta(info.Meta, map[string]string{"by": tc.to.API()}) || info.ContentType != "application/x-test" {
			t.Errorf("metadata updated over %s, seen over %s: %+v %v", tc.to.API(), tc.from.API(), info, err)
		}
	}
	// Both list the same keys.
	l1, err1 := s3.List(ctx, "cross", "")
	l2, err2 := sw.List(ctx, "cross", "")
	if err1 != nil || err2 != nil || len(l1) != 2 || !slices.Equal(l1, l2) {
		t.Errorf("listings differ: %+v %v / %+v %v", l1, err1, l2, err2)
	}
}

func TestMultipart(t *testing.T) {
	_, a, _ := start(t)
	s3, sw := newS3At(t, a, false), newSwiftAt(t, a, false)
	mkbucket(t, s3, "mpu", client.BucketOptions{})
	body := payload(3, 11<<20)
	res := put(t, s3, "mpu", "big", body, client.PutOptions{PartSize: 5 << 20, Meta: map[string]string{"op": "m1"}})
	if !strings.HasSuffix(res.ETag, "-3") {
		t.Errorf("11 MiB in 5 MiB parts: ETag %q, want 3 parts", res.ETag)
	}
	for _, c := range []client.Client{s3, sw} {
		got, info := get(t, c, "mpu", "big", client.GetOptions{})
		if !bytes.Equal(got, body) || info.Size != 11<<20 || info.Meta["op"] != "m1" {
			t.Errorf("%s read of the multipart object: %d bytes, %+v", c.API(), len(got), info)
		}
	}
	// Without PartSize, or at most PartSize: a single PUT, plain MD5 ETag.
	res = put(t, s3, "mpu", "single", body, client.PutOptions{})
	if res.ETag != md5hex(body) {
		t.Errorf("single PUT ETag %q", res.ETag)
	}

	ctx := context.Background()
	_, err := s3.Put(ctx, "mpu", "small-parts", bytes.NewReader(body), int64(len(body)), client.PutOptions{PartSize: 1 << 20})
	if !errors.Is(err, client.ErrInvalid) || client.Classify(err) != history.Failed {
		t.Errorf("1 MiB parts: %v", err)
	}
	_, err = sw.Put(ctx, "mpu", "swift-parts", bytes.NewReader(body), int64(len(body)), client.PutOptions{PartSize: 5 << 20})
	if !errors.Is(err, client.ErrUnsupported) || client.Classify(err) != history.Failed {
		t.Errorf("Swift multipart: %v", err)
	}
}

// TestListPaginates lists more keys than one page holds, over both APIs.
func TestListPaginates(t *testing.T) {
	_, a, _ := start(t)
	s3, sw := newS3At(t, a, false), newSwiftAt(t, a, false)
	mkbucket(t, s3, "many", client.BucketOptions{})
	const n = 1010
	var wg sync.WaitGroup
	keys := make(chan string)
	errs := make(chan error, n)
	for range 16 {
		wg.Go(func() {
			for k := range keys {
				if _, err := s3.Put(context.Background(), "many", k, strings.NewReader("x"), 1, client.PutOptions{}); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		keys <- fmt.Sprintf("k/%05d", i)
	}
	close(keys)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	put(t, s3, "many", "z", []byte("z"), client.PutOptions{})
	for _, c := range []client.Client{s3, sw} {
		l, err := c.List(context.Background(), "many", "k/")
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != n || l[0].Key != "k/00000" || l[n-1].Key != fmt.Sprintf("k/%05d", n-1) {
			t.Errorf("%s listed %d keys", c.API(), len(l))
		}
	}
}

func TestVersions(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	s3, sw := newS3(t, a), newSwift(t, a)
	mkbucket(t, s3, "ver", client.BucketOptions{Versioning: true})
	v1 := put(t, s3, "ver", "k", []byte("one"), client.PutOptions{})
	v2 := put(t, s3, "ver", "k", []byte("two"), client.PutOptions{})
	if v1.VersionID == "" || v2.VersionID == "" || v1.VersionID == v2.VersionID {
		t.Fatalf("versions %q %q", v1.VersionID, v2.VersionID)
	}
	if got, info := get(t, s3, "ver", "k", client.GetOptions{VersionID: v1.VersionID}); string(got) != "one" || info.VersionID != v1.VersionID {
		t.Errorf("version 1: %q %+v", got, info)
	}
	del, err := s3.Delete(ctx, "ver", "k", "")
	if err != nil || del.VersionID == "" || del.VersionID == v2.VersionID {
		t.Fatalf("delete: %+v %v (want a delete marker's version)", del, err)
	}
	if _, err := s3.Head(ctx, "ver", "k", client.GetOptions{}); !client.IsNotFound(err) {
		t.Errorf("head after delete: %v", err)
	}
	if got, _ := get(t, s3, "ver", "k", client.GetOptions{VersionID: v2.VersionID}); string(got) != "two" {
		t.Errorf("version 2 after delete: %q", got)
	}
	if res, err := s3.Delete(ctx, "ver", "k", v1.VersionID); err != nil || res.VersionID != v1.VersionID {
		t.Errorf("delete version 1: %+v %v", res, err)
	}
	_, _, err = sw.Get(ctx, "ver", "k", client.GetOptions{VersionID: v2.VersionID})
	if !errors.Is(err, client.ErrUnsupported) || client.Classify(err) != history.Failed {
		t.Errorf("Swift read of a version: %v", err)
	}
	if _, err := sw.Delete(ctx, "ver", "k", v2.VersionID); !errors.Is(err, client.ErrUnsupported) {
		t.Errorf("Swift delete of a version: %v", err)
	}
	if err := sw.CreateBucket(ctx, "ver-swift", client.BucketOptions{Versioning: true}); !errors.Is(err, client.ErrUnsupported) {
		t.Errorf("Swift versioned container: %v", err)
	}
}

func TestBucketPolicy(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	s3, sw := newS3(t, a), newSwift(t, a)
	mkbucket(t, s3, "gp-s3", client.BucketOptions{Policy: "gp.recurring"})
	mkbucket(t, sw, "gp-swift", client.BucketOptions{Policy: "gp.recurring"})
	for _, b := range []string{"gp-s3", "gp-swift"} {
		_, h, err := sw.Connection().Container(ctx, b)
		if err != nil || h["X-Storage-Policy"] != "gp.recurring" {
			t.Errorf("%s: policy %q %v", b, h["X-Storage-Policy"], err)
		}
	}
	// A replicated endpoint refuses a policy that does not replicate.
	for _, c := range []client.Client{s3, sw} {
		err := c.CreateBucket(ctx, "cold-"+c.API(), client.BucketOptions{Policy: "archive.cold"})
		if err == nil || client.Classify(err) != history.Failed {
			t.Errorf("%s: archive.cold on a replicated endpoint: %v", c.API(), err)
		}
	}
}

// TestDefaultContentType: a Put without a content type stores the same
// one over both APIs, whatever the key's extension.
func TestDefaultContentType(t *testing.T) {
	_, a, _ := start(t)
	for _, c := range both(t, a) {
		b := "ct-" + c.API()
		mkbucket(t, c, b, client.BucketOptions{})
		put(t, c, b, "page.html", []byte("<p>"), client.PutOptions{})
		if info, err := c.Head(context.Background(), b, "page.html", client.GetOptions{}); err != nil ||
			info.ContentType != "application/octet-stream" {
			t.Errorf("%s: %q %v", c.API(), info.ContentType, err)
		}
	}
}
