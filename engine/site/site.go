// Package site runs one site of the reference engine: a store with a
// replicated and a non-replicated endpoint, each serving S3 and Swift over
// the same namespace, and, when replication is configured, an internal
// endpoint through which the peer site ships its changes.
package site

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/hlc"
	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/engine/s3api"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
	"github.com/replcheck/replcheck/engine/swiftapi"
)

// Config configures a site. The zero value is a memory-backed site named
// europe-se-1a on loopback ephemeral ports with generated credentials.
type Config struct {
	Name   string // site name; default europe-se-1a
	Region string // S3 region; default the name without its zone letter
	// DataDir holds the disk backend; empty means memory.
	DataDir string
	// NoSync skips fsync on the disk backend (atomic, not power-safe).
	NoSync bool
	// Backend, if set, is used instead of DataDir or memory. A crash and
	// restart of an in-process site keeps it, as a disk would keep data.
	Backend store.Backend
	// ReplicatedAddr and NonReplicatedAddr are listen addresses;
	// default 127.0.0.1:0 (an ephemeral loopback port).
	ReplicatedAddr    string
	NonReplicatedAddr string
	Users             []endpoint.User // default: one generated user
	Keyring           *sse.Keyring    // default: generated
	MinPartSize       int64           // default S3's 5 MiB
	Logger            *slog.Logger    // nil discards
	// Replication, if set, makes the site replicate with a peer.
	Replication *Replication
}

// Replication configures a site's side of two-site replication.
type Replication struct {
	Secret       []byte // shared by both sites
	Flaws        replication.Flaws
	InternalAddr string // listen address of the internal API; default 127.0.0.1:0
	// MinBackoff and MaxBackoff bound retry waits (replication defaults when 0).
	MinBackoff, MaxBackoff time.Duration
}

// MaxHeaderBytes bounds request headers; larger requests get 431.
const MaxHeaderBytes = 64 << 10

