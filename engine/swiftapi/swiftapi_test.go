package swiftapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/engine/store"
)

func TestAuth(t *testing.T) {
	f := newFixture(t)
	if !strings.HasPrefix(f.conn.AuthToken, "AUTH_tk") {
		t.Errorf("token %q does not start with AUTH_tk", f.conn.AuthToken)
	}
	if want := f.srv.URL + "/v1/AUTH_acct"; f.conn.StorageUrl != want {
		t.Errorf("storage URL %q, want %q", f.conn.StorageUrl, want)
	}

	// Raw: both header spellings, the expiry, the same token while it lives.
	for _, hdr := range []map[string]string{
		{"X-Auth-User": testUser, "X-Auth-Key": testSecret},
		{"X-Storage-User": testUser, "X-Storage-Pass": testSecret},
	} {
		hdr["X-Auth-Token"] = ""
		resp, body := f.doURL("GET", f.srv.URL+"/auth/1.0", hdr, nil)
		expect(t, resp, body, http.StatusOK)
		if tok := resp.Header.Get("X-Auth-Token"); tok != f.conn.AuthToken || resp.Header.Get("X-Storage-Token") != tok {
			t.Errorf("second auth gave token %q / %q, want the live %q", tok, resp.Header.Get("X-Storage-Token"), f.conn.AuthToken)
		}
		exp, err := strconv.Atoi(resp.Header.Get("X-Auth-Token-Expires"))
		if err != nil || exp < 86000 || exp > 86400 {
			t.Errorf("X-Auth-Token-Expires %q, want about 86400", resp.Header.Get("X-Auth-Token-Expires"))
		}
		if bytes.Contains(body, []byte(testSecret)) {
			t.Errorf("auth body shows the key: %s", body)
		}
	}
	// X-Auth-New-Token forces a fresh token; the old one keeps working.
	resp, body := f.doURL("GET", f.srv.URL+"/auth/v1.0",
		map[string]string{"X-Auth-Token": "", "X-Auth-User": testUser, "X-Auth-Key": testSecret, "X-Auth-New-Token": "true"}, nil)
	expect(t, resp, body, http.StatusOK)
	if resp.Header.Get("X-Auth-Token") == f.conn.AuthToken {
		t.Errorf("X-Auth-New-Token did not give a new token")
	}

	// Wrong key, unknown user, malformed user: the client sees AuthorizationFailed.
	for _, c := range []struct{ user, key string }{
		{testUser, "wrong"}, {"acct:nobody", testSecret}, {"acct", testSecret}, {testUser, ""}, {otherUser, testSecret},
	} {
		bad := &swift.Connection{UserName: c.user, ApiKey: c.key, AuthUrl: f.srv.URL + "/auth/v1.0", Retries: 1}
		if err := bad.Authenticate(ctx); !errors.Is(err, swift.AuthorizationFailed) {
			t.Errorf("auth %q with key %q: err %v, want AuthorizationFailed", c.user, c.key, err)
		}
	}
	resp, body = f.doURL("POST", f.srv.URL+"/auth/v1.0", map[string]string{"X-Auth-User": testUser, "X-Auth-Key": testSecret}, nil)
	expect(t, resp, body, http.StatusBadRequest)

	// Storage needs a token of the path's account.
	resp, body = f.do("HEAD", "", map[string]string{"X-Auth-Token": ""}, nil)
	expect(t, resp, body, http.StatusUnauthorized)
	resp, body = f.do("HEAD", "", map[string]string{"X-Auth-Token": "AUTH_tkdeadbeef"}, nil)
	expect(t, resp, body, http.StatusUnauthorized)
	resp, body = f.do("GET", "", map[string]string{"X-Auth-Token": "", "X-Storage-Token": f.conn.AuthToken}, nil)
	if resp.StatusCode/100 != 2 {
		t.Errorf("X-Storage-Token: status %d", resp.StatusCode)
	}
	other := &swift.Connection{UserName: otherUser, ApiKey: otherSecret, AuthUrl: f.srv.URL + "/auth/v1.0"}
	if err := other.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	resp, body = f.do("GET", "", map[string]string{"X-Auth-Token": other.AuthToken}, nil)
	expect(t, resp, body, http.StatusForbidden)
	if _, _, err := other.Account(ctx); err != nil {
		t.Errorf("other account HEAD of its own account: %v", err)
	}
}

