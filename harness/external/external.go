// Package external is the topology provider for sites replcheck does not
// run: the user's own two replicated sites, or a topology started in
// another process (`replcheck topology up --write-sites FILE`), described
// by a sites file (docs/sites-file.md).
//
// A sites file names the environment variables that hold credentials,
// never the credentials: Load checks they are set, Open reads them. No
// error, log line or String of this package shows a secret.
//
// The provider can make the faults the file gives it the means for: with
// links (toxiproxy proxies on the replication path) it partitions and
// shapes the WAN; with status URLs it reads the engine's own replication
// status. It cannot crash, pause, disconnect or skew a site, turn on
// flaws, or know when a change was applied at the peer. Close leaves the
// sites as they are.
package external

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
)

// Target is the provider's name.
const Target = "external"

// DefaultTimeout bounds each check Open makes.
const DefaultTimeout = 10 * time.Second

// Options configure Open.
type Options struct {
	// Timeout bounds each check of an endpoint, status URL or WAN proxy,
	// and each status request later; default DefaultTimeout.
	Timeout time.Duration
	// Transport carries the checks and status requests; default
	// client.NewTransport().
	Transport http.RoundTripper
	Logger    *slog.Logger // default: discard
}

// Topology is the sites of a sites file, checked to answer.
type Topology struct {
	file  *File
	sites []harness.Site
	links []*Link
	caps  harness.Capabilities
}

var _ harness.Topology = (*Topology)(nil)

// Site is one site of a sites file.
type Site struct {
	spec  SiteSpec
	creds harness.Credentials
}

var _ harness.Site = (*Site)(nil)

// StatusSite is a site whose sites file gives a status URL: it reports
// the engine's own replication status.
type StatusSite struct {
	*Site
	hc *http.Client
}

var _ harness.StatusReporter = (*StatusSite)(nil)

// Link is one WAN direction through a toxiproxy proxy.
type Link struct {
	spec LinkSpec
	wan  *wan.Link
}

var _ harness.Link = (*Link)(nil)

// Open reads the credentials f names and checks that everything f
// describes answers, all at once, each within opts.Timeout: every S3
// endpoint takes a signed ListBuckets (an answer that rejects the
// credentials, InvalidAccessKeyId or SignatureDoesNotMatch, is an error;
// any other S3 answer, AccessDenied included, shows the endpoint is there
// and knows the key), every status URL serves a status, every WAN proxy
// exists on its toxiproxy server. Each error names the site or link and
// the URL. It changes nothing at the sites.
func Open(ctx context.Context, f *File, opts Options) (*Topology, error) {
	if f == nil {
		return nil, errors.New("open external topology: no sites file")
	}
	if f.lookup == nil {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("open external topology: %w", err)
		}
	} else if err := joinErrors(f.check(true)); err != nil {
		return nil, fmt.Errorf("open external topology: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Transport == nil {
		opts.Transport = client.NewTransport()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lookup := f.lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	hc := &http.Client{Transport: opts.Transport, Timeout: opts.Timeout}
	t := &Topology{file: f, caps: f.Capabilities(), links: make([]*Link, len(f.Links))}
	for _, spec := range f.Sites {
		creds, err := credentials(spec, lookup)
		if err != nil {
			return nil, fmt.Errorf("open external topology: %w", err)
		}
		t.sites = append(t.sites, newSite(spec, creds, hc))
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = map[int]error{} // by check, for a stable order
		n    int
	)
	check := func(fn func(context.Context) error) {
		i := n
		n++
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
			if err := fn(cctx); err != nil {
				mu.Lock()
				errs[i] = err
				mu.Unlock()
			}
		})
	}
	for _, hs := range t.sites {
		s := siteOf(hs)
		check(func(ctx context.Context) error { return checkS3(ctx, s, true, opts) })
		if s.spec.S3NonReplicated != "" {
			check(func(ctx context.Context) error { return checkS3(ctx, s, false, opts) })
		}
		if ss, ok := hs.(*StatusSite); ok {
			check(func(ctx context.Context) error { _, err := ss.ReplicationStatus(ctx); return err })
		}
	}
	for i, spec := range f.Links {
		check(func(ctx context.Context) error {
			l, err := findLink(ctx, spec, opts.Timeout)
			t.links[i] = l // each goroutine its own index
			return err
		})
	}
	wg.Wait()
	var out []error
	for i := range n {
		if err := errs[i]; err != nil {
			out = append(out, err)
		}
	}
	if len(out) > 0 {
		return nil, fmt.Errorf("open external topology: %w", errors.Join(out...))
	}
	for _, s := range t.sites {
		opts.Logger.Info("external site", "site", siteOf(s).String())
	}
	for _, l := range t.links {
		opts.Logger.Info("external WAN link", "link", l.String())
	}
	return t, nil
}

