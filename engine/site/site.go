// Package site runs one site of the reference engine: a store with a
// replicated and a non-replicated endpoint, each serving S3 and Swift over
// the same namespace.
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
	"time"

	"github.com/replcheck/replcheck/engine/endpoint"
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
	// ReplicatedAddr and NonReplicatedAddr are listen addresses;
	// default 127.0.0.1:0 (an ephemeral loopback port).
	ReplicatedAddr    string
	NonReplicatedAddr string
	Users             []endpoint.User // default: one generated user
	Keyring           *sse.Keyring    // default: generated
	MinPartSize       int64           // default S3's 5 MiB
	Logger            *slog.Logger    // nil discards
}

// MaxHeaderBytes bounds request headers; larger requests get 431.
const MaxHeaderBytes = 64 << 10

// Site is a running site.
type Site struct {
	cfg     Config
	store   *store.Store
	servers []*http.Server
	urls    [2]string // replicated, non-replicated
	wg      sync.WaitGroup
	once    sync.Once
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
}

// Start opens the store and starts both endpoints. On error everything
// started so far is stopped.
func Start(cfg Config) (*Site, error) {
	cfg.defaults()
	var be store.Backend = store.NewMemory()
	if cfg.DataDir != "" {
		d, err := store.OpenDisk(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("start site %s: %w", cfg.Name, err)
		}
		d.NoSync = cfg.NoSync
		be = d
	}
	st, err := store.Open(be, store.Options{MinPartSize: cfg.MinPartSize})
	if err != nil {
		return nil, fmt.Errorf("start site %s: %w", cfg.Name, err)
	}
	s := &Site{cfg: cfg, store: st}
	for i, replicated := range []bool{true, false} {
		addr := cfg.ReplicatedAddr
		policies, def := endpoint.ReplicatedPolicies, endpoint.PolicyHPIntensive
		if !replicated {
			addr, policies, def = cfg.NonReplicatedAddr, endpoint.SitePolicies, endpoint.PolicyStandard
		}
		ecfg := &endpoint.Config{Site: cfg.Name, Region: cfg.Region, Replicated: replicated,
			Policies: policies, DefaultPolicy: def, Users: cfg.Users, Keyring: cfg.Keyring,
			Domains: []string{"localhost"}}
		ecfg.Logger = cfg.Logger.With("site", cfg.Name, "endpoint", ecfg.Name())
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("start site %s: %s endpoint: %w", cfg.Name, ecfg.Name(), err)
		}
		srv := &http.Server{Handler: Handler(st, ecfg), MaxHeaderBytes: MaxHeaderBytes,
			ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(ecfg.Logger.Handler(), slog.LevelDebug)}
		s.servers = append(s.servers, srv)
		s.urls[i] = "http://" + ln.Addr().String()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				ecfg.Logger.Error("serve", "err", err)
			}
		}()
	}
	return s, nil
}

// Handler routes a request to the Swift front end (TempAuth, /v1/ paths
// and the /info capability document) or to S3 (everything else). S3 bucket names are at least three
// characters, so "/v1/…" is never an S3 path; "/auth/v1.0" is Swift unless
// the request carries S3 authentication.
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

// Store returns the site's store, for the engine's own wiring and tests.
func (s *Site) Store() *store.Store { return s.store }

// Users returns the site's users (with secrets: never log them).
func (s *Site) Users() []endpoint.User { return s.cfg.Users }

// Keyring returns the site's SSE keyring.
func (s *Site) Keyring() *sse.Keyring { return s.cfg.Keyring }

// URL returns the base URL of the replicated or non-replicated endpoint.
func (s *Site) URL(replicated bool) string {
	if replicated {
		return s.urls[0]
	}
	return s.urls[1]
}

// SwiftAuthURL returns the TempAuth URL of an endpoint.
func (s *Site) SwiftAuthURL(replicated bool) string { return s.URL(replicated) + "/auth/v1.0" }

// Shutdown stops both endpoints gracefully, waiting for requests in flight
// until ctx ends, then closes the store.
func (s *Site) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		for _, srv := range s.servers {
			if e := srv.Shutdown(ctx); e != nil {
				srv.Close()
				err = errors.Join(err, e)
			}
		}
		s.wg.Wait()
		err = errors.Join(err, s.store.Close())
	})
	return err
}

// Close stops the site at once.
func (s *Site) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}