func TestAccount(t *testing.T) {
	f := newFixture(t)
	resp, body := f.do("GET", "", nil, nil)
	expect(t, resp, body, http.StatusNoContent)
	resp, body = f.do("GET", "?format=json", nil, nil)
	expect(t, resp, body, http.StatusOK)
	if string(body) != "[]" {
		t.Errorf("empty json listing %q", body)
	}

	names := []string{"alpha", "beta", "dir-a", "dir-b", "gamma", "ünï"}
	for _, n := range names {
		f.mkContainer(n)
	}
	if err := f.conn.ObjectPutString(ctx, "alpha", "o1", "hello", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.ObjectPutString(ctx, "beta", "o1", "hi", ""); err != nil {
		t.Fatal(err)
	}
	info, hdr, err := f.conn.Account(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Containers != int64(len(names)) || info.Objects != 2 || info.BytesUsed != 7 {
		t.Errorf("account info %+v", info)
	}
	if hdr["X-Timestamp"] == "" || hdr["X-Account-Storage-Policy-Hp.intensive-Container-Count"] != strconv.Itoa(len(names)) {
		t.Errorf("account headers %v", hdr)
	}

	got, err := f.conn.ContainerNamesAll(ctx, nil)
	if err != nil || !slices.Equal(got, names) {
		t.Errorf("ContainerNamesAll %q, %v; want %q", got, err, names)
	}
	cs, err := f.conn.ContainersAll(ctx, &swift.ContainersOpts{Limit: 2})
	if err != nil || len(cs) != len(names) || cs[0].Name != "alpha" || cs[0].Count != 1 || cs[0].Bytes != 5 {
		t.Errorf("ContainersAll %+v, %v", cs, err)
	}

	for _, c := range []struct{ query, want string }{
		{"", "alpha\nbeta\ndir-a\ndir-b\ngamma\nünï\n"},
		{"?prefix=dir-", "dir-a\ndir-b\n"},
		{"?delimiter=-", "alpha\nbeta\ndir-\ngamma\nünï\n"},
		{"?marker=beta&limit=2", "dir-a\ndir-b\n"},
		{"?marker=beta&end_marker=gamma", "dir-a\ndir-b\n"},
		{"?delimiter=-&marker=dir-", "gamma\nünï\n"},
		{"?limit=0", ""},
	} {
		resp, body := f.do("GET", c.query, nil, nil)
		if string(body) != c.want {
			t.Errorf("GET account%s: %q, want %q", c.query, body, c.want)
		}
		if c.want == "" && resp.StatusCode != http.StatusNoContent {
			t.Errorf("GET account%s: status %d, want 204", c.query, resp.StatusCode)
		}
	}
	resp, body = f.do("GET", "?format=json&delimiter=-&prefix=d", nil, nil)
	expect(t, resp, body, http.StatusOK)
	if string(body) != `[{"subdir":"dir-"}]` {
		t.Errorf("json subdir listing %s", body)
	}
	resp, body = f.do("GET", "?limit=2", map[string]string{"Accept": "application/json"}, nil)
	expect(t, resp, body, http.StatusOK)
	var js []map[string]any
	if err := json.Unmarshal(body, &js); err != nil || len(js) != 2 || js[0]["name"] != "alpha" || js[0]["count"] != 1.0 ||
		js[0]["bytes"] != 5.0 || js[0]["last_modified"] == nil {
		t.Errorf("json listing %s (%v)", body, err)
	}
	resp, body = f.do("GET", "?format=xml&limit=1", nil, nil)
	expect(t, resp, body, http.StatusOK)
	if !strings.Contains(string(body), `<account name="AUTH_acct"><container><name>alpha</name><count>1</count>`) {
		t.Errorf("xml listing %s", body)
	}
	resp, body = f.do("GET", "?limit=10001", nil, nil)
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = f.do("GET", "", map[string]string{"Accept": "image/png"}, nil)
	expect(t, resp, body, http.StatusNotAcceptable)
	resp, body = f.do("PUT", "", nil, nil)
	expect(t, resp, body, http.StatusMethodNotAllowed)
}

func TestContainerPolicies(t *testing.T) {
	f := newFixture(t)
	if err := f.conn.ContainerCreate(ctx, "gp", swift.Headers{"X-Storage-Policy": "gp.recurring"}); err != nil {
		t.Fatal(err)
	}
	_, hdr, err := f.conn.Container(ctx, "gp")
	if err != nil || hdr["X-Storage-Policy"] != "gp.recurring" {
		t.Errorf("policy %q, %v", hdr["X-Storage-Policy"], err)
	}
	b, err := f.st.GetBucket("gp")
	if err != nil || b.Policy != "gp.recurring" || !b.Replicated {
		t.Errorf("stored bucket %+v, %v", b, err)
	}
	f.mkContainer("dflt")
	if b, _ := f.st.GetBucket("dflt"); b.Policy != "hp.intensive" {
		t.Errorf("default policy %q", b.Policy)
	}

	for _, p := range []string{"standard", "archive.cold", "no-such-policy"} {
		resp, body := f.do("PUT", "/refused", map[string]string{"X-Storage-Policy": p}, nil)
		expect(t, resp, body, http.StatusBadRequest)
		if !strings.Contains(string(body), p) {
			t.Errorf("refusal of %q does not name it: %q", p, body)
		}
	}
	if _, err := f.st.GetBucket("refused"); err == nil {
		t.Errorf("refused container was created")
	}
	err = f.conn.ContainerCreate(ctx, "x", swift.Headers{"X-Storage-Policy": "standard"})
	if !errors.Is(err, swift.BadRequest) {
		t.Errorf("ncw create with refused policy: %v", err)
	}

	// Re-creating: same or no policy is 202, another policy 409.
	resp, body := f.do("PUT", "/gp", map[string]string{"X-Storage-Policy": "GP.Recurring"}, nil)
	expect(t, resp, body, http.StatusAccepted)
	resp, body = f.do("PUT", "/gp", nil, nil)
	expect(t, resp, body, http.StatusAccepted)
	resp, body = f.do("PUT", "/gp", map[string]string{"X-Storage-Policy": "hp.intensive"}, nil)
	expect(t, resp, body, http.StatusConflict)
	resp, body = f.do("PUT", "/new", nil, nil)
	expect(t, resp, body, http.StatusCreated)

	resp, body = f.do("PUT", "/"+strings.Repeat("c", 257), nil, nil)
	expect(t, resp, body, http.StatusBadRequest)
	if !strings.Contains(string(body), "257") {
		t.Errorf("long name message %q", body)
	}
}

func TestContainerMetadata(t *testing.T) {
	f := newFixture(t)
	if err := f.conn.ContainerCreate(ctx, "m", swift.Headers{"X-Container-Meta-Color": "blue", "X-Container-Meta-My-Key": "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.ContainerUpdate(ctx, "m", swift.Headers{"X-Container-Meta-Shape": "round", "X-Remove-Container-Meta-Color": "x"}); err != nil {
		t.Fatal(err)
	}
	_, hdr, err := f.conn.Container(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	meta := hdr.ContainerMetadata()
	if meta["shape"] != "round" || meta["my-key"] != "v1" || meta["color"] != "" {
		t.Errorf("container metadata %v", meta)
	}
	if hdr["X-Container-Meta-My-Key"] != "v1" {
		t.Errorf("metadata not title-cased: %v", hdr)
	}
	resp, body := f.do("POST", "/m", map[string]string{"X-Container-Meta-Shape": ""}, nil)
	expect(t, resp, body, http.StatusNoContent)
	b, _ := f.st.GetBucket("m")
	if len(b.Meta) != 1 || b.Meta["my-key"] != "v1" {
		t.Errorf("stored container metadata %v", b.Meta)
	}
	resp, body = f.do("POST", "/m", map[string]string{"X-Container-Meta-" + strings.Repeat("n", 129): "v"}, nil)
	expect(t, resp, body, http.StatusBadRequest)
	resp, body = f.do("POST", "/m", map[string]string{"X-Container-Meta-Big": strings.Repeat("v", 257)}, nil)
	expect(t, resp, body, http.StatusBadRequest)
	resp, body = f.do("POST", "/missing", map[string]string{"X-Container-Meta-A": "b"}, nil)
	expect(t, resp, body, http.StatusNotFound)
}

func TestContainerDelete(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("full")
	if err := f.conn.ObjectPutString(ctx, "full", "o", "data", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.ContainerDelete(ctx, "full"); !errors.Is(err, swift.ContainerNotEmpty) {
		t.Errorf("delete non-empty: %v, want ContainerNotEmpty", err)
	}
	resp, body := f.do("DELETE", "/full", nil, nil)
	expect(t, resp, body, http.StatusConflict)
	if err := f.conn.ContainerDelete(ctx, "missing"); !errors.Is(err, swift.ContainerNotFound) {
		t.Errorf("delete missing: %v, want ContainerNotFound", err)
	}
	if err := f.conn.ObjectDelete(ctx, "full", "o"); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.ContainerDelete(ctx, "full"); err != nil {
		t.Errorf("delete emptied container: %v", err)
	}
	if _, _, err := f.conn.Container(ctx, "full"); !errors.Is(err, swift.ContainerNotFound) {
		t.Errorf("HEAD deleted container: %v", err)
	}
}

func TestContainerListing(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("big")
	var names []string
	for d := range 25 {
		for i := range 100 {
			names = append(names, fmt.Sprintf("dir%02d/obj%04d", d, i))
		}
	}
	names = append(names, "top1", "top2", "dir03/", "dir03/sub/deep")
	for i, n := range names {
		f.putDirect("big", n, []byte(n), store.ObjectMeta{ContentType: "text/plain", UserMeta: map[string]string{"i": strconv.Itoa(i)}}, noSSE)
	}
	sort.Strings(names)

	// ncw pages through with limit and marker.
	got, err := f.conn.ObjectNamesAll(ctx, "big", &swift.ObjectsOpts{Limit: 700})
	if err != nil || !slices.Equal(got, names) {
		t.Fatalf("ObjectNamesAll: %d names, %v; want %d", len(got), err, len(names))
	}
	objs, err := f.conn.Objects(ctx, "big", &swift.ObjectsOpts{Prefix: "dir07/", Limit: 3})
	if err != nil || len(objs) != 3 || objs[0].Name != "dir07/obj0000" || objs[0].Bytes != 13 ||
		objs[0].Hash != md5hex([]byte("dir07/obj0000")) || objs[0].ContentType != "text/plain" || objs[0].LastModified.IsZero() {
		t.Errorf("Objects: %+v, %v", objs, err)
	}

	// Raw plain pagination with limit and marker.
	var paged []string
	marker := ""
	for pages := 0; ; pages++ {
		resp, body := f.do("GET", "/big?limit=1000&marker="+pathEscape(marker), nil, nil)
		if resp.StatusCode == http.StatusNoContent {
			break
		}
		expect(t, resp, body, http.StatusOK)
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		paged = append(paged, lines...)
		marker = lines[len(lines)-1]
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if !slices.Equal(paged, names) {
		t.Errorf("plain pagination: %d names, want %d", len(paged), len(names))
	}
	resp, _ := f.do("HEAD", "/big", nil, nil)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Container-Object-Count") != strconv.Itoa(len(names)) {
		t.Errorf("HEAD: %d, count %q", resp.StatusCode, resp.Header.Get("X-Container-Object-Count"))
	}

	// Delimiter pagination: subdirs and top-level objects, interleaved in order.
	var entries []string
	marker = ""
	for {
		resp, body := f.do("GET", "/big?format=json&delimiter=/&limit=10&marker="+pathEscape(marker), nil, nil)
		expect(t, resp, body, http.StatusOK)
		var page []struct {
			Name   string `json:"name"`
			Subdir string `json:"subdir"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			entries = append(entries, e.Name+e.Subdir)
		}
		marker = entries[len(entries)-1]
	}
	var want []string
	for d := range 25 {
		want = append(want, fmt.Sprintf("dir%02d/", d))
	}
	want = append(want, "top1", "top2")
	if !slices.Equal(entries, want) {
		t.Errorf("delimiter listing %q, want %q", entries, want)
	}

	for _, c := range []struct{ query, want string }{
		{"?prefix=dir03/&delimiter=/&limit=3", "dir03/\ndir03/obj0000\ndir03/obj0001\n"},
		{"?prefix=dir03/sub", "dir03/sub/deep\n"},
		{"?path=dir03&limit=2", "dir03/obj0000\ndir03/obj0001\n"},
		{"?path=dir03/sub", "dir03/sub/deep\n"},
		{"?marker=dir24/obj0098", "dir24/obj0099\ntop1\ntop2\n"},
		{"?marker=dir24/obj0097&end_marker=top1", "dir24/obj0098\ndir24/obj0099\n"},
		{"?prefix=nothing", ""},
	} {
		_, body := f.do("GET", "/big"+c.query, nil, nil)
		if string(body) != c.want {
			t.Errorf("GET big%s: %q, want %q", c.query, body, c.want)
		}
	}
	// path lists only the direct children, directory markers included.
	resp, body := f.do("GET", "/big?path=dir03&limit=200", nil, nil)
	expect(t, resp, body, http.StatusOK)
	if lines := strings.Split(strings.TrimSpace(string(body)), "\n"); len(lines) != 100 || slices.Contains(lines, "dir03/sub/deep") {
		t.Errorf("path listing has %d entries", len(lines))
	}
	resp, body = f.do("GET", "/big?format=json&limit=1", nil, nil)
	expect(t, resp, body, http.StatusOK)
	var js []map[string]any
	if err := json.Unmarshal(body, &js); err != nil || len(js) != 1 {
		t.Fatalf("json %s", body)
	}
	for _, k := range []string{"name", "hash", "bytes", "content_type", "last_modified"} {
		if js[0][k] == nil {
			t.Errorf("json entry lacks %s: %s", k, body)
		}
	}
	if lm, _ := js[0]["last_modified"].(string); !strings.Contains(lm, "T") || strings.HasSuffix(lm, "Z") {
		t.Errorf("last_modified %q is not Swift's form", lm)
	}
	resp, body = f.do("GET", "/big?limit=10001", nil, nil)
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = f.do("GET", "/big?limit=10000", nil, nil)
	expect(t, resp, body, http.StatusOK)
	resp, body = f.do("GET", "/big?delimiter=ab", nil, nil)
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = f.do("GET", "/missing", nil, nil)
	expect(t, resp, body, http.StatusNotFound)

	// An empty container: 204 plain, [] json.
	f.mkContainer("empty")
	resp, body = f.do("GET", "/empty", nil, nil)
	expect(t, resp, body, http.StatusNoContent)
	resp, body = f.do("GET", "/empty?format=json", nil, nil)
	expect(t, resp, body, http.StatusOK)
	if string(body) != "[]" {
		t.Errorf("empty json %q", body)
	}
}

func TestVersionedBucket(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("ver")
	if err := f.st.SetVersioning("ver", store.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one", "two"} {
		if err := f.conn.ObjectPutString(ctx, "ver", "k", s, "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := f.conn.ObjectGetString(ctx, "ver", "k"); err != nil || s != "two" {
		t.Errorf("latest %q, %v", s, err)
	}
	if err := f.conn.ObjectDelete(ctx, "ver", "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.ObjectGetString(ctx, "ver", "k"); !errors.Is(err, swift.ObjectNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := f.conn.ObjectDelete(ctx, "ver", "k"); !errors.Is(err, swift.ObjectNotFound) {
		t.Errorf("second delete: %v", err)
	}
	res, err := f.st.ListVersions("ver", store.ListVersionsOptions{})
	if err != nil || len(res.Versions) != 3 || !res.Versions[0].DeleteMarker {
		t.Errorf("versions after delete: %d, %v", len(res.Versions), err)
	}
	if names, _ := f.conn.ObjectNamesAll(ctx, "ver", nil); len(names) != 0 {
		t.Errorf("listing shows deleted %q", names)
	}
}