// credentials reads a site's credentials from the variables its spec
// names; an error names the variable, never a value.
func credentials(s SiteSpec, lookup func(string) (string, bool)) (harness.Credentials, error) {
	get := func(field, name string) (string, error) {
		v, ok := lookup(name)
		if !ok || v == "" {
			return "", fmt.Errorf("site %s: %s: environment variable %s is not set", s.Name, field, showEnv(name))
		}
		return v, nil
	}
	var c harness.Credentials
	var err error
	if c.AccessKey, err = get("access_key_env", s.AccessKeyEnv); err != nil {
		return c, err
	}
	if c.SecretKey, err = get("secret_key_env", s.SecretKeyEnv); err != nil {
		return c, err
	}
	if !s.Swift() {
		return c, nil
	}
	c.SwiftUser = s.SwiftUser
	if s.SwiftUserEnv != "" {
		if c.SwiftUser, err = get("swift_user_env", s.SwiftUserEnv); err != nil {
			return c, err
		}
	}
	keyEnv := s.SwiftKeyEnv
	if keyEnv == "" {
		keyEnv = s.SecretKeyEnv
	}
	c.SwiftKey, err = get("swift_key_env", keyEnv)
	return c, err
}

// newSite is a *Site, or a *StatusSite when the spec has a status URL.
func newSite(spec SiteSpec, creds harness.Credentials, hc *http.Client) harness.Site {
	s := &Site{spec: spec, creds: creds}
	if spec.StatusURL != "" {
		return &StatusSite{Site: s, hc: hc}
	}
	return s
}

func siteOf(s harness.Site) *Site {
	if ss, ok := s.(*StatusSite); ok {
		return ss.Site
	}
	return s.(*Site)
}

// checkS3 sends one signed ListBuckets to an S3 endpoint of s.
func checkS3(ctx context.Context, s *Site, replicated bool, opts Options) error {
	ep, which := s.spec.S3, "replicated"
	if !replicated {
		ep, which = s.spec.S3NonReplicated, "non-replicated"
	}
	c, err := client.NewS3(s, replicated, client.WithTransport(opts.Transport))
	if err != nil {
		return fmt.Errorf("site %s: %s S3 endpoint %s: %w", s.Name(), which, ep, err)
	}
	_, err = c.Minio().ListBuckets(ctx)
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.StatusCode != 0 {
		switch er.Code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return fmt.Errorf("site %s: %s S3 endpoint %s refused the credentials from $%s and $%s: %s (%s)",
				s.Name(), which, ep, showEnv(s.spec.AccessKeyEnv), showEnv(s.spec.SecretKeyEnv), er.Code, er.Message)
		}
		if er.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("site %s: %s S3 endpoint %s refused the credentials from $%s and $%s: %d %s",
				s.Name(), which, ep, showEnv(s.spec.AccessKeyEnv), showEnv(s.spec.SecretKeyEnv), er.StatusCode, er.Code)
		}
		if er.Code != "" && er.StatusCode < 500 {
			return nil // an S3 answer: the endpoint is there
		}
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer within %v", opts.Timeout)
	}
	return fmt.Errorf("site %s: %s S3 endpoint %s does not answer: %w", s.Name(), which, ep, err)
}

