// Package swift starts two independent OpenStack Swift clusters on
// loopback, each with tempauth and s3api, replicating to each other by
// container sync through toxiproxy WAN proxies, and offers them as a
// harness.Topology.
//
// Container sync is configured per container: a container is replicated
// only once it exists at both sites with X-Container-Sync-To pointing at
// the peer and the same X-Container-Sync-Key. PrepareBucket does that; the
// harness must call it for every bucket it creates (see harness.BucketPreparer).
package swift

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	ncw "github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/engines/proc"
	"github.com/replcheck/replcheck/harness/wan"
)

// Target is the provider's name.
const Target = "swift"

// DefaultSites are the names of the two sites.
var DefaultSites = []string{"europe-se-1a", "europe-se-1b"}

// DefaultSyncInterval is the container-sync daemon's pass interval. Swift
// ships 300 s; a short one keeps sync lag within a test's patience.
const DefaultSyncInterval = 2 * time.Second

// DefaultReadyTimeout bounds start-up when Options.ReadyTimeout is zero.
const DefaultReadyTimeout = 90 * time.Second

// Binaries are the programs a topology runs, from Debian's swift,
// swift-proxy, swift-account, swift-container, swift-object and memcached
// packages.
var Binaries = []string{
	"swift-ring-builder", "swift-proxy-server", "swift-account-server", "swift-container-server",
	"swift-object-server", "swift-container-sync", "memcached",
}

// InstallHint says how to install the binaries.
const InstallHint = "apt-get install swift swift-proxy swift-account swift-container swift-object memcached"

// Check returns the path of every binary in Binaries, or an error naming
// each one missing and how to install it.
func Check() (map[string]string, error) {
	paths := map[string]string{}
	var missing []string
	for _, b := range Binaries {
		p, err := proc.FindBinary(b)
		if err != nil {
			missing = append(missing, b)
			continue
		}
		paths[b] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("swift engine: %s not found on PATH or in $%s: run `%s`",
			strings.Join(missing, ", "), proc.EnvEnginesDir, InstallHint)
	}
	return paths, nil
}

// Options configure a Swift topology.
type Options struct {
	Sites []string // default DefaultSites
	// Dir holds the clusters' configs and data, one subdirectory per
	// site; <state dir>/data, removed by Close, if empty.
	Dir string
	// StateRoot is where proc keeps the state directory (proc.Root() if
	// empty).
	StateRoot string
	// DevicesDir holds the object, container and account devices, one
	// subdirectory per site. Swift keeps an object's metadata in xattrs,
	// which ext4 limits to one 4 KiB block: a long key overflows it, the
	// object server fails with ENOSPC and the proxy then error-limits its
	// only device for a minute. Empty: under /dev/shm (tmpfs, whose xattrs
	// have no such limit) when xattrs fit there, removed by Close and by
	// proc.Cleanup; else with the data in Dir.
	DevicesDir   string
	SyncInterval time.Duration // default DefaultSyncInterval; whole seconds, at least 1
	ReadyTimeout time.Duration // default DefaultReadyTimeout
	Logger       *slog.Logger
}

// Topology is a running pair of Swift clusters.
type Topology struct {
	harness.Members[*Site]
	state   *proc.State
	server  *wan.Server
	dir     string
	syncKey string // X-Container-Sync-Key PrepareBucket sets at both sites
	logger  *slog.Logger
	bins    map[string]string
	grace   time.Duration
}

var _ harness.Topology = (*Topology)(nil)

// Site is one Swift cluster.
type Site struct {
	name    string
	cluster string
	dir     string
	ports   ports
	creds   harness.Credentials
	t       *Topology

	mu     sync.Mutex
	procs  []*proc.Process
	paused bool
}

var (
	_ harness.Site    = (*Site)(nil)
	_ harness.Crasher = (*Site)(nil)
	_ harness.Pauser  = (*Site)(nil)
)

// Name implements harness.Site.
func (s *Site) Name() string { return s.name }

// Region implements harness.Site: Swift's region is not S3's; s3api
// answers with location us-east-1 at both sites.
func (s *Site) Region() string { return "us-east-1" }

// Cluster is the site's cluster name in the container-sync realm.
func (s *Site) Cluster() string { return s.cluster }

// Replicated implements harness.Site. Swift replicates per container, not
// per endpoint: objects written here reach the peer only in containers
// PrepareBucket set up.
func (s *Site) Replicated() harness.Endpoint {
	base := "http://" + proc.Addr(s.ports.Proxy)
	return harness.Endpoint{S3: base, SwiftAuth: base + "/auth/v1.0"}
}

// NonReplicated implements harness.Site: the same endpoint; containers
// created without PrepareBucket are not synced.
func (s *Site) NonReplicated() harness.Endpoint { return s.Replicated() }

