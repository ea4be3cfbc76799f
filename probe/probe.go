// Package probe is a continuous replication canary for two replicated
// sites: at every interval it writes a small object at each site, polls
// the other site until the object shows up there, and measures each
// canary's replication lag with the resolution of that measurement. It
// keeps Prometheus metrics, reports as it goes, judges go or no-go at the
// end, and removes every canary it wrote (and the bucket, if it made
// one).
//
// A probe touches only what it wrote: canary keys under
// replcheck-probe/<token>/, in a bucket it creates (replcheck-probe-<token>)
// or one it is given. Cleanup deletes those keys by name; it never lists a
// bucket to decide what to delete.
package probe

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
)

// Defaults of Config.
const (
	DefaultInterval        = time.Second
	DefaultPoll            = 50 * time.Millisecond
	DefaultMaxOutstanding  = 100
	DefaultSLO             = 15 * time.Minute
	DefaultMaxFailureRatio = 0.01
	DefaultWindow          = 5 * time.Minute
	DefaultReportEvery     = 5 * time.Second
	DefaultRequestTimeout  = 10 * time.Second
	DefaultCleanupTimeout  = time.Minute
)

// Names the probe writes under.
const (
	// KeyPrefix starts every canary key: KeyPrefix<token>/<origin site>/<seq>.
	KeyPrefix = "replcheck-probe/"
	// BucketPrefix starts the name of the bucket a probe creates.
	BucketPrefix = "replcheck-probe-"
)

const (
	// windowLimit bounds the lags kept for the window's percentiles.
	windowLimit = 10000
	// cleanupParallel bounds concurrent deletes at the end.
	cleanupParallel = 8
	// bucketGoneWait bounds how long cleanup waits for the removal of its
	// bucket to reach the second site before removing it there too.
	bucketGoneWait = 10 * time.Second
	// drainCheck is how often the end of the drain is checked.
	drainCheck = 20 * time.Millisecond
)

// ErrNoBucket is a bucket given in Config.Bucket that a site does not
// have.
var ErrNoBucket = errors.New("no such bucket")

// errNotReplicated is a bucket the probe created that did not reach the
// second site within the SLO.
var errNotReplicated = errors.New("bucket not replicated")

// Config configures a probe. Zero fields take the Default… values.
type Config struct {
	// Sites are the two sites, each with its replicated endpoint. A
	// bucket the probe creates is created at the first.
	Sites []harness.Site
	// Bucket is an existing bucket, at both sites, to write canaries in;
	// "" creates BucketPrefix<token> and removes it at the end.
	Bucket string
	// Duration ends the probe after it, with a verdict; 0 runs until the
	// context ends.
	Duration time.Duration
	// Interval is the time between two canaries of one direction.
	Interval time.Duration
	// Poll is the steady wait between two polls of one canary: the first
	// polls come sooner (1, 2, 4, … ms after the write), and as a canary
	// ages polls slow to 2% of its age, at most max(Poll, SLO/100).
	Poll time.Duration
	// MaxOutstanding bounds, per direction, the canaries being written or
	// pending; a tick that finds it reached writes nothing (Skipped).
	MaxOutstanding int
	// SLO, MaxPendingAge (default: the SLO) and MaxFailureRatio are the
	// go / no-go rules (see Judge).
	SLO             time.Duration
	MaxPendingAge   time.Duration
	MaxFailureRatio float64
	// Window is the span of the lag percentiles in reports.
	Window time.Duration
	// ReportEvery is the period of Observer.Status.
	ReportEvery time.Duration
	// RequestTimeout bounds each request to a site.
	RequestTimeout time.Duration
	// CleanupTimeout bounds the removal of canaries and bucket at the end.
	CleanupTimeout time.Duration
	// Registerer gets the probe's metrics; nil: none.
	Registerer prometheus.Registerer
	// Transport carries the requests; nil: the client package's default.
	Transport http.RoundTripper
	// Token names this run in keys and the bucket; "" generates one.
	Token string
}