// findLink looks the link's proxy up on its toxiproxy server, within
// ctx (toxiproxy's client has its own 30 s timeout and no context).
func findLink(ctx context.Context, spec LinkSpec, timeout time.Duration) (*Link, error) {
	type res struct {
		l   *wan.Link
		err error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := wan.Connect(spec.Toxiproxy).Link(spec.Proxy)
		ch <- res{l, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("WAN link %s → %s: proxy %s on toxiproxy %s: %w", spec.From, spec.To, spec.Proxy, spec.Toxiproxy, r.err)
		}
		return &Link{spec: spec, wan: r.l}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("WAN link %s → %s: toxiproxy %s does not answer within %v", spec.From, spec.To, spec.Toxiproxy, timeout)
	}
}

// Target implements harness.Topology.
func (t *Topology) Target() string { return Target }

// File is the sites file the topology was opened from.
func (t *Topology) File() *File { return t.file }

// Sites implements harness.Topology, in file order.
func (t *Topology) Sites() []harness.Site { return append([]harness.Site(nil), t.sites...) }

// Site implements harness.Topology.
func (t *Topology) Site(name string) (harness.Site, error) { return harness.FindSite(t.sites, name) }

// Link implements harness.Topology.
func (t *Topology) Link(from, to string) (harness.Link, error) {
	for _, l := range t.links {
		if l.spec.From == from && l.spec.To == to {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no WAN link %s → %s in sites file %s", from, to, t.file.Path)
}

// Links implements harness.Topology.
func (t *Topology) Links() []harness.Link {
	out := make([]harness.Link, len(t.links))
	for i, l := range t.links {
		out[i] = l
	}
	return out
}

// Capabilities implements harness.Topology: partition and WAN shaping
// with links, replication status with a status URL; nothing else.
func (t *Topology) Capabilities() harness.Capabilities { return t.caps }

// Close implements harness.Topology. The sites and proxies are the
// user's: nothing is stopped or changed.
func (t *Topology) Close(context.Context) error { return nil }

// String names the topology's sites, for logs.
func (t *Topology) String() string { return "external topology from " + t.file.String() }

// Name implements harness.Site.
func (s *Site) Name() string { return s.spec.Name }

// Region implements harness.Site.
func (s *Site) Region() string { return s.spec.Region }

// Replicated implements harness.Site.
func (s *Site) Replicated() harness.Endpoint {
	return harness.Endpoint{S3: s.spec.S3, SwiftAuth: s.spec.SwiftAuth}
}

// NonReplicated implements harness.Site; empty where the file gives none.
func (s *Site) NonReplicated() harness.Endpoint {
	return harness.Endpoint{S3: s.spec.S3NonReplicated, SwiftAuth: s.spec.SwiftAuthNonReplicated}
}

// Credentials implements harness.Site.
func (s *Site) Credentials() harness.Credentials { return s.creds }

// Spec is the site as the sites file describes it.
func (s *Site) Spec() SiteSpec { return s.spec }

// String describes the site with the names of its credentials'
// variables, never their values.
func (s *Site) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (region %s): S3 %s", s.spec.Name, s.spec.Region, s.spec.S3)
	if s.spec.S3NonReplicated != "" {
		fmt.Fprintf(&b, ", non-replicated S3 %s", s.spec.S3NonReplicated)
	}
	if s.spec.SwiftAuth != "" {
		fmt.Fprintf(&b, ", Swift auth %s", s.spec.SwiftAuth)
	}
	fmt.Fprintf(&b, ", keys from $%s and $%s", showEnv(s.spec.AccessKeyEnv), showEnv(s.spec.SecretKeyEnv))
	if s.spec.StatusURL != "" {
		u, _ := url.Parse(s.spec.StatusURL)
		fmt.Fprintf(&b, ", status %s", showURL(u))
	}
	return b.String()
}

// GoString is String: %#v must not print the credentials either.
func (s *Site) GoString() string { return "external.Site{" + s.String() + "}" }

// LogValue keeps the credentials out of structured logs.
func (s *Site) LogValue() slog.Value { return slog.StringValue(s.String()) }

// String describes the site (StatusSite's own, so the embedded *Site's
// fields are never printed by %v).
func (s *StatusSite) String() string { return s.Site.String() }

// GoString is String.
func (s *StatusSite) GoString() string { return s.Site.GoString() }

// StatusURL is where the engine's status is read.
func (s *StatusSite) StatusURL() string { return s.spec.StatusURL }

// engineStatus is the part of a status document replcheck reads; the
// pointers tell a missing field from a zero.
type engineStatus struct {
	PendingOperations *int   `json:"pendingOperations"`
	PendingBytes      *int64 `json:"pendingBytes"`
	InSync            *bool  `json:"inSync"`
}

// ReplicationStatus implements harness.StatusReporter: a GET of the
// status URL, which must answer 200 with a JSON object holding
// pendingOperations, pendingBytes and inSync.
func (s *StatusSite) ReplicationStatus(ctx context.Context) (harness.ReplicationStatus, error) {
	u, _ := url.Parse(s.spec.StatusURL)
	where := fmt.Sprintf("site %s: status %s", s.spec.Name, showURL(u))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.spec.StatusURL, nil)
	if err != nil {
		return harness.ReplicationStatus{}, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, query and all
		}
		return harness.ReplicationStatus{}, fmt.Errorf("%s does not answer: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return harness.ReplicationStatus{}, fmt.Errorf("%s: %s", where, resp.Status)
	}
	var st engineStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return harness.ReplicationStatus{}, fmt.Errorf("%s: not a JSON status: %w", where, err)
	}
	var missing []string
	for _, m := range []struct {
		name string
		set  bool
	}{{"pendingOperations", st.PendingOperations != nil}, {"pendingBytes", st.PendingBytes != nil}, {"inSync", st.InSync != nil}} {
		if !m.set {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return harness.ReplicationStatus{}, fmt.Errorf("%s: the status has no %s", where, strings.Join(missing, ", "))
	}
	return harness.ReplicationStatus{PendingOperations: *st.PendingOperations, PendingBytes: *st.PendingBytes, InSync: *st.InSync}, nil
}

