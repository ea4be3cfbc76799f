// Package replication replicates a site's replicated buckets to its peer,
// asynchronously and in both directions: a durable per-site journal of
// changes, a shipper that sends them to the peer over an authenticated
// internal HTTP API in parallel streams with retries, and a receiver that
// applies the peer's changes idempotently. Conflicts resolve by hybrid
// logical clock stamp with the site name as tie-break (engine/store).
//
// The engine is correct by default; named flaws (flaws.go) turn on the
// bugs real replicated stores have had, for calibrating the verifier.
package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// Config configures a site's replication.
type Config struct {
	Site    string       // this site's name
	Store   *store.Store // opened with Journal as its store.Options.Journal
	Journal *Journal
	Keyring *sse.Keyring // for flaws that decrypt at the replica
	Secret  []byte       // shared by the sites of a topology
	Flaws   Flaws
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// failed shipment (defaults 50 ms and 2 s).
	MinBackoff, MaxBackoff time.Duration
	// ShipTimeout bounds one shipment, plus 4 s per MiB of data (a link
	// at 256 KiB/s still gets through); default 30 s.
	ShipTimeout time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// DefaultStreams is the number of parallel shipping streams.
const DefaultStreams = 4

// Streams returns how many streams a journal should have under flaws.
func Streams(f Flaws) int {
	if f.Has(FlawSerialLargeObjects) {
		return 1 // the flaw: everything queues behind the one in flight
	}
	return DefaultStreams
}

// Replicator ships this site's changes and receives the peer's.
type Replicator struct {
	cfg     Config
	recv    *Receiver
	peer    atomic.Pointer[peer]
	client  *http.Client
	reg     *prometheus.Registry
	metrics metrics

	shippedOps, shippedBytes, failedOps, retries atomic.Uint64
	lastShipped                                  atomic.Int64 // unix nanoseconds

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type peer struct{ name, url string }

type metrics struct {
	shippedOps, shippedBytes, failedOps, retries prometheus.Counter
	latency                                      prometheus.Histogram
}

// New builds a replicator; Start starts shipping.
func New(cfg Config) (*Replicator, error) {
	if cfg.Store == nil || cfg.Journal == nil {
		return nil, errors.New("replication: store and journal are required")
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("replication: a shared secret is required")
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	if cfg.ShipTimeout == 0 {
		cfg.ShipTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Replicator{cfg: cfg, recv: newReceiver(&cfg), reg: prometheus.NewRegistry()}
	r.client = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.Journal.Streams() + 1,
		IdleConnTimeout:     30 * time.Second,
	}}
	r.registerMetrics()
	return r, nil
}

func (r *Replicator) registerMetrics() {
	labels := prometheus.Labels{"site": r.cfg.Site}
	c := func(name, help string) prometheus.Counter {
		m := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "replcheck", Subsystem: "replication",
			Name: name, Help: help, ConstLabels: labels})
		r.reg.MustRegister(m)
		return m
	}
	g := func(name, help string, f func() float64) {
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "replcheck", Subsystem: "replication",
			Name: name, Help: help, ConstLabels: labels}, f))
	}
	r.metrics.shippedOps = c("shipped_operations_total", "Changes the peer acknowledged.")
	r.metrics.shippedBytes = c("shipped_bytes_total", "Stored bytes the peer acknowledged.")
	r.metrics.failedOps = c("failed_operations_total", "Changes given up on (never replicated).")
	r.metrics.retries = c("retries_total", "Failed shipment attempts that will be retried.")
	r.metrics.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "replcheck", Subsystem: "replication",
		Name: "latency_seconds", Help: "From a change being made to the peer acknowledging it.", ConstLabels: labels,
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 22)}) // 1 ms … ~35 min
	r.reg.MustRegister(r.metrics.latency)
	g("pending_operations", "Changes not yet acknowledged by the peer.", func() float64 {
		n, _ := r.cfg.Journal.Pending()
		return float64(n)
	})
	g("pending_bytes", "Stored bytes of changes not yet acknowledged by the peer.", func() float64 {
		_, b := r.cfg.Journal.Pending()
		return float64(b)
	})
	g("oldest_pending_seconds", "Age of the oldest change not yet acknowledged.", func() float64 {
		if t := r.cfg.Journal.Oldest(); !t.IsZero() {
			return r.cfg.Now().Sub(t).Seconds()
		}
		return 0
	})
}