// Rules are the config's go / no-go rules.
func (c Config) Rules() Rules {
	return Rules{SLO: c.SLO, MaxPendingAge: c.MaxPendingAge, MaxFailureRatio: c.MaxFailureRatio}
}

// Check reports what is wrong with c's settings, all at once, leaving
// Sites aside: a command checks its flags with it before it starts the
// sites.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults fills in zero fields and checks the rest but Sites.
func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Interval, DefaultInterval)
	def(&c.Poll, DefaultPoll)
	def(&c.SLO, DefaultSLO)
	def(&c.MaxPendingAge, c.SLO)
	def(&c.Window, DefaultWindow)
	def(&c.ReportEvery, DefaultReportEvery)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.CleanupTimeout, DefaultCleanupTimeout)
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = DefaultMaxOutstanding
	}
	if c.Token == "" {
		c.Token = newToken()
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", c.Interval}, {"poll", c.Poll}, {"SLO", c.SLO}, {"max pending age", c.MaxPendingAge},
		{"window", c.Window}, {"report period", c.ReportEvery}, {"request timeout", c.RequestTimeout},
		{"cleanup timeout", c.CleanupTimeout}} {
		if d.v < 0 {
			bad("%s %v: want a positive duration", d.name, d.v)
		}
	}
	if c.Duration < 0 {
		bad("duration %v: want a positive duration, or 0 to run until stopped", c.Duration)
	}
	if c.MaxPendingAge > c.SLO {
		bad("max pending age %v is beyond the SLO %v: a canary pending that long has missed the SLO already", c.MaxPendingAge, c.SLO)
	}
	if c.MaxOutstanding < 0 {
		bad("max outstanding %d: want at least 1", c.MaxOutstanding)
	}
	if c.MaxFailureRatio < 0 || c.MaxFailureRatio > 1 || c.MaxFailureRatio != c.MaxFailureRatio {
		bad("max failure ratio %v: want a share between 0 and 1", c.MaxFailureRatio)
	}
	if c.Bucket != "" {
		if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
			bad("bucket %q: %v", c.Bucket, err)
		}
	}
	if err := s3utils.CheckValidBucketNameStrict(BucketPrefix + c.Token); err != nil {
		bad("token %q does not make a valid bucket name: %v", c.Token, err)
	}
	return c, errors.Join(errs...)
}

// newToken is a run token: the UTC time and a random suffix, lower case
// (it names a bucket).
func newToken() string {
	var b [3]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b[:])
}

// Probe is one run of the canary.
type Probe struct {
	cfg     Config
	bucket  string
	prefix  string
	created bool // the probe created bucket
	sites   [2]harness.Site
	clients [2]*client.S3
	dirs    [2]*dirState
	ceil    time.Duration // longest wait between polls of a canary
	m       *metrics      // nil without a Registerer

	mu       sync.Mutex
	canaries map[string]*canary // written (or maybe written) and not yet removed at both sites, by key
	tracked  int                // canaries ever put in canaries
	removed  int                // of them, removed at both sites
	wg       sync.WaitGroup
}

// dirState is one direction: origin site from, peer 1-from.
type dirState struct {
	from     int
	stats    DirStats // counters; Snapshot fills in the rest
	pending  map[*canary]struct{}
	inflight int // writes sent, not answered
	seq      int
	win      window
}

// pendingNow is how many canaries are pending and the oldest's age.
// Call with mu held.
func (d *dirState) pendingNow(now time.Time) (int, time.Duration) {
	var oldest time.Duration
	for c := range d.pending {
		oldest = max(oldest, now.Sub(c.ack))
	}
	return len(d.pending), oldest
}

// canary is one canary object.
type canary struct {
	id, key  string
	dir      *dirState
	ack      time.Time // the write's acknowledgement
	lastMiss time.Time // when the last poll that did not find it was sent
	version  string    // the version id the origin gave it, in a versioned bucket
	peerVer  string    // the version id the peer served
	removed  [2]bool   // deleted at each site
}

