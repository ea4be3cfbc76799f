package s3api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestPutGetHeadDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("objects")
	data := randBytes(1, 100_000)
	sum := md5.Sum(data)

	info := e.put(b, "dir/file.bin", data, minio.PutObjectOptions{
		ContentType:        "application/x-test",
		ContentEncoding:    "identity",
		ContentDisposition: `attachment; filename="f.bin"`,
		CacheControl:       "max-age=60",
		ContentLanguage:    "sv",
		UserMetadata:       map[string]string{"Color": "blue", "op-id": "op-17"},
	})
	if info.ETag != hex.EncodeToString(sum[:]) {
		t.Errorf("ETag %q, want MD5 %x", info.ETag, sum)
	}
	if info.VersionID != "" {
		t.Errorf("version id %q in an unversioned bucket", info.VersionID)
	}
	if got := e.mustGet(b, "dir/file.bin", minio.GetObjectOptions{}); !bytes.Equal(got, data) {
		t.Fatal("GET returned other bytes")
	}

	st, err := e.mc.StatObject(ctx, b, "dir/file.bin", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len(data)) || st.ContentType != "application/x-test" || st.ETag != info.ETag {
		t.Errorf("stat: %+v", st)
	}
	if st.UserMetadata["Color"] != "blue" || st.UserMetadata["Op-Id"] != "op-17" {
		t.Errorf("user metadata %v", st.UserMetadata)
	}
	for h, want := range map[string]string{"Content-Disposition": `attachment; filename="f.bin"`, "Cache-Control": "max-age=60",
		"Content-Language": "sv", "Content-Encoding": "identity"} {
		if got := st.Metadata.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if time.Since(st.LastModified) > time.Minute {
		t.Errorf("Last-Modified %v", st.LastModified)
	}

	// Raw GET: metadata names are lower-case on the wire, and the default content type.
	e.put(b, "plain", []byte("hello"), minio.PutObjectOptions{UserMetadata: map[string]string{"Mixed-Case": "v"}})
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/plain"})
	if resp.StatusCode != 200 || string(body) != "hello" || resp.Header.Get("X-Amz-Meta-Mixed-Case") != "v" ||
		resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("raw GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/notype", body: []byte("x")})
	if resp.StatusCode != 200 {
		t.Fatalf("raw PUT: %d", resp.StatusCode)
	}
	resp, _ = e.raw(rawReq{method: http.MethodHead, path: "/" + b + "/notype"})
	if ct := resp.Header.Get("Content-Type"); ct != "binary/octet-stream" {
		t.Errorf("default content type %q", ct)
	}

	// Response overrides.
	resp, _ = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/plain",
		query: "response-content-type=text%2Fplain&response-content-disposition=inline&response-cache-control=no-cache"})
	if resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Content-Disposition") != "inline" ||
		resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("overrides not applied: %v", resp.Header)
	}

	// Overwrite, then delete.
	e.put(b, "dir/file.bin", []byte("short"), minio.PutObjectOptions{})
	if got := e.mustGet(b, "dir/file.bin", minio.GetObjectOptions{}); string(got) != "short" {
		t.Errorf("after overwrite: %q", got)
	}
	if err := e.mc.RemoveObject(ctx, b, "dir/file.bin", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.mc.StatObject(ctx, b, "dir/file.bin", minio.StatObjectOptions{})
	expectCode(t, err, "NoSuchKey")
	_, err = e.get(b, "dir/file.bin", minio.GetObjectOptions{})
	expectCode(t, err, "NoSuchKey")
	// Deleting what is not there succeeds.
	if err := e.mc.RemoveObject(ctx, b, "never", minio.RemoveObjectOptions{}); err != nil {
		t.Errorf("delete of a missing key: %v", err)
	}
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/never"})
	se := expectError(t, resp, body, 404, "NoSuchKey")
	if se.Resource != "/"+b+"/never" {
		t.Errorf("Resource %q", se.Resource)
	}
	resp, body = e.raw(rawReq{method: http.MethodHead, path: "/" + b + "/never"})
	if resp.StatusCode != 404 || len(body) != 0 {
		t.Errorf("HEAD missing: %d %q", resp.StatusCode, body)
	}

	// Content-MD5.
	good := md5.Sum([]byte("abc"))
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/md5", body: []byte("abc"),
		header: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(good[:])}}})
	if resp.StatusCode != 200 {
		t.Errorf("PUT with a good Content-MD5: %d %s", resp.StatusCode, body)
	}
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/md5", body: []byte("abd"),
		header: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(good[:])}}})
	expectError(t, resp, body, 400, "BadDigest")
	if got := e.mustGet(b, "md5", minio.GetObjectOptions{}); string(got) != "abc" {
		t.Errorf("a failed PUT damaged the object: %q", got)
	}
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/md5", body: []byte("abd"),
		header: http.Header{"Content-Md5": {"not base64!"}}})
	expectError(t, resp, body, 400, "InvalidDigest")

	// Empty object.
	e.put(b, "empty", nil, minio.PutObjectOptions{})
	if got := e.mustGet(b, "empty", minio.GetObjectOptions{}); len(got) != 0 {
		t.Errorf("empty object read as %d bytes", len(got))
	}
}

func TestRanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bucket("ranges")
	data := randBytes(2, 1000)
	e.put(b, "r", data, minio.PutObjectOptions{})
	path := "/" + b + "/r"
	for _, tc := range []struct {
		spec         string
		status       int
		from, to     int // inclusive; -1: whole
		contentRange string
	}{
		{"bytes=0-9", 206, 0, 9, "bytes 0-9/1000"},
		{"bytes=990-", 206, 990, 999, "bytes 990-999/1000"},
		{"bytes=-10", 206, 990, 999, "bytes 990-999/1000"},
		{"bytes=-5000", 206, 0, 999, "bytes 0-999/1000"},
		{"bytes=500-99999", 206, 500, 999, "bytes 500-999/1000"},
		{"bytes=0-0", 206, 0, 0, "bytes 0-0/1000"},
		{"bytes=0-1,5-6", 200, 0, 999, ""},
		{"bytes=5-1", 200, 0, 999, ""},
		{"items=0-1", 200, 0, 999, ""},
		{"bytes=abc", 200, 0, 999, ""},
		{"bytes=999999999-", 416, 0, 0, "bytes */1000"},
		{"bytes=1000-", 416, 0, 0, "bytes */1000"},
		{"bytes=-0", 416, 0, 0, "bytes */1000"},
	} {
		resp, body := e.raw(rawReq{method: http.MethodGet, path: path, header: http.Header{"Range": {tc.spec}}})
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.spec, resp.StatusCode, tc.status)
			continue
		}
		if got := resp.Header.Get("Content-Range"); got != tc.contentRange {
			t.Errorf("%s: Content-Range %q, want %q", tc.spec, got, tc.contentRange)
		}
		if tc.status == 416 {
			expectError(t, resp, body, 416, "InvalidRange")
			continue
		}
		if !bytes.Equal(body, data[tc.from:tc.to+1]) {
			t.Errorf("%s: wrong bytes", tc.spec)
		}
	}
	// minio-go's SetRange.
	opts := minio.GetObjectOptions{}
	opts.SetRange(100, 199)
	if got := e.mustGet(b, "r", opts); !bytes.Equal(got, data[100:200]) {
		t.Error("minio SetRange: wrong bytes")
	}
}

