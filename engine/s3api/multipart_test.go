package s3api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestMultipartPutObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // S3's 5 MiB minimum part size
	b := e.bucket("bigput")
	data := randBytes(3, 12<<20+12345)
	info := e.put(b, "big", data, minio.PutObjectOptions{PartSize: 5 << 20})
	if !strings.HasSuffix(info.ETag, "-3") {
		t.Errorf("multipart ETag %q, want a -3 suffix", info.ETag)
	}
	if got := e.mustGet(b, "big", minio.GetObjectOptions{}); !bytes.Equal(got, data) {
		t.Fatal("multipart object reads back different")
	}
	opts := minio.GetObjectOptions{}
	opts.SetRange(5<<20-10, 5<<20+9) // across a part boundary
	if got := e.mustGet(b, "big", opts); !bytes.Equal(got, data[5<<20-10:5<<20+10]) {
		t.Error("range across parts differs")
	}
	// partNumber reads one part.
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/big", query: "partNumber=2"})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[5<<20:10<<20]) || resp.Header.Get("X-Amz-Mp-Parts-Count") != "3" {
		t.Errorf("partNumber=2: %d, %d bytes, parts-count %q", resp.StatusCode, len(body), resp.Header.Get("X-Amz-Mp-Parts-Count"))
	}
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/big", query: "partNumber=4"})
	expectError(t, resp, body, 416, "InvalidPartNumber")

	// Too-small parts are refused at completion.
	ctx := context.Background()
	id, err := e.core.NewMultipartUpload(ctx, b, "small", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := e.core.PutObjectPart(ctx, b, "small", id, 1, bytes.NewReader([]byte("tiny")), 4, minio.PutObjectPartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.core.PutObjectPart(ctx, b, "small", id, 2, bytes.NewReader([]byte("tiny")), 4, minio.PutObjectPartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.core.CompleteMultipartUpload(ctx, b, "small", id, []minio.CompletePart{{PartNumber: 1, ETag: p1.ETag}, {PartNumber: 2, ETag: p2.ETag}}, minio.PutObjectOptions{})
	expectCode(t, err, "EntityTooSmall")
}

func TestMultipartCore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, quickParts)
	ctx := context.Background()
	b := e.bucket("mpcore")
	// Something to damage if a failed completion went wrong.
	e.put(b, "obj", []byte("original"), minio.PutObjectOptions{})

	id, err := e.core.NewMultipartUpload(ctx, b, "obj", minio.PutObjectOptions{ContentType: "text/x-mp", UserMetadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []minio.CompletePart
	var want []byte
	for n := 1; n <= 3; n++ {
		chunk := randBytes(uint64(10+n), 1000*n)
		want = append(want, chunk...)
		p, err := e.core.PutObjectPart(ctx, b, "obj", id, n, bytes.NewReader(chunk), int64(len(chunk)), minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sum := md5.Sum(chunk); p.ETag != hex.EncodeToString(sum[:]) {
			t.Errorf("part %d ETag %q", n, p.ETag)
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
	}
	lp, err := e.core.ListObjectParts(ctx, b, "obj", id, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.ObjectParts) != 2 || !lp.IsTruncated || lp.NextPartNumberMarker != 2 || lp.ObjectParts[1].Size != 2000 {
		t.Errorf("ListParts page 1: %+v", lp)
	}
	lp, err = e.core.ListObjectParts(ctx, b, "obj", id, 2, 2)
	if err != nil || len(lp.ObjectParts) != 1 || lp.IsTruncated || lp.ObjectParts[0].PartNumber != 3 {
		t.Errorf("ListParts page 2: %+v %v", lp, err)
	}
	lu, err := e.core.ListMultipartUploads(ctx, b, "", "", "", "", 100)
	if err != nil || len(lu.Uploads) != 1 || lu.Uploads[0].UploadID != id || lu.Uploads[0].Key != "obj" {
		t.Errorf("ListMultipartUploads: %+v %v", lu, err)
	}

	// Bad completions leave the upload and the existing object alone.
	_, err = e.core.CompleteMultipartUpload(ctx, b, "obj", id, []minio.CompletePart{parts[1], parts[0]}, minio.PutObjectOptions{})
	expectCode(t, err, "InvalidPartOrder")
	_, err = e.core.CompleteMultipartUpload(ctx, b, "obj", id, []minio.CompletePart{{PartNumber: 1, ETag: "0123456789abcdef0123456789abcdef"}}, minio.PutObjectOptions{})
	expectCode(t, err, "InvalidPart")
	_, err = e.core.CompleteMultipartUpload(ctx, b, "obj", id, []minio.CompletePart{{PartNumber: 9, ETag: parts[0].ETag}}, minio.PutObjectOptions{})
	expectCode(t, err, "InvalidPart")
	resp, body := e.raw(rawReq{method: http.MethodPost, path: "/" + b + "/obj", query: "uploadId=" + id, body: []byte("<CompleteMultipartUpload><Part>")})
	expectError(t, resp, body, 400, "MalformedXML")
	if got := e.mustGet(b, "obj", minio.GetObjectOptions{}); string(got) != "original" {
		t.Errorf("failed completions changed the object: %q", got)
	}

	info, err := e.core.CompleteMultipartUpload(ctx, b, "obj", id, parts, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.ETag, "-3") {
		t.Errorf("ETag %q", info.ETag)
	}
	if got := e.mustGet(b, "obj", minio.GetObjectOptions{}); !bytes.Equal(got, want) {
		t.Error("completed object differs")
	}
	st, err := e.mc.StatObject(ctx, b, "obj", minio.StatObjectOptions{})
	if err != nil || st.ContentType != "text/x-mp" || st.UserMetadata["K"] != "v" || st.Size != int64(len(want)) {
		t.Errorf("stat after complete: %+v %v", st, err)
	}
	_, err = e.core.CompleteMultipartUpload(ctx, b, "obj", id, parts, minio.PutObjectOptions{})
	expectCode(t, err, "NoSuchUpload")

	// Abort.
	id2, err := e.core.NewMultipartUpload(ctx, b, "aborted", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.PutObjectPart(ctx, b, "aborted", id2, 1, strings.NewReader("x"), 1, minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.core.AbortMultipartUpload(ctx, b, "aborted", id2); err != nil {
		t.Fatal(err)
	}
	expectCode(t, e.core.AbortMultipartUpload(ctx, b, "aborted", id2), "NoSuchUpload")
	_, err = e.core.PutObjectPart(ctx, b, "aborted", id2, 2, strings.NewReader("x"), 1, minio.PutObjectPartOptions{})
	expectCode(t, err, "NoSuchUpload")
	lu, err = e.core.ListMultipartUploads(ctx, b, "", "", "", "", 100)
	if err != nil || len(lu.Uploads) != 0 {
		t.Errorf("uploads left: %+v %v", lu, err)
	}

	// Part numbers out of range.
	id3, _ := e.core.NewMultipartUpload(ctx, b, "p", minio.PutObjectOptions{})
	for _, n := range []string{"0", "10001", "x"} {
		resp, body := e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/p", query: "partNumber=" + n + "&uploadId=" + id3, body: []byte("x")})
		expectError(t, resp, body, 400, "InvalidArgument")
	}

	// UploadPartCopy with a range.
	src := randBytes(77, 5000)
	e.put(b, "src", src, minio.PutObjectOptions{})
	id4, _ := e.core.NewMultipartUpload(ctx, b, "assembled", minio.PutObjectOptions{})
	cp1, err := e.core.CopyObjectPart(ctx, b, "src", b, "assembled", id4, 1, 0, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp2, err := e.core.CopyObjectPart(ctx, b, "src", b, "assembled", id4, 2, 4000, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.CompleteMultipartUpload(ctx, b, "assembled", id4, []minio.CompletePart{cp1, cp2}, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustGet(b, "assembled", minio.GetObjectOptions{}); !bytes.Equal(got, append(append([]byte{}, src[:1000]...), src[4000:]...)) {
		t.Error("UploadPartCopy assembled other bytes")
	}
	id5, _ := e.core.NewMultipartUpload(ctx, b, "badrange", minio.PutObjectOptions{})
	_, err = e.core.CopyObjectPart(ctx, b, "src", b, "badrange", id5, 1, 4000, 2000, nil)
	expectCode(t, err, "InvalidArgument")
}

func TestListUploadsPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, quickParts)
	ctx := context.Background()
	b := e.bucket("uploads")
	for i := range 5 {
		if _, err := e.core.NewMultipartUpload(ctx, b, fmt.Sprintf("d%d/k", i%2), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for u := range e.mc.ListIncompleteUploads(ctx, b, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		seen++
	}
	if seen != 5 {
		t.Errorf("%d uploads listed, want 5", seen)
	}
	lu, err := e.core.ListMultipartUploads(ctx, b, "", "", "", "/", 100)
	if err != nil || len(lu.CommonPrefixes) != 2 || len(lu.Uploads) != 0 {
		t.Errorf("delimited uploads: %+v %v", lu, err)
	}
	lu, err = e.core.ListMultipartUploads(ctx, b, "", "", "", "", 2)
	if err != nil || len(lu.Uploads) != 2 || !lu.IsTruncated {
		t.Fatalf("page 1: %+v %v", lu, err)
	}
	lu2, err := e.core.ListMultipartUploads(ctx, b, "", lu.NextKeyMarker, lu.NextUploadIDMarker, "", 10)
	if err != nil || len(lu2.Uploads) != 3 || lu2.IsTruncated {
		t.Errorf("page 2: %+v %v", lu2, err)
	}
}