// New checks cfg and makes the probe's clients and metrics. It contacts
// nothing.
func New(cfg Config) (*Probe, error) {
	cfg, err := cfg.withDefaults()
	switch {
	case len(cfg.Sites) != 2:
		err = errors.Join(err, fmt.Errorf("%d sites given: a probe needs exactly two", len(cfg.Sites)))
	case cfg.Sites[0].Name() == cfg.Sites[1].Name():
		err = errors.Join(err, fmt.Errorf("both sites are named %s", cfg.Sites[0].Name()))
	}
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	p := &Probe{cfg: cfg, prefix: KeyPrefix + cfg.Token + "/", canaries: map[string]*canary{},
		ceil: max(cfg.Poll, cfg.SLO/100)}
	p.bucket = cfg.Bucket
	if p.bucket == "" {
		p.bucket = BucketPrefix + cfg.Token
	}
	opts := []client.Option{client.WithTimeout(cfg.RequestTimeout)}
	if cfg.Transport != nil {
		opts = append(opts, client.WithTransport(cfg.Transport))
	}
	for i, s := range cfg.Sites {
		p.sites[i] = s
		if p.clients[i], err = client.NewS3(s, true, opts...); err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
	}
	for i := range 2 {
		p.dirs[i] = &dirState{from: i, pending: map[*canary]struct{}{},
			stats: DirStats{From: p.sites[i].Name(), To: p.sites[1-i].Name()},
			win:   window{span: cfg.Window, limit: windowLimit}}
	}
	if cfg.Registerer != nil {
		if p.m, err = newMetrics(cfg.Registerer, p); err != nil {
			return nil, fmt.Errorf("probe: metrics: %w", err)
		}
	}
	return p, nil
}

// Token names the run.
func (p *Probe) Token() string { return p.cfg.Token }

// Bucket is the bucket canaries go into.
func (p *Probe) Bucket() string { return p.bucket }

// Prefix is the prefix of every canary key.
func (p *Probe) Prefix() string { return p.prefix }

// Info describes a probe that is about to write its first canaries.
type Info struct {
	Token                 string   `json:"token"`
	Sites                 []string `json:"sites"`
	Bucket                string   `json:"bucket"`
	CreatedBucket         bool     `json:"createdBucket"`
	Prefix                string   `json:"prefix"`
	IntervalSeconds       float64  `json:"intervalSeconds"`
	DurationSeconds       float64  `json:"durationSeconds,omitempty"`
	SLOSeconds            float64  `json:"sloSeconds"`
	MaxPendingAgeSeconds  float64  `json:"maxPendingAgeSeconds"`
	MaxFailureRatio       float64  `json:"maxFailureRatio"`
	WindowSeconds         float64  `json:"windowSeconds"`
	SetupSeconds          float64  `json:"setupSeconds"`
	MaxOutstandingPerSide int      `json:"maxOutstanding"`
}

// Observer hears of a probe as it runs. Calls come from one goroutine.
type Observer interface {
	Started(Info)
	Status(Snapshot)
}

