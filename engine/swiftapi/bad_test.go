package swiftapi_test

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// TestBadRequests sends malformed and hostile requests and checks each
// answer, then that an object stored before is intact.
func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	f.mkContainer("c")
	canary := randBytes(10_000, 99)
	if _, err := f.conn.ObjectPut(ctx, "c", "canary", bytes.NewReader(canary), true, "", "", nil); err != nil {
		t.Fatal(err)
	}
	other := f.srv.URL + "/v1/AUTH_other"
	long := strings.Repeat("x", 1025)
	cases := []struct {
		name, method, url string
		hdr               map[string]string
		body              []byte
		status            int
	}{
		{"no token", "GET", "/c/canary", map[string]string{"X-Auth-Token": ""}, nil, 401},
		{"bad token", "GET", "/c/canary", map[string]string{"X-Auth-Token": "AUTH_tk0000"}, nil, 401},
		{"token without prefix", "DELETE", "/c/canary", map[string]string{"X-Auth-Token": "garbage"}, nil, 401},
		{"other account", "DELETE", other + "/c/canary", nil, nil, 403},
		{"other account listing", "GET", other, nil, nil, 403},
		{"1025-byte name", "PUT", "/c/" + long, nil, []byte("x"), 400},
		{"1025-byte name GET", "GET", "/c/" + long, nil, nil, 404},
		{"NUL in name", "PUT", "/c/a%00b", nil, []byte("x"), 412},
		{"NUL in name GET", "GET", "/c/canary%00", nil, nil, 412},
		{"invalid UTF-8", "PUT", "/c/%FF%FE", nil, []byte("x"), 412},
		{"NUL in container", "PUT", "/c%00d", nil, nil, 412},
		{"absurd range", "GET", "/c/canary", map[string]string{"Range": "bytes=99999999999999999999-"}, nil, 416},
		{"absurd range list", "GET", "/c/canary", map[string]string{"Range": strings.Repeat("bytes=0-1,", 200) + "0-1"}, nil, 200},
		{"negative range", "GET", "/c/canary", map[string]string{"Range": "bytes=--5"}, nil, 200},
		{"huge limit", "GET", "/c?limit=99999999999999999999999", nil, nil, 412},
		{"limit over max", "GET", "?limit=10001", nil, nil, 412},
		{"bad utf-8 prefix", "GET", "/c?prefix=%FF", nil, nil, 400},
		{"bad policy", "PUT", "/newc", map[string]string{"X-Storage-Policy": "gold"}, nil, 400},
		{"container name 257", "PUT", "/" + strings.Repeat("c", 257), nil, nil, 400},
		{"container dot-dot", "PUT", "/..", nil, nil, 400},
		{"empty container with object", "GET", "//canary", nil, nil, 404},
		{"dot-dot path", "GET", f.srv.URL + "/v1/AUTH_x/../..", nil, nil, 403},
		{"dot-dot delete", "DELETE", "/../canary", nil, nil, 404},
		{"v1 alone", "GET", f.srv.URL + "/v1/", nil, nil, 403},
		{"v1 no slash", "GET", f.srv.URL + "/v1", nil, nil, 403},
		{"no token v1", "GET", f.srv.URL + "/v1/", map[string]string{"X-Auth-Token": ""}, nil, 401},
		{"unknown root", "GET", f.srv.URL + "/v2/AUTH_acct/c/canary", nil, nil, 404},
		{"unknown method", "PATCH", "/c/canary", nil, []byte("x"), 405},
		{"account delete", "DELETE", "", nil, nil, 405},
		{"bad etag", "PUT", "/c/canary", map[string]string{"Etag": "zz"}, []byte("overwrite"), 422},
		{"wrong etag", "PUT", "/c/canary", map[string]string{"Etag": md5hex([]byte("no"))}, []byte("overwrite"), 422},
		{"bad if-none-match", "PUT", "/c/canary", map[string]string{"If-None-Match": "abc"}, []byte("overwrite"), 400},
		{"meta name too long", "PUT", "/c/canary", map[string]string{"X-Object-Meta-" + strings.Repeat("n", 200): "v"}, []byte("o"), 400},
		{"meta value too long", "POST", "/c/canary", map[string]string{"X-Object-Meta-N": strings.Repeat("v", 300)}, nil, 400},
		{"copy from nowhere", "PUT", "/c/canary", map[string]string{"X-Copy-From": "nothing"}, nil, 412},
		{"copy from missing", "PUT", "/c/canary", map[string]string{"X-Copy-From": "c/missing"}, nil, 404},
		{"copy with body", "PUT", "/c/canary", map[string]string{"X-Copy-From": "c/canary"}, []byte("b"), 400},
		{"copy from other account", "PUT", "/c/canary", map[string]string{"X-Copy-From": "c/canary", "X-Copy-From-Account": "AUTH_other"}, nil, 403},
		{"copy without destination", "COPY", "/c/canary", nil, nil, 412},
		{"copy to bad destination", "COPY", "/c/canary", map[string]string{"Destination": "%ZZ/x"}, nil, 412},
		{"DLO manifest", "PUT", "/c/canary", map[string]string{"X-Object-Manifest": "c_segments/canary/"}, []byte{}, 400},
		{"SLO manifest", "PUT", "/c/canary?multipart-manifest=put", nil, []byte("[]"), 400},
		{"symlink", "PUT", "/c/canary", map[string]string{"X-Symlink-Target": "c/other"}, []byte{}, 400},
		{"expiry", "PUT", "/c/canary", map[string]string{"X-Delete-After": "60"}, []byte("x"), 400},
		{"expiry on POST", "POST", "/c/canary", map[string]string{"X-Delete-At": "1999999999"}, nil, 400},
		{"post to missing", "POST", "/c/nothing", nil, nil, 404},
		{"delete missing", "DELETE", "/c/nothing", nil, nil, 404},
		{"delete non-empty", "DELETE", "/c", nil, nil, 409},
		{"get missing container", "GET", "/nocont/canary", nil, nil, 404},
		{"bad delimiter", "GET", "/c?delimiter=%E2%82%AC", nil, nil, 412},
		{"auth with POST", "POST", f.srv.URL + "/auth/v1.0", nil, nil, 400},
		{"auth without user", "GET", f.srv.URL + "/auth/v1.0", map[string]string{"X-Auth-Key": testSecret}, nil, 401},
	}
	for _, c := range cases {
		u := c.url
		if !strings.HasPrefix(u, "http") {
			u = f.conn.StorageUrl + u
		}
		resp, body := f.doURL(c.method, u, c.hdr, c.body)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s %s: status %d, want %d; body %q", c.name, c.method, u, resp.StatusCode, c.status, body)
		}
		if resp.Header.Get("X-Trans-Id") == "" {
			t.Errorf("%s: no X-Trans-Id", c.name)
		}
		if bytes.Contains(body, []byte(testSecret)) || bytes.Contains(body, []byte(f.conn.AuthToken)) {
			t.Errorf("%s: body shows a secret: %q", c.name, body)
		}
	}

	// A body shorter than its Content-Length: the client goes away mid-PUT.
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("PUT /v1/AUTH_acct/c/canary HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + f.conn.AuthToken +
		"\r\nContent-Length: 1000\r\n\r\nshort"))
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, _ := conn.Read(buf)
	conn.Close()
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 499")) {
		t.Errorf("truncated PUT answered %q", buf[:n])
	}
	// A PUT with neither Content-Length nor chunked encoding.
	conn, err = net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("PUT /v1/AUTH_acct/c/canary HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + f.conn.AuthToken + "\r\n\r\n"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ = conn.Read(buf)
	conn.Close()
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 411")) {
		t.Errorf("PUT without length answered %q", buf[:n])
	}

	// The canary is intact, with its metadata, and nothing else was made.
	got, err := f.conn.ObjectGetBytes(ctx, "c", "canary")
	if err != nil || !bytes.Equal(got, canary) {
		t.Fatalf("canary after bad requests: %d bytes, %v", len(got), err)
	}
	names, err := f.conn.ObjectNamesAll(ctx, "c", nil)
	if err != nil || len(names) != 1 {
		t.Errorf("container holds %q, %v", names, err)
	}
	if bs := f.st.ListBuckets(); len(bs) != 1 {
		t.Errorf("buckets %v", bs)
	}
	if _, err := f.st.GetObject("c", "a\x00b", ""); err == nil {
		t.Errorf("NUL name stored")
	}
}
