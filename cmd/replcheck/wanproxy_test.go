package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/harness/wan"
)

func TestWANProxyBadListen(t *testing.T) {
	for _, tc := range []struct {
		listen string
		want   string
	}{
		{"nonsense", "not host:port"},
		{"", "not host:port"},
		{"127.0.0.1", "not host:port"},
		{"127.0.0.1:99999", "port"},
		{"127.0.0.1:http", "port"},
	} {
		var errb bytes.Buffer
		code := run(context.Background(), []string{"wanproxy", "--listen", tc.listen}, io.Discard, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), "--listen") || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("--listen %q: exit %d, %q; want exit 2 mentioning %q", tc.listen, code, errb.String(), tc.want)
		}
	}
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"wanproxy", "extra"}, io.Discard, &errb); code != exitUsage {
		t.Errorf("extra argument: exit %d, %q", code, errb.String())
	}
}

func TestWANProxyPortInUseExitsThree(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var errb bytes.Buffer
	code := run(context.Background(), []string{"wanproxy", "--listen", ln.Addr().String()}, io.Discard, &errb)
	if code != exitInfra || !strings.Contains(errb.String(), ln.Addr().String()) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestWANProxyServesLinks runs the proxy, adds a link through its control
// API as a harness would, and sends a request through the link.
func TestWANProxyServesLinks(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "through") }))
	defer upstream.Close()
	out, errb, stop := runInBackground(t, "wanproxy", "--listen", "127.0.0.1:0", "--json")
	var info wanproxyInfo
	if err := json.Unmarshal([]byte(firstLine(t, out, "wanproxy")), &info); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.Control, "127.0.0.1:") || strings.HasSuffix(info.Control, ":0") {
		t.Fatalf("control %q", info.Control)
	}
	l, err := wan.Connect(info.Control).AddLink("a-to-b", "127.0.0.1:0", strings.TrimPrefix(upstream.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + l.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "through" {
		t.Fatalf("through the link: %q", body)
	}
	if err := l.Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get("http://" + l.Addr() + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("a request crossed a partitioned link")
	}
	if code := stop(); code != exitPass {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// Stopping the proxy closes its links.
	if conn, err := net.Dial("tcp", l.Addr()); err == nil {
		conn.Close()
		t.Fatal("link still listening after the proxy stopped")
	}
}

func TestWANProxyBanner(t *testing.T) {
	out, _, stop := runInBackground(t, "wanproxy", "--listen", "127.0.0.1:0")
	line := firstLine(t, out, "wanproxy")
	stop()
	if !strings.Contains(line, "control API at 127.0.0.1:") {
		t.Fatalf("banner %q", line)
	}
}
