package wan_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/replcheck/replcheck/harness/wan"
)

func TestAddLinkReadsBackListenAddress(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	p := startPeer(t, "site-b")

	link, err := network.AddLink("a-to-b", "127.0.0.1:0", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(link.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and a real port", link.Addr())
	}
	if link.Name() != "a-to-b" || link.Upstream() != p.addr() {
		t.Fatalf("link = %v", link)
	}
	if body := mustGet(t, newClient(t, time.Second), link, "/"); body != "site-b" {
		t.Fatalf("through link got %q, want site-b", body)
	}
	faults, err := link.Faults()
	if err != nil || len(faults) != 0 {
		t.Fatalf("new link Faults() = %q, %v; want none", faults, err)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, 5*time.Second)
	base := roundTrip(t, c, link)

	if err := link.SetLatency(100*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	// Request and answer are each delayed 100 ms: the round trip gains 200 ms.
	rtt := roundTrip(t, c, link)
	t.Logf("round trip: %v unshaped, %v with latency 100ms", base, rtt)
	if rtt < 200*time.Millisecond || rtt >= time.Second {
		t.Errorf("round trip with latency 100ms = %v, want 200ms ≤ rtt < 1s", rtt)
	}

	// A second call updates the same toxics instead of adding more.
	if err := link.SetLatency(30*time.Millisecond, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link, "latency 30ms ±10ms")
	rtt = roundTrip(t, c, link)
	if rtt < 40*time.Millisecond || rtt >= time.Second {
		t.Errorf("round trip with latency 30ms ±10ms = %v, want 40ms ≤ rtt < 1s", rtt)
	}

	if err := link.SetLatency(0, 0); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link)
	if err := link.SetLatency(-time.Millisecond, 0); err == nil || !strings.Contains(err.Error(), "a-to-b") {
		t.Errorf("negative latency: error %v, want one naming the link", err)
	}
}

func TestBandwidth(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := link.SetBandwidth(1_000_000); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link, "bandwidth 1000000 B/s")

	// 2 MiB each way at 1 MB/s: ≈2.1 s. The limit is per connection and
	// per direction, so an upload and a download at once take no longer.
	const size = 2 << 20
	c := newClient(t, 10*time.Second)
	var wg sync.WaitGroup
	var up, down time.Duration
	var upErr, downErr error
	wg.Go(func() {
		start := time.Now()
		resp, err := c.Post("http://"+link.Addr()+"/sink", "application/octet-stream", io.LimitReader(zeros{}, size))
		if err == nil {
			var body []byte
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && string(body) != fmt.Sprint(size) {
				err = fmt.Errorf("peer got %s bytes, want %d", body, size)
			}
		}
		up, upErr = time.Since(start), err
	})
	wg.Go(func() {
		start := time.Now()
		body, err := get(c, link, fmt.Sprintf("/blob?n=%d", size))
		if err == nil && len(body) != size {
			err = fmt.Errorf("got %d bytes, want %d", len(body), size)
		}
		down, downErr = time.Since(start), err
	})
	wg.Wait()
	if upErr != nil || downErr != nil {
		t.Fatalf("upload: %v; download: %v", upErr, downErr)
	}
	t.Logf("2 MiB at 1 MB/s: upload %v, download %v", up, down)
	for what, d := range map[string]time.Duration{"upload": up, "download": down} {
		if d < 1500*time.Millisecond || d > 4*time.Second {
			t.Errorf("%s of 2 MiB at 1 MB/s took %v, want 1.5 s to 4 s", what, d)
		}
	}

	// Resolution is toxiproxy's 1000 B/s.
	for _, tc := range []struct {
		set  int64
		want string
	}{
		{1, "bandwidth 1000 B/s"},
		{1499, "bandwidth 1000 B/s"},
		{1500, "bandwidth 2000 B/s"},
		{12_345_678, "bandwidth 12346000 B/s"},
	} {
		if err := link.SetBandwidth(tc.set); err != nil {
			t.Fatal(err)
		}
		assertFaults(t, link, tc.want)
	}
	if err := link.SetBandwidth(0); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link)
	if err := link.SetBandwidth(-1); err == nil {
		t.Error("negative bandwidth: no error")
	}
}

