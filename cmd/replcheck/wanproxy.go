package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/harness/wan"
)

// wanproxyInfo is what `replcheck wanproxy --json` prints.
type wanproxyInfo struct {
	Control string `json:"control"`
}

func newWANProxyCmd() *cobra.Command {
	var (
		listen  string
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "wanproxy",
		Short: "Run a toxiproxy WAN proxy (one direction of a WAN link between sites)",
		Long: `Run a toxiproxy server until SIGINT or SIGTERM. It starts with no proxies:
clients add them through the control API on --listen (any toxiproxy client,
or replcheck's harness), then shape, cut and heal them.

In a two-site topology of separate processes or containers, one wanproxy
per direction sits between a site and its peer's internal replication API
(replcheck site --peer NAME=http://WANPROXY:PORT).`,
		Example: `  replcheck wanproxy                                   # control API on 127.0.0.1:8474
  replcheck wanproxy --listen 0.0.0.0:8474 --json      # in a container: prints {"control": …}

  # then, with any toxiproxy client (here its HTTP API): a link to a peer's
  # internal API on 127.0.0.1:9100, 150 ms of latency on it, and a cut
  curl -X POST 127.0.0.1:8474/proxies -d '{"name":"a-to-b","listen":"127.0.0.1:9101","upstream":"127.0.0.1:9100"}'
  curl -X POST 127.0.0.1:8474/proxies/a-to-b/toxics -d '{"type":"latency","attributes":{"latency":150}}'
  curl -X POST 127.0.0.1:8474/proxies/a-to-b -d '{"enabled":false}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkListenAddr(listen); err != nil {
				return usageErr("--listen: %w", err)
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug // also lets toxiproxy log each connection
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			// Catch signals before the banner tells anyone the proxy is up.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// StartServer rather than wan.Serve: the banner needs the bound
			// address (--listen may name port 0), which Serve only logs.
			srv, err := wan.StartServer(listen, log)
			if err != nil {
				return infraErr(err)
			}
			if asJSON {
				json.NewEncoder(cmd.OutOrStdout()).Encode(wanproxyInfo{Control: srv.Addr()})
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "replcheck wanproxy: toxiproxy control API at %s (no proxies until a client adds them); stop with Ctrl-C or SIGTERM\n", srv.Addr())
			}
			<-ctx.Done()
			log.Info("stopping wan proxy", "control", srv.Addr())
			if err := srv.Close(); err != nil {
				return infraErr(err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:8474", "listen address of the toxiproxy control API (host:port; port 0 picks one)")
	fl.BoolVar(&asJSON, "json", false, `print {"control": "host:port"} as one JSON line`)
	fl.BoolVarP(&verbose, "verbose", "v", false, "log every proxied connection")
	return cmd
}

// checkListenAddr rejects addresses that no listen could take, so that a
// typo is a usage error and a taken port an infrastructure one.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:8474 or 0.0.0.0:8474)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}