// Receiver returns the receiving side (ground truth of apply times).
func (r *Replicator) Receiver() *Receiver { return r.recv }

// Registry returns the replicator's Prometheus registry.
func (r *Replicator) Registry() *prometheus.Registry { return r.reg }

// SetPeer points the shipper at the peer's internal API (through the WAN
// link), e.g. http://127.0.0.1:4567.
func (r *Replicator) SetPeer(name, url string) {
	r.peer.Store(&peer{name: name, url: strings.TrimSuffix(url, "/")})
}

// Handler serves the internal API: apply, status and metrics.
func (r *Replicator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ApplyPath, r.recv)
	mux.HandleFunc(StatusPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(r.Status())
	})
	mux.Handle(MetricsPath, promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	return mux
}

// Start starts one shipping goroutine per journal stream.
func (r *Replicator) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for i := range r.cfg.Journal.Streams() {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.run(ctx, i)
		}()
	}
}

// Stop stops shipping at once: shipments in flight are abandoned (they stay
// in the journal), as in a crash.
func (r *Replicator) Stop() {
	r.mu.Lock()
	cancel := r.cancel
	r.cancel = nil
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		r.wg.Wait()
	}
	r.client.CloseIdleConnections()
}

// Status is the engine's own view of its replication, in the vocabulary
// of S3 Replication Time Control.
type Status struct {
	Site                 string    `json:"site"`
	Peer                 string    `json:"peer"`
	PendingOperations    int       `json:"pendingOperations"`
	PendingBytes         int64     `json:"pendingBytes"`
	OldestPendingSeconds float64   `json:"oldestPendingSeconds"`
	ShippedOperations    uint64    `json:"shippedOperations"`
	ShippedBytes         uint64    `json:"shippedBytes"`
	FailedOperations     uint64    `json:"failedOperations"`
	Retries              uint64    `json:"retries"`
	LastShipped          time.Time `json:"lastShipped,omitzero"`
	InSync               bool      `json:"inSync"` // nothing pending, as the engine sees it
	Flaws                string    `json:"flaws"`
}

// Status reports the current replication status.
func (r *Replicator) Status() Status {
	ops, bytes := r.cfg.Journal.Pending()
	s := Status{Site: r.cfg.Site, PendingOperations: ops, PendingBytes: bytes,
		ShippedOperations: r.shippedOps.Load(), ShippedBytes: r.shippedBytes.Load(),
		FailedOperations: r.failedOps.Load(), Retries: r.retries.Load(), InSync: ops == 0, Flaws: r.cfg.Flaws.String()}
	if p := r.peer.Load(); p != nil {
		s.Peer = p.name
	}
	if t := r.cfg.Journal.Oldest(); !t.IsZero() {
		s.OldestPendingSeconds = r.cfg.Now().Sub(t).Seconds()
	}
	if ns := r.lastShipped.Load(); ns != 0 {
		s.LastShipped = time.Unix(0, ns).UTC()
	}
	return s
}

// run ships stream i until ctx ends.
func (r *Replicator) run(ctx context.Context, i int) {
	j := r.cfg.Journal
	backoff := r.cfg.MinBackoff
	for {
		e := j.head(i)
		if e == nil {
			select {
			case <-ctx.Done():
				return
			case <-j.wakes[i]:
				continue
			}
		}
		p := r.peer.Load()
		var err error
		var size int64
		if p == nil {
			err = errors.New("no peer configured")
		} else {
			size, err = r.ship(ctx, p, e)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			j.done(i, e)
			r.shipped(e, size)
			backoff = r.cfg.MinBackoff
			continue
		}
		if r.giveUp(e, err) {
			j.done(i, e)
			continue
		}
		r.retries.Add(1)
		r.metrics.retries.Inc()
		r.cfg.Logger.Debug("replication: shipment failed; will retry", "change", e.String(), "backoff", backoff, "err", err)
		// Jitter keeps the streams from retrying in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, r.cfg.MaxBackoff)
	}
}

