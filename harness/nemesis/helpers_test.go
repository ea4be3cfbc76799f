package nemesis_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
)

// fakeSite is a site that records Crash, Restart, Pause, Resume,
// Disconnect, Reconnect and SetClockSkew calls, and fails those named in
// fail.
type fakeSite struct {
	name string

	mu    sync.Mutex
	calls []string          // "crash", "restart", "pause", "resume", "disconnect", "reconnect", "skew 5s"
	fail  map[string]string // call (without argument) → error message
}

var (
	_ harness.Crasher      = (*fakeSite)(nil)
	_ harness.Pauser       = (*fakeSite)(nil)
	_ harness.Disconnecter = (*fakeSite)(nil)
	_ harness.ClockSkewer  = (*fakeSite)(nil)
)

func (s *fakeSite) Name() string                       { return s.name }
func (s *fakeSite) Region() string                     { return "test" }
func (s *fakeSite) Replicated() harness.Endpoint       { return harness.Endpoint{} }
func (s *fakeSite) NonReplicated() harness.Endpoint    { return harness.Endpoint{} }
func (s *fakeSite) Credentials() harness.Credentials   { return harness.Credentials{} }
func (s *fakeSite) Crash(context.Context) error        { return s.record("crash", "") }
func (s *fakeSite) Restart(context.Context) error      { return s.record("restart", "") }
func (s *fakeSite) Pause(context.Context) error        { return s.record("pause", "") }
func (s *fakeSite) Resume(context.Context) error       { return s.record("resume", "") }
func (s *fakeSite) Disconnect(context.Context) error   { return s.record("disconnect", "") }
func (s *fakeSite) Reconnect(context.Context) error    { return s.record("reconnect", "") }
func (s *fakeSite) SetClockSkew(d time.Duration) error { return s.record("skew", d.String()) }

func (s *fakeSite) record(call, arg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, strings.TrimSpace(call+" "+arg))
	if msg, ok := s.fail[call]; ok {
		return fmt.Errorf("%s %s: %s", call, s.name, msg)
	}
	return nil
}

// failOn makes call fail from now on.
func (s *fakeSite) failOn(call, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]string{}
	}
	s.fail[call] = msg
}

// clearFail makes every call succeed again.
func (s *fakeSite) clearFail() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = nil
}

func (s *fakeSite) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// plainSite is a site that can take no fault.
type plainSite struct{ name string }

func (s plainSite) Name() string                     { return s.name }
func (s plainSite) Region() string                   { return "test" }
func (s plainSite) Replicated() harness.Endpoint     { return harness.Endpoint{} }
func (s plainSite) NonReplicated() harness.Endpoint  { return harness.Endpoint{} }
func (s plainSite) Credentials() harness.Credentials { return harness.Credentials{} }

type fakeLink struct {
	from, to string
	wan      *wan.Link // nil: a link without a proxy
}

func (l fakeLink) From() string             { return l.from }
func (l fakeLink) To() string               { return l.to }
func (l fakeLink) WAN() *wan.Link           { return l.wan }
func (l fakeLink) String() string           { return l.from + "→" + l.to }
func (l fakeLink) matches(f, t string) bool { return l.from == f && l.to == t }

// fakeTopo is a topology of fake sites and real WAN links.
type fakeTopo struct {
	target string
	caps   harness.Capabilities
	sites  []harness.Site
	links  []fakeLink
}

var _ harness.Topology = (*fakeTopo)(nil)

func (t *fakeTopo) Target() string                         { return t.target }
func (t *fakeTopo) Sites() []harness.Site                  { return t.sites }
func (t *fakeTopo) Site(name string) (harness.Site, error) { return harness.FindSite(t.sites, name) }
func (t *fakeTopo) Capabilities() harness.Capabilities     { return t.caps }
func (t *fakeTopo) Close(context.Context) error            { return nil }