// Result is what a probe found, and what its cleanup left.
type Result struct {
	Token          string  `json:"token"`
	Bucket         string  `json:"bucket"`
	CreatedBucket  bool    `json:"createdBucket"`
	Prefix         string  `json:"prefix"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	Interrupted    bool    `json:"interrupted"`
	// WindowSeconds is the span of the directions' percentiles.
	WindowSeconds float64    `json:"windowSeconds"`
	Directions    []DirStats `json:"directions"`
	Verdict
	Cleanup Cleanup `json:"cleanup"`
}

// Cleanup is what removing the probe's objects did.
type Cleanup struct {
	// Canaries were written, or may have been; Removed of them are
	// deleted at both sites.
	Canaries int `json:"canaries"`
	Removed  int `json:"removed"`
	// Failed are the deletes that failed: "site key: error".
	Failed []string `json:"failed,omitempty"`
	// Left are keys still listed under the probe's prefix afterwards,
	// "site key" (reported, not deleted: the listing is only a check).
	Left []string `json:"left,omitempty"`
	// BucketRemoved: the bucket the probe created is gone; BucketError
	// says why not.
	BucketRemoved bool   `json:"bucketRemoved,omitempty"`
	BucketError   string `json:"bucketError,omitempty"`
}

// OK reports whether everything the probe wrote is gone.
func (c Cleanup) OK() bool {
	return len(c.Failed) == 0 && len(c.Left) == 0 && c.BucketError == ""
}

// Run sets up (creates the bucket and waits for it at the second site,
// or checks that the given bucket exists at both), writes canaries until
// Duration or until ctx ends, then, after a Duration, drains: it keeps
// polling until no canary is pending or those still pending are older
// than MaxPendingAge. It judges, removes what it wrote and returns the
// result. An error means the probe could not start (ErrNoBucket, or a
// site that refused or did not answer); what it created is removed
// then too.
func (p *Probe) Run(ctx context.Context, obs Observer) (*Result, error) {
	start := time.Now()
	res := &Result{Token: p.cfg.Token, Bucket: p.bucket, Prefix: p.prefix, WindowSeconds: p.cfg.Window.Seconds()}
	finish := func(v Verdict) (*Result, error) {
		res.Verdict = v
		res.CreatedBucket = p.created
		res.ElapsedSeconds = time.Since(start).Seconds()
		res.Cleanup = p.cleanup(ctx)
		return res, nil
	}
	if err := p.setup(ctx); err != nil {
		switch {
		case ctx.Err() != nil:
			res.Interrupted = true
			return finish(Verdict{Outcome: OutcomeNoGo, Reasons: []string{"interrupted while setting up: " + err.Error()}})
		case errors.Is(err, errNotReplicated):
			return finish(Verdict{Outcome: OutcomeNoGo, Reasons: []string{err.Error()}})
		}
		if p.created {
			p.cleanup(ctx)
		}
		return nil, err
	}
	if obs != nil {
		obs.Started(p.info(time.Since(start)))
	}

	writing := ctx
	if p.cfg.Duration > 0 {
		var cancel context.CancelFunc
		writing, cancel = context.WithTimeout(ctx, p.cfg.Duration)
		defer cancel()
	}
	// Writes and polls outlive the writing phase, through the drain.
	polling, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	begun := time.Now()
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	report := time.NewTicker(p.cfg.ReportEvery)
	defer report.Stop()
	status := func() {
		if obs != nil {
			obs.Status(p.snapshot(begun))
		}
	}
	p.tick(polling)
writeLoop:
	for {
		select {
		case <-writing.Done():
			break writeLoop
		case <-tick.C:
			p.tick(polling)
		case <-report.C:
			status()
		}
	}
	tick.Stop()
	if ctx.Err() == nil {
		// Bounded: a canary's age grows until it is past MaxPendingAge.
		check := time.NewTicker(drainCheck)
	drain:
		for !p.drained(time.Now()) {
			select {
			case <-ctx.Done():
				break drain
			case <-check.C:
			case <-report.C:
				status()
			}
		}
		check.Stop()
	}
	res.Interrupted = ctx.Err() != nil
	stopPolling()
	p.wg.Wait()

	snap := p.snapshot(begun)
	res.Directions = snap.Directions
	v := Judge(snap.Directions, p.cfg.Rules())
	if res.Interrupted && p.cfg.Duration > 0 {
		v.Go, v.Outcome = false, OutcomeNoGo
		v.Reasons = append([]string{fmt.Sprintf("interrupted after %s of the %s to probe", time.Since(begun).Round(100*time.Millisecond), p.cfg.Duration)}, v.Reasons...)
	}
	return finish(v)
}

func (p *Probe) info(setup time.Duration) Info {
	return Info{Token: p.cfg.Token, Sites: []string{p.sites[0].Name(), p.sites[1].Name()}, Bucket: p.bucket,
		CreatedBucket: p.created, Prefix: p.prefix, IntervalSeconds: p.cfg.Interval.Seconds(),
		DurationSeconds: p.cfg.Duration.Seconds(), SLOSeconds: p.cfg.SLO.Seconds(),
		MaxPendingAgeSeconds: p.cfg.MaxPendingAge.Seconds(), MaxFailureRatio: p.cfg.MaxFailureRatio,
		WindowSeconds: p.cfg.Window.Seconds(), SetupSeconds: setup.Seconds(), MaxOutstandingPerSide: p.cfg.MaxOutstanding}
}

// setup makes sure the bucket exists at both sites.
func (p *Probe) setup(ctx context.Context) error {
	exists := func(i int) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
		defer cancel()
		ok, err := p.clients[i].Minio().BucketExists(rctx, p.bucket)
		if err != nil {
			return false, fmt.Errorf("bucket %s at %s: %w", p.bucket, p.sites[i].Name(), err)
		}
		return ok, nil
	}
	if p.cfg.Bucket != "" {
		for i := range 2 {
			ok, err := exists(i)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("bucket %s at %s: %w (--bucket names a bucket that exists at both sites)", p.bucket, p.sites[i].Name(), ErrNoBucket)
			}
		}
		return nil
	}
	if err := p.clients[0].CreateBucket(ctx, p.bucket, client.BucketOptions{}); err != nil {
		return fmt.Errorf("create bucket %s at %s: %w (where the probe may not create buckets, give it one with --bucket NAME)",
			p.bucket, p.sites[0].Name(), err)
	}
	p.created = true
	// The bucket replicates like anything else: wait for it, up to the SLO.
	begun := time.Now()
	for {
		ok, err := exists(1)
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(begun) > p.cfg.SLO {
			why := "it is not there"
			if err != nil {
				why = err.Error()
			}
			return fmt.Errorf("%w: bucket %s created at %s is not at %s after the %s SLO: %s",
				errNotReplicated, p.bucket, p.sites[0].Name(), p.sites[1].Name(), p.cfg.SLO, why)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval(time.Since(begun), p.cfg.Poll, p.ceil)):
		}
	}
}

// tick starts a canary in each direction that has room for one.
func (p *Probe) tick(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.dirs {
		if d.inflight+len(d.pending) >= p.cfg.MaxOutstanding {
			d.stats.Skipped++
			if p.m != nil {
				p.m.skipped.WithLabelValues(d.stats.From, d.stats.To).Inc()
			}
			continue
		}
		d.seq++
		d.inflight++
		id := fmt.Sprintf("%s/%s/%06d", p.cfg.Token, d.stats.From, d.seq)
		c := &canary{id: id, key: KeyPrefix + id, dir: d}
		p.canaries[c.key] = c
		p.tracked++
		p.wg.Add(1)
		go p.follow(ctx, c)
	}
}

// canaryBody is a canary's content: its id and when it was written.
type canaryBody struct {
	Probe   string    `json:"probe"`
	ID      string    `json:"id"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Written time.Time `json:"written"`
}