func TestPartitionRefuse(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	existing := dialRaw(t, link)
	if _, err := existing.get(time.Second); err != nil {
		t.Fatal(err)
	}

	// Other faults outlast the partition.
	if err := link.SetLatency(50*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if err := link.Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link, "partition refuse", "latency 50ms")

	start := time.Now()
	_, err = net.DialTimeout("tcp", link.Addr(), time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial partitioned link: %v, want connection refused", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("refusal took %v, want it at once", d)
	}
	// Toxiproxy closes existing connections when it disables a proxy: an
	// orderly close, so the sender reads EOF.
	if err := existing.waitClosed(time.Second); err != io.EOF {
		t.Errorf("existing connection after refuse partition: %v, want EOF", err)
	}

	if err := link.Heal(); err != nil {
		t.Fatal(err)
	}
	assertLatencyKept(t, link)
}

// assertLatencyKept checks that link works after a heal and still has
// the latency of 50 ms it had before the partition.
func assertLatencyKept(t *testing.T, link *wan.Link) {
	t.Helper()
	assertFaults(t, link, "latency 50ms")
	start := time.Now()
	if body := mustGet(t, newClient(t, time.Second), link, "/"); body != "site-b" {
		t.Fatalf("after heal got %q", body)
	}
	if rtt := time.Since(start); rtt < 100*time.Millisecond {
		t.Errorf("round trip after heal %v, want ≥ 100ms: latency lost", rtt)
	}
}

func TestPartitionBlackhole(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	p := startPeer(t, "site-b")
	link, err := network.AddLink("a-to-b", "", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	existing := dialRaw(t, link)
	if _, err := existing.get(time.Second); err != nil {
		t.Fatal(err)
	}

	if err := link.SetLatency(50*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if err := link.Partition(wan.Blackhole); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link, "partition blackhole", "latency 50ms")

	hits := p.hits.Load()
	start := time.Now()
	_, err = get(newClient(t, 300*time.Millisecond), link, "/")
	if !isTimeout(err) {
		t.Errorf("GET through blackhole: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("GET through blackhole gave up after %v, want ≈300ms", d)
	}
	if _, err := existing.get(300 * time.Millisecond); !isTimeout(err) {
		t.Errorf("existing connection in blackhole: %v, want a timeout", err)
	}
	if n := p.hits.Load() - hits; n != 0 {
		t.Errorf("%d requests reached the peer through the blackhole", n)
	}

	if err := link.Heal(); err != nil {
		t.Fatal(err)
	}
	// Heal closes connections that lived through the blackhole.
	if err := existing.waitClosed(time.Second); isTimeout(err) {
		t.Errorf("existing connection after heal: %v, want it closed", err)
	}
	assertLatencyKept(t, link)
}

func TestResetConnections(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	p := startPeer(t, "site-b")
	link, err := network.AddLink("a-to-b", "", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	existing := dialRaw(t, link)
	if _, err := existing.get(time.Second); err != nil {
		t.Fatal(err)
	}

	if err := link.ResetConnections(0); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link, "reset connections after 0s (downstream)")

	hits := p.hits.Load()
	_, err = get(newClient(t, time.Second), link, "/")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("GET on a new connection: %v, want connection reset", err)
	}
	// The request got through; only the answer was lost: an in-doubt outcome.
	if n := p.hits.Load() - hits; n != 1 {
		t.Errorf("peer saw %d requests, want 1", n)
	}
	// A connection from before the fault is closed, without RST.
	if _, err := existing.get(time.Second); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("GET on an existing connection: %v, want EOF or reset", err)
	}

	if err := link.ResetConnections(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link, "reset connections after 50ms (downstream)")
	start := time.Now()
	if _, err = get(newClient(t, time.Second), link, "/"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("GET with reset after 50ms: %v, want connection reset", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("reset after 50ms came after %v", d)
	}

	if err := link.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link)
	mustGet(t, newClient(t, time.Second), link, "/")
}