// Credentials implements harness.Site: a tempauth admin user, which s3api
// accepts as access key "test:tester" with the tempauth key as secret.
func (s *Site) Credentials() harness.Credentials { return s.creds }

// rootSecret returns a fresh keymaster root secret, one per cluster.
func rootSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Start starts the two clusters, the WAN proxies and the container-sync
// daemons and returns when both proxies authenticate the test user. On
// error it returns what was started, so the caller can register Close
// before checking the error.
func Start(ctx context.Context, opts Options) (*Topology, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = DefaultSites
	}
	if err := harness.CheckTwoSites(opts.Sites); err != nil {
		return nil, fmt.Errorf("start swift topology: %w", err)
	}
	c0, c1 := clusterName(opts.Sites[0]), clusterName(opts.Sites[1])
	if c0 == "" || c1 == "" || c0 == c1 {
		return nil, fmt.Errorf("start swift topology: site names %q and %q must differ in their letters and digits (they name realm clusters)", opts.Sites[0], opts.Sites[1])
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.SyncInterval < time.Second {
		return nil, fmt.Errorf("start swift topology: sync interval %s is under 1s, container sync counts whole seconds", opts.SyncInterval)
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	bins, err := Check()
	if err != nil {
		return nil, err
	}
	runUser, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("start swift topology: current user: %w", err)
	}
	t := &Topology{logger: opts.Logger, bins: bins, syncKey: randHex(16), grace: 5 * time.Second}
	fail := func(err error) (*Topology, error) { return t, fmt.Errorf("start swift topology: %w", err) }

	if t.state, err = proc.NewState(opts.StateRoot, Target); err != nil {
		return fail(err)
	}
	if opts.Dir == "" {
		// Inside the state directory, so that Close and proc.Cleanup of a
		// leftover topology remove the data with the logs.
		opts.Dir = filepath.Join(t.state.Dir(), "data")
	}
	t.dir = opts.Dir
	devices := opts.DevicesDir
	if devices == "" {
		devices = opts.Dir
		if shm := "/dev/shm"; roomyXattrs(shm) {
			devices = filepath.Join(shm, "replcheck-"+t.state.ID())
			if err := t.state.RemoveWith(devices); err != nil {
				return fail(err)
			}
		}
	}
	key := randHex(12)
	for _, name := range opts.Sites {
		s := &Site{name: name, cluster: clusterName(name), dir: filepath.Join(opts.Dir, name), t: t,
			creds: harness.Credentials{AccessKey: Account + ":" + User, SecretKey: key, SwiftUser: Account + ":" + User, SwiftKey: key}}
		for _, p := range []*int{&s.ports.Proxy, &s.ports.Account, &s.ports.Container, &s.ports.Object, &s.ports.Memcached} {
			if *p, err = proc.FreePort(); err != nil {
				return fail(err)
			}
		}
		for n, p := range map[string]int{"proxy": s.ports.Proxy, "account": s.ports.Account, "container": s.ports.Container,
			"object": s.ports.Object, "memcached": s.ports.Memcached} {
			if err := t.state.SetPort(name+"-"+n, p); err != nil {
				return fail(err)
			}
		}
		t.AddSite(s)
	}
	// One WAN proxy per direction: from's container-sync daemon reaches
	// to's proxy server through it.
	srv, links, err := harness.StartWAN(opts.Logger, opts.Sites[0], opts.Sites[1], func(_, to string) string {
		s, _ := t.Own(to)
		return proc.Addr(s.ports.Proxy)
	})
	t.server = srv
	if err != nil {
		return fail(err)
	}
	peerURL := map[string]string{}
	for _, l := range links {
		t.AddLink(l)
		peerURL[l.From()] = "http://" + l.WAN().Addr() + "/v1/"
	}

	realmKey := randHex(16)
	var wg sync.WaitGroup
	sites := t.OwnSites()
	errs := make([]error, len(sites))
	for i, s := range sites {
		peer := sites[1-i]
		conf := clusterConf{Dir: s.dir, Devices: filepath.Join(devices, s.name, "srv"), Cluster: s.cluster, Peer: peer.cluster,
			PeerSyncURL: peerURL[s.name], SelfURL: "http://" + proc.Addr(s.ports.Proxy) + "/v1/", RealmKey: realmKey,
			HashPrefix: randHex(8), HashSuffix: randHex(8), Key: key, RootSecret: rootSecret(), SyncInterval: opts.SyncInterval,
			Ports: s.ports, RunUser: runUser.Username}
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return fail(err)
		}
		if err := writeConfigs(conf); err != nil {
			return fail(fmt.Errorf("site %s: write configs: %w", s.name, err))
		}
		// The clusters are independent: build and start them side by
		// side, which halves start-up on a 2-core host.
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
			defer cancel()
			begin := time.Now()
			if err := t.buildRings(rctx, s); err != nil {
				errs[i] = fmt.Errorf("site %s: %w", s.name, err)
				return
			}
			rings := time.Since(begin)
			if err := s.start(rctx); err != nil {
				errs[i] = fmt.Errorf("site %s: %w", s.name, err)
				return
			}
			t.logger.Info("swift cluster ready", "site", s.name, "rings", rings.Round(time.Millisecond),
				"total", time.Since(begin).Round(time.Millisecond), "proxy", s.Replicated().S3)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return t, nil
}

