package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/engine/endpoint"
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
}

// Environment variables that carry a site's credentials.
const (
	envAccessKey = "REPLCHECK_ACCESS_KEY"
	envSecretKey = "REPLCHECK_SECRET_KEY"
)

// siteInfo is what `replcheck site --json` prints: how to reach the site.
type siteInfo struct {
	Site             string `json:"site"`
	Region           string `json:"region"`
	Replicated       string `json:"replicated"`
	NonReplicated    string `json:"nonReplicated"`
	SwiftAuth        string `json:"swiftAuth"`
	SwiftAuthNonRepl string `json:"swiftAuthNonReplicated"`
	AccessKey        string `json:"accessKey"`
	SecretKey        string `json:"secretKey"`
	SwiftUser        string `json:"swiftUser"`
	SwiftKey         string `json:"swiftKey"`
	DataDir          string `json:"dataDir,omitempty"`
	Internal         string `json:"replicationEndpoint,omitempty"`
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
and printed at start. The Swift user is replcheck:admin with the secret key.`,
		Example: `  replcheck site
  replcheck site --name europe-se-1b --data-dir /var/tmp/site-b --replicated-addr 127.0.0.1:9000
  replcheck site --config site.yaml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgFile != "" {
				if err := loadSiteFile(cfgFile, &f, cmd); err != nil {
					return err
				}
			}
			cfg := site.Config{Name: f.Name, Region: f.Region, DataDir: f.DataDir, NoSync: f.NoSync,
				ReplicatedAddr: f.ReplicatedAddr, NonReplicatedAddr: f.NonReplicatedAddr, MinPartSize: f.MinPartSize}
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
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			// Catch signals before the banner tells anyone the site is up.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := site.Start(cfg)
			if err != nil {
				return infraErr(err)
			}
			printSite(cmd.OutOrStdout(), s, f.DataDir, asJSON)
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

// describeSite says how to reach a site.
func describeSite(s *site.Site, dataDir string) siteInfo {
	u := s.Users()[0]
	return siteInfo{Site: s.Name(), Region: s.Region(), Replicated: s.URL(true), NonReplicated: s.URL(false),
		SwiftAuth: s.SwiftAuthURL(true), SwiftAuthNonRepl: s.SwiftAuthURL(false),
		AccessKey: u.AccessKey, SecretKey: u.SecretKey, SwiftUser: u.Account + ":" + u.Name, SwiftKey: u.SecretKey,
		DataDir: dataDir, Internal: s.InternalURL()}
}

func printSite(w io.Writer, s *site.Site, dataDir string, asJSON bool) {
	info := describeSite(s, dataDir)
	if asJSON {
		json.NewEncoder(w).Encode(info)
		return
	}
	backend := "memory backend"
	if dataDir != "" {
		backend = "disk backend at " + dataDir
	}
	fmt.Fprintf(w, `replcheck site %s (region %s, %s)
  replicated endpoint:      %s   (Swift auth %s)
  non-replicated endpoint:  %s   (Swift auth %s)
  S3 access key:  %s
  S3 secret key:  %s
  Swift user:     %s   (key: the S3 secret key)
Stop with Ctrl-C or SIGTERM.
`, info.Site, info.Region, backend, info.Replicated, info.SwiftAuth, info.NonReplicated, info.SwiftAuthNonRepl,
		info.AccessKey, info.SecretKey, info.SwiftUser)
}
