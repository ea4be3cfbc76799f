// Package embedded is the default topology provider: two reference-engine
// sites and a toxiproxy WAN proxy per direction, all in this process on
// loopback ports. It needs nothing but Go and starts in milliseconds.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/engine/site"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
)

// Target is the provider's name.
const Target = "embedded"

// DefaultSites are the names of the two sites.
var DefaultSites = []string{"europe-se-1a", "europe-se-1b"}

// Options configure an embedded topology.
type Options struct {
	Sites []string // default DefaultSites
	// DataDir, if set, gives each site a disk backend in a subdirectory
	// named after it; otherwise sites keep data in memory (which survives
	// a crash and restart of the site, as a disk would).
	DataDir string
	NoSync  bool
	// Flaws turns named flaws on at every site.
	Flaws replication.Flaws
	// MinBackoff and MaxBackoff bound replication retry waits.
	MinBackoff, MaxBackoff time.Duration
	MinPartSize            int64
	Logger                 *slog.Logger
}

// Topology is a running embedded topology.
type Topology struct {
	sites   []*Site
	links   []*Link
	server  *wan.Server
	network *wan.Network
}

var _ harness.Topology = (*Topology)(nil)

// Site is one site; it implements every optional site interface.
type Site struct {
	*site.Site
	creds harness.Credentials
}

var (
	_ harness.Site           = (*Site)(nil)
	_ harness.Crasher        = (*Site)(nil)
	_ harness.Pauser         = (*Site)(nil)
	_ harness.ClockSkewer    = (*Site)(nil)
	_ harness.StatusReporter = (*Site)(nil)
)

// ReplicationStatus implements harness.StatusReporter.
func (s *Site) ReplicationStatus(context.Context) (harness.ReplicationStatus, error) {
	r := s.Replicator()
	if r == nil {
		return harness.ReplicationStatus{}, fmt.Errorf("site %s is not running", s.Name())
	}
	st := r.Status()
	return harness.ReplicationStatus{PendingOperations: st.PendingOperations, PendingBytes: st.PendingBytes, InSync: st.InSync}, nil
}

// Replicated implements harness.Site.
func (s *Site) Replicated() harness.Endpoint {
	return harness.Endpoint{S3: s.URL(true), SwiftAuth: s.SwiftAuthURL(true)}
}

// NonReplicated implements harness.Site.
func (s *Site) NonReplicated() harness.Endpoint {
	return harness.Endpoint{S3: s.URL(false), SwiftAuth: s.SwiftAuthURL(false)}
}

// Credentials implements harness.Site.
func (s *Site) Credentials() harness.Credentials { return s.creds }

// Link is one WAN direction.
type Link struct {
	from, to string
	wan      *wan.Link
}

// From implements harness.Link.
func (l *Link) From() string { return l.from }

// To implements harness.Link.
func (l *Link) To() string { return l.to }

// WAN implements harness.Link.
func (l *Link) WAN() *wan.Link { return l.wan }

// Start starts the topology. On error it returns what was started, so the
// caller can register Close before checking the error.
func Start(ctx context.Context, opts Options) (*Topology, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = DefaultSites
	}
	if len(opts.Sites) != 2 {
		return nil, fmt.Errorf("start embedded topology: %d sites given; replication here is between exactly two", len(opts.Sites))
	}
	if opts.Sites[0] == opts.Sites[1] {
		return nil, fmt.Errorf("start embedded topology: both sites are named %q", opts.Sites[0])
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Topology{}
	srv, err := wan.StartServer("127.0.0.1:0", opts.Logger)
	if err != nil {
		return t, fmt.Errorf("start embedded topology: %w", err)
	}
	t.server = srv
	t.network = wan.Connect(srv.Addr())

	// The sites share what real sites of one deployment share: users, the
	// encryption keyring (one KMS) and the replication secret.
	secret, kr, user := site.GenerateSecret(), sse.GenerateKeyring(), site.GenerateUser()
	for _, name := range opts.Sites {
		cfg := site.Config{Name: name, Keyring: kr, Users: []endpoint.User{user}, MinPartSize: opts.MinPartSize,
			NoSync: opts.NoSync, Logger: opts.Logger,
			Replication: &site.Replication{Secret: secret, Flaws: opts.Flaws,
				MinBackoff: opts.MinBackoff, MaxBackoff: opts.MaxBackoff}}
		if opts.DataDir != "" {
			cfg.DataDir = filepath.Join(opts.DataDir, name)
		}
		s, err := site.Start(cfg)
		if err != nil {
			return t, fmt.Errorf("start embedded topology: %w", err)
		}
		t.sites = append(t.sites, &Site{Site: s, creds: harness.Credentials{AccessKey: user.AccessKey, SecretKey: user.SecretKey,
			SwiftUser: user.Account + ":" + user.Name, SwiftKey: user.SecretKey}})
	}
	for _, pair := range [][2]*Site{{t.sites[0], t.sites[1]}, {t.sites[1], t.sites[0]}} {
		from, to := pair[0], pair[1]
		l, err := t.network.AddLink(from.Name()+"-to-"+to.Name(), "127.0.0.1:0", strings.TrimPrefix(to.InternalURL(), "http://"))
		if err != nil {
			return t, fmt.Errorf("start embedded topology: %w", err)
		}
		t.links = append(t.links, &Link{from: from.Name(), to: to.Name(), wan: l})
		if err := from.ConnectPeer(to.Name(), "http://"+l.Addr()); err != nil {
			return t, fmt.Errorf("start embedded topology: %w", err)
		}
	}
	return t, nil
}

// Target implements harness.Topology.
func (t *Topology) Target() string { return Target }

// Sites implements harness.Topology.
func (t *Topology) Sites() []harness.Site {
	out := make([]harness.Site, len(t.sites))
	for i, s := range t.sites {
		out[i] = s
	}
	return out
}

// Site implements harness.Topology.
func (t *Topology) Site(name string) (harness.Site, error) { return harness.FindSite(t.Sites(), name) }

// EngineSite returns a site with the reference engine's own API (its
// store, replicator and ground truth), for the engine's tests.
func (t *Topology) EngineSite(name string) (*Site, error) {
	for _, s := range t.sites {
		if s.Name() == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("no site %q", name)
}

// Link implements harness.Topology.
func (t *Topology) Link(from, to string) (harness.Link, error) {
	for _, l := range t.links {
		if l.from == from && l.to == to {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no WAN link %s → %s", from, to)
}

// Links implements harness.Topology.
func (t *Topology) Links() []harness.Link {
	out := make([]harness.Link, len(t.links))
	for i, l := range t.links {
		out[i] = l
	}
	return out
}

// WANControl returns the toxiproxy control API address.
func (t *Topology) WANControl() string { return t.server.Addr() }

// Capabilities implements harness.Topology.
func (t *Topology) Capabilities() harness.Capabilities {
	return harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true, harness.CapClockSkew: true, harness.CapFlaws: true, harness.CapRepStatus: true,
		harness.CapGroundTime: true}
}

// Close stops the sites and the WAN proxies.
func (t *Topology) Close(ctx context.Context) error {
	var errs []error
	if t.server != nil {
		errs = append(errs, t.server.Close())
	}
	for _, s := range t.sites {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
