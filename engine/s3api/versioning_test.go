package s3api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestVersioning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("versioned")

	// A "null" version from before versioning.
	e.put(b, "k", []byte("v0"), minio.PutObjectOptions{})
	cfg, err := e.mc.GetBucketVersioning(ctx, b)
	if err != nil || cfg.Status != "" {
		t.Fatalf("initial versioning: %+v %v", cfg, err)
	}
	if err := e.mc.EnableVersioning(ctx, b); err != nil {
		t.Fatal(err)
	}
	if cfg, err := e.mc.GetBucketVersioning(ctx, b); err != nil || !cfg.Enabled() {
		t.Fatalf("versioning after enable: %+v %v", cfg, err)
	}
	v1 := e.put(b, "k", []byte("v1"), minio.PutObjectOptions{})
	v2 := e.put(b, "k", []byte("v2"), minio.PutObjectOptions{})
	if v1.VersionID == "" || v2.VersionID == "" || v1.VersionID == v2.VersionID {
		t.Fatalf("version ids %q %q", v1.VersionID, v2.VersionID)
	}
	if got := e.mustGet(b, "k", minio.GetObjectOptions{}); string(got) != "v2" {
		t.Errorf("latest %q", got)
	}
	for vid, want := range map[string]string{v1.VersionID: "v1", "null": "v0"} {
		if got := e.mustGet(b, "k", minio.GetObjectOptions{VersionID: vid}); string(got) != want {
			t.Errorf("version %s: %q, want %q", vid, got, want)
		}
	}

	// Delete creates a marker; GET is then 404 with x-amz-delete-marker.
	resp, _ := e.raw(rawReq{method: http.MethodDelete, path: "/" + b + "/k"})
	marker := resp.Header.Get("X-Amz-Version-Id")
	if resp.StatusCode != 204 || resp.Header.Get("X-Amz-Delete-Marker") != "true" || marker == "" {
		t.Fatalf("delete: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k"})
	expectError(t, resp, body, 404, "NoSuchKey")
	if resp.Header.Get("X-Amz-Delete-Marker") != "true" {
		t.Error("no x-amz-delete-marker on GET of a deleted key")
	}
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k", query: "versionId=" + marker})
	expectError(t, resp, body, 405, "MethodNotAllowed")
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k", query: "versionId=0123456789abcdef0123456789abcdef"})
	expectError(t, resp, body, 404, "NoSuchVersion")
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k", query: "versionId=garbage"})
	expectError(t, resp, body, 404, "NoSuchVersion")
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k", query: "versionId=a%2Fb"})
	expectError(t, resp, body, 400, "InvalidArgument")

	// ListObjectVersions: marker, v2, v1, null, newest first, interleaved.
	var got []string
	for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		s := o.VersionID
		if o.IsDeleteMarker {
			s = "marker:" + s
		}
		if o.IsLatest {
			s += "(latest)"
		}
		got = append(got, s)
	}
	want := []string{"marker:" + marker + "(latest)", v2.VersionID, v1.VersionID, "null"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("versions %q, want %q", got, want)
	}
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b, query: "versions"})
	if s := string(body); resp.StatusCode != 200 || strings.Index(s, "<DeleteMarker>") > strings.Index(s, "<Version>") {
		t.Errorf("raw ListObjectVersions: %d %s", resp.StatusCode, s)
	}
	// Paging versions one at a time.
	n, keyMarker, vidMarker := 0, "", ""
	for {
		q := "versions&max-keys=1"
		if keyMarker != "" {
			q += "&key-marker=" + keyMarker + "&version-id-marker=" + vidMarker
		}
		resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b, query: q})
		if resp.StatusCode != 200 {
			t.Fatalf("versions page: %d %s", resp.StatusCode, body)
		}
		n++
		s := string(body)
		if !strings.Contains(s, "<IsTruncated>true</IsTruncated>") {
			break
		}
		keyMarker = between(s, "<NextKeyMarker>", "</NextKeyMarker>")
		vidMarker = between(s, "<NextVersionIdMarker>", "</NextVersionIdMarker>")
		if n > 10 {
			t.Fatal("version paging does not end")
		}
	}
	if n != 4 {
		t.Errorf("%d pages, want 4", n)
	}

	// Deleting the marker brings v2 back; deleting a version removes it.
	if err := e.mc.RemoveObject(ctx, b, "k", minio.RemoveObjectOptions{VersionID: marker}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustGet(b, "k", minio.GetObjectOptions{}); string(got) != "v2" {
		t.Errorf("after removing the marker: %q", got)
	}
	if err := e.mc.RemoveObject(ctx, b, "k", minio.RemoveObjectOptions{VersionID: v2.VersionID}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustGet(b, "k", minio.GetObjectOptions{}); string(got) != "v1" {
		t.Errorf("after removing v2: %q", got)
	}

	// Suspended: new writes replace the null version; x-amz-version-id is "null".
	if err := e.mc.SuspendVersioning(ctx, b); err != nil {
		t.Fatal(err)
	}
	s := e.put(b, "k", []byte("s1"), minio.PutObjectOptions{})
	if s.VersionID != "null" {
		t.Errorf("suspended put version %q", s.VersionID)
	}
	if got := e.mustGet(b, "k", minio.GetObjectOptions{VersionID: "null"}); string(got) != "s1" {
		t.Errorf("null version after suspended put: %q", got)
	}
	if got := e.mustGet(b, "k", minio.GetObjectOptions{VersionID: v1.VersionID}); string(got) != "v1" {
		t.Errorf("v1 lost: %q", got)
	}

	// DeleteObjects with version ids.
	objs := make(chan minio.ObjectInfo, 2)
	objs <- minio.ObjectInfo{Key: "k", VersionID: v1.VersionID}
	objs <- minio.ObjectInfo{Key: "k", VersionID: "null"}
	close(objs)
	for r := range e.mc.RemoveObjects(ctx, b, objs, minio.RemoveObjectsOptions{}) {
		t.Errorf("remove version: %v", r.Err)
	}
	for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		t.Errorf("left over: %+v", o)
	}
	if err := e.mc.RemoveBucket(ctx, b); err != nil {
		t.Errorf("remove emptied versioned bucket: %v", err)
	}

	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + "nob", query: "versioning",
		body: []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`)})
	expectError(t, resp, body, 404, "NoSuchBucket")
	e.bucket("vbad")
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/vbad", query: "versioning",
		body: []byte(`<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>`)})
	expectError(t, resp, body, 400, "MalformedXML")
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	j := strings.Index(s, b)
	if j < 0 {
		return ""
	}
	return s[:j]
}

func TestCopyObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("copies")
	e.bucket("other")
	data := randBytes(5, 70_000)
	e.put(b, "src key+", data, minio.PutObjectOptions{ContentType: "text/src", UserMetadata: map[string]string{"a": "1"}})

	// COPY keeps metadata.
	info, err := e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "other", Object: "dst/1"}, minio.CopySrcOptions{Bucket: b, Object: "src key+"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.mc.StatObject(ctx, "other", "dst/1", minio.StatObjectOptions{})
	if err != nil || st.ContentType != "text/src" || st.UserMetadata["A"] != "1" || st.ETag != info.ETag {
		t.Errorf("COPY: %+v %v", st, err)
	}
	if got := e.mustGet("other", "dst/1", minio.GetObjectOptions{}); string(got) != string(data) {
		t.Error("copied bytes differ")
	}
	// REPLACE takes the request's metadata.
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "dst2", ReplaceMetadata: true,
		UserMetadata: map[string]string{"b": "2"}, ContentType: "text/new"}, minio.CopySrcOptions{Bucket: b, Object: "src key+"})
	if err != nil {
		t.Fatal(err)
	}
	st, err = e.mc.StatObject(ctx, b, "dst2", minio.StatObjectOptions{})
	if err != nil || st.ContentType != "text/new" || st.UserMetadata["B"] != "2" || st.UserMetadata["A"] != "" {
		t.Errorf("REPLACE: %+v %v", st, err)
	}
	// Onto itself: refused without REPLACE, allowed with it.
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "src key+"}, minio.CopySrcOptions{Bucket: b, Object: "src key+"})
	expectCode(t, err, "InvalidRequest")
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "src key+", ReplaceMetadata: true,
		UserMetadata: map[string]string{"c": "3"}}, minio.CopySrcOptions{Bucket: b, Object: "src key+"})
	if err != nil {
		t.Errorf("self-copy with REPLACE: %v", err)
	}
	// Conditions.
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "dst3"}, minio.CopySrcOptions{Bucket: b, Object: "src key+", MatchETag: "nope"})
	expectCode(t, err, "PreconditionFailed")
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "dst3"}, minio.CopySrcOptions{Bucket: b, Object: "missing"})
	expectCode(t, err, "NoSuchKey")
	_, err = e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "dst3"}, minio.CopySrcOptions{Bucket: "nobucket", Object: "x"})
	expectCode(t, err, "NoSuchBucket")

	// A copy of an older version.
	if err := e.mc.EnableVersioning(ctx, b); err != nil {
		t.Fatal(err)
	}
	old := e.put(b, "ver", []byte("old"), minio.PutObjectOptions{})
	e.put(b, "ver", []byte("new"), minio.PutObjectOptions{})
	if _, err := e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "ver"}, minio.CopySrcOptions{Bucket: b, Object: "ver", VersionID: old.VersionID}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustGet(b, "ver", minio.GetObjectOptions{}); string(got) != "old" {
		t.Errorf("restored version reads %q", got)
	}
}