// ringScript builds the account, container and object rings of one
// cluster with swift's RingBuilder: one replica, one device, part power 2
// (the smallest useful ring). One Python process instead of nine
// swift-ring-builder runs saves seconds of start-up on a busy host.
const ringScript = `
import sys
from swift.common.ring import RingBuilder
d = sys.argv[1]
for name, port in zip(("account", "container", "object"), sys.argv[2:5]):
    b = RingBuilder(2, 1, 0)
    b.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port), "device": "d1", "weight": 100})
    b.rebalance()
    b.save("%s/%s.builder" % (d, name))
    b.get_ring().save("%s/%s.ring.gz" % (d, name))
`

// buildRings writes the rings of s with the Python that runs
// swift-ring-builder, read from its #! line.
func (t *Topology) buildRings(ctx context.Context, s *Site) error {
	python, err := interpreter(t.bins["swift-ring-builder"])
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, python, "-c", ringScript, s.dir,
		fmt.Sprint(s.ports.Account), fmt.Sprint(s.ports.Container), fmt.Sprint(s.ports.Object))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build rings with %s: %w\n%s", python, err, out)
	}
	return nil
}

// interpreter returns the program named on path's #! line.
func interpreter(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) == 0 {
		return "", fmt.Errorf("%s has no #! line naming its Python", path)
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return exec.LookPath(fields[1])
	}
	return fields[0], nil
}

// start starts s's processes and waits until its proxy authenticates.
func (s *Site) start(ctx context.Context) error {
	t := s.t
	type spec struct {
		name, bin string
		args      []string
		port      int
	}
	conf := func(n string) string { return filepath.Join(s.dir, n) }
	specs := []spec{
		{"memcached", "memcached", []string{"-l", "127.0.0.1", "-p", fmt.Sprint(s.ports.Memcached), "-U", "0", "-m", "16", "-t", "1", "-u", s.runUser()}, s.ports.Memcached},
		{"account", "swift-account-server", []string{conf("account-server.conf"), "-v"}, s.ports.Account},
		{"container", "swift-container-server", []string{conf("container-server.conf"), "-v"}, s.ports.Container},
		{"object", "swift-object-server", []string{conf("object-server.conf"), "-v"}, s.ports.Object},
		{"proxy", "swift-proxy-server", []string{conf("proxy-server.conf"), "-v"}, s.ports.Proxy},
		{"container-sync", "swift-container-sync", []string{conf("container-server.conf"), "-v"}, 0},
	}
	started := make([]*proc.Process, 0, len(specs))
	for _, sp := range specs {
		p, err := t.state.Start(ctx, proc.Cmd{Name: s.name + "-" + sp.name, Path: t.bins[sp.bin], Args: sp.args, Dir: s.dir})
		if err != nil {
			return err
		}
		started = append(started, p)
	}
	s.mu.Lock()
	s.procs = started
	s.mu.Unlock()
	for i, sp := range specs {
		if sp.port != 0 {
			if err := proc.WaitTCP(ctx, proc.Addr(sp.port), started[i]); err != nil {
				return err
			}
		}
	}
	proxy := started[4]
	return proc.Wait(ctx, proxy, "authenticate "+s.creds.SwiftUser+" at "+s.Replicated().SwiftAuth, func(ctx context.Context) error {
		_, err := s.conn(ctx)
		return err
	})
}

func (s *Site) runUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "nobody"
}

