package s3api_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"
)

func mustTags(t *testing.T, m map[string]string) *tags.Tags {
	t.Helper()
	tg, err := tags.NewTags(m, true)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// getTags reads an object's tags through minio-go.
func (e *env) getTags(bucket, key, versionID string) (map[string]string, error) {
	tg, err := e.mc.GetObjectTagging(context.Background(), bucket, key, minio.GetObjectTaggingOptions{VersionID: versionID})
	if err != nil {
		return nil, err
	}
	return tg.ToMap(), nil
}

func (e *env) expectTags(bucket, key, versionID string, want map[string]string) {
	e.t.Helper()
	got, err := e.getTags(bucket, key, versionID)
	if err != nil {
		e.t.Errorf("get tags of %s/%s@%q: %v", bucket, key, versionID, err)
		return
	}
	if !maps.Equal(got, want) {
		e.t.Errorf("tags of %s/%s@%q = %v, want %v", bucket, key, versionID, got, want)
	}
}

func TestObjectTagging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("tagged")
	e.put(b, "k", []byte("data"), minio.PutObjectOptions{})

	// No tags: an empty TagSet, no tag count.
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k", query: "tagging"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<TagSet></TagSet>") || resp.Header.Get("X-Amz-Version-Id") != "" {
		t.Errorf("GET ?tagging of an untagged object: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	e.expectTags(b, "k", "", map[string]string{})
	st, err := e.mc.StatObject(ctx, b, "k", minio.StatObjectOptions{})
	if err != nil || st.UserTagCount != 0 {
		t.Errorf("stat untagged: count %d %v", st.UserTagCount, err)
	}

	// Put, get, count on HEAD and GET; data, ETag and Last-Modified stay.
	before := st
	want := map[string]string{"project": "replcheck", "Team": "storage + co", "empty": "", "a/b=c": "x y=z@:"}
	if err := e.mc.PutObjectTagging(ctx, b, "k", mustTags(t, want), minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	e.expectTags(b, "k", "", want)
	st, err = e.mc.StatObject(ctx, b, "k", minio.StatObjectOptions{})
	if err != nil || st.UserTagCount != 4 || st.ETag != before.ETag || !st.LastModified.Equal(before.LastModified) {
		t.Errorf("stat tagged: count %d etag %q modified %v (was %q %v) %v", st.UserTagCount, st.ETag, st.LastModified,
			before.ETag, before.LastModified, err)
	}
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k"})
	if resp.Header.Get("X-Amz-Tagging-Count") != "4" || string(body) != "data" {
		t.Errorf("GET tagged: count %q body %q", resp.Header.Get("X-Amz-Tagging-Count"), body)
	}
	// PUT replaces the whole set.
	if err := e.mc.PutObjectTagging(ctx, b, "k", mustTags(t, map[string]string{"only": "one"}), minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	e.expectTags(b, "k", "", map[string]string{"only": "one"})
	// DELETE ?tagging answers 204 and removes them.
	resp, body = e.raw(rawReq{method: http.MethodDelete, path: "/" + b + "/k", query: "tagging"})
	if resp.StatusCode != 204 {
		t.Errorf("DELETE ?tagging: %d %s", resp.StatusCode, body)
	}
	e.expectTags(b, "k", "", map[string]string{})
	if err := e.mc.RemoveObjectTagging(ctx, b, "k", minio.RemoveObjectTaggingOptions{}); err != nil {
		t.Errorf("remove tags of an untagged object: %v", err)
	}
	if got := e.mustGet(b, "k", minio.GetObjectOptions{}); string(got) != "data" {
		t.Errorf("data after tagging: %q", got)
	}

	// Missing objects and buckets.
	_, err = e.getTags(b, "missing", "")
	expectCode(t, err, "NoSuchKey")
	expectCode(t, e.mc.PutObjectTagging(ctx, b, "missing", mustTags(t, want), minio.PutObjectTaggingOptions{}), "NoSuchKey")
	expectCode(t, e.mc.RemoveObjectTagging(ctx, b, "missing", minio.RemoveObjectTaggingOptions{}), "NoSuchKey")
	_, err = e.getTags("nobucket", "k", "")
	expectCode(t, err, "NoSuchBucket")

	// Bucket tagging stays unimplemented.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		resp, body = e.raw(rawReq{method: m, path: "/" + b, query: "tagging", body: []byte("<Tagging><TagSet/></Tagging>")})
		se := expectError(t, resp, body, 501, "NotImplemented")
		if !strings.Contains(se.Message, "?tagging") {
			t.Errorf("%s bucket ?tagging: message %q", m, se.Message)
		}
	}
}

func TestObjectTaggingOnWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, quickParts)
	ctx := context.Background()
	b := e.bucket("writetags")
	e.bucket("other")
	want := map[string]string{"a": "1", "b c": "d+e=f", "g": ""}

	// PutObject with x-amz-tagging.
	e.put(b, "put", []byte("x"), minio.PutObjectOptions{UserTags: want})
	e.expectTags(b, "put", "", want)
	if st, err := e.mc.StatObject(ctx, b, "put", minio.StatObjectOptions{}); err != nil || st.UserTagCount != len(want) {
		t.Errorf("stat: count %d %v", st.UserTagCount, err)
	}
	// Keys and values beyond minio-go's character set, and pairs without '='.
	resp, body := e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/odd", body: []byte("x"),
		header: http.Header{"X-Amz-Tagging": {"%C3%BC=a%26b&plus+sign=1%2B1&bare&&x=%3D"}}})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT with odd tags: %d %s", resp.StatusCode, body)
	}
	if got := e.rawTags(b, "odd", ""); !maps.Equal(got, map[string]string{"ü": "a&b", "plus sign": "1+1", "bare": "", "x": "="}) {
		t.Errorf("odd tags: %v", got)
	}
	// A plain overwrite drops them, as every new version starts untagged.
	e.put(b, "put", []byte("y"), minio.PutObjectOptions{})
	e.expectTags(b, "put", "", map[string]string{})

	// Multipart: the tags of CreateMultipartUpload end on the object.
	id, err := e.core.NewMultipartUpload(ctx, b, "mp", minio.PutObjectOptions{UserTags: map[string]string{"mp": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.core.PutObjectPart(ctx, b, "mp", id, 1, bytes.NewReader([]byte("part")), 4, minio.PutObjectPartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.CompleteMultipartUpload(ctx, b, "mp", id, []minio.CompletePart{{PartNumber: 1, ETag: p.ETag}}, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	e.expectTags(b, "mp", "", map[string]string{"mp": "yes"})

	// CopyObject: tags are copied by default, replaced with REPLACE.
	e.put(b, "src", []byte("source"), minio.PutObjectOptions{UserTags: want, UserMetadata: map[string]string{"m": "1"}})
	src := minio.CopySrcOptions{Bucket: b, Object: "src"}
	if _, err := e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "other", Object: "copy"}, src); err != nil {
		t.Fatal(err)
	}
	e.expectTags("other", "copy", "", want)
	// Replacing the metadata keeps copying the tags: the directives are independent.
	if _, err := e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "other", Object: "meta", ReplaceMetadata: true,
		UserMetadata: map[string]string{"n": "2"}}, src); err != nil {
		t.Fatal(err)
	}
	e.expectTags("other", "meta", "", want)
	if _, err := e.mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "other", Object: "replaced", ReplaceTags: true,
		UserTags: map[string]string{"new": "tag"}}, src); err != nil {
		t.Fatal(err)
	}
	e.expectTags("other", "replaced", "", map[string]string{"new": "tag"})
	st, err := e.mc.StatObject(ctx, "other", "replaced", minio.StatObjectOptions{})
	if err != nil || st.UserMetadata["M"] != "1" || st.UserTagCount != 1 {
		t.Errorf("REPLACE tags kept metadata? %v count %d %v", st.UserMetadata, st.UserTagCount, err)
	}
	// REPLACE without x-amz-tagging leaves the copy untagged.
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/other/bare", header: http.Header{
		"X-Amz-Copy-Source": {"/" + b + "/src"}, "X-Amz-Tagging-Directive": {"REPLACE"}}})
	if resp.StatusCode != 200 {
		t.Fatalf("copy with REPLACE and no tags: %d %s", resp.StatusCode, body)
	}
	e.expectTags("other", "bare", "", map[string]string{})
	// A tagging REPLACE makes a copy onto itself legal.
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/src", header: http.Header{
		"X-Amz-Copy-Source": {"/" + b + "/src"}, "X-Amz-Tagging-Directive": {"REPLACE"}, "X-Amz-Tagging": {"self=1"}}})
	if resp.StatusCode != 200 {
		t.Fatalf("self-copy replacing tags: %d %s", resp.StatusCode, body)
	}
	e.expectTags(b, "src", "", map[string]string{"self": "1"})
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/other/x", header: http.Header{
		"X-Amz-Copy-Source": {"/" + b + "/src"}, "X-Amz-Tagging-Directive": {"MERGE"}}})
	expectError(t, resp, body, 400, "InvalidArgument")

	// Invalid x-amz-tagging headers.
	for _, h := range []string{"aws:x=1", "=v", "a=1&a=2", "k=%ZZ", "k=" + strings.Repeat("v", 257)} {
		resp, body := e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/bad", body: []byte("x"), header: http.Header{"X-Amz-Tagging": {h}}})
		code := "InvalidTag"
		if strings.Contains(h, "%ZZ") || strings.Contains(h, "&a=") {
			code = "InvalidArgument"
		}
		expectError(t, resp, body, 400, code)
	}
	if _, err := e.st.GetObject(b, "bad", ""); err == nil {
		t.Error("an object with invalid tags was stored")
	}
}

