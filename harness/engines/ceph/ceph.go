// Package ceph starts a Ceph RGW multisite deployment on this host as a
// two-site harness.Topology: one monitor and one memstore OSD on 127.0.0.1,
// one realm and zonegroup with a zone per site on that cluster (separate
// pools), and a radosgw per zone on its own port.
//
// RGW data and metadata sync is pull-based: a zone fetches the other
// zone's logs and objects from the endpoints recorded for that zone. So the
// endpoint recorded for zone A is the WAN proxy of link A→B, forwarding to
// A's radosgw: B reaches A only through it, and cutting it stalls exactly
// A's changes reaching B. Bucket creation and other metadata writes at the
// non-master zone are forwarded to the master (the first site) through the
// same link.
package ceph

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/engines/proc"
	"github.com/replcheck/replcheck/harness/wan"
)

// Target is the provider's name.
const Target = "ceph"

// DefaultSites are the names of the two sites (and their zones).
var DefaultSites = []string{"europe-se-1a", "europe-se-1b"}

// DefaultRegion is the zonegroup's name, which RGW takes as the S3 region
// (a LocationConstraint must name it, optionally as "<region>:<placement>").
const DefaultRegion = "europe-se-1"

// KMSKeyID is the SSE-KMS key id RGW's testing KMS backend knows. RGW has
// no default KMS key: SSE-KMS requests must name it.
const KMSKeyID = "replcheck-key-1"

// Options configure a Ceph topology.
type Options struct {
	Sites  []string // default DefaultSites; the first is the master zone
	Region string   // zonegroup name; default DefaultRegion
	// StateRoot is where the state directory (record, logs, data) is made;
	// proc.Root() if empty.
	StateRoot string
	// StartTimeout bounds the whole bring-up; default 3 minutes.
	StartTimeout time.Duration
	// SyncLeasePeriod, if set, replaces RGW's rgw_sync_lease_period (120 s):
	// a sync shard's lease held by a gateway that crashed must expire
	// before its restarted successor syncs that shard again.
	SyncLeasePeriod time.Duration
	// StopGrace is how long Close waits after SIGTERM; default 10 s.
	StopGrace time.Duration
	Logger    *slog.Logger
}

