// Package minio is the topology provider for MinIO site replication: two
// `minio server` processes on loopback, each on its own single-drive data
// directory, joined with `mc admin replicate add`, with each site's
// replication traffic to the other going through a toxiproxy proxy in
// this process.
//
// Site replication stores one endpoint per peer and every site uses it.
// The adapter registers site A under the address of the proxy B→A and site
// B under the proxy A→B, so A reaches B only through A→B and B reaches A
// only through B→A. Clients reach each site directly.
//
// MinIO has no Swift API and no non-replicated endpoint (site replication
// covers every bucket), so those endpoints are empty. SSE-S3 and SSE-KMS
// use a static KMS key shared by both sites; SSE-C needs TLS, which the
// adapter does not set up. See docs/engines/minio.md.
package minio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/engines/proc"
	"github.com/replcheck/replcheck/harness/wan"
)

// Target is the provider's name.
const Target = "minio"

// Pinned module versions; the install hint names them.
const (
	MinioModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
	MCModule    = "github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9"
)

// DefaultSites are the names of the two sites.
var DefaultSites = []string{"europe-se-1a", "europe-se-1b"}

// KMSKeyName is the name of the static KMS key (the SSE-KMS key id).
const KMSKeyName = "replcheck-key"

// Region is the region both sites answer for (MinIO's default).
const Region = "us-east-1"

// Options configure Start.
type Options struct {
	Sites []string // default DefaultSites
	// DataDir holds each site's drive in a subdirectory named after it;
	// default a temporary directory removed by Close.
	DataDir string
	// StateRoot is the proc state root; default proc.Root().
	StateRoot string
	// StartTimeout bounds the start of each server and the replication
	// setup; default 90s.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Binaries are the executables the adapter runs.
type Binaries struct {
	Minio, MC string
}

// Find locates minio and mc; the error names what is missing and how to
// install it.
func Find() (Binaries, error) {
	var b Binaries
	var errs []error
	var err error
	if b.Minio, err = proc.FindBinary("minio"); err != nil {
		errs = append(errs, fmt.Errorf("%w: run `make engines` or `GOBIN=~/.cache/replcheck/engines/bin go install %s`", err, MinioModule))
	}
	if b.MC, err = proc.FindBinary("mc"); err != nil {
		errs = append(errs, fmt.Errorf("%w: run `make engines` or `GOBIN=~/.cache/replcheck/engines/bin go install %s`", err, MCModule))
	}
	return b, errors.Join(errs...)
}

// Check reports whether the adapter can run here.
func Check() error {
	_, err := Find()
	return err
}

// Topology is a running MinIO site-replication pair.
type Topology struct {
	harness.Members[*Site]
	bins    Binaries
	state   *proc.State
	server  *wan.Server
	dataDir string
	ownData bool
	timeout time.Duration // bounds each server start
}

var _ harness.Topology = (*Topology)(nil)

// Site is one MinIO server.
type Site struct {
	name    string
	port    int
	console int
	dataDir string
	env     []string
	creds   harness.Credentials
	t       *Topology

	mu sync.Mutex
	p  *proc.Process
}

var (
	_ harness.Site    = (*Site)(nil)
	_ harness.Crasher = (*Site)(nil)
	_ harness.Pauser  = (*Site)(nil)
)

// Name implements harness.Site.
func (s *Site) Name() string { return s.name }

// Region implements harness.Site.
func (s *Site) Region() string { return Region }

// Replicated implements harness.Site. MinIO has no Swift API.
func (s *Site) Replicated() harness.Endpoint {
	return harness.Endpoint{S3: "http://" + proc.Addr(s.port)}
}

// NonReplicated implements harness.Site: empty, since site replication
// covers every bucket.
func (s *Site) NonReplicated() harness.Endpoint { return harness.Endpoint{} }

// Credentials implements harness.Site (the root user).
func (s *Site) Credentials() harness.Credentials { return s.creds }

// PID returns the server's pid (0 if not running).
func (s *Site) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return 0
	}
	return s.p.PID()
}

