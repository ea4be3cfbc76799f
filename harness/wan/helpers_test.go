package wan_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness/wan"
)

// startNetwork starts an in-process toxiproxy server on loopback and
// returns it with a handle on its control API; both go at test end.
func startNetwork(t testing.TB) (*wan.Server, *wan.Network) {
	t.Helper()
	srv, err := wan.StartServer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv, wan.Connect(srv.Addr())
}

// peer is an HTTP upstream standing in for a site.
type peer struct {
	*httptest.Server
	name string
	hits atomic.Int64 // requests that reached the handler
}

// startPeer serves, on a loopback port:
//
//	GET  /         the peer's name
//	GET  /blob?n=N N bytes
//	POST /sink     reads the body, answers its length
func startPeer(t testing.TB, name string) *peer {
	t.Helper()
	p := &peer{name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		io.WriteString(w, p.name)
	})
	mux.HandleFunc("GET /blob", func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		io.CopyN(w, zeros{}, int64(n))
	})
	mux.HandleFunc("POST /sink", func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// addr is the peer's host:port, the upstream of a link.
func (p *peer) addr() string { return p.Listener.Addr().String() }

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// newClient makes an HTTP client that opens a new connection for every
// request, so a fault applies to the next request whatever came before.
func newClient(t testing.TB, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// get fetches path through link and returns the body.
func get(c *http.Client, link *wan.Link, path string) (string, error) {
	resp, err := c.Get("http://" + link.Addr() + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(body), nil
}

// mustGet is get that fails the test on error.
func mustGet(t testing.TB, c *http.Client, link *wan.Link, path string) string {
	t.Helper()
	body, err := get(c, link, path)
	if err != nil {
		t.Fatalf("through %v: %v", link, err)
	}
	return body
}

// roundTrip times one GET / through link.
func roundTrip(t testing.TB, c *http.Client, link *wan.Link) time.Duration {
	t.Helper()
	start := time.Now()
	mustGet(t, c, link, "/")
	return time.Since(start)
}

// rawConn is a kept-open HTTP/1.1 connection through a link, to see what a
// fault does to connections that already exist.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, link *wan.Link) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", link.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET / and reads the answer, waiting at most timeout.
func (c *rawConn) get(timeout time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: peer\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// waitClosed reads until the connection ends; it returns the read error
// (io.EOF for an orderly close) or a timeout error.
func (c *rawConn) waitClosed(timeout time.Duration) error {
	c.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, c.r)
	if err == nil {
		return io.EOF // io.Copy reports EOF as success
	}
	return err
}

// isTimeout reports whether err is a timeout (client or deadline).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