// Site is a running site. It can be crashed (listeners closed and shipping
// stopped at once, data kept) and restarted on the same addresses.
type Site struct {
	cfg  Config
	be   store.Backend
	skew atomic.Int64 // nanoseconds added to the wall clock

	mu      sync.Mutex
	store   *store.Store
	repl    *replication.Replicator
	servers []*http.Server
	addrs   [3]string // replicated, non-replicated, internal
	peer    [2]string // name, url
	running bool
	paused  chan struct{} // closed on resume; nil when not paused
	wg      sync.WaitGroup
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// GenerateUser makes a user with random keys.
func GenerateUser() endpoint.User {
	return endpoint.User{Account: "replcheck", Name: "admin",
		AccessKey: "RC" + strings.ToUpper(randomHex(9)), SecretKey: randomHex(20)}
}

// GenerateSecret makes a replication secret.
func GenerateSecret() []byte { return []byte(randomHex(32)) }

// DefaultRegion derives a region from a site name: europe-se-1a → europe-se-1.
func DefaultRegion(name string) string {
	if n := len(name); n > 1 && name[n-1] >= 'a' && name[n-1] <= 'z' && name[n-2] >= '0' && name[n-2] <= '9' {
		return name[:n-1]
	}
	return name
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = "europe-se-1a"
	}
	if c.Region == "" {
		c.Region = DefaultRegion(c.Name)
	}
	if c.ReplicatedAddr == "" {
		c.ReplicatedAddr = "127.0.0.1:0"
	}
	if c.NonReplicatedAddr == "" {
		c.NonReplicatedAddr = "127.0.0.1:0"
	}
	if len(c.Users) == 0 {
		c.Users = []endpoint.User{GenerateUser()}
	}
	if c.Keyring == nil {
		c.Keyring = sse.GenerateKeyring()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if r := c.Replication; r != nil && r.InternalAddr == "" {
		r.InternalAddr = "127.0.0.1:0"
	}
}

// Start opens the store and starts the endpoints. On error everything
// started so far is stopped.
func Start(cfg Config) (*Site, error) {
	cfg.defaults()
	if cfg.Replication != nil && len(cfg.Replication.Secret) == 0 {
		return nil, fmt.Errorf("start site %s: replication needs a shared secret", cfg.Name)
	}
	s := &Site{cfg: cfg, be: cfg.Backend}
	s.addrs = [3]string{cfg.ReplicatedAddr, cfg.NonReplicatedAddr}
	if cfg.Replication != nil {
		s.addrs[2] = cfg.Replication.InternalAddr
	}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// now is the site's wall clock, shifted by the clock-skew fault.
func (s *Site) now() time.Time { return time.Now().Add(time.Duration(s.skew.Load())) }

func (s *Site) openBackend() (store.Backend, error) {
	if s.be != nil {
		return s.be, nil
	}
	if s.cfg.DataDir == "" {
		return store.NewMemory(), nil
	}
	d, err := store.OpenDisk(s.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	d.NoSync = s.cfg.NoSync
	return d, nil
}

// start opens the store and listens; it is Start's and Restart's work.
func (s *Site) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.cfg
	be, err := s.openBackend()
	if err != nil {
		return fmt.Errorf("start site %s: %w", cfg.Name, err)
	}
	if cfg.DataDir == "" {
		s.be = be // memory: kept across crashes, like a disk
	}
	opts := store.Options{MinPartSize: cfg.MinPartSize, Site: cfg.Name, Now: s.now}
	var journal *replication.Journal
	if rc := cfg.Replication; rc != nil {
		if rc.Flaws.Has(replication.FlawWallclockLWW) {
			opts.Clock = hlc.NewWallClock(s.now)
		}
		journal, err = replication.OpenJournal(be, replication.Streams(rc.Flaws), rc.Flaws.Has(replication.FlawVolatileQueue), s.now)
		if err != nil {
			return fmt.Errorf("start site %s: %w", cfg.Name, err)
		}
		opts.Journal = journal
	}
	st, err := store.Open(be, opts)
	if err != nil {
		return fmt.Errorf("start site %s: %w", cfg.Name, err)
	}
	s.store = st
	if rc := cfg.Replication; rc != nil {
		s.repl, err = replication.New(replication.Config{Site: cfg.Name, Store: st, Journal: journal, Keyring: cfg.Keyring,
			Secret: rc.Secret, Flaws: rc.Flaws, MinBackoff: rc.MinBackoff, MaxBackoff: rc.MaxBackoff, Now: s.now,
			Logger: cfg.Logger.With("site", cfg.Name)})
		if err != nil {
			return fmt.Errorf("start site %s: %w", cfg.Name, err)
		}
		if s.peer[1] != "" {
			s.repl.SetPeer(s.peer[0], s.peer[1])
		}
	}
	for i, replicated := range []bool{true, false} {
		policies, def := endpoint.ReplicatedPolicies, endpoint.PolicyHPIntensive
		if !replicated {
			policies, def = endpoint.SitePolicies, endpoint.PolicyStandard
		}
		ecfg := &endpoint.Config{Site: cfg.Name, Region: cfg.Region, Replicated: replicated,
			Policies: policies, DefaultPolicy: def, Users: cfg.Users, Keyring: cfg.Keyring,
			Domains: []string{"localhost"}}
		ecfg.Logger = cfg.Logger.With("site", cfg.Name, "endpoint", ecfg.Name())
		if err := s.listen(i, ecfg.Name()+" endpoint", s.gate(Handler(st, ecfg)), ecfg.Logger); err != nil {
			return err
		}
	}
	if s.repl != nil {
		if err := s.listen(2, "replication endpoint", s.gate(s.internalHandler(s.repl.Handler())), cfg.Logger); err != nil {
			return err
		}
		s.repl.Start()
	}
	s.running = true
	return nil
}

// listen serves h on s.addrs[i] and remembers the address actually bound,
// so a restart comes back on the same port.
func (s *Site) listen(i int, what string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", s.addrs[i])
	if err != nil {
		return fmt.Errorf("start site %s: %s: %w", s.cfg.Name, what, err)
	}
	s.addrs[i] = ln.Addr().String()
	srv := &http.Server{Handler: h, MaxHeaderBytes: MaxHeaderBytes,
		ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
		}
	}()
	return nil
}

// gate holds requests while the site is paused.
func (s *Site) gate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ch := s.paused
		s.mu.Unlock()
		if ch != nil {
			select {
			case <-ch:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Handler routes a request to the Swift front end (TempAuth, /v1/ paths
// and the /info capability document) or to S3 (everything else). S3 bucket
// names are at least three characters, so "/v1/…" is never an S3 path;
// "/auth/v1.0" is Swift unless the request carries S3 authentication.
func Handler(st *store.Store, cfg *endpoint.Config) http.Handler {
	s3 := s3api.New(st, cfg)
	sw := swiftapi.New(st, cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isSwift(r) {
			sw.ServeHTTP(w, r)
			return
		}
		s3.ServeHTTP(w, r)
	})
}

func isSwift(r *http.Request) bool {
	p := r.URL.EscapedPath()
	if strings.HasPrefix(p, "/v1/") || p == "/v1" || p == "/info" {
		return true
	}
	if p == "/auth/v1.0" || p == "/auth/1.0" {
		return r.Header.Get("Authorization") == "" && r.URL.Query().Get("X-Amz-Algorithm") == ""
	}
	return false
}

// Name returns the site's name.
func (s *Site) Name() string { return s.cfg.Name }

// Region returns the site's S3 region.
func (s *Site) Region() string { return s.cfg.Region }

// Store returns the site's current store, for the engine's own tests.
func (s *Site) Store() *store.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store
}

// Replicator returns the site's replicator (nil without replication).
func (s *Site) Replicator() *replication.Replicator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repl
}

// Users returns the site's users (with secrets: never log them).
func (s *Site) Users() []endpoint.User { return s.cfg.Users }

// Keyring returns the site's SSE keyring.
func (s *Site) Keyring() *sse.Keyring { return s.cfg.Keyring }

// URL returns the base URL of the replicated or non-replicated endpoint.
func (s *Site) URL(replicated bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if replicated {
		return "http://" + s.addrs[0]
	}
	return "http://" + s.addrs[1]
}

// InternalURL returns the base URL of the internal replication endpoint
// (empty without replication). The peer reaches it through its WAN link.
func (s *Site) InternalURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Replication == nil {
		return ""
	}
	return "http://" + s.addrs[2]
}