func (t *fakeTopo) Link(from, to string) (harness.Link, error) {
	for _, l := range t.links {
		if l.matches(from, to) {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no link %s→%s", from, to)
}

func (t *fakeTopo) Links() []harness.Link {
	out := make([]harness.Link, len(t.links))
	for i, l := range t.links {
		out[i] = l
	}
	return out
}

// env is a test topology: fake sites a and b (which can take every site
// fault) and c (which can take none), WAN links a→b and b→a through an
// in-process toxiproxy to HTTP peers that answer with their site's name,
// and a link a→c without a proxy.
type env struct {
	topo       *fakeTopo
	a, b       *fakeSite
	network    *wan.Network
	aToB, bToA *wan.Link
	client     *http.Client
}

func allCaps() harness.Capabilities {
	return harness.Capabilities{
		harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true, harness.CapClockSkew: true, harness.CapDisconnect: true,
	}
}

func newEnv(t *testing.T) *env {
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
	network := wan.Connect(srv.Addr())
	peerA, peerB := startPeer(t, "a"), startPeer(t, "b")
	aToB, err := network.AddLink("a-to-b", "127.0.0.1:0", peerB)
	if err != nil {
		t.Fatal(err)
	}
	bToA, err := network.AddLink("b-to-a", "127.0.0.1:0", peerA)
	if err != nil {
		t.Fatal(err)
	}
	// A short timeout, so a blackholed request fails quickly. Every
	// request opens its own connection, so a fault applies to the next
	// request whatever came before.
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{
		a:       &fakeSite{name: "a"},
		b:       &fakeSite{name: "b"},
		network: network,
		aToB:    aToB,
		bToA:    bToA,
		client:  &http.Client{Transport: tr, Timeout: 500 * time.Millisecond},
	}
	e.topo = &fakeTopo{
		target: "fake",
		caps:   allCaps(),
		sites:  []harness.Site{e.a, e.b, plainSite{name: "c"}},
		links:  []fakeLink{{"a", "b", aToB}, {"b", "a", bToA}, {"a", "c", nil}},
	}
	return e
}

// startPeer serves the site's name on a loopback port and returns the
// address.
func startPeer(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// get sends GET / through link and returns the peer's answer.
func (e *env) get(link *wan.Link) (string, error) {
	resp, err := e.client.Get("http://" + link.Addr() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// works reports whether a request through link reaches its peer.
func (e *env) works(link *wan.Link) bool {
	body, err := e.get(link)
	return err == nil && (body == "a" || body == "b")
}

// roundTrip times a request through link that must work.
func (e *env) roundTrip(t *testing.T, link *wan.Link) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := e.get(link); err != nil {
		t.Fatalf("through %v: %v", link, err)
	}
	return time.Since(start)
}

// assertWorks fails the test unless a request through link works.
func (e *env) assertWorks(t *testing.T, link *wan.Link, when string) {
	t.Helper()
	if body, err := e.get(link); err != nil {
		t.Errorf("%s: through %s: %v; want it to work", when, link.Name(), err)
	} else if body != "a" && body != "b" {
		t.Errorf("%s: through %s: got %q", when, link.Name(), body)
	}
}

// assertFails fails the test if a request through link works.
func (e *env) assertFails(t *testing.T, link *wan.Link, when string) {
	t.Helper()
	if body, err := e.get(link); err == nil {
		t.Errorf("%s: through %s: got %q; want an error", when, link.Name(), body)
	}
}

// assertFaults fails the test unless link's faults are want.
func assertFaults(t *testing.T, link *wan.Link, want ...string) {
	t.Helper()
	got, err := link.Faults()
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s faults = %q, want %q", link.Name(), got, want)
	}
}

// assertCalls fails the test unless s recorded exactly want.
func assertCalls(t *testing.T, s *fakeSite, want ...string) {
	t.Helper()
	if got := s.Calls(); !slices.Equal(got, want) {
		t.Errorf("site %s calls = %q, want %q", s.name, got, want)
	}
}

// assertErrorContains fails the test unless err contains every one of
// parts.
func assertErrorContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("error = nil, want one containing %q", parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
