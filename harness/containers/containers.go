// Package containers is the containers target: each site of the reference
// engine in its own container, on a private network per topology, with a
// toxiproxy WAN proxy container per direction through which each site's
// replication reaches the other. Clients reach the sites through ports
// published on 127.0.0.1 only.
//
// Containers come from one image per build of replcheck, made FROM scratch
// out of its own static binary (see EnsureImage): nothing is pulled and
// no registry is needed. Every container, network and volume is labelled
// with LabelManaged and the topology's run id, so DownAll finds what a
// crashed run left behind. The Ryuk reaper of testcontainers-go is not
// used (it is an image that would have to be pulled): Close and DownAll
// clean up instead.
//
// Each site container is attached to two networks: "front", whose
// published ports clients use, and "wan", an internal network holding the
// sites and the WAN proxies. A hard partition (Disconnect) takes a site off
// "wan": its replication stops at the network layer, both ways, while
// clients still reach it.
package containers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/engine/site"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
)

// Target is the provider's name.
const Target = "containers"

// Labels on everything a topology creates.
const (
	LabelManaged = "org.replcheck.managed" // "true"
	LabelRun     = "org.replcheck.run"     // the topology's run id
	LabelRole    = "org.replcheck.role"    // site or wanproxy
	LabelSite    = "org.replcheck.site"    // the site a container or volume belongs to
)

// Ports inside the containers.
const (
	portReplicated    = "9000/tcp"
	portNonReplicated = "9001/tcp"
	portInternal      = "9002/tcp"
	portWANControl    = "8474/tcp"
	portWANLink       = 9100
)

// DefaultSites are the names of the two sites.
var DefaultSites = []string{"europe-se-1a", "europe-se-1b"}

// Options configure a containers topology.
type Options struct {
	Sites []string // default DefaultSites
	// Flaws turns named flaws on at every site.
	Flaws replication.Flaws
	// MinBackoff and MaxBackoff bound replication retry waits.
	MinBackoff, MaxBackoff time.Duration
	// Binary is the static replcheck to pack into the image; "" finds one
	// (FindBinary).
	Binary string
	// RunID labels everything created; default a random one.
	RunID  string
	Logger *slog.Logger
}

// Topology is a running containers topology.
type Topology struct {
	id     string
	p      *testcontainers.DockerProvider
	cli    client.APIClient
	image  string
	secret []byte
	hc     *http.Client
	log    *slog.Logger
	front  *testcontainers.DockerNetwork
	wanNet *testcontainers.DockerNetwork
	sites  []*Site
	links  []*Link
	mu     sync.Mutex
	ctrs   []*testcontainers.DockerContainer // every container, for logs

	closeOnce sync.Once
	closeErr  error
}

var _ harness.Topology = (*Topology)(nil)

// Site is one site container.
type Site struct {
	t      *Topology
	name   string
	region string
	c      *testcontainers.DockerContainer
	ports  [3]int // host ports: replicated, non-replicated, internal
	creds  harness.Credentials
}

var (
	_ harness.Site           = (*Site)(nil)
	_ harness.Crasher        = (*Site)(nil)
	_ harness.Pauser         = (*Site)(nil)
	_ harness.ClockSkewer    = (*Site)(nil)
	_ harness.StatusReporter = (*Site)(nil)
	_ harness.Disconnecter   = (*Site)(nil)
)

// Link is one WAN direction: a proxy in its own container.
type Link struct {
	*harness.WANLink
	control string // host address of the proxy's control API
}

// Control returns the host address of the toxiproxy control API of the
// link's proxy container.
func (l *Link) Control() string { return l.control }

// ErrNoDocker is returned (wrapped) when no Docker engine answers.
var ErrNoDocker = errors.New("no Docker engine reachable")

// Provider returns a testcontainers provider for the Docker engine of the
// environment (DOCKER_HOST or the default socket), or an error wrapping
// ErrNoDocker that says how it looked.
func Provider(ctx context.Context) (*testcontainers.DockerProvider, error) {
	// The reaper is an image to pull; without a registry it cannot start.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// testcontainers falls back to the default socket when DOCKER_HOST
	// does not answer; a user who names an engine means that one.
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		if err := ping(ctx, host); err != nil {
			return nil, fmt.Errorf("%w at DOCKER_HOST=%s: %w", ErrNoDocker, host, err)
		}
	}
	// testcontainers writes a banner to stderr by default; what it says
	// belongs in the topology's log, where tcLogger puts it.
	tclog.SetDefault(tcLogger{slog.Default()})
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tcLogger{slog.New(slog.DiscardHandler)}))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := p.Client().Ping(hctx, client.PingOptions{}); err != nil {
		p.Close()
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	return p, nil
}

