package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/engine/site"
	"github.com/replcheck/replcheck/engine/sse"
)

// siteFile is the optional YAML configuration of `replcheck site`.
// Credentials are never in it: they come from environment variables.
type siteFile struct {
	Name              string `yaml:"name"`
	Region            string `yaml:"region"`
	DataDir           string `yaml:"data_dir"`
	NoSync            bool   `yaml:"no_sync"`
	ReplicatedAddr    string `yaml:"replicated_addr"`
	NonReplicatedAddr string `yaml:"non_replicated_addr"`
	Keyring           string `yaml:"keyring"`
	MinPartSize       int64  `yaml:"min_part_size"`
	// Replication (on when Peer is set). The types check values as the
	// file is read, so that an error names its line.
	Peer         peerSpec     `yaml:"peer"` // NAME=URL
	InternalAddr string       `yaml:"internal_addr"`
	Flaws        flawList     `yaml:"flaws"`
	MinBackoff   yamlDuration `yaml:"min_backoff"`
	MaxBackoff   yamlDuration `yaml:"max_backoff"`
}

// Environment variables that carry a site's secrets: containers get
// secrets by environment, and flags would show them in ps.
const (
	envAccessKey         = "REPLCHECK_ACCESS_KEY"
	envSecretKey         = "REPLCHECK_SECRET_KEY"
	envReplicationSecret = "REPLCHECK_REPLICATION_SECRET"
	envKeyring           = "REPLCHECK_KEYRING"
)

const defaultInternalAddr = "127.0.0.1:0"

// peerSpec is NAME=URL: the peer site's name and the base URL at which
// this site reaches the peer's internal API (normally a WAN proxy).
type peerSpec string

// peerNameRE is what a site name may look like (europe-se-1b).
var peerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// parse splits and checks the spec; the URL comes back without a
// trailing slash.
func (p peerSpec) parse() (name, u string, err error) {
	name, raw, ok := strings.Cut(string(p), "=")
	if !ok {
		return "", "", fmt.Errorf("%q is not NAME=URL (e.g. europe-se-1b=http://wan-a-to-b:9100)", string(p))
	}
	if !peerNameRE.MatchString(name) {
		return "", "", fmt.Errorf("peer name %q: want letters, digits, '.', '_' or '-' (e.g. europe-se-1b)", name)
	}
	if u, err = checkPeerURL(raw); err != nil {
		return "", "", err
	}
	return name, u, nil
}

// checkPeerURL accepts http(s)://host:port and nothing more: the engine
// appends its own paths to it.
func checkPeerURL(raw string) (string, error) {
	bad := fmt.Errorf("peer URL %q: want http://host:port or https://host:port", raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", bad
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", bad
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("peer URL %q: port %q: want a number from 1 to 65535", raw, port)
	}
	return u.Scheme + "://" + u.Host, nil
}

// UnmarshalYAML checks the spec's shape as the file is read.
func (p *peerSpec) UnmarshalYAML(n ast.Node) error {
	var v string
	if err := yaml.NodeToValue(n, &v); err != nil {
		return err
	}
	if _, _, err := peerSpec(v).parse(); err != nil {
		return &yaml.SyntaxError{Message: "peer: " + err.Error(), Token: n.GetToken()}
	}
	*p = peerSpec(v)
	return nil
}

// flawList is a list of flaw names (replication.ParseFlaws).
type flawList []string

// UnmarshalYAML checks every name as the file is read.
func (f *flawList) UnmarshalYAML(n ast.Node) error {
	var v []string
	if err := yaml.NodeToValue(n, &v); err != nil {
		return err
	}
	if _, err := replication.ParseFlaws(v...); err != nil {
		return &yaml.SyntaxError{Message: "flaws: " + err.Error(), Token: n.GetToken()}
	}
	*f = v
	return nil
}

// yamlDuration is a Go duration string (50ms, 2s) in the file.
type yamlDuration time.Duration

// UnmarshalYAML parses the duration with its line in any error.
func (d *yamlDuration) UnmarshalYAML(n ast.Node) error {
	var v string
	if err := yaml.NodeToValue(n, &v); err != nil {
		return err
	}
	x, err := time.ParseDuration(v)
	if err != nil || x < 0 {
		return &yaml.SyntaxError{Message: fmt.Sprintf("%s: %q is not a duration of zero or more, such as 50ms or 2s",
			strings.TrimPrefix(n.GetPath(), "$."), v), Token: n.GetToken()}
	}
	*d = yamlDuration(x)
	return nil
}

