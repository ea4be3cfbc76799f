package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/engine/store"
)

// put writes body as the latest version of key.
func put(t *testing.T, s *store.Store, bucket, key, body string) *store.Version {
	t.Helper()
	id, n, err := s.WriteBlob(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.CommitObject(bucket, key, store.ObjectMeta{Size: n, ETag: "e",
		Parts: []store.Part{{Number: 1, Blob: id, Size: n, PlainSize: n, ETag: "e"}}})
	if err != nil {
		t.Fatalf("commit %s/%s: %v", bucket, key, err)
	}
	return v
}

func read(t *testing.T, s *store.Store, v *store.Version) string {
	t.Helper()
	d, err := s.Open(v)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := io.ReadAll(io.NewSectionReader(d, 0, d.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func get(t *testing.T, s *store.Store, bucket, key string) string {
	t.Helper()
	v, err := s.GetObject(bucket, key, "")
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return read(t, s, v)
}

func backends(t *testing.T) map[string]func() *store.Store {
	return map[string]func() *store.Store{
		"memory": func() *store.Store { return store.NewMemoryStore(store.Options{MinPartSize: 1}) },
		"disk": func() *store.Store {
			d, err := store.OpenDisk(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			s, err := store.Open(d, store.Options{MinPartSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func TestBuckets(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open()
			if _, err := s.CreateBucket("b1", store.BucketOptions{Policy: "hp.intensive", Replicated: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateBucket("b1", store.BucketOptions{}); !errors.Is(err, store.ErrBucketExists) {
				t.Fatalf("second create: %v", err)
			}
			for _, bad := range []string{"", "a/b", "..", "x\x00y", strings.Repeat("n", 256)} {
				if _, err := s.CreateBucket(bad, store.BucketOptions{}); !errors.Is(err, store.ErrInvalidBucketName) {
					t.Errorf("create %q: %v", bad, err)
				}
			}
			put(t, s, "b1", "k", "hello")
			b, err := s.GetBucket("b1")
			if err != nil || b.Objects != 1 || b.Bytes != 5 || b.Policy != "hp.intensive" || !b.Replicated {
				t.Fatalf("bucket %+v, %v", b, err)
			}
			if err := s.DeleteBucket("b1"); !errors.Is(err, store.ErrBucketNotEmpty) {
				t.Fatalf("delete non-empty: %v", err)
			}
			if _, err := s.DeleteObject("b1", "k", ""); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteBucket("b1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetBucket("b1"); !errors.Is(err, store.ErrNoSuchBucket) {
				t.Fatalf("after delete: %v", err)
			}
		})
	}
}

func TestVersioning(t *testing.T) {
	s := store.NewMemoryStore(store.Options{})
	s.CreateBucket("b", store.BucketOptions{})
	put(t, s, "b", "k", "v0") // written before versioning: the "null" version
	if err := s.SetVersioning("b", store.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, s, "b", "k", "v1")
	v2 := put(t, s, "b", "k", "v2")
	if v1.VersionID == v2.VersionID || v1.VersionID == store.NullVersion {
		t.Fatalf("version ids %q %q", v1.VersionID, v2.VersionID)
	}
	if got := get(t, s, "b", "k"); got != "v2" {
		t.Fatalf("latest = %q", got)
	}
	del, err := s.DeleteObject("b", "k", "")
	if err != nil || !del.DeleteMarker {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if m, err := s.GetObject("b", "k", ""); !errors.Is(err, store.ErrNoSuchKey) || m == nil || !m.DeleteMarker {
		t.Fatalf("get after delete: %+v %v", m, err)
	}
	old, err := s.GetObject("b", "k", v1.VersionID)
	if err != nil || read(t, s, old) != "v1" {
		t.Fatalf("get v1: %v", err)
	}
	if null, err := s.GetObject("b", "k", store.NullVersion); err != nil || read(t, s, null) != "v0" {
		t.Fatalf("get null version: %v", err)
	}
	lv, err := s.ListVersions("b", store.ListVersionsOptions{})
	if err != nil || len(lv.Versions) != 4 || !lv.Versions[0].DeleteMarker || !lv.Versions[0].IsLatest || lv.Versions[1].IsLatest {
		t.Fatalf("versions: %+v %v", lv.Versions, err)
	}
	// Removing the marker by id brings v2 back.
	if _, err := s.DeleteObject("b", "k", del.VersionID); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, "b", "k"); got != "v2" {
		t.Fatalf("after removing marker = %q", got)
	}
	// Listing versions page by page sees each exactly once.
	seen := map[string]bool{}
	opts := store.ListVersionsOptions{MaxKeys: 1}
	for {
		page, err := s.ListVersions("b", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			if seen[v.VersionID] {
				t.Fatalf("version %s listed twice", v.VersionID)
			}
			seen[v.VersionID] = true
		}
		if !page.IsTruncated {
			break
		}
		opts.KeyMarker, opts.VersionIDMarker = page.NextKeyMarker, page.NextVersionIDMarker
	}
	if len(seen) != 3 {
		t.Fatalf("paged versions: %d", len(seen))
	}
	// Suspended: writes and deletes replace the null version.
	s.SetVersioning("b", store.VersioningSuspended)
	put(t, s, "b", "k", "s1")
	put(t, s, "b", "k", "s2")
	lv, _ = s.ListVersions("b", store.ListVersionsOptions{})
	nulls := 0
	for _, v := range lv.Versions {
		if v.VersionID == store.NullVersion {
			nulls++
		}
	}
	if nulls != 1 || len(lv.Versions) != 3 {
		t.Fatalf("suspended: %d versions, %d null", len(lv.Versions), nulls)
	}
	// Bucket stats count latest versions only, through every kind of change.
	put(t, s, "b", "other", "12345")
	s.DeleteObject("b", "other", "") // a null delete marker
	if b, _ := s.GetBucket("b"); b.Objects != 1 || b.Bytes != 2 {
		t.Fatalf("stats after deletes: %d objects, %d bytes", b.Objects, b.Bytes)
	}
	s.DeleteObject("b", "other", store.NullVersion) // removing the marker leaves nothing
	s.DeleteObject("b", "k", store.NullVersion)     // latest goes; v2 is latest again
	if b, _ := s.GetBucket("b"); b.Objects != 1 || b.Bytes != 2 {
		t.Fatalf("stats after version deletes: %d objects, %d bytes", b.Objects, b.Bytes)
	}
}

func TestUnversionedOverwriteRemovesOldData(t *testing.T) {
	dir := t.TempDir()
	d, _ := store.OpenDisk(dir)
	s, _ := store.Open(d, store.Options{})
	s.CreateBucket("b", store.BucketOptions{})
	for i := range 5 {
		put(t, s, "b", "k", fmt.Sprint("body", i))
	}
	if got := get(t, s, "b", "k"); got != "body4" {
		t.Fatalf("got %q", got)
	}
	blobs := 0
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			blobs++
		}
		return nil
	})
	if blobs != 1 {
		t.Fatalf("%d blobs left after overwrites, want 1", blobs)
	}
}

func TestListObjects(t *testing.T) {
	s := store.NewMemoryStore(store.Options{})
	s.CreateBucket("b", store.BucketOptions{})
	keys := []string{"a", "a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d"}
	for _, k := range keys {
		put(t, s, "b", k, k)
	}
	s.SetVersioning("b", store.VersioningEnabled)
	s.DeleteObject("b", "d", "") // a delete marker hides d from listings
	res, err := s.ListObjects("b", store.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	got := names(res)
	if want := "a a/ b c/"; got != want {
		t.Fatalf("delimiter listing %q, want %q", got, want)
	}
	res, _ = s.ListObjects("b", store.ListOptions{Prefix: "a/", Delimiter: "/"})
	if got, want := names(res), "a/1 a/2 a/b/"; got != want {
		t.Fatalf("prefix listing %q, want %q", got, want)
	}
	res, _ = s.ListObjects("b", store.ListOptions{Before: "c"})
	if got, want := names(res), "a a/1 a/2 a/b/3 b"; got != want {
		t.Fatalf("before listing %q, want %q", got, want)
	}
	// Paging with a delimiter never repeats a common prefix.
	var all []string
	opts := store.ListOptions{Delimiter: "/", MaxKeys: 1}
	for {
		page, _ := s.ListObjects("b", opts)
		all = append(all, names(page))
		if !page.IsTruncated {
			break
		}
		opts.After = page.Next
	}
	if got, want := strings.Join(all, " "), "a a/ b c/"; got != want {
		t.Fatalf("paged %q, want %q", got, want)
	}
}

func names(r store.ListResult) string {
	var out []string
	i, j := 0, 0
	for i < len(r.Objects) || j < len(r.CommonPrefixes) {
		if j == len(r.CommonPrefixes) || i < len(r.Objects) && r.Objects[i].Key < r.CommonPrefixes[j] {
			out = append(out, r.Objects[i].Key)
			i++
		} else {
			out = append(out, r.CommonPrefixes[j])
			j++
		}
	}
	return strings.Join(out, " ")
}

func TestMultipart(t *testing.T) {
	s := store.NewMemoryStore(store.Options{MinPartSize: 3})
	s.CreateBucket("b", store.BucketOptions{})
	u, err := s.CreateUpload("b", "k", store.ObjectMeta{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	key := "k"
	part := func(n int, body string) store.Part {
		id, size, _ := s.WriteBlob(strings.NewReader(body))
		p := store.Part{Number: n, Blob: id, Size: size, PlainSize: size, ETag: fmt.Sprintf("%032x", n)}
		if err := s.PutPart("b", key, u.ID, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1, p2 := part(1, "xx"), part(2, "yyy")
	p1 = part(1, "aaa") // a re-upload replaces the part
	p3 := part(3, "zz")
	_, err = s.CompleteUpload("b", "k", u.ID, []store.CompletePart{{2, p2.ETag}, {1, p1.ETag}})
	if !errors.Is(err, store.ErrInvalidPartOrder) {
		t.Fatalf("unordered: %v", err)
	}
	_, err = s.CompleteUpload("b", "k", u.ID, []store.CompletePart{{1, p1.ETag}, {3, p3.ETag}, {2, p2.ETag}})
	if !errors.Is(err, store.ErrInvalidPartOrder) {
		t.Fatalf("unordered: %v", err)
	}
	_, err = s.CompleteUpload("b", "k", u.ID, []store.CompletePart{{1, "bad"}})
	if !errors.Is(err, store.ErrInvalidPart) {
		t.Fatalf("bad etag: %v", err)
	}
	_, err = s.CompleteUpload("b", "k", u.ID, []store.CompletePart{{1, p1.ETag}, {4, p3.ETag}})
	if !errors.Is(err, store.ErrInvalidPart) {
		t.Fatalf("missing part: %v", err)
	}
	lp, _ := s.ListParts("b", "k", u.ID, 0, 2)
	if len(lp.Parts) != 2 || !lp.IsTruncated || lp.Next != 2 {
		t.Fatalf("list parts %+v", lp)
	}
	v, err := s.CompleteUpload("b", "k", u.ID, []store.CompletePart{{1, p1.ETag}, {2, `"` + p2.ETag + `"`}})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, v); got != "aaayyy" || v.Size != 6 || !strings.HasSuffix(v.ETag, "-2") || len(v.Parts) != 2 || v.ContentType != "text/plain" {
		t.Fatalf("completed %q %+v", got, v)
	}
	if _, err := s.GetUpload("b", "k", u.ID); !errors.Is(err, store.ErrNoSuchUpload) {
		t.Fatalf("upload after complete: %v", err)
	}
	// Small non-last parts are refused.
	u2, _ := s.CreateUpload("b", "k2", store.ObjectMeta{})
	u, key = u2, "k2"
	q1, q2 := part(1, "a"), part(2, "b")
	if _, err := s.CompleteUpload("b", "k2", u2.ID, []store.CompletePart{{1, q1.ETag}, {2, q2.ETag}}); !errors.Is(err, store.ErrEntityTooSmall) {
		t.Fatalf("small part: %v", err)
	}
	ups, _ := s.ListUploads("b", store.ListUploadsOptions{})
	if len(ups.Uploads) != 1 || ups.Uploads[0].ID != u2.ID {
		t.Fatalf("uploads %+v", ups)
	}
	if err := s.AbortUpload("b", "k2", u2.ID); err != nil {
		t.Fatal(err)
	}
}

// TestDiskReload checks that a store reopened on the same directory sees
// everything that was committed: buckets, versions, uploads.
func TestDiskReload(t *testing.T) {
	dir := t.TempDir()
	open := func() *store.Store {
		d, err := store.OpenDisk(dir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.Open(d, store.Options{MinPartSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	s.CreateBucket("b", store.BucketOptions{Policy: "gp.recurring", Replicated: true})
	s.SetVersioning("b", store.VersioningEnabled)
	v1 := put(t, s, "b", "k", "one")
	put(t, s, "b", "k", "two")
	u, _ := s.CreateUpload("b", "mp", store.ObjectMeta{})
	s.Close()

	s = open()
	if got := get(t, s, "b", "k"); got != "two" {
		t.Fatalf("after reload latest = %q", got)
	}
	if v, err := s.GetObject("b", "k", v1.VersionID); err != nil || read(t, s, v) != "one" {
		t.Fatalf("after reload v1: %v", err)
	}
	b, _ := s.GetBucket("b")
	if b.Policy != "gp.recurring" || !b.Replicated || b.Versioning != store.VersioningEnabled {
		t.Fatalf("bucket after reload %+v", b)
	}
	if _, err := s.GetUpload("b", "mp", u.ID); err != nil {
		t.Fatalf("upload after reload: %v", err)
	}
	// New writes after a reload still order after the old ones.
	put(t, s, "b", "k", "three")
	if got := get(t, s, "b", "k"); got != "three" {
		t.Fatalf("latest = %q", got)
	}
}

// TestHostileKeys writes keys that would escape a naive file layout and
// checks they round-trip and that nothing lands outside the data directory.
func TestHostileKeys(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	d, _ := store.OpenDisk(dir)
	s, _ := store.Open(d, store.Options{})
	s.CreateBucket("b", store.BucketOptions{})
	keys := []string{"../../escape", "..", "/abs/path", `..\..\win`, "a/./b/../c", "%2e%2e/x", strings.Repeat("a/", 400), "ключ ☃"}
	for _, k := range keys {
		put(t, s, "b", k, "v:"+k)
	}
	for _, k := range keys {
		if got := get(t, s, "b", k); got != "v:"+k {
			t.Fatalf("key %q read %q", k, got)
		}
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 || ents[0].Name() != "data" {
		t.Fatalf("files outside the data directory: %v", ents)
	}
	for _, k := range []string{"", "a\x00b", strings.Repeat("k", store.MaxKeyLength+1), "\xff\xfe"} {
		id, n, _ := s.WriteBlob(strings.NewReader("x"))
		_, err := s.CommitObject("b", k, store.ObjectMeta{Size: n, Parts: []store.Part{{Number: 1, Blob: id, Size: n, PlainSize: n}}})
		if !errors.Is(err, store.ErrInvalidKey) && !errors.Is(err, store.ErrKeyTooLong) {
			t.Errorf("key %q: %v", k, err)
		}
	}
}

// TestFailedWriteKeepsOldVersion interrupts a write mid-stream and checks
// the previous version is untouched and no temporary file is left.
func TestFailedWriteKeepsOldVersion(t *testing.T) {
	dir := t.TempDir()
	d, _ := store.OpenDisk(dir)
	s, _ := store.Open(d, store.Options{})
	s.CreateBucket("b", store.BucketOptions{})
	put(t, s, "b", "k", "original")
	boom := errors.New("client went away")
	_, _, err := s.WriteBlob(io.MultiReader(strings.NewReader("partial"), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("write: %v", err)
	}
	if got := get(t, s, "b", "k"); got != "original" {
		t.Fatalf("after failed write %q", got)
	}
	tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("temporary files left: %d", len(tmp))
	}
	// A commit into a missing bucket removes its blob.
	id, n, _ := s.WriteBlob(bytes.NewReader([]byte("orphan")))
	if _, err := s.CommitObject("nope", "k", store.ObjectMeta{Size: n, Parts: []store.Part{{Number: 1, Blob: id, Size: n}}}); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("commit to missing bucket: %v", err)
	}
	if _, err := d.OpenBlob(id); err == nil {
		t.Fatal("orphan blob left behind")
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestUpdateObjectMeta(t *testing.T) {
	s := store.NewMemoryStore(store.Options{})
	s.CreateBucket("b", store.BucketOptions{})
	v := put(t, s, "b", "k", "data")
	ct := "text/x"
	u, err := s.UpdateObjectMeta("b", "k", map[string]string{"color": "blue"}, &ct)
	if err != nil || u.UserMeta["color"] != "blue" || u.ContentType != "text/x" || u.VersionID != v.VersionID {
		t.Fatalf("update %+v %v", u, err)
	}
	if got := get(t, s, "b", "k"); got != "data" {
		t.Fatalf("data changed: %q", got)
	}
}

func TestSetObjectTags(t *testing.T) {
	dir := t.TempDir()
	open := func() *store.Store {
		d, err := store.OpenDisk(dir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.Open(d, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	s.CreateBucket("b", store.BucketOptions{})
	if _, err := s.SetObjectTags("b", "k", "", map[string]string{"a": "1"}); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("tag a missing key: %v", err)
	}
	if _, err := s.SetObjectTags("b", "k", "nope", map[string]string{"a": "1"}); !errors.Is(err, store.ErrNoSuchVersion) {
		t.Fatalf("tag a missing version: %v", err)
	}
	if _, err := s.SetObjectTags("nobucket", "k", "", nil); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("tag in a missing bucket: %v", err)
	}
	s.SetVersioning("b", store.VersioningEnabled)
	v1 := put(t, s, "b", "k", "one")
	v2 := put(t, s, "b", "k", "two")

	// Latest by default; the version id, time and write order stay.
	tags := map[string]string{"project": "x", "Env": "prod"}
	got, err := s.SetObjectTags("b", "k", "", tags)
	if err != nil || got.VersionID != v2.VersionID || got.Tags["project"] != "x" || !got.IsLatest {
		t.Fatalf("tag latest: %+v %v", got, err)
	}
	if !got.ModTime.Equal(v2.ModTime) || got.Seq != v2.Seq {
		t.Fatalf("tagging changed mod time or seq: %v/%d, was %v/%d", got.ModTime, got.Seq, v2.ModTime, v2.Seq)
	}
	tags["project"] = "mutated" // the store keeps its own copy
	got.Tags["Env"] = "mutated"
	if v, _ := s.GetObject("b", "k", ""); v.Tags["project"] != "x" || v.Tags["Env"] != "prod" || len(v.Tags) != 2 {
		t.Fatalf("stored tags %v", v.Tags)
	}
	// An older version by id, leaving the latest alone.
	if _, err := s.SetObjectTags("b", "k", v1.VersionID, map[string]string{"old": "yes"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetObject("b", "k", v1.VersionID); v.Tags["old"] != "yes" || len(v.Tags) != 1 || v.IsLatest {
		t.Fatalf("v1 tags %v latest=%v", v.Tags, v.IsLatest)
	}
	if v, _ := s.GetObject("b", "k", ""); v.VersionID != v2.VersionID || v.Tags["old"] != "" {
		t.Fatalf("latest after tagging v1: %s %v", v.VersionID, v.Tags)
	}
	// Tags persist across a reload; data is untouched.
	s.Close()
	s = open()
	if v, _ := s.GetObject("b", "k", ""); v.Tags["project"] != "x" || read(t, s, v) != "two" {
		t.Fatalf("after reload: tags %v", v.Tags)
	}
	if v, _ := s.GetObject("b", "k", v1.VersionID); v.Tags["old"] != "yes" || read(t, s, v) != "one" {
		t.Fatalf("v1 after reload: tags %v", v.Tags)
	}
	// Writes after a reload still order after the tagged versions.
	v3 := put(t, s, "b", "k", "three")
	if v3.Seq <= v2.Seq || v3.Tags != nil {
		t.Fatalf("new version: seq %d (v2 %d), tags %v", v3.Seq, v2.Seq, v3.Tags)
	}
	// Empty tags remove them.
	if got, err := s.SetObjectTags("b", "k", v2.VersionID, map[string]string{}); err != nil || got.Tags != nil {
		t.Fatalf("clear: %v %v", got.Tags, err)
	}
	// Delete markers: latest is "no such key", by id is ErrDeleteMarker.
	del, _ := s.DeleteObject("b", "k", "")
	if _, err := s.SetObjectTags("b", "k", "", map[string]string{"a": "1"}); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("tag under a delete marker: %v", err)
	}
	if _, err := s.SetObjectTags("b", "k", del.VersionID, map[string]string{"a": "1"}); !errors.Is(err, store.ErrDeleteMarker) {
		t.Fatalf("tag a delete marker by id: %v", err)
	}
	// Metadata updates and multipart uploads carry tags.
	s.DeleteObject("b", "k", del.VersionID)
	if v, err := s.UpdateObjectMeta("b", "k", map[string]string{"m": "1"}, nil); err != nil || v.VersionID != v3.VersionID {
		t.Fatalf("update meta: %v", err)
	}
	u, err := s.CreateUpload("b", "mp", store.ObjectMeta{Tags: map[string]string{"mp": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	id, n, _ := s.WriteBlob(strings.NewReader("part"))
	if err := s.PutPart("b", "mp", u.ID, store.Part{Number: 1, Blob: id, Size: n, PlainSize: n, ETag: "00"}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.CompleteUpload("b", "mp", u.ID, []store.CompletePart{{Number: 1, ETag: "00"}}); err != nil || v.Tags["mp"] != "yes" {
		t.Fatalf("completed upload: %+v %v", v, err)
	}
}