func (r *Replicator) shipped(e *entry, size int64) {
	r.shippedOps.Add(1)
	r.shippedBytes.Add(uint64(size))
	r.metrics.shippedOps.Inc()
	r.metrics.shippedBytes.Add(float64(size))
	now := r.cfg.Now()
	r.lastShipped.Store(now.UnixNano())
	r.metrics.latency.Observe(now.Sub(e.Recorded).Seconds())
}

// giveUp decides whether a failed shipment is dropped. The correct engine
// never drops one: it retries until the peer takes it.
func (r *Replicator) giveUp(e *entry, err error) bool {
	drop := false
	switch {
	case r.cfg.Flaws.Has(FlawNoRetry):
		drop = true
		r.failedOps.Add(1)
		r.metrics.failedOps.Inc()
	case r.cfg.Flaws.Has(FlawDropDeleteWhilePeerDown) && isDelete(e.Change, r.cfg.Store) && unreachable(err):
		// The flaw drops the delete silently: counted as shipped.
		drop = true
		r.shipped(e, 0)
	}
	if drop {
		r.cfg.Logger.Debug("replication: shipment dropped", "change", e.String(), "err", err)
	}
	return drop
}

// isDelete reports whether a change removes data: a version or bucket
// delete, a delete marker or a tombstone.
func isDelete(c store.Change, st *store.Store) bool {
	switch c.Kind {
	case store.ChangeVersionDelete, store.ChangeBucketDelete:
		return true
	case store.ChangeVersion:
		v, err := st.Version(c.Bucket, c.Key, c.VersionID)
		return err == nil && v.DeleteMarker
	}
	return false
}

// unreachable reports whether err means the peer could not be reached.
func unreachable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// errRejected is a shipment the peer answered with an error.
type errRejected struct {
	status int
	a      ack
}

func (e *errRejected) Error() string {
	return fmt.Sprintf("peer refused shipment: %d %s: %s", e.status, e.a.Code, e.a.Error)
}

// ship sends one change and returns the stored bytes it carried. A change
// whose subject no longer exists here (overwritten, deleted) is superseded
// by a later change and ships as nothing.
func (r *Replicator) ship(ctx context.Context, p *peer, e *entry) (int64, error) {
	c := e.Change
	s := &shipment{Kind: c.Kind, From: r.cfg.Site, Name: c.Bucket, Key: c.Key, VersionID: c.VersionID, Stamp: c.Stamp}
	var body io.Reader
	var size int64
	switch c.Kind {
	case store.ChangeBucket:
		b, err := r.cfg.Store.BucketConfig(c.Bucket)
		if errors.Is(err, store.ErrNoSuchBucket) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		s.Bucket = &b
	case store.ChangeVersion:
		v, err := r.cfg.Store.Version(c.Bucket, c.Key, c.VersionID)
		if errors.Is(err, store.ErrNoSuchVersion) || errors.Is(err, store.ErrNoSuchBucket) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if v.SSE != nil && r.cfg.Flaws.Has(FlawSkipEncrypted) {
			return 0, nil // the flaw: never sent, yet counted as shipped
		}
		data, err := r.cfg.Store.Open(v)
		if err != nil {
			return 0, err
		}
		defer data.Close()
		for i := range v.Parts {
			v.Parts[i].Blob = "" // the sender's blob ids mean nothing at the peer
			size += v.Parts[i].Size
		}
		if v.SSE != nil && len(v.Parts) > 1 && r.cfg.Flaws.Has(FlawSSEMultipartFlatten) {
			// The flaw: the part layout each part's encryption depends on
			// is lost on the way; the bytes arrive as one part.
			v.Parts = []store.Part{{Number: 1, Size: size, PlainSize: v.Size, ETag: v.ETag}}
		}
		s.Version = v
		body = io.NewSectionReader(data, 0, data.Size())
	}
	timeout := r.cfg.ShipTimeout + time.Duration(size>>20)*4*time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+ApplyPath, body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	if body == nil {
		req.Body = http.NoBody
	}
	if err := encodeShipment(r.cfg.Secret, s, req.Header); err != nil {
		return 0, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var a ack
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a); err != nil {
		return 0, fmt.Errorf("peer answered %d without an acknowledgement: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, &errRejected{resp.StatusCode, a}
	}
	return size, nil
}
