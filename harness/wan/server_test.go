package wan_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness/wan"
)

// TestCloseLeavesNothing is not parallel: it counts the process's
// goroutines, and parallel tests wait until the sequential ones are done.
func TestCloseLeavesNothing(t *testing.T) {
	base := settledGoroutines(0, 2*time.Second)

	srv, err := wan.StartServer("", nil)
	if err != nil {
		t.Fatal(err)
	}
	network := wan.Connect(srv.Addr())
	p := startPeer(t, "site-b")
	shaped, err := network.AddLink("shaped", "", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	cut, err := network.AddLink("cut", "", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	refused, err := network.AddLink("refused", "", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	// Leave every kind of state behind: faults, open idle connections and
	// a connection hung in a blackhole with its request swallowed.
	idle := dialRaw(t, shaped)
	if _, err := idle.get(time.Second); err != nil {
		t.Fatal(err)
	}
	hung := dialRaw(t, cut)
	steps := []error{
		shaped.SetLatency(20*time.Millisecond, 5*time.Millisecond),
		shaped.SetBandwidth(10_000_000),
		shaped.SlowClose(50 * time.Millisecond),
		cut.Partition(wan.Blackhole),
		refused.Partition(wan.Refuse),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	mustGet(t, newClient(t, time.Second), shaped, "/")
	if _, err := hung.get(100 * time.Millisecond); !isTimeout(err) {
		t.Fatalf("blackholed connection: %v, want a timeout", err)
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, addr := range []string{srv.Addr(), shaped.Addr(), cut.Addr(), refused.Addr()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
	if err := idle.waitClosed(time.Second); isTimeout(err) {
		t.Error("connection through a link still open after Close")
	}
	if err := hung.waitClosed(time.Second); isTimeout(err) {
		t.Error("blackholed connection still open after Close")
	}
	idle.Close()
	hung.Close()
	p.Close()

	if n := settledGoroutines(base, 5*time.Second); n > base {
		var stacks bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, base, stacks.String())
	}
}

// settledGoroutines waits up to max for the goroutine count to drop to
// target (or, with target 0, to stop changing) and returns it.
func settledGoroutines(target int, max time.Duration) int {
	deadline := time.Now().Add(max)
	n := runtime.NumGoroutine()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if (target > 0 && m <= target) || (target == 0 && m == n) {
			return m
		}
		n = m
	}
	return n
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// While the address is taken, Serve fails at once.
	if err := wan.Serve(context.Background(), addr, nil); err == nil {
		t.Error("Serve on a busy address: no error")
	}
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- wan.Serve(ctx, addr, nil) }()

	network := wan.Connect(addr)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := network.Links()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Serve never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, newClient(t, time.Second), link, "/")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	for _, a := range []string{addr, link.Addr()} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Serve returned", a)
		}
	}
}

func TestServerLogging(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		level slog.Level
		want  bool
	}{{slog.LevelDebug, true}, {slog.LevelInfo, false}} {
		t.Run(tc.level.String(), func(t *testing.T) {
			var buf syncBuffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))
			srv, err := wan.StartServer("", logger)
			if err != nil {
				t.Fatal(err)
			}
			link, err := wan.Connect(srv.Addr()).AddLink("a-to-b", "", startPeer(t, "site-b").addr())
			if err != nil {
				t.Fatal(err)
			}
			mustGet(t, newClient(t, time.Second), link, "/")
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			if has := strings.Contains(got, "component=toxiproxy"); has != tc.want {
				t.Errorf("toxiproxy records in a %v log: %v, want %v:\n%s", tc.level, has, tc.want, got)
			}
			if tc.want && !strings.Contains(got, "Accepted client") {
				t.Errorf("debug log lacks toxiproxy's connection records:\n%s", got)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCutsUnderLoadStrandNothing cuts links while data is in flight, where
// a bare toxiproxy disable or blackhole removal strands goroutines. Not
// parallel: it counts toxiproxy's goroutines in the whole process.
func TestCutsUnderLoadStrandNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(*wan.Server, *wan.Network, *wan.Link) error
	}{
		{"refuse", func(_ *wan.Server, _ *wan.Network, l *wan.Link) error {
			return errors.Join(l.Partition(wan.Refuse), l.Heal())
		}},
		{"blackhole", func(_ *wan.Server, _ *wan.Network, l *wan.Link) error {
			err := l.Partition(wan.Blackhole)
			time.Sleep(100 * time.Millisecond)
			return errors.Join(err, l.Heal())
		}},
		{"flap", func(_ *wan.Server, _ *wan.Network, l *wan.Link) error {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			return l.Flap(ctx, 50*time.Millisecond, 50*time.Millisecond)
		}},
		{"remove", func(_ *wan.Server, n *wan.Network, l *wan.Link) error {
			return n.RemoveLink(l.Name())
		}},
		{"close", func(s *wan.Server, _ *wan.Network, _ *wan.Link) error {
			return s.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, network := startNetwork(t)
			link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
			if err != nil {
				t.Fatal(err)
			}
			// Latency and bandwidth toxics hold chunks: what a cut strands.
			if err := errors.Join(link.SetLatency(10*time.Millisecond, 0), link.SetBandwidth(2_000_000)); err != nil {
				t.Fatal(err)
			}
			before := toxiproxyPipes()
			done := transfers(t, link, 2, 8<<20)
			time.Sleep(200 * time.Millisecond)
			if err := tc.cut(srv, network, link); err != nil {
				t.Fatal(err)
			}
			for range 4 {
				if err := <-done; err == nil {
					t.Error("a transfer survived the cut")
				}
			}
			deadline := time.Now().Add(3 * time.Second)
			n := toxiproxyPipes()
			for n > before && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				n = toxiproxyPipes()
			}
			if n > before {
				t.Errorf("%d toxiproxy pipe goroutines after the cut, %d before", n, before)
				buf := make([]byte, 1<<20)
				k := runtime.Stack(buf, true)
				for _, g := range strings.Split(string(buf[:k]), "\n\n") {
					if strings.Contains(g, "toxiproxy/v2/toxics.") || strings.Contains(g, "toxiproxy/v2.(*ToxicLink)") {
						t.Log(g)
					}
				}
			}
		})
	}
}

// transfers starts n uploads and n downloads of size bytes through link
// and reports each one's end on the channel: nil if every byte arrived.
func transfers(t *testing.T, link *wan.Link, n int, size int64) <-chan error {
	t.Helper()
	c := newClient(t, 5*time.Second)
	done := make(chan error, 2*n)
	for range n {
		go func() {
			body, err := get(c, link, fmt.Sprintf("/blob?n=%d", size))
			if err == nil && int64(len(body)) != size {
				err = fmt.Errorf("downloaded %d bytes, want %d", len(body), size)
			}
			done <- err
		}()
		go func() {
			resp, err := c.Post("http://"+link.Addr()+"/sink", "application/octet-stream", io.LimitReader(zeros{}, size))
			if err == nil {
				var body []byte
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && string(body) != fmt.Sprint(size) {
					err = fmt.Errorf("peer got %s bytes, want %d", body, size)
				}
			}
			done <- err
		}()
	}
	return done
}

// toxiproxyPipes counts the goroutines that move data through toxiproxy's
// proxies: per connection, a reader, a writer and one per toxic and stream.
func toxiproxyPipes() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "toxiproxy/v2/toxics.") || strings.Contains(g, "toxiproxy/v2.(*ToxicLink)") {
			count++
		}
	}
	return count
}
