package harness

import (
	"fmt"
	"log/slog"

	"github.com/replcheck/replcheck/harness/wan"
)

// WANLink is a WAN direction carried by a wan.Link: the Link of every
// provider whose directions are toxiproxy proxies.
type WANLink struct {
	from, to string
	wan      *wan.Link
	control  string // the toxiproxy control API holding the proxy, if known
}

var _ Link = (*WANLink)(nil)

// NewWANLink returns the direction from → to carried by l.
func NewWANLink(from, to string, l *wan.Link) *WANLink {
	return &WANLink{from: from, to: to, wan: l}
}

// From implements Link.
func (l *WANLink) From() string { return l.from }

// To implements Link.
func (l *WANLink) To() string { return l.to }

// WAN implements Link.
func (l *WANLink) WAN() *wan.Link { return l.wan }

// Control returns the address of the toxiproxy control API that holds the
// link's proxy ("" when not known), for clients in other processes.
func (l *WANLink) Control() string { return l.control }

// Members holds a topology's sites, of the provider's own type S, and its
// WAN links. Embedded in a provider's Topology, it gives the Topology its
// Sites, Site, Link and Links methods. It is filled while the topology
// starts and only read afterwards; it does no locking.
type Members[S Site] struct {
	sites []S
	links []Link
}

// AddSite appends s to the sites.
func (m *Members[S]) AddSite(s S) { m.sites = append(m.sites, s) }

// AddLink appends l to the links.
func (m *Members[S]) AddLink(l Link) { m.links = append(m.links, l) }

// OwnSites returns the sites with their provider type, in the order
// added. The slice is the Members' own: do not modify it.
func (m *Members[S]) OwnSites() []S { return m.sites }

// Sites implements Topology.
func (m *Members[S]) Sites() []Site {
	out := make([]Site, len(m.sites))
	for i, s := range m.sites {
		out[i] = s
	}
	return out
}

// Site implements Topology.
func (m *Members[S]) Site(name string) (Site, error) { return FindSite(m.Sites(), name) }

// Own returns the site named name with its provider type, for the
// provider's own methods.
func (m *Members[S]) Own(name string) (S, error) {
	for _, s := range m.sites {
		if s.Name() == name {
			return s, nil
		}
	}
	var zero S
	_, err := FindSite(m.Sites(), name)
	return zero, err
}

// Link implements Topology.
func (m *Members[S]) Link(from, to string) (Link, error) {
	for _, l := range m.links {
		if l.From() == from && l.To() == to {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no WAN link %s → %s", from, to)
}

// Links implements Topology.
func (m *Members[S]) Links() []Link { return append([]Link(nil), m.links...) }

// CheckTwoSites checks the site names given to a two-site provider: there
// must be exactly two, and they must differ.
func CheckTwoSites(sites []string) error {
	if len(sites) != 2 {
		return fmt.Errorf("%d sites given; replication here is between exactly two", len(sites))
	}
	if sites[0] == sites[1] {
		return fmt.Errorf("both sites are named %q", sites[0])
	}
	return nil
}

// StartWAN starts a toxiproxy server in this process on an ephemeral
// loopback port and adds one link per direction between sites a and b,
// each named "<from>-to-<to>", listening on an ephemeral loopback port
// and forwarding to upstream(from, to). It returns the server and the
// links a → b and b → a. On error it returns the server if it started, so
// the caller can close it.
func StartWAN(logger *slog.Logger, a, b string, upstream func(from, to string) string) (*wan.Server, []*WANLink, error) {
	srv, err := wan.StartServer(wan.DefaultAddr, logger)
	if err != nil {
		return nil, nil, err
	}
	network := wan.Connect(srv.Addr())
	var links []*WANLink
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		l, err := network.AddLink(from+"-to-"+to, wan.DefaultAddr, upstream(from, to))
		if err != nil {
			return srv, nil, err
		}
		wl := NewWANLink(from, to, l)
		wl.control = srv.Addr()
		links = append(links, wl)
	}
	return srv, links, nil
}