// TestChangeFaultsUnderLoad changes and removes shaping while data flows:
// no byte may be lost, and (under -race) toxiproxy's in-place toxic
// update, which races with the connections, must not be used.
func TestChangeFaultsUnderLoad(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(link.SetLatency(10*time.Millisecond, 0), link.SetBandwidth(4_000_000)); err != nil {
		t.Fatal(err)
	}
	done := transfers(t, link, 2, 3<<20)
	for _, change := range []func() error{
		func() error { return link.SetLatency(30*time.Millisecond, 5*time.Millisecond) },
		func() error { return link.SetBandwidth(8_000_000) },
		func() error { return link.SlowClose(10 * time.Millisecond) },
		func() error { return link.SetLatency(0, 0) },
		func() error { return link.SetBandwidth(0) },
	} {
		time.Sleep(100 * time.Millisecond)
		if err := change(); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Errorf("transfer while faults changed: %v", err)
		}
	}
	assertFaults(t, link, "slow close 10ms")
}

func TestSlowClose(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := link.SlowClose(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link, "slow close 200ms")

	// The peer closes after its answer (Connection: close); the sender
	// sees that close 200 ms later.
	conn := dialRaw(t, link)
	start := time.Now()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: peer\r\nConnection: close\r\n\r\n")
	if err := conn.waitClosed(2 * time.Second); err != io.EOF {
		t.Fatalf("connection: %v, want EOF", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("close reached the sender after %v, want ≥ 200ms", d)
	}
	if err := link.SlowClose(0); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link)
}

func TestOneWayPartition(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	siteA, siteB := startPeer(t, "site-a"), startPeer(t, "site-b")
	aToB, err := network.AddLink("a-to-b", "", siteB.addr())
	if err != nil {
		t.Fatal(err)
	}
	bToA, err := network.AddLink("b-to-a", "", siteA.addr())
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, 300*time.Millisecond)
	for _, mode := range []wan.PartitionMode{wan.Refuse, wan.Blackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			if err := aToB.Partition(mode); err != nil {
				t.Fatal(err)
			}
			if _, err := get(c, aToB, "/"); err == nil {
				t.Error("a-to-b works while partitioned")
			}
			if body, err := get(c, bToA, "/"); err != nil || body != "site-a" {
				t.Errorf("b-to-a during a-to-b partition: %q, %v; want site-a", body, err)
			}
			assertFaults(t, bToA)
			if err := aToB.Heal(); err != nil {
				t.Fatal(err)
			}
			if body := mustGet(t, c, aToB, "/"); body != "site-b" {
				t.Errorf("a-to-b after heal: %q", body)
			}
		})
	}
}

func TestFlap(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- link.Flap(ctx, 100*time.Millisecond, 100*time.Millisecond) }()

	c := newClient(t, 200*time.Millisecond)
	var ok, failed int
	var flapErr error
loop:
	for {
		select {
		case flapErr = <-done:
			break loop
		case <-time.After(10 * time.Millisecond):
		}
		if _, err := get(c, link, "/"); err != nil {
			failed++
		} else {
			ok++
		}
	}
	t.Logf("while flapping: %d requests ok, %d failed", ok, failed)
	if flapErr != nil {
		t.Fatal(flapErr)
	}
	if ok == 0 || failed == 0 {
		t.Errorf("while flapping: %d ok, %d failed; want both", ok, failed)
	}
	assertFaults(t, link)
	mustGet(t, newClient(t, time.Second), link, "/")

	// A done context flaps nothing.
	if err := link.Flap(ctx, time.Millisecond, time.Millisecond); err != nil {
		t.Error(err)
	}
	if err := link.Flap(context.Background(), 0, time.Second); err == nil {
		t.Error("Flap with a zero period: no error")
	}
}