// SwiftAuthURL returns the TempAuth URL of an endpoint.
func (s *Site) SwiftAuthURL(replicated bool) string { return s.URL(replicated) + "/auth/v1.0" }

// ConnectPeer points replication at the peer, reached at url (normally the
// WAN link toward it).
func (s *Site) ConnectPeer(name, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Replication == nil {
		return fmt.Errorf("site %s: replication is not configured", s.cfg.Name)
	}
	s.peer = [2]string{name, url}
	if s.repl != nil {
		s.repl.SetPeer(name, url)
	}
	return nil
}

// Peer returns the peer set by ConnectPeer: its name and the URL at which
// this site reaches it (empty before ConnectPeer).
func (s *Site) Peer() (name, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer[0], s.peer[1]
}

// SetClockSkew shifts the site's wall clock by d (0 restores it). A site
// in another process is skewed through its internal API instead
// (SetRemoteClockSkew).
func (s *Site) SetClockSkew(d time.Duration) error {
	s.skew.Store(int64(d))
	return nil
}

// Pause holds every request to the site and stops its shipping until
// Resume, as a frozen process would.
func (s *Site) Pause(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused != nil {
		return nil
	}
	s.paused = make(chan struct{})
	if s.repl != nil {
		s.repl.Stop()
	}
	return nil
}

// Resume releases a paused site.
func (s *Site) Resume(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused == nil {
		return nil
	}
	close(s.paused)
	s.paused = nil
	if s.repl != nil && s.running {
		s.repl.Start()
	}
	return nil
}

// Crash stops the site abruptly: connections are cut, shipments in flight
// are abandoned, nothing is flushed. Its data stays for Restart.
func (s *Site) Crash(context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	s.running = false
	servers, repl := s.servers, s.repl
	s.servers = nil
	if s.paused != nil {
		close(s.paused)
		s.paused = nil
	}
	s.mu.Unlock()
	if repl != nil {
		repl.Stop()
	}
	for _, srv := range servers {
		srv.Close()
	}
	s.wg.Wait()
	return nil
}

// Restart starts a crashed site again on the same addresses with the data
// it had.
func (s *Site) Restart(context.Context) error {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if running {
		return nil
	}
	if err := s.start(); err != nil {
		s.Crash(context.Background())
		return err
	}
	return nil
}

// Shutdown stops the site gracefully, waiting for requests in flight until
// ctx ends, then closes the store.
func (s *Site) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers, repl, st := s.servers, s.repl, s.store
	s.servers, s.running = nil, false
	if s.paused != nil {
		close(s.paused)
		s.paused = nil
	}
	s.mu.Unlock()
	if repl != nil {
		repl.Stop()
	}
	var err error
	for _, srv := range servers {
		if e := srv.Shutdown(ctx); e != nil {
			srv.Close()
			err = errors.Join(err, e)
		}
	}
	s.wg.Wait()
	if st != nil {
		err = errors.Join(err, st.Close())
	}
	return err
}

// Close stops the site at once.
func (s *Site) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}
