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

	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness/embedded"
)

func newTopologyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topology",
		Short: "Start and inspect two-site topologies",
	}
	cmd.AddCommand(newTopologyUpCmd())
	return cmd
}

// topologyInfo is what `replcheck topology up --json` prints.
type topologyInfo struct {
	Target     string     `json:"target"`
	WANControl string     `json:"wanControl"`
	Flaws      string     `json:"flaws"`
	Sites      []siteInfo `json:"sites"`
	Links      []linkInfo `json:"links"`
}

type linkInfo struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
}

func newTopologyUpCmd() *cobra.Command {
	var (
		target  string
		dataDir string
		flaws   []string
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a two-site topology and run it until Ctrl-C",
		Long: `Start two replicating sites of the reference engine (europe-se-1a and
europe-se-1b) with a toxiproxy WAN link in each direction, print how to reach
them, and run until SIGINT or SIGTERM.

Each site has a replicated and a non-replicated endpoint (S3 and Swift). The
WAN links are toxiproxy proxies: any toxiproxy client can shape or cut them
through the printed control address.`,
		Example: `  replcheck topology up
  replcheck topology up --flaw sse-reencrypt-echo --json
  replcheck topology up --data-dir /var/tmp/topo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target != embedded.Target {
				return usageErr("target %q is not available yet; the embedded target is", target)
			}
			fl, err := replication.ParseFlaws(flaws...)
			if err != nil {
				return usageErr("--flaw: %w", err)
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			topo, err := embedded.Start(ctx, embedded.Options{DataDir: dataDir, Flaws: fl, Logger: log})
			if err != nil {
				if topo != nil {
					topo.Close(context.Background())
				}
				return infraErr(err)
			}
			printTopology(cmd.OutOrStdout(), topo, fl, asJSON)
			<-ctx.Done()
			log.Info("stopping topology")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := topo.Close(sctx); err != nil {
				return infraErr(fmt.Errorf("stop topology: %w", err))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&target, "target", embedded.Target, "where the sites run: embedded (in this process)")
	fl.StringVar(&dataDir, "data-dir", "", "keep each site's data on disk below this directory (default: memory)")
	fl.StringArrayVar(&flaws, "flaw", nil, "turn on a named flaw of the reference engine (repeatable)")
	fl.BoolVar(&asJSON, "json", false, "print the topology as one JSON line")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log every request")
	return cmd
}

func printTopology(w io.Writer, topo *embedded.Topology, fl replication.Flaws, asJSON bool) {
	info := topologyInfo{Target: topo.Target(), WANControl: topo.WANControl(), Flaws: fl.String()}
	for _, hs := range topo.Sites() {
		s, _ := topo.EngineSite(hs.Name())
		info.Sites = append(info.Sites, describeSite(s.Site, ""))
	}
	for _, l := range topo.Links() {
		wl := l.WAN()
		info.Links = append(info.Links, linkInfo{From: l.From(), To: l.To(), Name: wl.Name(), Listen: wl.Addr(), Upstream: wl.Upstream()})
	}
	if asJSON {
		json.NewEncoder(w).Encode(info)
		return
	}
	fmt.Fprintf(w, "replcheck topology (%s target, flaws: %s)\n", info.Target, info.Flaws)
	for _, s := range info.Sites {
		fmt.Fprintf(w, "\nsite %s (region %s)\n", s.Site, s.Region)
		fmt.Fprintf(w, "  replicated endpoint:      %s   (Swift auth %s)\n", s.Replicated, s.SwiftAuth)
		fmt.Fprintf(w, "  non-replicated endpoint:  %s   (Swift auth %s)\n", s.NonReplicated, s.SwiftAuthNonRepl)
		fmt.Fprintf(w, "  replication status:       %s%s   (Prometheus: %s%s)\n", s.Internal, replication.StatusPath, s.Internal, replication.MetricsPath)
	}
	u := info.Sites[0]
	fmt.Fprintf(w, "\ncredentials (both sites)\n  S3 access key:  %s\n  S3 secret key:  %s\n  Swift user:     %s   (key: the S3 secret key)\n",
		u.AccessKey, u.SecretKey, u.SwiftUser)
	fmt.Fprintf(w, "\nWAN links (toxiproxy control API at %s)\n", info.WANControl)
	for _, l := range info.Links {
		fmt.Fprintf(w, "  %-30s %s → %s\n", l.Name, l.Listen, l.Upstream)
	}
	fmt.Fprintln(w, "\nStop with Ctrl-C or SIGTERM.")
}