// ping asks the engine at host for its version.
func ping(ctx context.Context, host string) error {
	c, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = c.Ping(ctx, client.PingOptions{})
	return err
}

// Start starts the topology. On error it returns what was started, so the
// caller can Close it; Close is also safe on a nil-free partial topology.
func Start(ctx context.Context, opts Options) (*Topology, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = DefaultSites
	}
	if err := harness.CheckTwoSites(opts.Sites); err != nil {
		return nil, fmt.Errorf("start containers topology: %w", err)
	}
	for _, n := range opts.Sites {
		if !validName(n) {
			return nil, fmt.Errorf("start containers topology: site name %q: want lower-case letters, digits and '-' (it is a host name)", n)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RunID == "" {
		opts.RunID = randomID()
	}
	p, err := Provider(ctx)
	if err != nil {
		return nil, fmt.Errorf("start containers topology: %w", err)
	}
	t := &Topology{id: opts.RunID, p: p, cli: p.Client(), secret: site.GenerateSecret(), log: opts.Logger,
		hc: &http.Client{Timeout: 10 * time.Second}}
	if err := t.start(ctx, opts); err != nil {
		return t, fmt.Errorf("start containers topology: %w", err)
	}
	return t, nil
}

func (t *Topology) start(ctx context.Context, opts Options) error {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = FindBinary(ctx, ""); err != nil {
			return err
		}
	}
	ref, built, err := EnsureImage(ctx, t.p, bin)
	if err != nil {
		return err
	}
	t.image = ref
	t.log.Info("image", "ref", ref, "built", built)

	labels := t.labels("", "")
	if t.front, err = tcnetwork.New(ctx, tcnetwork.WithLabels(labels)); err != nil {
		return fmt.Errorf("front network: %w", err)
	}
	if t.wanNet, err = tcnetwork.New(ctx, tcnetwork.WithLabels(labels), tcnetwork.WithInternal()); err != nil {
		return fmt.Errorf("wan network: %w", err)
	}

	// The sites share what real sites of one deployment share: users, the
	// encryption keyring (one KMS) and the replication secret.
	kr, err := json.Marshal(sse.GenerateKeyring())
	if err != nil {
		return err
	}
	user := site.GenerateUser()
	creds := harness.Credentials{AccessKey: user.AccessKey, SecretKey: user.SecretKey,
		SwiftUser: user.Account + ":" + user.Name, SwiftKey: user.SecretKey}

	// Sites and proxies start at once: each waits only for itself, and
	// replication retries until the proxies carry its traffic.
	names := opts.Sites
	t.sites = make([]*Site, 2)
	t.links = make([]*Link, 2)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i, name := range names {
		peer := names[1-i]
		wg.Go(func() {
			t.sites[i], errs[i] = t.startSite(ctx, opts, name, peer, creds, string(kr))
		})
		wg.Go(func() {
			t.links[i], errs[2+i] = t.startLink(ctx, name, peer)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// linkAlias is the host name of the WAN proxy from → to on the wan network.
func linkAlias(from, to string) string { return "wan-" + from + "-to-" + to }

func (t *Topology) labels(role, siteName string) map[string]string {
	l := map[string]string{LabelManaged: "true", LabelRun: t.id}
	if role != "" {
		l[LabelRole] = role
	}
	if siteName != "" {
		l[LabelSite] = siteName
	}
	return l
}

// startSite starts the container of one site, its replication pointed at
// the WAN proxy toward peer.
func (t *Topology) startSite(ctx context.Context, opts Options, name, peer string, creds harness.Credentials, keyring string) (*Site, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", name, err)
	}
	s := &Site{t: t, name: name, region: site.DefaultRegion(name), creds: creds}
	copy(s.ports[:], ports)
	// No fsync: a crash here kills the process, not the machine, and the
	// page cache keeps what it wrote.
	cmd := []string{"site", "--name", name, "--data-dir", "/data", "--no-sync",
		"--replicated-addr", "0.0.0.0:9000", "--non-replicated-addr", "0.0.0.0:9001", "--internal-addr", "0.0.0.0:9002",
		"--peer", peer + "=http://" + net.JoinHostPort(linkAlias(name, peer), strconv.Itoa(portWANLink))}
	for _, f := range replication.AllFlaws {
		if opts.Flaws.Has(f) {
			cmd = append(cmd, "--flaw", string(f))
		}
	}
	if opts.MinBackoff > 0 {
		cmd = append(cmd, "--min-backoff", opts.MinBackoff.String())
	}
	if opts.MaxBackoff > 0 {
		cmd = append(cmd, "--max-backoff", opts.MaxBackoff.String())
	}
	exposed := []string{portReplicated, portNonReplicated, portInternal}
	req := testcontainers.ContainerRequest{
		Image: t.image,
		Name:  "rc-" + t.id + "-" + name,
		Cmd:   cmd,
		Env: map[string]string{"REPLCHECK_ACCESS_KEY": creds.AccessKey, "REPLCHECK_SECRET_KEY": creds.SecretKey,
			"REPLCHECK_REPLICATION_SECRET": string(t.secret), "REPLCHECK_KEYRING": keyring},
		Labels:         t.labels("site", name),
		ExposedPorts:   exposed,
		Networks:       []string{t.front.Name, t.wanNet.Name},
		NetworkAliases: map[string][]string{t.wanNet.Name: {name}},
		Mounts: testcontainers.ContainerMounts{{
			Source: testcontainers.DockerVolumeMountSource{Name: "rc-" + t.id + "-" + name + "-data",
				VolumeOptions: &mount.VolumeOptions{Labels: t.labels("site", name)}},
			Target: "/data"}},
		HostConfigModifier: bindLoopback(exposed, ports),
	}
	c, err := t.run(ctx, req)
	s.c = c
	if err == nil {
		err = s.waitReady(ctx, readyLimit)
	}
	if err != nil {
		return s, fmt.Errorf("site %s: %w", name, err)
	}
	return s, nil
}

// startLink starts the WAN proxy container from → to and adds its proxy.
func (t *Topology) startLink(ctx context.Context, from, to string) (*Link, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, fmt.Errorf("WAN link %s → %s: %w", from, to, err)
	}
	alias := linkAlias(from, to)
	req := testcontainers.ContainerRequest{
		Image:              t.image,
		Name:               "rc-" + t.id + "-" + alias,
		Cmd:                []string{"wanproxy", "--listen", "0.0.0.0:8474"},
		Labels:             t.labels("wanproxy", ""),
		ExposedPorts:       []string{portWANControl},
		Networks:           []string{t.front.Name, t.wanNet.Name},
		NetworkAliases:     map[string][]string{t.wanNet.Name: {alias}},
		HostConfigModifier: bindLoopback([]string{portWANControl}, ports),
	}
	control := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	if _, err := t.run(ctx, req); err != nil {
		return nil, fmt.Errorf("WAN link %s → %s: %w", from, to, err)
	}
	if err := poll(ctx, readyLimit, func(ctx context.Context) error { return t.get(ctx, "http://"+control+"/version", nil) }); err != nil {
		return nil, fmt.Errorf("WAN link %s → %s: proxy not ready: %w", from, to, err)
	}
	wl, err := wan.Connect(control).AddLink(from+"-to-"+to, net.JoinHostPort("0.0.0.0", strconv.Itoa(portWANLink)),
		net.JoinHostPort(to, "9002"))
	if err != nil {
		return nil, fmt.Errorf("WAN link %s → %s: %w", from, to, err)
	}
	return &Link{WANLink: harness.NewWANLink(from, to, wl), control: control}, nil
}

// run creates and starts a container, remembering it for logs and Close
// even when it fails to become ready.
func (t *Topology) run(ctx context.Context, req testcontainers.ContainerRequest) (*testcontainers.DockerContainer, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req, ProviderType: testcontainers.ProviderDocker, Started: true, Logger: tcLogger{t.log}})
	dc, _ := c.(*testcontainers.DockerContainer)
	if dc != nil {
		t.mu.Lock()
		t.ctrs = append(t.ctrs, dc)
		t.mu.Unlock()
	}
	return dc, err
}