// siteInfo is what `replcheck site --json` prints: how to reach the site.
type siteInfo struct {
	Site             string `json:"site"`
	Region           string `json:"region"`
	Replicated       string `json:"replicated"`
	NonReplicated    string `json:"nonReplicated"`
	SwiftAuth        string `json:"swiftAuth"`
	SwiftAuthNonRepl string `json:"swiftAuthNonReplicated"`
	AccessKey        string `json:"accessKey"`
	SecretKey        string `json:"secretKey,omitempty"` // only when generated
	SwiftUser        string `json:"swiftUser"`
	SwiftKey         string `json:"swiftKey"`
	DataDir          string `json:"dataDir,omitempty"`
	Internal         string `json:"replicationEndpoint,omitempty"`
	// With replication: the peer's name, the URL this site ships to, and
	// the flaws turned on.
	Peer    string `json:"peer,omitempty"`
	PeerURL string `json:"peerURL,omitempty"`
	Flaws   string `json:"flaws,omitempty"`
}

func newSiteCmd() *cobra.Command {
	var (
		cfgFile string
		f       siteFile
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "site",
		Short: "Run one site of the reference engine (S3 + Swift, replicated and non-replicated endpoints)",
		Long: `Run one site of the reference engine until SIGINT or SIGTERM.

The site serves two endpoints, each speaking S3 (SigV4) and Swift (TempAuth v1,
at /auth/v1.0) over one namespace. Buckets created through the replicated
endpoint are marked replicated and may only use the policies hp.intensive and
gp.recurring; the non-replicated endpoint also offers standard and archive.cold.

Credentials come from ` + envAccessKey + ` and ` + envSecretKey + `, or are generated
and printed at start. The Swift user is replcheck:admin with the secret key.
The SSE keyring comes from --keyring FILE, else from the JSON in ` + envKeyring + `,
else is generated.

With --peer NAME=URL the site replicates with the peer site NAME, reaching
the peer's internal API at URL (normally a WAN proxy such as replcheck
wanproxy). Its own internal API listens on --internal-addr: the peer ships
to it, and it serves ` + replication.StatusPath + `, ` + replication.MetricsPath + ` and
` + site.ClockSkewPath + `. Both sites need the same replication secret in
` + envReplicationSecret + ` (never a flag) and, for encrypted objects, the same keyring.`,
		Example: `  replcheck site
  replcheck site --name europe-se-1b --data-dir /var/tmp/site-b --replicated-addr 127.0.0.1:9000
  replcheck site --config site.yaml --json
  ` + envReplicationSecret + `=… replcheck site --name europe-se-1a --internal-addr 0.0.0.0:9100 \
      --peer europe-se-1b=http://wan-a-to-b:9100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgFile != "" {
				if err := loadSiteFile(cfgFile, &f, cmd); err != nil {
					return err
				}
			}
			cfg := site.Config{Name: f.Name, Region: f.Region, DataDir: f.DataDir, NoSync: f.NoSync,
				ReplicatedAddr: f.ReplicatedAddr, NonReplicatedAddr: f.NonReplicatedAddr, MinPartSize: f.MinPartSize}
			peerName, peerURL, err := siteReplication(&cfg, &f, func(flag, field string) string {
				if cfgFile != "" && !cmd.Flags().Changed(flag) {
					return "site config " + cfgFile + ": " + field
				}
				return "--" + flag
			})
			if err != nil {
				return err
			}
			ak, sk := os.Getenv(envAccessKey), os.Getenv(envSecretKey)
			if (ak == "") != (sk == "") {
				return usageErr("set both %s and %s, or neither", envAccessKey, envSecretKey)
			}
			if ak != "" {
				cfg.Users = []endpoint.User{{Account: "replcheck", Name: "admin", AccessKey: ak, SecretKey: sk}}
			}
			if f.Keyring != "" {
				data, err := os.ReadFile(f.Keyring)
				if err != nil {
					return usageErr("keyring: %w", err)
				}
				kr, err := sse.ParseKeyring(data)
				if err != nil {
					return usageErr("keyring %s: %w", f.Keyring, err)
				}
				cfg.Keyring = kr
			} else if data := os.Getenv(envKeyring); data != "" {
				// Never quote the content: it is key material.
				kr, err := sse.ParseKeyring([]byte(data))
				if err != nil {
					return usageErr("%s: %w", envKeyring, err)
				}
				cfg.Keyring = kr
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if cfg.Replication != nil && cfg.Keyring == nil {
				cfg.Logger.Warn("replicating with a generated keyring: SSE-S3 and SSE-KMS objects will not decrypt at the peer; "+
					"give both sites the same --keyring or "+envKeyring, "site", cfg.Name)
			}
			// Catch signals before the banner tells anyone the site is up.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := site.Start(cfg)
			if err != nil {
				return infraErr(err)
			}
			if cfg.Replication != nil {
				if err := s.ConnectPeer(peerName, peerURL); err != nil {
					s.Close()
					return infraErr(err)
				}
			}
			printSite(cmd.OutOrStdout(), s, f.DataDir, asJSON, ak != "")
			<-ctx.Done()
			cfg.Logger.Info("stopping site", "site", s.Name())
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(sctx); err != nil {
				return infraErr(fmt.Errorf("stop site: %w", err))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfgFile, "config", "", "YAML file with the settings below (flags given on the command line win)")
	fl.StringVar(&f.Name, "name", "europe-se-1a", "site name")
	fl.StringVar(&f.Region, "region", "", "S3 region (default: the name without its zone letter)")
	fl.StringVar(&f.DataDir, "data-dir", "", "directory of the disk backend (default: memory)")
	fl.BoolVar(&f.NoSync, "no-sync", false, "skip fsync on the disk backend (faster; not power-safe)")
	fl.StringVar(&f.ReplicatedAddr, "replicated-addr", "127.0.0.1:0", "listen address of the replicated endpoint")
	fl.StringVar(&f.NonReplicatedAddr, "non-replicated-addr", "127.0.0.1:0", "listen address of the non-replicated endpoint")
	fl.StringVar(&f.Keyring, "keyring", "", "JSON keyring file (SSE-S3 master key and KMS keys), shared by the sites of a topology")
	fl.Int64Var(&f.MinPartSize, "min-part-size", 0, "smallest multipart part other than the last, in bytes (default S3's 5 MiB)")
	fl.StringVar((*string)(&f.Peer), "peer", "", "replicate with the peer site NAME, reached at URL (its internal API, normally through a WAN proxy): NAME=http://host:port; needs "+envReplicationSecret)
	fl.StringVar(&f.InternalAddr, "internal-addr", defaultInternalAddr, "listen address of the internal replication API (with --peer)")
	fl.StringArrayVar((*[]string)(&f.Flaws), "flaw", nil, "turn on a named flaw of the replication engine (repeatable; with --peer)")
	fl.DurationVar((*time.Duration)(&f.MinBackoff), "min-backoff", 0, "shortest wait before a replication retry (0: the engine's default)")
	fl.DurationVar((*time.Duration)(&f.MaxBackoff), "max-backoff", 0, "longest wait between replication retries (0: the engine's default)")
	fl.BoolVar(&asJSON, "json", false, "print the endpoints and credentials as one JSON line")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log every request")
	return cmd
}

// loadSiteFile reads a site YAML file into f; flags set on the command line
// keep their values. Errors name the file, line and field.
func loadSiteFile(path string, f *siteFile, cmd *cobra.Command) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageErr("site config: %w", err)
	}
	var file siteFile
	if err := yaml.UnmarshalWithOptions(data, &file, yaml.Strict()); err != nil {
		return usageErr("site config %s:\n%s", path, yaml.FormatError(err, false, true))
	}
	fl := cmd.Flags()
	set := func(name string, dst *string, v string) {
		if !fl.Changed(name) && v != "" {
			*dst = v
		}
	}
	set("name", &f.Name, file.Name)
	set("region", &f.Region, file.Region)
	set("data-dir", &f.DataDir, file.DataDir)
	set("replicated-addr", &f.ReplicatedAddr, file.ReplicatedAddr)
	set("non-replicated-addr", &f.NonReplicatedAddr, file.NonReplicatedAddr)
	set("keyring", &f.Keyring, file.Keyring)
	set("peer", (*string)(&f.Peer), string(file.Peer))
	set("internal-addr", &f.InternalAddr, file.InternalAddr)
	if !fl.Changed("flaw") && len(file.Flaws) > 0 {
		f.Flaws = file.Flaws
	}
	if !fl.Changed("min-backoff") && file.MinBackoff != 0 {
		f.MinBackoff = file.MinBackoff
	}
	if !fl.Changed("max-backoff") && file.MaxBackoff != 0 {
		f.MaxBackoff = file.MaxBackoff
	}
	if !fl.Changed("no-sync") && file.NoSync {
		f.NoSync = true
	}
	if !fl.Changed("min-part-size") && file.MinPartSize != 0 {
		f.MinPartSize = file.MinPartSize
	}
	if f.MinPartSize < 0 {
		return usageErr("site config %s: min_part_size must not be negative", path)
	}
	return nil
}

// siteReplication checks the replication settings of f and, when a peer
// is given, turns replication on in cfg and returns the peer. where names
// the origin of a setting in errors (a flag or the config file's field).
func siteReplication(cfg *site.Config, f *siteFile, where func(flag, field string) string) (peerName, peerURL string, err error) {
	flaws, err := replication.ParseFlaws(f.Flaws...)
	if err != nil {
		return "", "", usageErr("%s: %w", where("flaw", "flaws"), err)
	}
	minB, maxB := time.Duration(f.MinBackoff), time.Duration(f.MaxBackoff)
	if minB < 0 {
		return "", "", usageErr("%s must not be negative", where("min-backoff", "min_backoff"))
	}
	if maxB < 0 {
		return "", "", usageErr("%s must not be negative", where("max-backoff", "max_backoff"))
	}
	if minB != 0 && maxB != 0 && minB > maxB {
		return "", "", usageErr("%s (%v) is above %s (%v)", where("min-backoff", "min_backoff"), minB, where("max-backoff", "max_backoff"), maxB)
	}
	if f.Peer == "" {
		// Without a peer these would silently do nothing.
		if len(flaws) > 0 || minB != 0 || maxB != 0 || (f.InternalAddr != "" && f.InternalAddr != defaultInternalAddr) {
			return "", "", usageErr("--flaw, --internal-addr, --min-backoff and --max-backoff configure replication, which is off without --peer NAME=URL")
		}
		return "", "", nil
	}
	peerName, peerURL, err = f.Peer.parse()
	if err != nil {
		return "", "", usageErr("%s: %w", where("peer", "peer"), err)
	}
	if peerName == cfg.Name {
		return "", "", usageErr("%s: the peer %q is this site's own name; name the other site", where("peer", "peer"), peerName)
	}
	secret := os.Getenv(envReplicationSecret)
	if secret == "" {
		return "", "", usageErr("%s needs the replication secret shared by both sites in the environment variable %s (it is never a flag)",
			where("peer", "peer"), envReplicationSecret)
	}
	cfg.Replication = &site.Replication{Secret: []byte(secret), Flaws: flaws, InternalAddr: f.InternalAddr,
		MinBackoff: minB, MaxBackoff: maxB}
	return peerName, peerURL, nil
}

// describeSite says how to reach a site.
func describeSite(s *site.Site, dataDir string) siteInfo {
	u := s.Users()[0]
	info := siteInfo{Site: s.Name(), Region: s.Region(), Replicated: s.URL(true), NonReplicated: s.URL(false),
		SwiftAuth: s.SwiftAuthURL(true), SwiftAuthNonRepl: s.SwiftAuthURL(false),
		AccessKey: u.AccessKey, SecretKey: u.SecretKey, SwiftUser: u.Account + ":" + u.Name, SwiftKey: u.SecretKey,
		DataDir: dataDir, Internal: s.InternalURL()}
	info.Peer, info.PeerURL = s.Peer()
	if r := s.Replicator(); r != nil {
		info.Flaws = r.Status().Flaws
	}
	return info
}

// printSite says how to reach s. Secrets the caller gave through the
// environment are not echoed (the output may end up in a container's
// log); generated ones are printed, since nobody else knows them.
func printSite(w io.Writer, s *site.Site, dataDir string, asJSON, givenKeys bool) {
	info := describeSite(s, dataDir)
	if givenKeys {
		info.SecretKey, info.SwiftKey = "", ""
	}
	if asJSON {
		json.NewEncoder(w).Encode(info)
		return
	}
	backend := "memory backend"
	if dataDir != "" {
		backend = "disk backend at " + dataDir
	}
	repl := "  replication:              off (no --peer)\n"
	if info.Internal != "" {
		repl = fmt.Sprintf("  replication endpoint:     %s   (status %s, clock skew %s)\n"+
			"  peer:                     %s at %s   (flaws: %s)\n",
			info.Internal, replication.StatusPath, site.ClockSkewPath, info.Peer, info.PeerURL, info.Flaws)
	}
	fmt.Fprintf(w, `replcheck site %s (region %s, %s)
  replicated endpoint:      %s   (Swift auth %s)
  non-replicated endpoint:  %s   (Swift auth %s)
%s  S3 access key:  %s
  S3 secret key:  %s
  Swift user:     %s   (key: the S3 secret key)
Stop with Ctrl-C or SIGTERM.
`, info.Site, info.Region, backend, info.Replicated, info.SwiftAuth, info.NonReplicated, info.SwiftAuthNonRepl,
		repl, info.AccessKey, cmp.Or(info.SecretKey, "(from "+envSecretKey+")"), info.SwiftUser)
}