// From implements harness.Link.
func (l *Link) From() string { return l.spec.From }

// To implements harness.Link.
func (l *Link) To() string { return l.spec.To }

// WAN implements harness.Link.
func (l *Link) WAN() *wan.Link { return l.wan }

// Control is the toxiproxy control API the link's proxy is on.
func (l *Link) Control() string { return l.spec.Toxiproxy }

// String is the link's route and proxy, for logs.
func (l *Link) String() string {
	return fmt.Sprintf("%s → %s: proxy %s on toxiproxy %s", l.spec.From, l.spec.To, l.spec.Proxy, l.spec.Toxiproxy)
}

// CheckTimeline checks, without contacting anything, that a topology
// opened from f could play tl: every fault's capabilities (the error is
// harness's "target external cannot …"), sites and WAN directions. It is
// what the runner checks after Open, early enough to refuse a scenario as
// bad input.
func (f *File) CheckTimeline(tl nemesis.Timeline) error {
	t := &Topology{file: f, caps: f.Capabilities()}
	for _, spec := range f.Sites {
		t.sites = append(t.sites, newSite(spec, harness.Credentials{}, nil))
	}
	for _, spec := range f.Links {
		// A stand-in: validation looks links up, it never drives them.
		t.links = append(t.links, &Link{spec: spec, wan: &wan.Link{}})
	}
	return tl.Validate(t)
}

// Capabilities are what a topology opened from f can do.
func (f *File) Capabilities() harness.Capabilities {
	c := harness.Capabilities{}
	if len(f.Links) > 0 {
		c[harness.CapPartition], c[harness.CapWANShape] = true, true
	}
	for _, s := range f.Sites {
		if s.StatusURL != "" {
			c[harness.CapRepStatus] = true
		}
	}
	return c
}
