package s3api_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/store"
)

// fillBucket writes keys straight into the store (fast), one byte each.
func fillBucket(t testing.TB, e *env, bucket string, keys []string) {
	t.Helper()
	for _, k := range keys {
		if _, err := objio.Put(e.st, e.cfg.Keyring, bucket, k, objio.PutInput{Body: strings.NewReader("x"), Size: 1,
			Meta: store.ObjectMeta{ContentType: "text/plain"}}); err != nil {
			t.Fatal(err)
		}
	}
}

func listingKeys() []string {
	var keys []string
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("dir%d/sub%d/key%04d", i%5, i%7, i))
	}
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("top%02d", i))
	}
	keys = append(keys, awkwardKeys...)
	sort.Strings(keys)
	return keys
}

func TestListObjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bucket("listing")
	keys := listingKeys()
	fillBucket(t, e, b, keys)

	for _, v1 := range []bool{false, true} {
		name := map[bool]string{false: "V2", true: "V1"}[v1]
		// Recursive listing pages through everything (1000 per page).
		var got []string
		for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true, UseV1: v1}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("%s recursive: %d keys, want %d", name, len(got), len(keys))
		}
		// Small pages with a prefix.
		got = nil
		for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{Prefix: "dir3/", Recursive: true, UseV1: v1, MaxKeys: 37}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, "dir3/") {
				want = append(want, k)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s prefix dir3/: %d keys, want %d", name, len(got), len(want))
		}
		// Delimiter: common prefixes at the top and one level down.
		got = nil
		for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{UseV1: v1, MaxKeys: 3}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		// minio-go yields each page's objects before its prefixes.
		sort.Strings(got)
		want = topLevel(keys, "", "/")
		if !slices.Equal(got, want) {
			t.Errorf("%s delimiter /: got %q, want %q", name, got, want)
		}
		got = nil
		for o := range e.mc.ListObjects(ctx, b, minio.ListObjectsOptions{Prefix: "dir2/", UseV1: v1, MaxKeys: 2}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			got = append(got, o.Key)
		}
		sort.Strings(got)
		if want := topLevel(keys, "dir2/", "/"); !slices.Equal(got, want) {
			t.Errorf("%s prefix dir2/ delimiter /: got %q, want %q", name, got, want)
		}
	}
}

// topLevel is what a delimited listing should return.
func topLevel(keys []string, prefix, delim string) []string {
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if i := strings.Index(k[len(prefix):], delim); i >= 0 {
			cp := k[:len(prefix)+i+len(delim)]
			if len(out) == 0 || out[len(out)-1] != cp {
				out = append(out, cp)
			}
			continue
		}
		out = append(out, k)
	}
	return out
}

type listV2 struct {
	Name                  string
	Prefix                string
	Delimiter             string
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	EncodingType          string
	ContinuationToken     string
	NextContinuationToken string
	StartAfter            string
	Marker                string
	NextMarker            string
	Contents              []struct {
		Key          string
		ETag         string
		Size         int64
		StorageClass string
		Owner        *struct{ ID string }
	}
	CommonPrefixes []struct{ Prefix string }
}

func (e *env) listRaw(t *testing.T, bucket, query string) listV2 {
	t.Helper()
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + bucket, query: query})
	if resp.StatusCode != 200 {
		t.Fatalf("list %s: %d %s", query, resp.StatusCode, body)
	}
	var l listV2
	if err := xml.Unmarshal(body, &l); err != nil {
		t.Fatalf("list %s: %v", query, err)
	}
	return l
}

func TestListObjectsRaw(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bucket("rawlist")
	keys := []string{"a b", "a%b", "a+b", "dir/x", "dir/y", "z"}
	fillBucket(t, e, b, keys)

	// encoding-type=url: keys come back encoded, '+' as %2B.
	l := e.listRaw(t, b, "list-type=2&encoding-type=url")
	var got []string
	for _, c := range l.Contents {
		got = append(got, c.Key)
		if c.Owner != nil {
			t.Error("Owner without fetch-owner")
		}
		if c.StorageClass != "STANDARD" || c.Size != 1 || !strings.HasPrefix(c.ETag, `"`) {
			t.Errorf("entry %+v", c)
		}
	}
	if want := []string{"a%20b", "a%25b", "a%2Bb", "dir/x", "dir/y", "z"}; !slices.Equal(got, want) || l.EncodingType != "url" {
		t.Errorf("encoded keys %q (%s), want %q", got, l.EncodingType, want)
	}
	for _, c := range l.Contents {
		if _, err := url.QueryUnescape(c.Key); err != nil {
			t.Errorf("undecodable %q", c.Key)
		}
	}

	// Pagination with continuation tokens, max-keys 2.
	var all []string
	token := ""
	for pages := 0; ; pages++ {
		q := "list-type=2&max-keys=2&fetch-owner=true"
		if token != "" {
			q += "&continuation-token=" + url.QueryEscape(token)
		}
		l := e.listRaw(t, b, q)
		if l.KeyCount != len(l.Contents)+len(l.CommonPrefixes) || l.MaxKeys != 2 {
			t.Errorf("KeyCount %d MaxKeys %d", l.KeyCount, l.MaxKeys)
		}
		for _, c := range l.Contents {
			if c.Owner == nil || c.Owner.ID == "" {
				t.Error("no Owner with fetch-owner=true")
			}
			all = append(all, c.Key)
		}
		if !l.IsTruncated {
			if l.NextContinuationToken != "" {
				t.Error("NextContinuationToken on the last page")
			}
			break
		}
		token = l.NextContinuationToken
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if !slices.Equal(all, keys) {
		t.Errorf("paginated keys %q", all)
	}

	// start-after, max-keys clamping and zero.
	l = e.listRaw(t, b, "list-type=2&start-after=dir%2Fx")
	if len(l.Contents) != 2 || l.Contents[0].Key != "dir/y" || l.StartAfter != "dir/x" {
		t.Errorf("start-after: %+v", l)
	}
	if l = e.listRaw(t, b, "list-type=2&max-keys=5000"); l.MaxKeys != 1000 {
		t.Errorf("max-keys not clamped: %d", l.MaxKeys)
	}
	if l = e.listRaw(t, b, "list-type=2&max-keys=0"); len(l.Contents) != 0 || l.IsTruncated {
		t.Errorf("max-keys=0: %+v", l)
	}
	resp, body := e.raw(rawReq{method: http.MethodGet, path: "/" + b, query: "list-type=2&max-keys=-1"})
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/" + b, query: "list-type=2&continuation-token=%21%21"})
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = e.raw(rawReq{method: http.MethodGet, path: "/nosuchbucket", query: "list-type=2"})
	expectError(t, resp, body, 404, "NoSuchBucket")

	// V1: NextMarker only with a delimiter.
	l = e.listRaw(t, b, "max-keys=2")
	if !l.IsTruncated || l.NextMarker != "" {
		t.Errorf("V1 without delimiter: truncated %v NextMarker %q", l.IsTruncated, l.NextMarker)
	}
	l = e.listRaw(t, b, "max-keys=4&delimiter=%2F")
	if !l.IsTruncated || l.NextMarker != "dir/" || len(l.CommonPrefixes) != 1 {
		t.Errorf("V1 with delimiter: %+v", l)
	}
	l = e.listRaw(t, b, "marker=dir%2F&delimiter=%2F")
	if l.IsTruncated || len(l.Contents) != 1 || l.Contents[0].Key != "z" || l.Marker != "dir/" {
		t.Errorf("V1 from marker: %+v", l)
	}
}