// follow writes c at its origin, polls its peer until it is there, and
// then removes it at both sites.
func (p *Probe) follow(ctx context.Context, c *canary) {
	defer p.wg.Done()
	d := c.dir
	body, _ := json.Marshal(canaryBody{Probe: p.cfg.Token, ID: c.id, From: d.stats.From, To: d.stats.To, Written: time.Now().UTC()})
	wr, err := p.clients[d.from].Put(ctx, p.bucket, c.key, bytes.NewReader(body), int64(len(body)),
		client.PutOptions{ContentType: "application/json", Meta: map[string]string{state.MetaOpID: c.id}})
	ack := time.Now()
	p.mu.Lock()
	d.inflight--
	if err != nil {
		if ctx.Err() == nil {
			// A write cut short by the end of the probe is not the site's
			// failure; either way its outcome may be unknown, and cleanup
			// deletes it.
			d.stats.WriteAttempts++
			d.stats.WriteFailures++
			d.stats.LastError = err.Error()
			if p.m != nil {
				p.m.writeFailures.WithLabelValues(d.stats.From, d.stats.To).Inc()
			}
			if client.Classify(err) == history.Failed {
				delete(p.canaries, c.key) // certainly not written
				p.tracked--
			}
		}
		p.mu.Unlock()
		return
	}
	d.stats.WriteAttempts++
	d.stats.Written++
	c.ack, c.version = ack, wr.VersionID
	d.pending[c] = struct{}{}
	if p.m != nil {
		p.m.written.WithLabelValues(d.stats.From, d.stats.To).Inc()
	}
	p.mu.Unlock()
	if p.poll(ctx, c) {
		p.remove(ctx, c) // what fails here, cleanup retries
	}
}

