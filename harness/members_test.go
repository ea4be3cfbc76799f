package harness_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
)

type fakeSite struct{ name string }

func (s *fakeSite) Name() string                     { return s.name }
func (s *fakeSite) Region() string                   { return "r" }
func (s *fakeSite) Replicated() harness.Endpoint     { return harness.Endpoint{} }
func (s *fakeSite) NonReplicated() harness.Endpoint  { return harness.Endpoint{} }
func (s *fakeSite) Credentials() harness.Credentials { return harness.Credentials{} }

func TestMembers(t *testing.T) {
	var m harness.Members[*fakeSite]
	if len(m.Sites()) != 0 || len(m.Links()) != 0 {
		t.Fatal("zero Members not empty")
	}
	a, b := &fakeSite{"a"}, &fakeSite{"b"}
	m.AddSite(a)
	m.AddSite(b)
	ab, ba := harness.NewWANLink("a", "b", &wan.Link{}), harness.NewWANLink("b", "a", &wan.Link{})
	m.AddLink(ab)
	m.AddLink(ba)

	if got := m.Sites(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("Sites = %v", got)
	}
	if got := m.OwnSites(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("OwnSites = %v", got)
	}
	if s, err := m.Site("b"); err != nil || s != b {
		t.Errorf("Site(b) = %v, %v", s, err)
	}
	if s, err := m.Own("a"); err != nil || s != a {
		t.Errorf("Own(a) = %v, %v", s, err)
	}
	const noSite = `no site "c" (sites: a, b)`
	if _, err := m.Site("c"); err == nil || err.Error() != noSite {
		t.Errorf("Site(c) error = %v, want %q", err, noSite)
	}
	if s, err := m.Own("c"); err == nil || err.Error() != noSite || s != nil {
		t.Errorf("Own(c) = %v, %v, want nil, %q", s, err, noSite)
	}
	if l, err := m.Link("b", "a"); err != nil || l != ba || l.From() != "b" || l.To() != "a" || l.WAN() == nil {
		t.Errorf("Link(b, a) = %v, %v", l, err)
	}
	if _, err := m.Link("a", "a"); err == nil || err.Error() != "no WAN link a → a" {
		t.Errorf("Link(a, a) error = %v", err)
	}
	links := m.Links()
	if len(links) != 2 || links[0] != ab || links[1] != ba {
		t.Errorf("Links = %v", links)
	}
	links[0] = nil // a copy: the Members' own list is untouched
	if m.Links()[0] != ab {
		t.Error("Links returned the Members' own slice")
	}
}

func TestCheckTwoSites(t *testing.T) {
	for _, tc := range []struct {
		sites []string
		want  string
	}{
		{[]string{"a", "b"}, ""},
		{nil, "0 sites given"},
		{[]string{"a"}, "1 sites given"},
		{[]string{"a", "b", "c"}, "3 sites given"},
		{[]string{"a", "a"}, `both sites are named "a"`},
	} {
		err := harness.CheckTwoSites(tc.sites)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckTwoSites(%q) = %v, want %q", tc.sites, err, tc.want)
		}
	}
}

func TestStartWAN(t *testing.T) {
	upstreams := map[string]*httptest.Server{}
	for _, name := range []string{"a", "b"} {
		upstreams[name] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, name)
		}))
		t.Cleanup(upstreams[name].Close)
	}
	srv, links, err := harness.StartWAN(nil, "a", "b", func(_, to string) string {
		return strings.TrimPrefix(upstreams[to].URL, "http://")
	})
	if srv != nil {
		t.Cleanup(func() { srv.Close() })
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 || links[0].From() != "a" || links[0].To() != "b" || links[1].From() != "b" || links[1].To() != "a" {
		t.Fatalf("links = %v", links)
	}
	for _, l := range links {
		if got := l.WAN().Name(); got != l.From()+"-to-"+l.To() {
			t.Errorf("link %s → %s named %q", l.From(), l.To(), got)
		}
		if l.Control() != srv.Addr() {
			t.Errorf("link %s → %s: control %q, want the server's %q", l.From(), l.To(), l.Control(), srv.Addr())
		}
		resp, err := http.Get("http://" + l.WAN().Addr())
		if err != nil {
			t.Fatalf("through %s → %s: %v", l.From(), l.To(), err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != l.To() {
			t.Errorf("through %s → %s reached %q, want %q", l.From(), l.To(), body, l.To())
		}
	}
}