func TestConditionals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bucket("cond")
	info := e.put(b, "c", []byte("conditional"), minio.PutObjectOptions{})
	etag := `"` + info.ETag + `"`
	path := "/" + b + "/c"
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		h      http.Header
		status int
	}{
		{"if-match hit", http.Header{"If-Match": {etag}}, 200},
		{"if-match star", http.Header{"If-Match": {"*"}}, 200},
		{"if-match miss", http.Header{"If-Match": {`"nope"`}}, 412},
		{"if-none-match hit", http.Header{"If-None-Match": {etag}}, 304},
		{"if-none-match miss", http.Header{"If-None-Match": {`"nope"`}}, 200},
		{"if-modified-since past", http.Header{"If-Modified-Since": {past}}, 200},
		{"if-modified-since future", http.Header{"If-Modified-Since": {future}}, 304},
		{"if-unmodified-since past", http.Header{"If-Unmodified-Since": {past}}, 412},
		{"if-unmodified-since future", http.Header{"If-Unmodified-Since": {future}}, 200},
		// If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
		{"match and unmodified-since failing", http.Header{"If-Match": {etag}, "If-Unmodified-Since": {past}}, 200},
		{"none-match miss and modified-since failing", http.Header{"If-None-Match": {`"nope"`}, "If-Modified-Since": {future}}, 200},
		{"match miss and none-match hit", http.Header{"If-Match": {`"nope"`}, "If-None-Match": {etag}}, 412},
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			resp, body := e.raw(rawReq{method: m, path: path, header: tc.h})
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: status %d, want %d", m, tc.name, resp.StatusCode, tc.status)
			}
			if m == http.MethodGet && tc.status == 412 {
				expectError(t, resp, body, 412, "PreconditionFailed")
			}
			if tc.status == 304 && (len(body) != 0 || resp.Header.Get("ETag") != etag) {
				t.Errorf("%s %s: 304 with body %q, ETag %q", m, tc.name, body, resp.Header.Get("ETag"))
			}
		}
	}
	// Through minio-go.
	opts := minio.GetObjectOptions{}
	opts.SetMatchETag(info.ETag)
	if got := e.mustGet(b, "c", opts); string(got) != "conditional" {
		t.Errorf("minio If-Match: %q", got)
	}
	opts = minio.GetObjectOptions{}
	opts.SetMatchETag("0123")
	_, err := e.get(b, "c", opts)
	expectCode(t, err, "PreconditionFailed")
}

// awkwardKeys are legal object names that a path-cleaning or
// query-decoding server would mangle.
var awkwardKeys = []string{
	"with space", "plus+sign", "percent%25literal", "%2e%2e", "a/../b", "..", "./x", "x/./y", "trailing/",
	"//double//slash", "unicode/åäö/日本語", "emoji 🙂", "q?mark", "hash#tag", "amp&eq=", "semi;colon",
	"tilde~", "back\\slash", "quote\"s", "<angle>", "tab\there", "a/b/c/d/e",
}

func TestAwkwardKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("awkward")
	for i, k := range awkwardKeys {
		e.put(b, k, []byte(fmt.Sprint(i)), minio.PutObjectOptions{})
	}
	for i, k := range awkwardKeys {
		got, err := e.get(b, k, minio.GetObjectOptions{})
		if err != nil || string(got) != fmt.Sprint(i) {
			t.Errorf("key %q: %q, %v", k, got, err)
		}
	}
	for _, v1 := range []bool{false, true} {
		seen := map[string]bool{}
		for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true, UseV1: v1}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			seen[o.Key] = true
		}
		for _, k := range awkwardKeys {
			if !seen[k] {
				t.Errorf("V1=%v: key %q not listed (listed %d keys)", v1, k, len(seen))
			}
		}
		if len(seen) != len(awkwardKeys) {
			t.Errorf("V1=%v: %d keys listed, want %d", v1, len(seen), len(awkwardKeys))
		}
	}
	// The raw path "a/../b" reaches key "a/../b", not "b".
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/a/../b"})
	if resp.StatusCode != 200 || string(body) != fmt.Sprint(indexOf(awkwardKeys, "a/../b")) {
		t.Errorf("raw a/../b: %d %q", resp.StatusCode, body)
	}
	for _, k := range awkwardKeys {
		if err := e.mc.RemoveObject(ctx, b, k, minio.RemoveObjectOptions{}); err != nil {
			t.Errorf("delete %q: %v", k, err)
		}
	}
	if st, _ := e.st.GetBucket(b); st.Objects != 0 {
		t.Errorf("%d objects left", st.Objects)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestDeleteObjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("multidelete")
	for i := range 30 {
		e.put(b, fmt.Sprintf("k%02d", i), []byte("x"), minio.PutObjectOptions{})
	}
	objs := make(chan minio.ObjectInfo, 40)
	for i := range 20 {
		objs <- minio.ObjectInfo{Key: fmt.Sprintf("k%02d", i)}
	}
	objs <- minio.ObjectInfo{Key: "never-existed"}
	close(objs)
	for r := range e.mc.RemoveObjects(ctx, b, objs, minio.RemoveObjectsOptions{}) {
		t.Errorf("remove %s: %v", r.ObjectName, r.Err)
	}
	n := 0
	for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 10 {
		t.Errorf("%d objects left, want 10", n)
	}

	// Raw: per-key errors, quiet mode, and limits.
	doc := `<Delete><Object><Key>k20</Key></Object><Object><Key>` + strings.Repeat("k", 1025) + `</Key></Object></Delete>`
	resp, body := e.raw(rawReq{method: http.MethodPost, path: "/" + b, query: "delete", body: []byte(doc)})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Deleted><Key>k20</Key></Deleted>") ||
		!strings.Contains(string(body), "KeyTooLongError") {
		t.Errorf("mixed delete: %d %s", resp.StatusCode, body)
	}
	doc = `<Delete><Quiet>true</Quiet><Object><Key>k21</Key></Object></Delete>`
	resp, body = e.raw(rawReq{method: http.MethodPost, path: "/" + b, query: "delete", body: []byte(doc)})
	if resp.StatusCode != 200 || strings.Contains(string(body), "Deleted") {
		t.Errorf("quiet delete: %d %s", resp.StatusCode, body)
	}
	var many strings.Builder
	many.WriteString("<Delete>")
	for i := range 1001 {
		fmt.Fprintf(&many, "<Object><Key>m%d</Key></Object>", i)
	}
	many.WriteString("</Delete>")
	resp, body = e.raw(rawReq{method: http.MethodPost, path: "/" + b, query: "delete", body: []byte(many.String())})
	expectError(t, resp, body, 400, "MalformedXML")
	resp, body = e.raw(rawReq{method: http.MethodPost, path: "/" + b, query: "delete", body: []byte("<Delete><Object>")})
	expectError(t, resp, body, 400, "MalformedXML")
	resp, body = e.raw(rawReq{method: http.MethodPost, path: "/nobucket", query: "delete", body: []byte(doc)})
	expectError(t, resp, body, 404, "NoSuchBucket")
}

func TestConditionalWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("condwrite")
	create := minio.PutObjectOptions{}
	create.SetMatchETagExcept("*")
	first := e.put(b, "lock", []byte("first"), create)
	_, err := e.mc.PutObject(ctx, b, "lock", bytes.NewReader([]byte("second")), 6, create)
	expectCode(t, err, "PreconditionFailed")

	match := minio.PutObjectOptions{}
	match.SetMatchETag(first.ETag)
	e.put(b, "lock", []byte("third"), match)
	_, err = e.mc.PutObject(ctx, b, "lock", bytes.NewReader([]byte("fourth")), 6, match) // ETag changed
	expectCode(t, err, "PreconditionFailed")
	_, err = e.mc.PutObject(ctx, b, "absent", bytes.NewReader([]byte("x")), 1, match)
	expectCode(t, err, "NoSuchKey")
	if got := e.mustGet(b, "lock", minio.GetObjectOptions{}); string(got) != "third" {
		t.Errorf("after conditional writes: %q", got)
	}

	// Of many racing creates, exactly one wins.
	const racers = 8
	wins := make(chan bool, racers)
	for i := range racers {
		go func() {
			_, err := e.mc.PutObject(ctx, b, "race", bytes.NewReader([]byte{byte(i)}), 1, create)
			wins <- err == nil
		}()
	}
	n := 0
	for range racers {
		if <-wins {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d racing creates won, want 1", n)
	}
}