// poll HEADs c at its peer until found (true) or ctx ends (false).
func (p *Probe) poll(ctx context.Context, c *canary) bool {
	d := c.dir
	to := 1 - d.from
	timer := time.NewTimer(pollInterval(time.Since(c.ack), p.cfg.Poll, p.ceil))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
		}
		sent := time.Now()
		info, err := p.clients[to].Head(ctx, p.bucket, c.key, client.GetOptions{})
		recv := time.Now()
		if ctx.Err() != nil {
			return false // the answer may be the cancellation's
		}
		p.mu.Lock()
		d.stats.Polls++
		if p.m != nil {
			p.m.polls.WithLabelValues(d.stats.From, d.stats.To).Inc()
		}
		switch {
		case err == nil && info.Meta[state.MetaOpID] == c.id:
			c.peerVer = info.VersionID
			p.converge(c, recv)
			p.mu.Unlock()
			return true
		case err == nil:
			p.pollFailed(d, fmt.Sprintf("HEAD %s at %s: the object there is not this canary (%s %q)", c.key, p.sites[to].Name(), state.MetaOpID, info.Meta[state.MetaOpID]))
		case client.IsNotFound(err):
			c.lastMiss = sent
		default:
			p.pollFailed(d, err.Error())
		}
		timer.Reset(pollInterval(recv.Sub(c.ack), p.cfg.Poll, p.ceil))
		p.mu.Unlock()
	}
}

// pollFailed counts a poll that got no answer. Call with mu held.
func (p *Probe) pollFailed(d *dirState, why string) {
	d.stats.PollFailures++
	d.stats.LastError = why
	if p.m != nil {
		p.m.pollFailures.WithLabelValues(d.stats.From, d.stats.To).Inc()
	}
}

// converge records that c was found at its peer by a poll answered at
// found. Call with mu held.
func (p *Probe) converge(c *canary, found time.Time) {
	d := c.dir
	lag, resolution := bracket(c.ack, c.lastMiss, found)
	delete(d.pending, c)
	s := &d.stats
	s.Converged++
	isLate := late(c.ack, found, p.cfg.SLO)
	if isLate {
		s.Late++
	}
	s.LastLagSeconds, s.LastResolutionSeconds = lag.Seconds(), resolution.Seconds()
	s.MaxLagSeconds = max(s.MaxLagSeconds, lag.Seconds())
	s.LastSuccess = found
	d.win.add(found, lag.Seconds())
	if p.m != nil {
		from, to := s.From, s.To
		p.m.latency.WithLabelValues(from, to).Observe(lag.Seconds())
		p.m.converged.WithLabelValues(from, to).Inc()
		if isLate {
			p.m.late.WithLabelValues(from, to).Inc()
		}
		p.m.lastSuccess.WithLabelValues(from, to).Set(float64(found.UnixNano()) / 1e9)
		p.m.lastLag.WithLabelValues(from, to).Set(lag.Seconds())
	}
}

// drained reports whether the drain may end: in every direction, no
// write is in flight and no canary is pending, or the oldest pending one
// is past MaxPendingAge (the verdict is no-go then, whatever comes).
func (p *Probe) drained(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.dirs {
		if d.inflight > 0 {
			return false
		}
		if n, oldest := d.pendingNow(now); n > 0 && oldest <= p.cfg.MaxPendingAge {
			return false
		}
	}
	return true
}

// Snapshot is where both directions stand now.
func (p *Probe) Snapshot() Snapshot { return p.snapshot(time.Time{}) }

