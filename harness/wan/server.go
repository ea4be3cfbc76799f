package wan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	zerologglobal "github.com/rs/zerolog/log"
)

// DefaultAddr is where StartServer listens when given no address: an
// ephemeral loopback port, so tests and the embedded target never collide.
const DefaultAddr = "127.0.0.1:0"

// cutTimeout bounds how long Close tries to cut links cleanly before it
// stops them anyway.
const cutTimeout = 2 * time.Second

// silenceGlobalZerolog runs once, before any toxic of ours can log, so the
// write to zerolog's global logger never races with a read of it.
var silenceGlobalZerolog sync.Once

// Server is a toxiproxy server running in this process: its control API on
// a loopback (or given) address and the proxies it creates. Drive it through
// a Network from Connect(server.Addr()), exactly as a remote toxiproxy.
type Server struct {
	api    *toxiproxy.ApiServer
	http   *http.Server
	addr   string
	served chan error // result of http.Serve, buffered

	once     sync.Once
	closeErr error
}

// StartServer starts a toxiproxy control API on addr (DefaultAddr if empty)
// and returns once it accepts connections. Toxiproxy logs through logger at
// debug level only, and only if logger is non-nil and enables debug: its
// per-connection chatter would otherwise drown the harness's own log.
// Metrics go to a prometheus registry private to this server, so several
// servers can live in one process.
//
// One toxiproxy toxic (bandwidth) logs to zerolog's global logger, which
// writes to stderr at every level; StartServer silences that global logger
// for the whole process, since nothing else here uses it.
func StartServer(addr string, logger *slog.Logger) (*Server, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	silenceGlobalZerolog.Do(func() { zerologglobal.Logger = zerolog.Nop() })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start wan server: %w", err)
	}
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	api := toxiproxy.NewServer(metrics, zerologFor(logger))
	s := &Server{
		api:    api,
		addr:   ln.Addr().String(),
		served: make(chan error, 1),
		http: &http.Server{
			Handler:           api.Routes(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          stdlogFor(logger),
		},
	}
	go func() { s.served <- s.http.Serve(ln) }()
	return s, nil
}

// Addr is the host:port of the control API, for Connect.
func (s *Server) Addr() string { return s.addr }

// Close stops the control API and every proxy, closing their listeners and
// the connections through them. It is safe to call more than once.
//
// Toxiproxy's goroutines end shortly after Close returns, those of
// connections with data in flight included (see cutAll).
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cutAll()
		// Close, not Shutdown: Shutdown waits up to 5 s for connections
		// opened but never used, which HTTP clients' pools leave behind.
		// Other clients' requests in flight are cut off.
		err := s.http.Close()
		if serveErr := <-s.served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
		// Stop every proxy: closes its listener and both ends of each
		// connection through it. Clear never fails.
		_ = s.api.Collection.Clear()
		if err != nil {
			s.closeErr = fmt.Errorf("close wan server %s: %w", s.addr, err)
		}
	})
	return s.closeErr
}

// cutAll cuts every live link through the control API before Close stops
// the proxies, so that stopping them strands no toxiproxy goroutine (see
// cut.go). A cut waits for each connection's pipe to take the change,
// which can take as long as a peer that does not read; cutAll gives up
// after cutTimeout, and Close goes on regardless.
func (s *Server) cutAll() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := Connect(s.addr)
		proxies, err := n.client.Proxies()
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		for _, p := range proxies {
			if p.Enabled {
				// In parallel: each cut waits cutSettle. Best effort:
				// Close stops the proxy anyway.
				wg.Go(func() { _ = n.link(p).cut(p) })
			}
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(cutTimeout):
	}
}

// Serve runs a toxiproxy server on addr (DefaultAddr if empty) until ctx
// ends, then closes it. It is the body of a standalone WAN proxy such as
// `replcheck wanproxy`; the server is reachable with Connect(addr).
func Serve(ctx context.Context, addr string, logger *slog.Logger) error {
	s, err := StartServer(addr, logger)
	if err != nil {
		return err
	}
	if logger != nil {
		logger.Info("wan proxy listening", "addr", s.Addr())
	}
	select {
	case <-ctx.Done():
		return s.Close()
	case err := <-s.served:
		// The API server died on its own; put the result back for Close.
		s.served <- err
		return errors.Join(fmt.Errorf("serve wan proxy %s: %w", s.Addr(), err), s.Close())
	}
}

// zerologFor is the logger toxiproxy gets: silent unless logger wants debug
// records, then every toxiproxy record becomes a debug record of logger.
func zerologFor(logger *slog.Logger) zerolog.Logger {
	if logger == nil || !logger.Enabled(context.Background(), slog.LevelDebug) {
		return zerolog.New(io.Discard).Level(zerolog.Disabled)
	}
	return zerolog.New(slogWriter{logger.With("component", "toxiproxy")}).Level(zerolog.DebugLevel)
}

// stdlogFor is the net/http error log: discarded without a logger.
func stdlogFor(logger *slog.Logger) *log.Logger {
	if logger == nil {
		return log.New(io.Discard, "", 0)
	}
	return slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
}

// slogWriter turns zerolog's JSON lines into slog debug records. Toxiproxy
// logs every accepted and closed connection, and at warn level every
// connection a fault cuts: expected during chaos, so all of it is debug.
type slogWriter struct{ logger *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(p), &rec); err != nil {
		w.logger.Debug(string(bytes.TrimSpace(p)))
		return len(p), nil
	}
	msg, _ := rec[zerolog.MessageFieldName].(string)
	delete(rec, zerolog.MessageFieldName)
	delete(rec, zerolog.TimestampFieldName)
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		name := k
		if k == zerolog.LevelFieldName {
			name = "toxiproxy_level" // slog has its own level
		}
		attrs = append(attrs, name, rec[k])
	}
	w.logger.Debug(msg, attrs...)
	return len(p), nil
}
