// Package convergence measures replication lag: for every acknowledged
// write, the time until the peer site serves it (or a later write of the
// same key), with the resolution of that measurement, and a verdict on the
// SLO that comes within the run's observation window.
//
// # What is tracked
//
// Observe sees every completed operation (wire it to
// history.Writer.OnComplete). Acknowledged puts, overwrites, multipart
// uploads and deletes are tracked at every configured site other than the
// one that took them. Copies and metadata updates are not probed, only
// counted in Result.Skipped: their objects carry the source's operation id
// (a copy's payload and metadata are the source's; an update keeps the id
// of the write it updates), so what the peer serves cannot be attributed to
// them. Failed writes are not tracked, and neither are writes of unknown
// outcome, but both kinds are remembered: an in-doubt write that the peer
// is seen serving demonstrably took effect and may supersede a tracked one.
//
// # How a probe decides
//
// A probe is one HEAD of a key at a site, through an unrecorded client.
// The object's user metadata (state.MetaOpID) names the write it came
// from. One probe answers for every pending write of that key at that
// site at once, so thousands of writes over a few hundred keys cost a few
// hundred probes per round. A pending write w has reached the peer when:
//
//   - the peer serves w's id (a delete: the peer answers not found);
//   - or the peer serves a write of the key invoked more than
//     ClockUncertainty after w completed (or, for not found, an
//     acknowledged delete that late): w is superseded, and its lag is the
//     time until the later write was served;
//   - or the peer serves a write concurrent with w (neither began after
//     the other completed) and w's own site serves it too: w lost the
//     conflict at both sites and will never be served. It counts as
//     superseded, with Concurrent set.
//
// An id the tracker never saw completed is "not this write". Probe errors
// other than not found (a crashed or paused site) are counted as failures,
// retried with backoff, and never taken for an answer.
//
// # Time and resolution
//
// Times are the history's (Config.Clock). Each probe records when it was
// sent and when its answer came back; the write's arrival lies between the
// last miss's send (or the acknowledgement, if later) and the first hit's
// answer. Lag is the midpoint of that bracket minus the acknowledgement,
// Resolution its width. A key is probed again after Resolution × the age
// of its oldest pending write (at least 1 ms, at most min(1 s, SLO/100)),
// so the relative resolution stays near Config.Resolution whatever the lag.
// Each site has a budget (MaxInFlight concurrent probes, MaxRate probes per
// second); when more keys are due than it allows, probes go later and the
// reported resolution honestly grows.
package convergence

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"golang.org/x/time/rate"
)

// Defaults of Config.
const (
	DefaultSLO          = 15 * time.Minute
	DefaultMaxInFlight  = 8
	DefaultMaxRate      = 500 // probes per second per site
	DefaultResolution   = 0.02
	DefaultProbeTimeout = 10 * time.Second
)

const (
	// minInterval is the shortest wait between two probes of one key: a
	// HEAD on loopback takes about this long, so probing faster only
	// queues requests.
	minInterval = time.Millisecond
	// maxInterval bounds the wait between probes of a key (with SLO/100,
	// whichever is smaller), so even an old write is seen soon after it
	// arrives.
	maxInterval = time.Second
	// sampleEvery is the period of the pending time series.
	sampleEvery = 100 * time.Millisecond
)