// conn returns an authenticated Swift connection to s.
func (s *Site) conn(ctx context.Context) (*ncw.Connection, error) {
	c := &ncw.Connection{UserName: s.creds.SwiftUser, ApiKey: s.creds.SwiftKey, AuthUrl: s.Replicated().SwiftAuth,
		Retries: 1, Timeout: 10 * time.Second, ConnectTimeout: 5 * time.Second, Transport: &http.Transport{}}
	if err := c.Authenticate(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// SyncTo returns the X-Container-Sync-To value that makes container at s
// sync to the same container at peer.
func (s *Site) SyncTo(peer *Site, container string) string {
	return fmt.Sprintf("//%s/%s/AUTH_%s/%s", Realm, peer.cluster, Account, container)
}

// SegmentsSuffix names the container where s3api keeps a bucket's
// multipart upload parts: <bucket>+segments. The completed object is an
// SLO manifest pointing into it, so it must sync too.
const SegmentsSuffix = "+segments"

// PrepareBucket implements harness.BucketPreparer: it creates (or updates) the
// container and its s3api segments container at both sites, each syncing
// to the other with a shared key. Container names are Swift's: S3 bucket
// names are valid ones.
func (t *Topology) PrepareBucket(ctx context.Context, bucket string) error {
	if bucket == "" || strings.Contains(bucket, "/") {
		return fmt.Errorf("prepare bucket %q: a container name is non-empty and has no '/'", bucket)
	}
	for _, c := range []string{bucket + SegmentsSuffix, bucket} {
		if err := t.prepareContainer(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (t *Topology) prepareContainer(ctx context.Context, bucket string) error {
	sites := t.OwnSites()
	for i, s := range sites {
		peer := sites[1-i]
		c, err := s.conn(ctx)
		if err != nil {
			return fmt.Errorf("prepare bucket %s at %s: %w", bucket, s.name, err)
		}
		h := ncw.Headers{"X-Container-Sync-To": s.SyncTo(peer, bucket), "X-Container-Sync-Key": t.syncKey}
		if err := c.ContainerCreate(ctx, bucket, h); err != nil {
			return fmt.Errorf("prepare bucket %s at %s: %w", bucket, s.name, err)
		}
	}
	return nil
}

// Target implements harness.Topology.
func (t *Topology) Target() string { return Target }

// SwiftSite returns the site named name with its Swift-specific methods.
func (t *Topology) SwiftSite(name string) (*Site, error) { return t.Own(name) }

// Capabilities implements harness.Topology. Swift reports no replication
// status (container sync keeps a sync point per container, not a backlog
// the harness can read) and records no apply time at the peer.
func (t *Topology) Capabilities() harness.Capabilities {
	return harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true}
}

// StateDir is the proc state directory holding pids and process logs.
func (t *Topology) StateDir() string {
	if t.state == nil {
		return ""
	}
	return t.state.Dir()
}

// Dir is the directory holding configs and data.
func (t *Topology) Dir() string { return t.dir }

// Close stops every process and the WAN proxies, and removes the state
// directory (with the data, unless Options.Dir put it elsewhere).
func (t *Topology) Close(ctx context.Context) error {
	var errs []error
	for _, s := range t.OwnSites() {
		s.mu.Lock()
		if s.paused {
			// A stopped process ignores SIGTERM until continued.
			s.signalLocked(syscall.SIGCONT)
			s.paused = false
		}
		s.mu.Unlock()
	}
	if t.state != nil {
		errs = append(errs, t.state.Close(t.grace))
	}
	if t.server != nil {
		errs = append(errs, t.server.Close())
	}
	return errors.Join(errs...)
}

// signalLocked sends sig to the process group of each of s's processes.
func (s *Site) signalLocked(sig syscall.Signal) error {
	var errs []error
	for _, p := range s.procs {
		if done, _ := p.Exited(); done {
			continue
		}
		if err := syscall.Kill(-p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %s: %w", p.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Crash implements harness.Crasher: SIGKILL to every process of the site.
// Data stays on disk; memcached loses its tokens, as a real crash would.
func (s *Site) Crash(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
	var errs []error
	for _, p := range s.procs {
		errs = append(errs, p.Kill())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("crash site %s: %w", s.name, err)
	}
	return nil
}

// Restart implements harness.Crasher: starts the site's processes again on
// the same ports and data.
func (s *Site) Restart(ctx context.Context) error {
	s.mu.Lock()
	for _, p := range s.procs {
		if done, _ := p.Exited(); !done {
			s.mu.Unlock()
			return fmt.Errorf("restart site %s: %s is still running; crash it first", s.name, p.Name())
		}
	}
	s.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	if err := s.start(rctx); err != nil {
		return fmt.Errorf("restart site %s: %w", s.name, err)
	}
	return nil
}

// Pause implements harness.Pauser: SIGSTOP to every process of the site.
func (s *Site) Pause(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.signalLocked(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause site %s: %w", s.name, err)
	}
	s.paused = true
	return nil
}

// Resume implements harness.Pauser: SIGCONT to every process of the site.
func (s *Site) Resume(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.signalLocked(syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume site %s: %w", s.name, err)
	}
	s.paused = false
	return nil
}

// roomyXattrs reports whether dir takes a user xattr larger than ext4's
// 4 KiB block (tmpfs does), as Swift's object metadata of long keys needs.
func roomyXattrs(dir string) bool {
	f, err := os.CreateTemp(dir, "replcheck-xattr-")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return syscall.Setxattr(f.Name(), "user.replcheck", make([]byte, 16<<10), 0) == nil
}