func (p *Probe) snapshot(begun time.Time) Snapshot {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Snapshot{At: now}
	if !begun.IsZero() {
		s.ElapsedSeconds = now.Sub(begun).Seconds()
	}
	for _, d := range p.dirs {
		ds := d.stats
		var oldest time.Duration
		ds.Pending, oldest = d.pendingNow(now)
		ds.OldestPendingSeconds = oldest.Seconds()
		for c := range d.pending {
			ds.pendingAges = append(ds.pendingAges, now.Sub(c.ack).Seconds())
		}
		ds.P50Seconds, ds.P99Seconds, ds.WindowCount = d.win.percentiles(now)
		s.Directions = append(s.Directions, ds)
	}
	return s
}

// remove deletes c at each site it is not deleted at yet; the first
// error, if any, names the site.
func (p *Probe) remove(ctx context.Context, c *canary) error {
	var first error
	for i := range 2 {
		p.mu.Lock()
		done := c.removed[i]
		version := c.version
		if i != c.dir.from && c.peerVer != "" {
			version = c.peerVer
		}
		p.mu.Unlock()
		if done {
			continue
		}
		// In a versioned bucket the canary's version is deleted for good,
		// leaving no delete marker; elsewhere a plain delete.
		_, err := p.clients[i].Delete(ctx, p.bucket, c.key, version)
		if client.IsNotFound(err) {
			err = nil
		}
		if err != nil {
			if first == nil {
				first = fmt.Errorf("%s %s: %w", p.sites[i].Name(), c.key, err)
			}
			continue
		}
		p.mu.Lock()
		c.removed[i] = true
		if c.removed[0] && c.removed[1] {
			delete(p.canaries, c.key)
			p.removed++
		}
		p.mu.Unlock()
	}
	return first
}

// cleanup removes the canaries not removed yet, checks that nothing is
// listed under the prefix any more, and removes the bucket if the probe
// made it. It runs on after ctx ends, within CleanupTimeout.
func (p *Probe) cleanup(parent context.Context) Cleanup {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), p.cfg.CleanupTimeout)
	defer cancel()
	p.mu.Lock()
	var left []*canary
	for _, c := range p.canaries {
		left = append(left, c)
	}
	p.mu.Unlock()
	slices.SortFunc(left, func(a, b *canary) int { return cmp.Compare(a.key, b.key) })
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
		slots  = make(chan struct{}, cleanupParallel)
	)
	for _, c := range left {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := p.remove(ctx, c); err != nil {
				mu.Lock()
				failed = append(failed, err.Error())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(failed)
	p.mu.Lock()
	out := Cleanup{Canaries: p.tracked, Removed: p.removed, Failed: failed}
	p.mu.Unlock()

	for i := range 2 {
		entries, err := p.clients[i].List(ctx, p.bucket, p.prefix)
		if err != nil && !client.IsNotFound(err) {
			out.Failed = append(out.Failed, fmt.Sprintf("%s: list %s/%s to check: %v", p.sites[i].Name(), p.bucket, p.prefix, err))
		}
		for _, e := range entries {
			out.Left = append(out.Left, p.sites[i].Name()+" "+e.Key)
		}
	}
	if p.created {
		if err := p.removeBucket(ctx); err != nil {
			out.BucketError = err.Error()
		} else {
			out.BucketRemoved = true
		}
	}
	return out
}

// removeBucket deletes the probe's bucket where it was created, waits a
// little for that to replicate, and deletes it at the second site if it
// is still there (a partition may hold the removal back).
func (p *Probe) removeBucket(ctx context.Context) error {
	if err := p.clients[0].DeleteBucket(ctx, p.bucket); err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("%s: %w", p.sites[0].Name(), err)
	}
	wait := min(p.cfg.SLO, bucketGoneWait)
	begun := time.Now()
	for time.Since(begun) < wait && ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
		ok, err := p.clients[1].Minio().BucketExists(rctx, p.bucket)
		cancel()
		if err == nil && !ok {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval(time.Since(begun), p.cfg.Poll, p.ceil)):
		}
	}
	if err := p.clients[1].DeleteBucket(ctx, p.bucket); err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("removed at %s, but at %s: %w", p.sites[0].Name(), p.sites[1].Name(), err)
	}
	return nil
}