func TestFaultsAndClearFaults(t *testing.T) {
	t.Parallel()
	srv, network := startNetwork(t)
	link, err := network.AddLink("a-to-b", "", startPeer(t, "site-b").addr())
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		link.SetLatency(80*time.Millisecond, 5*time.Millisecond),
		link.SetBandwidth(250_000),
		link.SlowClose(time.Second),
		link.ResetConnections(2 * time.Second),
		link.Partition(wan.Blackhole),
		link.Partition(wan.Refuse),
		link.SetLatency(40*time.Millisecond, 0), // updates in place
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	// A toxic made by another tool is reported, and cleared too.
	other := toxiclient.NewClient(srv.Addr()).NewProxy()
	other.Name = "a-to-b"
	if _, err := other.AddToxic("cap", "limit_data", "upstream", 1, toxiclient.Attributes{"bytes": 100}); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link,
		"partition refuse",
		"partition blackhole",
		"latency 40ms",
		"bandwidth 250000 B/s",
		"reset connections after 2s (downstream)",
		"slow close 1s",
		"toxic cap type limit_data (upstream)",
	)

	if err := link.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, link)
	mustGet(t, newClient(t, time.Second), link, "/")

	if err := link.Partition(wan.PartitionMode(0)); err == nil {
		t.Error("Partition with the zero mode: no error")
	}
}

func TestNetworkRemote(t *testing.T) {
	t.Parallel()
	srv, first := startNetwork(t)
	p := startPeer(t, "site-b")
	made, err := first.AddLink("a-to-b", "", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.AddLink("b-to-a", "", startPeer(t, "site-a").addr()); err != nil {
		t.Fatal(err)
	}

	// A second handle, as a process elsewhere would have.
	second := wan.Connect("http://" + srv.Addr())
	links, err := second.Links()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name())
	}
	if !reflect.DeepEqual(names, []string{"a-to-b", "b-to-a"}) {
		t.Fatalf("second handle sees links %q", names)
	}
	seen, err := second.Link("a-to-b")
	if err != nil {
		t.Fatal(err)
	}
	if seen.Addr() != made.Addr() || seen.Upstream() != made.Upstream() {
		t.Fatalf("second handle sees %v, first made %v", seen, made)
	}

	if err := seen.SetLatency(10*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if err := seen.Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, made, "partition refuse", "latency 10ms")
	if err := second.Reset(); err != nil {
		t.Fatal(err)
	}
	assertFaults(t, made)
	if body := mustGet(t, newClient(t, time.Second), made, "/"); body != "site-b" {
		t.Fatalf("after reset got %q", body)
	}

	if err := second.RemoveLink("a-to-b"); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", made.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("removed link still accepts connections")
	}
	if _, err := first.Link("a-to-b"); err == nil || !strings.Contains(err.Error(), "a-to-b") {
		t.Errorf("removed link: error %v, want one naming it", err)
	}
	if err := made.SetLatency(time.Millisecond, 0); err == nil || !strings.Contains(err.Error(), "a-to-b") {
		t.Errorf("fault on removed link: error %v, want one naming it", err)
	}
}

func TestAddLinkErrors(t *testing.T) {
	t.Parallel()
	_, network := startNetwork(t)
	upstream := startPeer(t, "site-b").addr()
	if _, err := network.AddLink("a-to-b", "", upstream); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, listen, upstream, want string }{
		{"a-to-b", "", upstream, "already exists"},
		{"", "", upstream, "empty name"},
		{"a/b", "", upstream, "name may hold"},
		{"c-to-d", "", "", "no upstream"},
		{"c-to-d", "127.0.0.1:notaport", upstream, "c-to-d"},
	} {
		if _, err := network.AddLink(tc.name, tc.listen, tc.upstream); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddLink(%q, %q, %q): error %v, want one containing %q", tc.name, tc.listen, tc.upstream, err, tc.want)
		}
	}
	if _, err := wan.Connect("127.0.0.1:1").Links(); err == nil {
		t.Error("Links from a closed port: no error")
	}
}

// assertFaults checks that link reports exactly want.
func assertFaults(t testing.TB, link *wan.Link, want ...string) {
	t.Helper()
	got, err := link.Faults()
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Faults() = %q, want %q", got, want)
	}
}