// Start starts the topology. On error it returns what was started, so the
// caller can Close it.
func Start(ctx context.Context, opts Options) (*Topology, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = DefaultSites
	}
	if err := harness.CheckTwoSites(opts.Sites); err != nil {
		return nil, fmt.Errorf("start minio topology: %w", err)
	}
	for _, n := range opts.Sites {
		if !validName(n) {
			return nil, fmt.Errorf("start minio topology: site name %q: use letters, digits and '-', starting with a letter", n)
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	bins, err := Find()
	if err != nil {
		return nil, fmt.Errorf("start minio topology: %w", err)
	}
	t := &Topology{bins: bins, dataDir: opts.DataDir, timeout: opts.StartTimeout}
	if t.dataDir == "" {
		if t.dataDir, err = os.MkdirTemp("", "replcheck-minio-"); err != nil {
			return nil, fmt.Errorf("start minio topology: %w", err)
		}
		t.ownData = true
	}
	if t.state, err = proc.NewState(opts.StateRoot, Target); err != nil {
		return t, fmt.Errorf("start minio topology: %w", err)
	}
	if t.ownData {
		// A harness that dies leaves the temp dir to proc.Cleanup.
		if err := t.state.RemoveWith(t.dataDir); err != nil {
			return t, fmt.Errorf("start minio topology: %w", err)
		}
	}
	// One root user and one KMS key for both sites: site replication
	// replicates IAM anyway, and encrypted objects replicate only when
	// both sites hold the key.
	creds := harness.Credentials{AccessKey: "replcheck-" + randHex(6), SecretKey: randHex(20)}
	kms := KMSKeyName + ":" + base64.StdEncoding.EncodeToString(randBytes(32))
	for _, name := range opts.Sites {
		s := &Site{name: name, creds: creds, t: t, dataDir: filepath.Join(t.dataDir, name)}
		if s.port, err = proc.FreePort(); err != nil {
			return t, fmt.Errorf("start minio topology: %w", err)
		}
		if s.console, err = proc.FreePort(); err != nil {
			return t, fmt.Errorf("start minio topology: %w", err)
		}
		if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
			return t, fmt.Errorf("start minio topology: %w", err)
		}
		s.env = []string{"MINIO_ROOT_USER=" + creds.AccessKey, "MINIO_ROOT_PASSWORD=" + creds.SecretKey,
			"MINIO_KMS_SECRET_KEY=" + kms, "MINIO_BROWSER=off", "MINIO_SITE_NAME=" + name, "MINIO_SITE_REGION=" + Region,
			"MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off"}
		_ = t.state.SetPort(name, s.port)
		t.AddSite(s)
	}
	for _, s := range t.OwnSites() {
		if err := s.start(ctx, t.timeout); err != nil {
			return t, fmt.Errorf("start minio topology: %w", err)
		}
	}
	a, b := t.OwnSites()[0], t.OwnSites()[1]
	// One WAN proxy per direction: from reaches to's server through it.
	srv, links, err := harness.StartWAN(opts.Logger, a.name, b.name, func(_, to string) string {
		s, _ := t.Own(to)
		return proc.Addr(s.port)
	})
	t.server = srv
	if err != nil {
		return t, fmt.Errorf("start minio topology: %w", err)
	}
	for _, l := range links {
		t.AddLink(l)
	}
	// The endpoint registered for a site is the one its peer uses: A is
	// registered at the proxy B→A, B at the proxy A→B.
	ctx2, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	env := []string{
		mcHost(a.name, "http://"+links[1].WAN().Addr(), creds),
		mcHost(b.name, "http://"+links[0].WAN().Addr(), creds),
	}
	if _, err := t.mc(ctx2, env, "admin", "replicate", "add", a.name, b.name); err != nil {
		return t, fmt.Errorf("start minio topology: set up site replication: %w", err)
	}
	return t, nil
}

