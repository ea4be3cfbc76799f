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
	harness.Members[*Site]
	server *wan.Server
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

// Start starts the topology. On error it returns what was started, so the
// caller can register Close before checking the error.
func Start(ctx context.Context, opts Options) (*Topology, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = DefaultSites
	}
	if err := harness.CheckTwoSites(opts.Sites); err != nil {
		return nil, fmt.Errorf("start embedded topology: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Topology{}

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
		t.AddSite(&Site{Site: s, creds: harness.Credentials{AccessKey: user.AccessKey, SecretKey: user.SecretKey,
			SwiftUser: user.Account + ":" + user.Name, SwiftKey: user.SecretKey}})
	}
	// One WAN proxy per direction: from reaches to's internal endpoint
	// through it.
	srv, links, err := harness.StartWAN(opts.Logger, opts.Sites[0], opts.Sites[1], func(_, to string) string {
		s, _ := t.Own(to)
		return strings.TrimPrefix(s.InternalURL(), "http://")
	})
	t.server = srv
	if err != nil {
		return t, fmt.Errorf("start embedded topology: %w", err)
	}
	for _, l := range links {
		t.AddLink(l)
		from, _ := t.Own(l.From())
		if err := from.ConnectPeer(l.To(), "http://"+l.WAN().Addr()); err != nil {
			return t, fmt.Errorf("start embedded topology: %w", err)
		}
	}
	return t, nil
}

// Target implements harness.Topology.
func (t *Topology) Target() string { return Target }

// EngineSite returns a site with the reference engine's own API (its
// store, replicator and ground truth), for the engine's tests.
func (t *Topology) EngineSite(name string) (*Site, error) { return t.Own(name) }

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
	for _, s := range t.OwnSites() {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