// Topology is a running Ceph multisite deployment.
type Topology struct {
	harness.Members[*Site]
	bins   Binaries
	state  *proc.State
	conf   string
	region string
	grace  time.Duration
	mon    *proc.Process
	osd    *proc.Process
	server *wan.Server
	logger *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

var _ harness.Topology = (*Topology)(nil)

// Site is one zone and its radosgw.
type Site struct {
	t     *Topology
	name  string
	peer  string
	port  int
	creds harness.Credentials

	mu  sync.Mutex
	rgw *proc.Process
}

var (
	_ harness.Site           = (*Site)(nil)
	_ harness.Crasher        = (*Site)(nil)
	_ harness.Pauser         = (*Site)(nil)
	_ harness.StatusReporter = (*Site)(nil)
)

// Start brings the deployment up. On error it returns what was started,
// so the caller can Close it; errors from a daemon carry its log's tail.
func Start(ctx context.Context, opts Options) (*Topology, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = DefaultSites
	}
	if err := harness.CheckTwoSites(opts.Sites); err != nil {
		return nil, fmt.Errorf("start ceph topology: %w", err)
	}
	for _, n := range opts.Sites {
		if !validName(n) {
			return nil, fmt.Errorf("start ceph topology: bad site name %q: use letters, digits, '-' and '_'", n)
		}
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if !validName(opts.Region) {
		return nil, fmt.Errorf("start ceph topology: bad region %q: use letters, digits, '-' and '_'", opts.Region)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	if opts.SyncLeasePeriod < 0 || opts.SyncLeasePeriod > 0 && opts.SyncLeasePeriod < 2*time.Second {
		return nil, fmt.Errorf("start ceph topology: sync lease period %s: want at least 2s", opts.SyncLeasePeriod)
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = proc.DefaultGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	bins, err := Find()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	st, err := proc.NewState(opts.StateRoot, Target)
	if err != nil {
		return nil, fmt.Errorf("start ceph topology: %w", err)
	}
	t := &Topology{bins: bins, state: st, region: opts.Region, grace: opts.StopGrace, logger: opts.Logger}
	if err := t.start(ctx, opts); err != nil {
		return t, fmt.Errorf("start ceph topology (state in %s): %w", st.Dir(), err)
	}
	return t, nil
}

func (t *Topology) start(ctx context.Context, opts Options) error {
	dir := t.state.Dir()
	began := time.Now()
	// step logs each phase's end, so slow bring-ups show where time went.
	step := func(name string) {
		t.logger.Info("ceph bring-up", "step", name, "elapsed", time.Since(began).Round(time.Millisecond))
	}
	ports := map[string]int{}
	for _, n := range []string{"mon", "rgw-" + opts.Sites[0], "rgw-" + opts.Sites[1]} {
		p, err := proc.FreePort()
		if err != nil {
			return err
		}
		ports[n] = p
		if err := t.state.SetPort(n, p); err != nil {
			return err
		}
	}

	// The WAN proxies come first: their addresses are the zones' endpoints.
	// The link from → to forwards to from's radosgw, which to pulls from.
	srv, links, err := harness.StartWAN(opts.Logger, opts.Sites[0], opts.Sites[1], func(from, _ string) string {
		return proc.Addr(ports["rgw-"+from])
	})
	t.server = srv
	if err != nil {
		return err
	}
	for _, l := range links {
		t.AddLink(l)
	}

	fsid, err := uuid()
	if err != nil {
		return err
	}
	var kms [32]byte
	if _, err := rand.Read(kms[:]); err != nil {
		return err
	}
	conf := config(dir, fsid, ports["mon"], base64.StdEncoding.EncodeToString(kms[:]))
	if opts.SyncLeasePeriod > 0 {
		conf += fmt.Sprintf("rgw sync lease period = %d\n", int(opts.SyncLeasePeriod.Round(time.Second)/time.Second))
	}
	t.conf = filepath.Join(dir, "ceph.conf")
	if err := os.WriteFile(t.conf, []byte(conf), 0o600); err != nil {
		return err
	}
	for _, d := range []string{"mon", "osd/osd.0", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}

	// Monitor.
	monmap := filepath.Join(dir, "monmap")
	// --addv with an explicit v1 address: plain --add would record a v2
	// address on a non-default port, which v1-only clients never reach.
	if _, err := run(ctx, t.bins.MonmapTool, "--create", "--addv", "a", fmt.Sprintf("[v1:127.0.0.1:%d]", ports["mon"]),
		"--fsid", fsid, monmap); err != nil {
		return err
	}
	if _, err := run(ctx, t.bins.Mon, "-c", t.conf, "--mkfs", "-i", "a", "--monmap", monmap); err != nil {
		return err
	}
	if t.mon, err = t.state.Start(ctx, proc.Cmd{Name: "ceph-mon", Path: t.bins.Mon, Args: []string{"-f", "-c", t.conf, "-i", "a"}}); err != nil {
		return err
	}
	if err := proc.WaitTCP(ctx, proc.Addr(ports["mon"]), t.mon); err != nil {
		return err
	}

	step("monitor up")

	// One OSD on memstore.
	osdUUID, err := uuid()
	if err != nil {
		return err
	}
	if _, err := t.ceph(ctx, "osd", "new", osdUUID); err != nil {
		return err
	}
	if _, err := run(ctx, t.bins.OSD, "-c", t.conf, "-i", "0", "--mkfs", "--osd-uuid", osdUUID); err != nil {
		return err
	}
	// The OSD is placed in the CRUSH map here rather than by itself at
	// start: its own crush update races its first monmap and is then
	// refused ("wrong fsid", the OSD exits), about one start in six.
	if _, err := t.ceph(ctx, "osd", "crush", "add", "osd.0", "1.0", "root=default"); err != nil {
		return err
	}
	if t.osd, err = t.state.Start(ctx, proc.Cmd{Name: "ceph-osd", Path: t.bins.OSD, Args: []string{"-f", "-c", t.conf, "-i", "0"}}); err != nil {
		return err
	}
	if err := proc.Wait(ctx, t.osd, "osd.0 up", func(ctx context.Context) error {
		out, err := t.ceph(ctx, "osd", "stat", "-f", "json")
		if err != nil {
			return err
		}
		var s struct {
			Up int `json:"num_up_osds"`
		}
		if err := json.Unmarshal(out, &s); err != nil {
			return fmt.Errorf("osd stat: %w", err)
		}
		if s.Up < 1 {
			return errors.New("no osd up")
		}
		return nil
	}); err != nil {
		return err
	}

	step("osd up")

	// Realm, zonegroup, zones, the sync user and the adapter's user.
	a, b := opts.Sites[0], opts.Sites[1]
	syncKey, syncSecret := randomKey(20), randomKey(40)
	ep := func(i int) string { return "http://" + links[i].WAN().Addr() }
	steps := [][]string{
		{"realm", "create", "--rgw-realm=replcheck", "--default"},
		{"zonegroup", "create", "--rgw-zonegroup=" + t.region, "--endpoints=" + ep(0), "--master", "--default"},
		{"zone", "create", "--rgw-zonegroup=" + t.region, "--rgw-zone=" + a, "--master", "--default", "--endpoints=" + ep(0),
			"--access-key", syncKey, "--secret", syncSecret},
		{"user", "create", "--rgw-zone=" + a, "--uid=replcheck-sync", "--display-name=replcheck sync", "--system",
			"--access-key", syncKey, "--secret", syncSecret},
		{"zone", "create", "--rgw-zonegroup=" + t.region, "--rgw-zone=" + b, "--endpoints=" + ep(1),
			"--access-key", syncKey, "--secret", syncSecret},
		{"period", "update", "--commit", "--rgw-zone=" + a},
	}
	user := harness.Credentials{AccessKey: randomKey(20), SecretKey: randomKey(40), SwiftUser: "replcheck:swift", SwiftKey: randomKey(40)}
	steps = append(steps,
		[]string{"user", "create", "--rgw-zone=" + a, "--uid=replcheck", "--display-name=replcheck",
			"--access-key", user.AccessKey, "--secret", user.SecretKey},
		[]string{"subuser", "create", "--rgw-zone=" + a, "--uid=replcheck", "--subuser=" + user.SwiftUser, "--access=full",
			"--key-type=swift", "--secret", user.SwiftKey})
	for _, s := range steps {
		if _, err := t.admin(ctx, s...); err != nil {
			return err
		}
	}

	step("realm, zones and users created")

	for i, name := range opts.Sites {
		s := &Site{t: t, name: name, peer: opts.Sites[1-i], port: ports["rgw-"+name], creds: user}
		t.AddSite(s)
		if err := s.startRGW(ctx); err != nil {
			return err
		}
	}
	for _, s := range t.OwnSites() {
		if err := proc.WaitHTTP(ctx, s.url(), nil, s.proc()); err != nil {
			return err
		}
	}
	step("gateways answering")

	// The user reaches the second zone by metadata sync; until then its
	// requests there fail. Swift auth is a cheap probe of that.
	for _, s := range t.OwnSites() {
		if err := proc.Wait(ctx, s.proc(), "user known at "+s.name, s.checkUser); err != nil {
			return err
		}
	}
	step("user synced to both zones")
	return nil
}

// config is ceph.conf: everything on 127.0.0.1 and under dir, no auth, one
// replica, and thread counts and caches kept small for a 2-core machine.
// SSE-C is allowed over plain HTTP (loopback only), and SSE-KMS uses RGW's
// "testing" backend: one key, KMSKeyID, whose base64 secret kmsKey is
// fresh per topology and lives only in the state directory's ceph.conf.
func config(dir, fsid string, monPort int, kmsKey string) string {
	return fmt.Sprintf(`[global]
fsid = %[2]s
mon host = v1:127.0.0.1:%[3]d
mon initial members = a
ms bind msgr2 = false
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
run dir = %[1]s/run
admin socket = %[1]s/run/$name.asok
log file = %[1]s/$name.ceph.log
pid file = %[1]s/run/$name.pid
mon data = %[1]s/mon/$name
osd data = %[1]s/osd/$name
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon max pg per osd = 1000
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = 2147483648
osd op num shards = 1
osd op num threads per shard = 2
osd memory target = 268435456
ms async op threads = 1
rgw enable apis = s3, swift, swift_auth, admin
rgw thread pool size = 32
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = %[4]s=%[5]s
`, dir, fsid, monPort, KMSKeyID, kmsKey)
}

// ceph runs the ceph CLI against the cluster, bounded so a lost monitor
// cannot hang it for the default 300 s.
func (t *Topology) ceph(ctx context.Context, args ...string) ([]byte, error) {
	return run(ctx, t.bins.CLI, append([]string{"-c", t.conf, "--connect-timeout", "15"}, args...)...)
}

// admin runs radosgw-admin against the cluster.
func (t *Topology) admin(ctx context.Context, args ...string) ([]byte, error) {
	return run(ctx, t.bins.RGWAdmin, append([]string{"-c", t.conf}, args...)...)
}

// StateDir returns the topology's state directory (record, logs, data).
func (t *Topology) StateDir() string { return t.state.Dir() }

// Admin runs radosgw-admin with args against the cluster, for tests and
// diagnostics (e.g. "sync status", "--rgw-zone=<site>").
func (t *Topology) Admin(ctx context.Context, args ...string) ([]byte, error) {
	return t.admin(ctx, args...)
}

// Processes returns the pids of the daemons the topology runs.
func (t *Topology) Processes() map[string]int {
	out := map[string]int{}
	for _, p := range []*proc.Process{t.mon, t.osd} {
		if p != nil {
			out[p.Name()] = p.PID()
		}
	}
	for _, s := range t.OwnSites() {
		if p := s.proc(); p != nil {
			out[p.Name()] = p.PID()
		}
	}
	return out
}

// Target implements harness.Topology.
func (t *Topology) Target() string { return Target }

// Capabilities implements harness.Topology. Crash and pause act on a
// zone's radosgw; the cluster (monitor, OSD) is shared by both zones and is
// never faulted, since that would fault both sites at once.
func (t *Topology) Capabilities() harness.Capabilities {
	return harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true, harness.CapRepStatus: true}
}

// SSEModes returns the server-side encryption modes, as verifier/client
// names them, that the deployment stores encrypted: SSE-C and SSE-KMS (key
// KMSKeyID). Pacific accepts an SSE-S3 request but stores the object in
// clear and reports no encryption, so SSE-S3 is not offered.
func (t *Topology) SSEModes() []string { return []string{"SSE-C", "SSE-KMS"} }

// Close stops the gateways, the OSD and the monitor, the WAN proxies, and
// removes the state directory.
func (t *Topology) Close(ctx context.Context) error {
	t.closeOnce.Do(func() {
		var errs []error
		// Gateways first, so nothing writes while the cluster goes.
		for _, s := range t.OwnSites() {
			if p := s.proc(); p != nil {
				errs = append(errs, p.Stop(t.grace))
			}
		}
		for _, p := range []*proc.Process{t.osd, t.mon} {
			if p != nil {
				errs = append(errs, p.Stop(t.grace))
			}
		}
		if t.server != nil {
			errs = append(errs, t.server.Close())
		}
		if t.state != nil {
			errs = append(errs, t.state.Close(t.grace))
		}
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

// Name implements harness.Site.
func (s *Site) Name() string { return s.name }

// Region implements harness.Site: the zonegroup's name.
func (s *Site) Region() string { return s.t.region }

func (s *Site) url() string { return "http://" + proc.Addr(s.port) }

// Replicated implements harness.Site: the zone's radosgw, S3 and Swift.
func (s *Site) Replicated() harness.Endpoint {
	return harness.Endpoint{S3: s.url(), SwiftAuth: s.url() + "/auth/v1.0"}
}

// NonReplicated implements harness.Site. The adapter has none: every
// bucket of a zone in a multisite zonegroup replicates, and a per-site
// non-replicated endpoint would need a zonegroup per site of its own.
func (s *Site) NonReplicated() harness.Endpoint { return harness.Endpoint{} }

// Credentials implements harness.Site.
func (s *Site) Credentials() harness.Credentials { return s.creds }

func (s *Site) proc() *proc.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rgw
}

func (s *Site) startRGW(ctx context.Context) error {
	p, err := s.t.state.Start(ctx, proc.Cmd{Name: "radosgw-" + s.name, Path: s.t.bins.RGW, Args: []string{
		"-f", "-c", s.t.conf, "-n", "client.rgw." + s.name, "--rgw-zone=" + s.name,
		"--rgw-frontends=beast endpoint=" + proc.Addr(s.port)}})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.rgw = p
	s.mu.Unlock()
	return nil
}

// checkUser authenticates the adapter's Swift user at the site.
func (s *Site) checkUser(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url()+"/auth/v1.0", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-User", s.creds.SwiftUser)
	req.Header.Set("X-Auth-Key", s.creds.SwiftKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("swift auth at %s: %s", s.name, resp.Status)
	}
	return nil
}

// Crash implements harness.Crasher: SIGKILL of the zone's radosgw.
func (s *Site) Crash(context.Context) error {
	p := s.proc()
	if p == nil {
		return fmt.Errorf("site %s is not running", s.name)
	}
	return p.Kill()
}

// Restart implements harness.Crasher: a new radosgw on the same port.
func (s *Site) Restart(ctx context.Context) error {
	if p := s.proc(); p != nil {
		if done, _ := p.Exited(); !done {
			return fmt.Errorf("restart site %s: its radosgw is still running", s.name)
		}
	}
	if err := s.startRGW(ctx); err != nil {
		return fmt.Errorf("restart site %s: %w", s.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return proc.WaitHTTP(ctx, s.url(), nil, s.proc())
}

// Pause implements harness.Pauser: SIGSTOP of the zone's radosgw.
func (s *Site) Pause(context.Context) error {
	if p := s.proc(); p != nil {
		return p.Signal(syscall.SIGSTOP)
	}
	return fmt.Errorf("site %s is not running", s.name)
}

// Resume implements harness.Pauser.
func (s *Site) Resume(context.Context) error {
	if p := s.proc(); p != nil {
		return p.Signal(syscall.SIGCONT)
	}
	return fmt.Errorf("site %s is not running", s.name)
}

// ReplicationStatus implements harness.StatusReporter for the site's
// outgoing replication, as the peer zone sees it: `radosgw-admin sync
// status` at the peer, section "data sync source: <this zone>". RGW counts
// log shards, not operations: PendingOperations is the number of data log
// shards the peer is behind on, PendingBytes is unknown (0).
func (s *Site) ReplicationStatus(ctx context.Context) (harness.ReplicationStatus, error) {
	out, err := s.t.admin(ctx, "sync", "status", "--rgw-zone="+s.peer)
	if err != nil {
		return harness.ReplicationStatus{}, fmt.Errorf("replication status of %s: %w", s.name, err)
	}
	return parseSyncStatus(string(out), s.name)
}

// parseSyncStatus reads the data sync section for source zone from the
// text of `radosgw-admin sync status`.
func parseSyncStatus(out, source string) (harness.ReplicationStatus, error) {
	var st harness.ReplicationStatus
	in, found := false, false
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "data sync source:") {
			in = strings.HasSuffix(l, "("+source+")")
			found = found || in
			continue
		}
		if !in {
			continue
		}
		switch {
		case strings.Contains(l, "data is caught up with source"):
			st.InSync = true
		case strings.HasPrefix(l, "data is behind on "):
			n, err := strconv.Atoi(strings.Fields(strings.TrimPrefix(l, "data is behind on "))[0])
			if err != nil {
				return st, fmt.Errorf("sync status: cannot read %q", l)
			}
			st.PendingOperations = n
		case strings.Contains(l, "failed") || strings.Contains(l, "ERROR"):
			return st, fmt.Errorf("sync status for source %s: %s", source, l)
		}
	}
	if !found {
		return st, fmt.Errorf("sync status: no data sync section for source zone %s", source)
	}
	if !st.InSync && st.PendingOperations == 0 {
		return st, fmt.Errorf("sync status for source %s: neither caught up nor behind", source)
	}
	return st, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func uuid() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// randomKey returns n characters of upper-case letters and digits, a form
// both S3 access keys and secrets accept.
func randomKey(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
