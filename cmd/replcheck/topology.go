package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/containers"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/engines"
	"github.com/replcheck/replcheck/harness/external"
	scenario "github.com/replcheck/replcheck/scenarios"
)

// envSwiftKey carries the Swift key in a sites file written for a
// topology whose Swift key is not its S3 secret key.
const envSwiftKey = "REPLCHECK_SWIFT_KEY"

func newTopologyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topology",
		Short: "Start, inspect and clean up two-site topologies",
		Long: `A topology is two replicating sites of the reference engine with a
toxiproxy WAN link in each direction: what 'replcheck run' starts for each
scenario. 'topology up' starts one on its own and keeps it running, to point
your own S3 or Swift clients at, or to run scenarios against from another
terminal with --sites. 'topology down' removes containers topologies that a
killed process left behind.`,
		Example: `  replcheck topology up                                # in this process, until Ctrl-C
  replcheck topology up --write-sites sites.yaml       # then elsewhere: replcheck run quickstart --sites sites.yaml
  replcheck topology up --target containers            # each site and WAN proxy in a container
  replcheck topology down --all                        # remove what killed runs left`,
	}
	cmd.AddCommand(newTopologyUpCmd(), newTopologyDownCmd())
	return cmd
}

// topologyInfo is what `replcheck topology up --json` prints.
type topologyInfo struct {
	Target string `json:"target"`
	// ID labels the containers of a containers topology.
	ID         string     `json:"id,omitempty"`
	WANControl string     `json:"wanControl,omitempty"` // embedded: one toxiproxy for both links
	Flaws      string     `json:"flaws"`
	Sites      []siteInfo `json:"sites"`
	Links      []linkInfo `json:"links"`
	// SitesFile is the sites file written for --write-sites.
	SitesFile string `json:"sitesFile,omitempty"`
}

type linkInfo struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	// Control is the toxiproxy control API of the link's proxy.
	Control string `json:"control,omitempty"`
}