// Config configures a Tracker.
type Config struct {
	// Sites are the topology's site names; a write is tracked at each one
	// but its own.
	Sites []string
	// Probes maps each site to the client probes use there. It must not
	// be a client.Recording: probes are not operations of the workload.
	// SSE-C objects can only be probed over S3.
	Probes map[string]client.Client
	// SSEC is the run's SSE-C key, to HEAD objects written with SSE-C.
	SSEC client.SSE
	// SLO is the replication lag target; 0 = DefaultSLO.
	SLO time.Duration
	// Clock is the history writer's Now (history.Writer.Now), so that
	// probe times and acknowledgements share one base. Required.
	Clock func() history.Time
	// ClockUncertainty is the checker's: a write of a key supersedes w
	// only if it was invoked more than this after w completed.
	ClockUncertainty time.Duration
	// MaxInFlight bounds concurrent probes per site; 0 = DefaultMaxInFlight.
	MaxInFlight int
	// MaxRate bounds probes per second per site; 0 = DefaultMaxRate.
	MaxRate float64
	// Resolution is the target relative resolution: a key is probed
	// again after Resolution × the age of its oldest pending write.
	// 0 = DefaultResolution.
	Resolution float64
	// ProbeTimeout bounds one probe request; 0 = DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// Tracker follows acknowledged writes until their peers serve them. Its
// methods are safe for concurrent use.
type Tracker struct {
	cfg           Config
	floor, ceil   time.Duration
	sseCProbeable map[string]bool // sites whose probe client can send an SSE-C key

	mu         sync.Mutex
	keys       map[objKey]*keyState
	ops        map[string]*opRec // every write-kind op seen, by id
	sites      map[string]*site
	order      []*tracked // in the order Observe saw them
	pendOps    int
	pendBytes  int64
	skipped    map[string]int
	drained    chan struct{} // closed while nothing is pending
	series     series
	recent     []lagAt // latest resolutions, for RecentLag
	started    bool
	stopped    bool
	stoppedAt  history.Time
	cancel     context.CancelFunc
	stopSignal chan struct{}
	wg         sync.WaitGroup
}

// New validates cfg, fills in its defaults and returns a Tracker that
// accepts Observe at once and probes after Start.
func New(cfg Config) (*Tracker, error) {
	bad := func(format string, a ...any) (*Tracker, error) {
		return nil, fmt.Errorf("convergence: "+format, a...)
	}
	if len(cfg.Sites) < 2 {
		return bad("%d sites given; replication needs at least two", len(cfg.Sites))
	}
	for i, s := range cfg.Sites {
		if s == "" {
			return bad("site %d has no name", i)
		}
		if slices.Contains(cfg.Sites[:i], s) {
			return bad("site %q is listed twice", s)
		}
		if cfg.Probes[s] == nil {
			return bad("no probe client for site %q", s)
		}
	}
	if cfg.Clock == nil {
		return bad("no clock: give the history writer's Now")
	}
	if cfg.SSEC.Mode != client.SSENone && (cfg.SSEC.Mode != client.SSEC || len(cfg.SSEC.Key) != 32) {
		return bad("SSEC must be an SSE-C key of 32 bytes, got %v", cfg.SSEC)
	}
	switch {
	case cfg.SLO < 0, cfg.ClockUncertainty < 0, cfg.MaxInFlight < 0, cfg.ProbeTimeout < 0:
		return bad("negative SLO, clock uncertainty, in-flight bound or timeout")
	case cfg.MaxRate < 0 || math.IsNaN(cfg.MaxRate):
		return bad("probe rate %v: want a positive number per second", cfg.MaxRate)
	case cfg.Resolution < 0 || cfg.Resolution >= 1 || math.IsNaN(cfg.Resolution):
		return bad("resolution %v: want a fraction between 0 and 1", cfg.Resolution)
	}
	if cfg.SLO == 0 {
		cfg.SLO = DefaultSLO
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxRate == 0 {
		cfg.MaxRate = DefaultMaxRate
	}
	if cfg.Resolution == 0 {
		cfg.Resolution = DefaultResolution
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	cfg.Sites = slices.Clone(cfg.Sites)
	t := &Tracker{cfg: cfg, floor: minInterval, ceil: max(minInterval, min(maxInterval, cfg.SLO/100)),
		sseCProbeable: map[string]bool{}, keys: map[objKey]*keyState{}, ops: map[string]*opRec{},
		sites: map[string]*site{}, skipped: map[string]int{}, drained: make(chan struct{}), stopSignal: make(chan struct{})}
	close(t.drained)
	for _, s := range cfg.Sites {
		c := cfg.Probes[s]
		t.sites[s] = &site{name: s, c: c, wake: make(chan struct{}, 1), pace: rate.NewLimiter(rate.Limit(cfg.MaxRate), 1)}
		t.sseCProbeable[s] = cfg.SSEC.Mode == client.SSEC && c.API() == client.APIS3
	}
	t.series.add(cfg.Clock(), 0, 0, true)
	return t, nil
}

// objKey names an object.
type objKey struct{ bucket, key string }

// opRec is what the tracker remembers of a write-kind operation: enough to
// tell whether a value the peer serves comes from a write that supersedes
// a pending one.
type opRec struct {
	id               string
	site             string
	kind             history.Kind
	key              objKey
	invoke, complete history.Time
	acked            bool
}

// isData reports whether the op wrote data that carries its own id.
func (o *opRec) isData() bool {
	return o.kind == history.Put || o.kind == history.Overwrite || o.kind == history.Multipart
}

// keyState is what the tracker knows of one key.
type keyState struct {
	key     objKey
	deletes []*opRec // acknowledged deletes: what a "not found" can come from
	copies  []*opRec // copies onto the key, acknowledged or in doubt
	at      map[string]*target
}

// tracked is one write followed at one peer.
type tracked struct {
	op    *opRec
	peer  string
	size  int64
	sse   string
	tgt   *target // the key at the peer
	state State
	by    *opRec // the write that superseded this one
	// rival is a concurrent write the peer served instead; while it is
	// set, the write is also on its origin's confirm list.
	rival      *opRec
	concurrent bool
	lastMiss   history.Time // send time of the latest probe that did not see it
	lo, hi     history.Time // arrival bracket, once resolved
	probes     int
}

// ack is when the write was acknowledged.
func (w *tracked) ack() history.Time { return w.op.complete }

// Observe takes one completed operation. It is quick, never blocks on the
// network, and is safe to call from many goroutines (as
// history.Writer.OnComplete does).
func (t *Tracker) Observe(op history.Op) {
	switch op.Kind {
	case history.Put, history.Overwrite, history.Multipart, history.Delete, history.Copy:
	case history.Meta:
		// Not probed (the object keeps the id of the data it holds), but
		// remembered: a peer serving the update shows that writes it
		// followed were superseded. In doubt counts too, as for data:
		// served, it took effect.
		if op.Outcome == history.OK {
			t.skip("meta")
		}
		if op.Outcome != history.Failed {
			t.mu.Lock()
			t.ops[op.ID] = &opRec{id: op.ID, site: op.Site, kind: op.Kind, key: objKey{op.Bucket, op.Key},
				invoke: op.Invoke, complete: op.Complete, acked: op.Outcome == history.OK}
			t.mu.Unlock()
		}
		return
	default:
		return // reads
	}
	if op.Outcome == history.Failed {
		t.skip("failed")
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	rec := &opRec{id: op.ID, site: op.Site, kind: op.Kind, key: objKey{op.Bucket, op.Key},
		invoke: op.Invoke, complete: op.Complete, acked: op.Outcome == history.OK}
	t.ops[op.ID] = rec
	ks := t.keyState(rec.key)
	switch {
	case op.Kind == history.Delete && rec.acked:
		ks.deletes = append(ks.deletes, rec)
	case op.Kind == history.Copy:
		ks.copies = append(ks.copies, rec)
	}
	switch {
	case !rec.acked:
		t.skipped["unknown"]++
		return
	case op.Kind == history.Copy:
		t.skipped["copy"]++
		return
	case !slices.Contains(t.cfg.Sites, op.Site):
		t.skipped["unknown-site"]++
		return
	}
	now := t.cfg.Clock()
	size := op.Size
	if op.Kind == history.Delete {
		size = 0
	}
	for _, peer := range t.cfg.Sites {
		if peer == op.Site {
			continue
		}
		tg := t.target(ks, peer)
		w := &tracked{op: rec, peer: peer, size: size, sse: op.SSE, tgt: tg, state: Pending}
		if op.Kind != history.Delete && t.sseCProbeable[peer] {
			tg.sseC = op.SSE == client.SSEC // the newest write decides how the key is read
		}
		tg.add(w, false)
		t.order = append(t.order, w)
		t.addPending(1, size)
		t.schedule(tg, now)
	}
}

func (t *Tracker) skip(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.skipped[reason]++
	}
}

func (t *Tracker) keyState(k objKey) *keyState {
	ks := t.keys[k]
	if ks == nil {
		ks = &keyState{key: k, at: map[string]*target{}}
		t.keys[k] = ks
	}
	return ks
}

func (t *Tracker) target(ks *keyState, siteName string) *target {
	tg := ks.at[siteName]
	if tg == nil {
		tg = &target{key: ks, site: t.sites[siteName], idx: -1}
		ks.at[siteName] = tg
	}
	return tg
}

// addPending changes the pending totals. Call with mu held.
func (t *Tracker) addPending(ops int, bytes int64) {
	was := t.pendOps
	t.pendOps += ops
	t.pendBytes += bytes
	switch {
	case was == 0 && t.pendOps > 0:
		t.drained = make(chan struct{})
	case was > 0 && t.pendOps == 0:
		close(t.drained)
	}
}

// Start starts probing; it returns at once. Probing ends with Stop (or
// when ctx ends). Starting twice, or after Stop, does nothing.
func (t *Tracker) Start(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.stopped {
		return
	}
	t.started = true
	ctx, t.cancel = context.WithCancel(ctx)
	for _, name := range t.cfg.Sites {
		t.wg.Add(1)
		go t.dispatch(ctx, t.sites[name])
	}
	t.wg.Add(1)
	go t.sample(ctx)
}

// sample records the pending totals every sampleEvery.
func (t *Tracker) sample(ctx context.Context) {
	defer t.wg.Done()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.mu.Lock()
			t.series.add(t.cfg.Clock(), t.pendOps, t.pendBytes, false)
			t.mu.Unlock()
		}
	}
}

// Pending returns how many tracked writes are not yet served by their
// peer, and their bytes. A write is counted once per peer (once, with two
// sites).
func (t *Tracker) Pending() (ops int, bytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pendOps, t.pendBytes
}

// ErrStopped is what Wait returns when the tracker was stopped while
// writes were still pending.
var ErrStopped = errors.New("convergence: tracker stopped")

// Wait returns nil once nothing is pending, ctx's error if it ends first
// (give it the observation window), or ErrStopped after Stop.
func (t *Tracker) Wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		pending, drained := t.pendOps, t.drained
		t.mu.Unlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-drained:
		case <-t.stopSignal:
			return ErrStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop ends probing, waits for probes in flight to return, and returns the
// result: writes still pending stay pending in it. Later calls return the
// same result as of the first; Observe after Stop is ignored.
func (t *Tracker) Stop() Result {
	t.mu.Lock()
	if !t.stopped {
		t.stopped = true
		t.stoppedAt = t.cfg.Clock()
		close(t.stopSignal)
	}
	cancel := t.cancel
	t.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.series.add(t.stoppedAt, t.pendOps, t.pendBytes, true)
	return t.result(t.stoppedAt)
}

// Snapshot returns the result as of now without stopping, for progress
// displays. Its verdict is provisional: undecided while writes are
// pending within the SLO, fail as soon as a breach is certain.
func (t *Tracker) Snapshot() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Clock()
	if t.stopped {
		now = t.stoppedAt
	}
	return t.result(now)
}