// rawTags reads an object's tags with a raw request, for tags minio-go's
// own validation would refuse.
func (e *env) rawTags(bucket, key, versionID string) map[string]string {
	e.t.Helper()
	q := "tagging"
	if versionID != "" {
		q += "&versionId=" + url.QueryEscape(versionID)
	}
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + bucket + "/" + key, query: q})
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s/%s?%s: %d %s", bucket, key, q, resp.StatusCode, body)
	}
	var doc struct {
		Tags []struct {
			Key   string `xml:"Key"`
			Value string `xml:"Value"`
		} `xml:"TagSet>Tag"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		e.t.Fatalf("GetObjectTagging body: %v: %s", err, body)
	}
	m := map[string]string{}
	for _, t := range doc.Tags {
		m[t.Key] = t.Value
	}
	return m
}

// tagDoc builds a PutObjectTagging body.
func tagDoc(pairs ...string) []byte {
	var b strings.Builder
	b.WriteString(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>`)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", pairs[i], pairs[i+1])
	}
	b.WriteString("</TagSet></Tagging>")
	return []byte(b.String())
}

func TestObjectTaggingValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bucket("tagcheck")
	e.put(b, "k", []byte("x"), minio.PutObjectOptions{})
	put := func(body []byte) (*http.Response, []byte) {
		return e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/k", query: "tagging", body: body})
	}
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, fmt.Sprintf("k%d", i), "v")
	}
	// 128 keys of 2 UTF-16 units (U+1F600) are 256 units: too long, though 128 runes.
	emoji := strings.Repeat("\U0001F600", 64)
	for _, c := range []struct {
		name string
		body []byte
		code string
		msg  string
	}{
		{"11 tags", tagDoc(eleven...), "InvalidTag", "greater than 10"},
		{"empty key", tagDoc("", "v"), "InvalidTag", "TagKey"},
		{"long key", tagDoc(strings.Repeat("k", 129), "v"), "InvalidTag", "TagKey"},
		{"long key in UTF-16", tagDoc(emoji+"x", "v"), "InvalidTag", "TagKey"},
		{"long value", tagDoc("k", strings.Repeat("v", 257)), "InvalidTag", "TagValue"},
		{"duplicate", tagDoc("k", "1", "k", "2"), "InvalidTag", "same key"},
		{"aws prefix", tagDoc("aws:cloudformation:x", "v"), "InvalidTag", "aws:"},
		{"not XML", []byte("<Tagging><TagSet>"), "MalformedXML", ""},
		{"empty body", nil, "MalformedXML", ""},
		{"no TagSet", []byte("<Tagging></Tagging>"), "MalformedXML", ""},
		{"no Key", []byte("<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>"), "MalformedXML", ""},
		{"wrong root", []byte("<Tags><TagSet></TagSet></Tags>"), "MalformedXML", ""},
	} {
		resp, body := put(c.body)
		se := expectError(t, resp, body, 400, c.code)
		if !strings.Contains(se.Message, c.msg) {
			t.Errorf("%s: message %q does not mention %q", c.name, se.Message, c.msg)
		}
	}
	e.expectTags(b, "k", "", map[string]string{})

	// The limits themselves are allowed: 10 tags, 128-unit keys, 256-unit values.
	var ten []string
	for i := range 10 {
		ten = append(ten, fmt.Sprintf("k%d", i), "v")
	}
	ten[0], ten[1] = strings.Repeat("\U0001F600", 64), strings.Repeat("v", 256)
	if resp, body := put(tagDoc(ten...)); resp.StatusCode != 200 {
		t.Fatalf("10 tags at the limits: %d %s", resp.StatusCode, body)
	}
	if got := e.rawTags(b, "k", ""); len(got) != 10 || got[ten[0]] != ten[1] {
		t.Errorf("tags at the limits: %v", got)
	}
}

func TestObjectTaggingVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("tagversions")
	if err := e.mc.EnableVersioning(ctx, b); err != nil {
		t.Fatal(err)
	}
	v1 := e.put(b, "k", []byte("one"), minio.PutObjectOptions{UserTags: map[string]string{"v": "1"}})
	v2 := e.put(b, "k", []byte("two"), minio.PutObjectOptions{})

	// Tag the old version by id; the latest stays untagged.
	if err := e.mc.PutObjectTagging(ctx, b, "k", mustTags(t, map[string]string{"old": "yes"}),
		minio.PutObjectTaggingOptions{VersionID: v1.VersionID}); err != nil {
		t.Fatal(err)
	}
	e.expectTags(b, "k", v1.VersionID, map[string]string{"old": "yes"})
	e.expectTags(b, "k", "", map[string]string{})
	e.expectTags(b, "k", v2.VersionID, map[string]string{})
	// Responses name the version.
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b + "/k", query: "tagging"})
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Version-Id") != v2.VersionID {
		t.Errorf("GET ?tagging: %d version %q, want %q: %s", resp.StatusCode, resp.Header.Get("X-Amz-Version-Id"), v2.VersionID, body)
	}
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/k", query: "tagging&versionId=" + url.QueryEscape(v1.VersionID),
		body: tagDoc("x", "y")})
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Version-Id") != v1.VersionID {
		t.Errorf("PUT ?tagging by version: %d version %q: %s", resp.StatusCode, resp.Header.Get("X-Amz-Version-Id"), body)
	}
	resp, body = e.raw(rawReq{method: http.MethodDelete, path: "/" + b + "/k", query: "tagging&versionId=" + url.QueryEscape(v1.VersionID)})
	if resp.StatusCode != 204 || resp.Header.Get("X-Amz-Version-Id") != v1.VersionID {
		t.Errorf("DELETE ?tagging by version: %d version %q: %s", resp.StatusCode, resp.Header.Get("X-Amz-Version-Id"), body)
	}
	e.expectTags(b, "k", v1.VersionID, map[string]string{})
	st, err := e.mc.StatObject(ctx, b, "k", minio.StatObjectOptions{VersionID: v1.VersionID})
	if err != nil || st.UserTagCount != 0 {
		t.Errorf("stat v1: count %d %v", st.UserTagCount, err)
	}

	// Missing and malformed version ids.
	_, err = e.getTags(b, "k", "0123456789abcdef0123456789abcdef")
	expectCode(t, err, "NoSuchVersion")
	expectCode(t, e.mc.PutObjectTagging(ctx, b, "k", mustTags(t, map[string]string{"a": "b"}),
		minio.PutObjectTaggingOptions{VersionID: "0123456789abcdef0123456789abcdef"}), "NoSuchVersion")
	resp, body = e.raw(rawReq{method: http.MethodPut, path: "/" + b + "/k", query: "tagging&versionId=a%2Fb", body: tagDoc("a", "b")})
	expectError(t, resp, body, 400, "InvalidArgument")

	// Delete markers: the latest is "no such key", one named by id is 405.
	resp, _ = e.raw(rawReq{method: http.MethodDelete, path: "/" + b + "/k"})
	marker := resp.Header.Get("X-Amz-Version-Id")
	_, err = e.getTags(b, "k", "")
	expectCode(t, err, "NoSuchKey")
	expectCode(t, e.mc.PutObjectTagging(ctx, b, "k", mustTags(t, map[string]string{"a": "b"}), minio.PutObjectTaggingOptions{}), "NoSuchKey")
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		resp, body = e.raw(rawReq{method: m, path: "/" + b + "/k", query: "tagging&versionId=" + url.QueryEscape(marker), body: tagDoc("a", "b")})
		expectError(t, resp, body, 405, "MethodNotAllowed")
		if resp.Header.Get("X-Amz-Delete-Marker") != "true" || resp.Header.Get("X-Amz-Version-Id") != marker {
			t.Errorf("%s ?tagging of a delete marker: headers %v", m, resp.Header)
		}
	}
	// Older versions stay taggable under the marker.
	if err := e.mc.PutObjectTagging(ctx, b, "k", mustTags(t, map[string]string{"still": "here"}),
		minio.PutObjectTaggingOptions{VersionID: v2.VersionID}); err != nil {
		t.Fatal(err)
	}
	e.expectTags(b, "k", v2.VersionID, map[string]string{"still": "here"})
}