func newTopologyUpCmd() *cobra.Command {
	var (
		target  string
		dataDir string
		flaws   []string
		asJSON  bool
		verbose bool
		sites   string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a two-site topology and run it until Ctrl-C",
		Long: `Start two replicating sites of the reference engine (europe-se-1a and
europe-se-1b) with a toxiproxy WAN link in each direction, print how to reach
them, and run until SIGINT or SIGTERM.

Each site has a replicated and a non-replicated endpoint (S3 and Swift). The
WAN links are toxiproxy proxies: any toxiproxy client can shape or cut them
through the printed control address.

--target embedded runs everything in this process; --target containers runs
each site and each WAN proxy in its own Docker container (an image built
FROM scratch from this binary, nothing pulled), on a private network, with
the sites' ports published on 127.0.0.1. --target minio, ceph or swift starts
a real engine's two sites as processes on this host (its programs installed
by 'make engines'; see docs/engines/). A topology left behind by a killed
process is removed by 'replcheck topology down --all'.

--write-sites FILE also writes a sites file describing the topology (its
endpoints, WAN proxies and status URLs) for 'replcheck run --sites FILE' in
another terminal. The file names the environment variables
` + envAccessKey + ` and ` + envSecretKey + ` and holds no credential:
the export line to set them is printed here only.

Exit codes: 2 bad flags, 3 the topology could not start (e.g. no Docker
engine for --target containers).`,
		Example: `  replcheck topology up
  replcheck topology up --flaw sse-reencrypt-echo --json
  replcheck topology up --target containers
  replcheck topology up --target minio             # MinIO site replication (make engines)
  replcheck topology up --data-dir /var/tmp/topo
  replcheck topology up --write-sites sites.yaml   # then, elsewhere: replcheck run quickstart --sites sites.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl, err := replication.ParseFlaws(flaws...)
			if err != nil {
				return usageErr("--flaw: %w", err)
			}
			if target == containers.Target && dataDir != "" {
				return usageErr("--data-dir is for the embedded target; containers keep data in Docker volumes")
			}
			if sites != "" {
				if st, err := os.Stat(filepath.Dir(sites)); err != nil || !st.IsDir() {
					return usageErr("--write-sites %s: no directory %s to write it in", sites, filepath.Dir(sites))
				}
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var topo harness.Topology
			switch target {
			case embedded.Target:
				et, serr := embedded.Start(ctx, embedded.Options{DataDir: dataDir, Flaws: fl, Logger: log})
				topo, err = harness.Started(ctx, et, serr)
			case containers.Target:
				ct, serr := containers.Start(ctx, containers.Options{Flaws: fl, Logger: log})
				topo, err = harness.Started(ctx, ct, serr)
			case scenario.TargetMinIO, scenario.TargetCeph, scenario.TargetSwift:
				if len(fl) > 0 {
					return usageErr("--flaw: flaws are options of the reference engine; target %s runs a real engine", target)
				}
				topo, err = engines.Start(ctx, target, nil, log)
			default:
				return usageErr("--target %q: want embedded, containers, minio, ceph or swift", target)
			}
			if err != nil {
				return infraErr(err)
			}
			var export string
			if sites != "" {
				if export, err = writeSitesFile(sites, topo); err != nil {
					topo.Close(context.WithoutCancel(ctx))
					return usageErr("--write-sites: %w", err)
				}
			}
			printTopology(cmd.OutOrStdout(), topo, fl, asJSON, sites, export)
			if asJSON && export != "" {
				// Stdout is one JSON line; the secrets are in it already.
				fmt.Fprintf(cmd.ErrOrStderr(), "sites file %s: before 'replcheck run --sites %s':\n  %s\n", sites, sites, export)
			}
			<-ctx.Done()
			log.Info("stopping topology")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := topo.Close(sctx); err != nil {
				return infraErr(fmt.Errorf("stop topology: %w", err))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&target, "target", embedded.Target, "where the sites run: embedded (in this process) or containers (Docker)")
	fl.StringVar(&dataDir, "data-dir", "", "embedded: keep each site's data on disk below this directory (default: memory)")
	fl.StringArrayVar(&flaws, "flaw", nil, "turn on a named flaw of the reference engine (repeatable)")
	fl.BoolVar(&asJSON, "json", false, "print the topology as one JSON line")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log every request")
	fl.StringVar(&sites, "write-sites", "", "write a sites file describing the topology, for 'replcheck run --sites FILE' (credentials: only the names of their environment variables)")
	return cmd
}

// writeSitesFile writes a sites file describing topo to path and returns
// the shell line that exports the credentials it names, which goes to
// the terminal only.
func writeSitesFile(path string, topo harness.Topology) (string, error) {
	f := &external.File{}
	vars := map[string]string{}
	setVar := func(name, v string) error {
		if old, ok := vars[name]; ok && old != v {
			return fmt.Errorf("the sites have different credentials; one pair of variables cannot describe both")
		}
		vars[name] = v
		return nil
	}
	for _, hs := range topo.Sites() {
		c := hs.Credentials()
		sp := external.SiteSpec{Name: hs.Name(), Region: hs.Region(),
			S3: hs.Replicated().S3, S3NonReplicated: hs.NonReplicated().S3,
			SwiftAuth: hs.Replicated().SwiftAuth, SwiftAuthNonReplicated: hs.NonReplicated().SwiftAuth,
			AccessKeyEnv: envAccessKey, SecretKeyEnv: envSecretKey, SwiftUser: c.SwiftUser, SwiftKeyEnv: envSecretKey}
		if c.SwiftKey != c.SecretKey {
			sp.SwiftKeyEnv = envSwiftKey
		}
		creds := [][2]string{{envAccessKey, c.AccessKey}, {envSecretKey, c.SecretKey}, {sp.SwiftKeyEnv, c.SwiftKey}}
		if sp.SwiftAuth == "" && sp.SwiftAuthNonReplicated == "" {
			// A site without Swift (MinIO): no Swift fields at all.
			sp.SwiftUser, sp.SwiftKeyEnv = "", ""
			creds = creds[:2]
		}
		for _, v := range creds {
			if err := setVar(v[0], v[1]); err != nil {
				return "", err
			}
		}
		switch s := hs.(type) {
		case *embedded.Site:
			sp.StatusURL = s.InternalURL() + replication.StatusPath
		case *containers.Site:
			sp.StatusURL = s.InternalURL() + replication.StatusPath
		}
		f.Sites = append(f.Sites, sp)
	}
	for _, l := range topo.Links() {
		ls := external.LinkSpec{From: l.From(), To: l.To(), Proxy: l.WAN().Name()}
		if cl, ok := l.(controlled); ok {
			ls.Toxiproxy = cl.Control()
		}
		if ls.Toxiproxy != "" {
			f.Links = append(f.Links, ls)
		}
	}
	names := slices.Sorted(maps.Keys(vars))
	export, placeholders := "export", "export"
	for _, n := range names {
		export += " " + n + "=" + shellQuote(vars[n])
		placeholders += " " + n + "=…"
	}
	comment := fmt.Sprintf(`replcheck sites file, written by 'replcheck topology up --write-sites' for the
%s topology it runs until Ctrl-C (started %s). Credentials are not
in this file: it names the environment variables that hold them. Set them
as topology up printed:
  %s
then, e.g.: replcheck run quickstart --sites %s
Schema: docs/sites-file.md`, topo.Target(), time.Now().UTC().Format(time.RFC3339), placeholders, path)
	if err := f.WriteFile(path, comment); err != nil {
		return "", err
	}
	return export, nil
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:+=") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func newTopologyDownCmd() *cobra.Command {
	var all, images bool
	cmd := &cobra.Command{
		Use:   "down (--all | ID...)",
		Short: "Remove topologies left behind",
		Long: `Remove the containers, volumes and networks of containers topologies: those
with the given ids (printed by 'topology up --target containers'), or with
--all every one replcheck made (they carry the label ` + containers.LabelManaged + `).
--all also stops the processes of real-engine topologies (minio, ceph,
swift) whose replcheck process is gone, and removes their state and data.
Nothing without the label is touched. A topology whose process is still
running stops working. With --images, also the images replcheck built
(repository ` + containers.ImageRepo + `, one per replcheck binary) that no container uses.`,
		Example: `  replcheck topology down --all
  replcheck topology down --all --images
  replcheck topology down 3f9a0c12`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageErr("give --all or topology ids, not both or neither")
			}
			ctx := cmd.Context()
			if all {
				// Real-engine topologies are processes on this host:
				// no Docker needed to clean them up.
				if err := engines.Down(cmd.OutOrStdout()); err != nil {
					return infraErr(err)
				}
			}
			p, err := containers.Provider(ctx)
			if err != nil {
				return infraErr(err)
			}
			defer p.Close()
			var removed containers.Leftovers
			if all {
				removed, err = containers.DownAll(ctx, p.Client())
			} else {
				for _, id := range args {
					var l containers.Leftovers
					l, err = containers.DownRun(ctx, p.Client(), id)
					removed.Containers += l.Containers
					removed.Volumes += l.Volumes
					removed.Networks += l.Networks
					if err != nil {
						break
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", removed)
			if err != nil {
				return infraErr(err)
			}
			if images {
				n, err := containers.PruneImages(ctx, p.Client(), "")
				fmt.Fprintf(cmd.OutOrStdout(), "removed %d images\n", n)
				if err != nil {
					return infraErr(err)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every topology replcheck made on this Docker engine")
	cmd.Flags().BoolVar(&images, "images", false, "also remove replcheck's images that no container uses")
	return cmd
}

// describeTopologySite says how to reach a site of any target.
func describeTopologySite(hs harness.Site) siteInfo {
	if es, ok := hs.(*embedded.Site); ok {
		return describeSite(es.Site, "")
	}
	c := hs.Credentials()
	info := siteInfo{Site: hs.Name(), Region: hs.Region(), Replicated: hs.Replicated().S3, NonReplicated: hs.NonReplicated().S3,
		SwiftAuth: hs.Replicated().SwiftAuth, SwiftAuthNonRepl: hs.NonReplicated().SwiftAuth,
		AccessKey: c.AccessKey, SecretKey: c.SecretKey, SwiftUser: c.SwiftUser, SwiftKey: c.SwiftKey}
	if cs, ok := hs.(*containers.Site); ok {
		info.Internal = cs.InternalURL()
	}
	return info
}

// controlled is a link whose toxiproxy control API is known.
type controlled interface{ Control() string }

func printTopology(w io.Writer, topo harness.Topology, fl replication.Flaws, asJSON bool, sitesFile, export string) {
	info := topologyInfo{Target: topo.Target(), Flaws: fl.String(), SitesFile: sitesFile}
	if t, ok := topo.(*containers.Topology); ok {
		info.ID = t.ID()
	}
	// One toxiproxy server holding every link (embedded, real engines)
	// is shown once; a server per link (containers) with each link.
	controls := map[string]bool{}
	for _, l := range topo.Links() {
		if cl, ok := l.(controlled); ok {
			controls[cl.Control()] = true
		}
	}
	if len(controls) == 1 {
		for c := range controls {
			info.WANControl = c
		}
	}
	for _, hs := range topo.Sites() {
		info.Sites = append(info.Sites, describeTopologySite(hs))
	}
	for _, l := range topo.Links() {
		wl := l.WAN()
		li := linkInfo{From: l.From(), To: l.To(), Name: wl.Name(), Listen: wl.Addr(), Upstream: wl.Upstream()}
		if cl, ok := l.(controlled); ok && cl.Control() != info.WANControl {
			li.Control = cl.Control()
		}
		info.Links = append(info.Links, li)
	}
	if asJSON {
		json.NewEncoder(w).Encode(info)
		return
	}
	fmt.Fprintf(w, "replcheck topology (%s target, flaws: %s)\n", info.Target, info.Flaws)
	if info.ID != "" {
		fmt.Fprintf(w, "  id %s: containers rc-%s-*; remove leftovers with 'replcheck topology down %s'\n", info.ID, info.ID, info.ID)
	}
	for _, s := range info.Sites {
		fmt.Fprintf(w, "\nsite %s (region %s)\n", s.Site, s.Region)
		swiftOf := func(auth string) string {
			if auth == "" {
				return "" // no Swift API (MinIO)
			}
			return "   (Swift auth " + auth + ")"
		}
		fmt.Fprintf(w, "  replicated endpoint:      %s%s\n", s.Replicated, swiftOf(s.SwiftAuth))
		if s.NonReplicated != "" {
			fmt.Fprintf(w, "  non-replicated endpoint:  %s%s\n", s.NonReplicated, swiftOf(s.SwiftAuthNonRepl))
		}
		if s.Internal != "" {
			fmt.Fprintf(w, "  replication status:       %s%s   (Prometheus: %s%s)\n", s.Internal, replication.StatusPath, s.Internal, replication.MetricsPath)
		}
	}
	u := info.Sites[0]
	fmt.Fprintf(w, "\ncredentials (both sites)\n  S3 access key:  %s\n  S3 secret key:  %s\n", u.AccessKey, u.SecretKey)
	switch {
	case u.SwiftUser == "":
	case u.SwiftKey == u.SecretKey:
		fmt.Fprintf(w, "  Swift user:     %s   (key: the S3 secret key)\n", u.SwiftUser)
	default:
		fmt.Fprintf(w, "  Swift user:     %s\n  Swift key:      %s\n", u.SwiftUser, u.SwiftKey)
	}
	if info.WANControl != "" {
		fmt.Fprintf(w, "\nWAN links (toxiproxy control API at %s)\n", info.WANControl)
	} else {
		fmt.Fprintf(w, "\nWAN links (a toxiproxy container each; control API as shown)\n")
	}
	for _, l := range info.Links {
		ctl := ""
		if l.Control != "" {
			ctl = "   (control " + l.Control + ")"
		}
		fmt.Fprintf(w, "  %-30s %s → %s%s\n", l.Name, l.Listen, l.Upstream, ctl)
	}
	if sitesFile != "" {
		fmt.Fprintf(w, "\nsites file %s (names the variables below, holds no credential); in another terminal:\n  %s\n  replcheck run quickstart --sites %s\n",
			sitesFile, export, sitesFile)
	}
	fmt.Fprintln(w, "\nStop with Ctrl-C or SIGTERM.")
}