func validName(n string) bool {
	if n == "" || !(n[0] >= 'a' && n[0] <= 'z' || n[0] >= 'A' && n[0] <= 'Z') {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// mcHost gives mc an alias through its environment, so credentials never
// appear in argv or a config file.
func mcHost(alias, endpoint string, c harness.Credentials) string {
	u, _ := url.Parse(endpoint)
	u.User = url.UserPassword(c.AccessKey, c.SecretKey)
	return "MC_HOST_" + alias + "=" + u.String()
}

// mc runs mc with a private config directory and returns its output.
// Errors carry the output, which never holds the credentials (they are in
// the environment only).
func (t *Topology) mc(ctx context.Context, env []string, args ...string) ([]byte, error) {
	args = append([]string{"--config-dir", filepath.Join(t.state.Dir(), "mc"), "--no-color", "--disable-pager"}, args...)
	cmd := exec.CommandContext(ctx, t.bins.MC, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("mc %s: %w: %s", strings.Join(args[4:], " "), err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// MC runs mc against the sites: each site is an alias named after it,
// reached directly (not through the WAN proxies). For tests and
// investigation.
func (t *Topology) MC(ctx context.Context, args ...string) ([]byte, error) {
	var env []string
	for _, s := range t.OwnSites() {
		env = append(env, mcHost(s.name, s.Replicated().S3, s.creds))
	}
	return t.mc(ctx, env, args...)
}

func (s *Site) start(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := s.t.state.Start(ctx, proc.Cmd{Name: s.name, Path: s.t.bins.Minio, Env: s.env,
		Args: []string{"server", "--quiet", "--anonymous", "--address", proc.Addr(s.port),
			"--console-address", proc.Addr(s.console), s.dataDir}})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	// Ready means the S3 API can serve requests, not just that it listens.
	if err := proc.WaitHTTP(ctx, s.Replicated().S3+"/minio/health/ready", func(st int) bool { return st == 200 }, p); err != nil {
		return fmt.Errorf("site %s: %w", s.name, err)
	}
	return nil
}

// Crash implements harness.Crasher: SIGKILL to the server.
func (s *Site) Crash(context.Context) error {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("crash site %s: not running", s.name)
	}
	if ok, _ := p.Exited(); ok {
		return fmt.Errorf("crash site %s: not running", s.name)
	}
	return p.Kill()
}

// Restart implements harness.Crasher: a new server on the same drive and
// port.
func (s *Site) Restart(ctx context.Context) error {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p != nil {
		if ok, _ := p.Exited(); !ok {
			return fmt.Errorf("restart site %s: still running", s.name)
		}
	}
	if err := s.start(ctx, s.t.timeout); err != nil {
		return fmt.Errorf("restart site %s: %w", s.name, err)
	}
	return nil
}

// Pause implements harness.Pauser: SIGSTOP to the server.
func (s *Site) Pause(context.Context) error { return s.signal("pause", syscall.SIGSTOP) }

// Resume implements harness.Pauser: SIGCONT to the server.
func (s *Site) Resume(context.Context) error { return s.signal("resume", syscall.SIGCONT) }

func (s *Site) signal(what string, sig syscall.Signal) error {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s site %s: not running", what, s.name)
	}
	if ok, _ := p.Exited(); ok {
		return fmt.Errorf("%s site %s: not running", what, s.name)
	}
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("%s site %s: %w", what, s.name, err)
	}
	return nil
}

// Target implements harness.Topology.
func (t *Topology) Target() string { return Target }

// MinioSite returns the site named name with its MinIO-specific methods.
func (t *Topology) MinioSite(name string) (*Site, error) { return t.Own(name) }

// StateDir returns the topology's proc state directory (logs, pids).
func (t *Topology) StateDir() string { return t.state.Dir() }

// Capabilities implements harness.Topology.
func (t *Topology) Capabilities() harness.Capabilities {
	return harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true,
		harness.CapCrash: true, harness.CapPause: true}
}

// Close stops the servers and the WAN proxies and removes the state
// directory, and the data directory if Start made it.
func (t *Topology) Close(context.Context) error {
	var errs []error
	if t.state != nil {
		errs = append(errs, t.state.Close(proc.DefaultGrace))
	}
	if t.server != nil {
		errs = append(errs, t.server.Close())
	}
	if t.ownData && t.dataDir != "" {
		errs = append(errs, os.RemoveAll(t.dataDir))
	}
	return errors.Join(errs...)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return b
}

func randHex(n int) string { return hex.EncodeToString(randBytes(n)) }

// NoProxyHeader, present on a GET or HEAD, stops MinIO from answering a
// read of an object it lacks by fetching it from its peer (a proxied
// read): MinIO sets it on its own proxied requests to avoid loops, and
// any value turns proxying off. A probe that must see only what has
// replicated sends it.
const NoProxyHeader = "X-Minio-Source-Proxy-Request"

// ProbeTransport wraps rt (http.DefaultTransport if nil) so that every GET
// and HEAD carries NoProxyHeader: reads then show what the site holds,
// never what its peer holds.
func ProbeTransport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return noProxy{rt}
}

type noProxy struct{ rt http.RoundTripper }

func (n noProxy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		r = r.Clone(r.Context())
		r.Header.Set(NoProxyHeader, "true")
	}
	return n.rt.RoundTrip(r)
}