// bindLoopback publishes each exposed port on 127.0.0.1 at the given host
// port: fixed ports survive a crash and restart of the container, and
// nothing listens beyond this machine.
func bindLoopback(exposed []string, ports []int) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		hc.PortBindings = mobynet.PortMap{}
		for i, e := range exposed {
			hc.PortBindings[mobynet.MustParsePort(e)] = []mobynet.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(ports[i])}}
		}
	}
}

// freePorts returns n loopback ports free at the time of the call.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	out := make([]int, n)
	for i := range out {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, ln)
		out[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return out, nil
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validName(n string) bool {
	if n == "" || len(n) > 40 || n[0] == '-' || n[len(n)-1] == '-' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ID returns the run id the topology's containers are labelled with.
func (t *Topology) ID() string { return t.id }

// Image returns the image the containers run.
func (t *Topology) Image() string { return t.image }

// Target implements harness.Topology.
func (t *Topology) Target() string { return Target }

// Sites implements harness.Topology.
func (t *Topology) Sites() []harness.Site {
	out := make([]harness.Site, 0, len(t.sites))
	for _, s := range t.sites {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Site implements harness.Topology.
func (t *Topology) Site(name string) (harness.Site, error) { return harness.FindSite(t.Sites(), name) }

// Link implements harness.Topology.
func (t *Topology) Link(from, to string) (harness.Link, error) {
	for _, l := range t.links {
		if l != nil && l.From() == from && l.To() == to {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no WAN link %s → %s", from, to)
}

// Links implements harness.Topology.
func (t *Topology) Links() []harness.Link {
	out := make([]harness.Link, 0, len(t.links))
	for _, l := range t.links {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

// Capabilities implements harness.Topology. No ground truth: the
// engine's apply times stay inside the containers.
func (t *Topology) Capabilities() harness.Capabilities {
	return harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true, harness.CapClockSkew: true, harness.CapFlaws: true, harness.CapRepStatus: true,
		harness.CapDisconnect: true}
}

// SaveLogs writes each container's log to dir/<container name>.log.
func (t *Topology) SaveLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	t.mu.Lock()
	ctrs := append([]*testcontainers.DockerContainer(nil), t.ctrs...)
	t.mu.Unlock()
	var errs []error
	for _, c := range ctrs {
		name, err := c.Name(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, saveLog(ctx, c, filepath.Join(dir, filepath.Base(name)+".log")))
	}
	return errors.Join(errs...)
}

func saveLog(ctx context.Context, c *testcontainers.DockerContainer, path string) error {
	rc, err := c.Logs(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, rc)
	return errors.Join(err, f.Close())
}

// Close removes the topology's containers, volumes and networks.
func (t *Topology) Close(ctx context.Context) error {
	t.closeOnce.Do(func() {
		t.closeErr = Down(ctx, t.cli, t.id)
		t.p.Close()
	})
	return t.closeErr
}

// Name implements harness.Site.
func (s *Site) Name() string { return s.name }

// Region implements harness.Site.
func (s *Site) Region() string { return s.region }

func (s *Site) url(i int) string { return "http://127.0.0.1:" + strconv.Itoa(s.ports[i]) }

// Replicated implements harness.Site.
func (s *Site) Replicated() harness.Endpoint {
	return harness.Endpoint{S3: s.url(0), SwiftAuth: s.url(0) + "/auth/v1.0"}
}

// NonReplicated implements harness.Site.
func (s *Site) NonReplicated() harness.Endpoint {
	return harness.Endpoint{S3: s.url(1), SwiftAuth: s.url(1) + "/auth/v1.0"}
}

// InternalURL is the host URL of the site's internal replication API
// (status, metrics, clock control).
func (s *Site) InternalURL() string { return s.url(2) }

// Credentials implements harness.Site.
func (s *Site) Credentials() harness.Credentials { return s.creds }

// ContainerID returns the site's container id.
func (s *Site) ContainerID() string { return s.c.GetContainerID() }

// Crash implements harness.Crasher: SIGKILL, the container stays with its
// volume.
func (s *Site) Crash(ctx context.Context) error {
	_, err := s.t.cli.ContainerKill(ctx, s.ContainerID(), client.ContainerKillOptions{Signal: "KILL"})
	if err != nil {
		return fmt.Errorf("crash site %s: %w", s.name, err)
	}
	// The kill is asynchronous: wait until the engine says it is down.
	for {
		st, err := s.c.State(ctx)
		if err != nil {
			return fmt.Errorf("crash site %s: %w", s.name, err)
		}
		if !st.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("crash site %s: %w", s.name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Restart implements harness.Crasher: the same container, volume and
// published ports; it returns once the site answers.
func (s *Site) Restart(ctx context.Context) error {
	if _, err := s.t.cli.ContainerStart(ctx, s.ContainerID(), client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("restart site %s: %w", s.name, err)
	}
	return s.waitReady(ctx, readyLimit)
}

// waitReady polls the site's status endpoint.
func (s *Site) waitReady(ctx context.Context, limit time.Duration) error {
	if err := poll(ctx, limit, func(ctx context.Context) error { _, err := s.ReplicationStatus(ctx); return err }); err != nil {
		return fmt.Errorf("site %s not ready: %w", s.name, err)
	}
	return nil
}

// readyLimit bounds the wait for a container to answer.
const readyLimit = 60 * time.Second

// poll calls f every 50 ms until it succeeds or limit passes. Readiness
// is polled here, on the published ports the topology chose, rather
// than by testcontainers' wait strategies, which look for ports by their
// own rules.
func poll(ctx context.Context, limit time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// get fetches url and decodes its JSON into v (nil: any 200 answer).
func (t *Topology) get(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Pause implements harness.Pauser (the container's cgroup is frozen).
func (s *Site) Pause(ctx context.Context) error {
	if _, err := s.t.cli.ContainerPause(ctx, s.ContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause site %s: %w", s.name, err)
	}
	return nil
}

// Resume implements harness.Pauser; a site that is not paused is left
// alone, as a heal of every site expects.
func (s *Site) Resume(ctx context.Context) error {
	if st, err := s.c.State(ctx); err == nil && !st.Paused {
		return nil
	}
	if _, err := s.t.cli.ContainerUnpause(ctx, s.ContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("resume site %s: %w", s.name, err)
	}
	return nil
}

// Disconnect implements harness.Disconnecter: the site leaves the wan
// network.
func (s *Site) Disconnect(ctx context.Context) error {
	_, err := s.t.cli.NetworkDisconnect(ctx, s.t.wanNet.ID, client.NetworkDisconnectOptions{Container: s.ContainerID(), Force: true})
	if err != nil {
		return fmt.Errorf("disconnect site %s: %w", s.name, err)
	}
	return nil
}

// Reconnect implements harness.Disconnecter, under the same host name;
// a site already on the wan network is left alone.
func (s *Site) Reconnect(ctx context.Context) error {
	in, err := s.c.Inspect(ctx)
	if err != nil {
		return fmt.Errorf("reconnect site %s: %w", s.name, err)
	}
	if in.NetworkSettings != nil {
		if _, ok := in.NetworkSettings.Networks[s.t.wanNet.Name]; ok {
			return nil
		}
	}
	_, err = s.t.cli.NetworkConnect(ctx, s.t.wanNet.ID, client.NetworkConnectOptions{Container: s.ContainerID(),
		EndpointConfig: &mobynet.EndpointSettings{Aliases: []string{s.name}}})
	if err != nil {
		return fmt.Errorf("reconnect site %s: %w", s.name, err)
	}
	return nil
}

// SetClockSkew implements harness.ClockSkewer through the site's internal
// API. A container cannot have its own clock; the engine's is shifted.
func (s *Site) SetClockSkew(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return site.SetRemoteClockSkew(ctx, s.t.hc, s.InternalURL(), s.t.secret, d)
}

// ReplicationStatus implements harness.StatusReporter.
func (s *Site) ReplicationStatus(ctx context.Context) (harness.ReplicationStatus, error) {
	var st replication.Status
	if err := s.t.get(ctx, s.InternalURL()+replication.StatusPath, &st); err != nil {
		return harness.ReplicationStatus{}, fmt.Errorf("status of site %s: %w", s.name, err)
	}
	return harness.ReplicationStatus{PendingOperations: st.PendingOperations, PendingBytes: st.PendingBytes, InSync: st.InSync}, nil
}

// tcLogger sends testcontainers' messages to the topology's log.
type tcLogger struct{ l *slog.Logger }

func (l tcLogger) Printf(format string, v ...any) {
	if l.l.Enabled(context.Background(), slog.LevelDebug) {
		l.l.Debug(fmt.Sprintf(format, v...))
	}
}
