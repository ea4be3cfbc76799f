// Package workload drives a run's operations against the sites: writes of
// self-describing payloads (see package payload), deletes, copies,
// metadata updates and reads, spread over sites, APIs, keys, sizes and SSE
// modes by weight, every one recorded in the history by the Recording
// clients it is given.
//
// A run is deterministic in what it asks for, given its Seed: worker i
// draws from a PCG seeded with (Seed, i). What the servers answer, and how
// the workers interleave, is not.
package workload

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// Size is one object size and its weight.
type Size struct {
	Size   int64
	Weight int
}

// Config configures a run. Exactly one of Ops and Duration bounds it.
type Config struct {
	Ops         int           // total operations (BothSites rewrites included)
	Duration    time.Duration // or: run for this long
	Concurrency int           // workers; 0 = 4
	Rate        float64       // operations per second over all workers; 0 = unbounded
	Keys        int           // keys per bucket: "k000000" …
	Buckets     []string      // must exist at every site
	// Mix weighs operation kinds. Put and Overwrite both stand for a
	// single-part write: which of the two is recorded depends on whether
	// the workload wrote the key before. Multipart, Delete, Copy, Meta
	// and Get are their own.
	Mix   map[history.Kind]int
	Sizes []Size
	APIs  map[string]int // client.APIS3, client.APISwift
	Sites map[string]int // site name → weight
	SSE   map[string]int // client.SSENone, SSES3, SSEKMS, SSEC
	// SSECKey is the run's one customer key (32 bytes), needed when SSE
	// gives SSE-C a weight.
	SSECKey []byte
	// KMSKeyID names the key of SSE-KMS writes; "" asks for the
	// endpoint's default key (engines without one need it named).
	KMSKeyID string
	Seed     uint64
	// PartSize of multipart uploads; 0 = client.MinPartSize. A multipart
	// write of a drawn size not above PartSize writes PartSize+size+1
	// bytes, so that it really has two parts.
	PartSize int64
	// BothSites is the percentage of writes that are immediately followed
	// by an overwrite of the same key at another site (same API where it
	// can, else S3; same SSE mode): concurrent-looking updates from both
	// sites.
	BothSites int
	// BothSitesConcurrent is the percentage of writes that race an
	// overwrite of the same key at another site, started as the write
	// itself starts: truly concurrent updates. BothSites plus
	// BothSitesConcurrent is at most 100.
	BothSitesConcurrent int
}

// Stats summarise a run.
type Stats struct {
	Ops, OK, Failed, Unknown int
	ByKind                   map[history.Kind]int
	// Bytes: payload bytes of acknowledged writes plus bytes read by Gets.
	Bytes   int64
	Elapsed time.Duration
}

func (s *Stats) add(o Stats) {
	s.Ops += o.Ops
	s.OK += o.OK
	s.Failed += o.Failed
	s.Unknown += o.Unknown
	s.Bytes += o.Bytes
	for k, n := range o.ByKind {
		s.ByKind[k] += n
	}
}

var validKinds = []history.Kind{history.Put, history.Overwrite, history.Multipart, history.Delete, history.Copy, history.Meta, history.Get}

// Validate reports the first bad field of c.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("workload config: %s: %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Ops < 0:
		return bad("Ops", "negative (%d)", c.Ops)
	case c.Duration < 0:
		return bad("Duration", "negative (%v)", c.Duration)
	case (c.Ops > 0) == (c.Duration > 0):
		return bad("Ops", "exactly one of Ops and Duration must be set (Ops %d, Duration %v)", c.Ops, c.Duration)
	case c.Concurrency < 0:
		return bad("Concurrency", "negative (%d)", c.Concurrency)
	case c.Rate < 0:
		return bad("Rate", "negative (%v)", c.Rate)
	case c.Keys <= 0:
		return bad("Keys", "must be > 0 (%d)", c.Keys)
	case len(c.Buckets) == 0:
		return bad("Buckets", "none given")
	case c.PartSize != 0 && c.PartSize < client.MinPartSize:
		return bad("PartSize", "%d is under the minimum %d", c.PartSize, client.MinPartSize)
	case c.BothSites < 0 || c.BothSites > 100:
		return bad("BothSites", "%d is not a percentage", c.BothSites)
	case c.BothSitesConcurrent < 0 || c.BothSites+c.BothSitesConcurrent > 100:
		return bad("BothSitesConcurrent", "%d: with BothSites %d, not a percentage", c.BothSitesConcurrent, c.BothSites)
	}
	for _, b := range c.Buckets {
		if b == "" {
			return bad("Buckets", "empty bucket name")
		}
	}
	if err := weights("Mix", c.Mix, func(k history.Kind) bool {
		for _, v := range validKinds {
			if k == v {
				return true
			}
		}
		return false
	}); err != nil {
		return err
	}
	if len(c.Sizes) == 0 {
		return bad("Sizes", "none given")
	}
	total := 0
	for _, s := range c.Sizes {
		if s.Size < 0 || s.Weight < 0 {
			return bad("Sizes", "size %d weight %d: negative", s.Size, s.Weight)
		}
		total += s.Weight
	}
	if total == 0 {
		return bad("Sizes", "all weights are 0")
	}
	if err := weights("APIs", c.APIs, func(a string) bool { return a == client.APIS3 || a == client.APISwift }); err != nil {
		return err
	}
	if err := weights("Sites", c.Sites, func(s string) bool { return s != "" }); err != nil {
		return err
	}
	if err := weights("SSE", c.SSE, func(m string) bool {
		return m == client.SSENone || m == client.SSES3 || m == client.SSEKMS || m == client.SSEC
	}); err != nil {
		return err
	}
	if c.SSE[client.SSEC] > 0 && len(c.SSECKey) != 32 {
		return bad("SSECKey", "SSE-C has a weight but the key is %d bytes, not 32", len(c.SSECKey))
	}
	return nil
}

// weights checks a weight map: known names, no negative weight, some > 0.
func weights[K comparable](field string, m map[K]int, known func(K) bool) error {
	if len(m) == 0 {
		return fmt.Errorf("workload config: %s: no weights given", field)
	}
	total := 0
	for k, w := range m {
		if !known(k) {
			return fmt.Errorf("workload config: %s: unknown %q", field, fmt.Sprint(k))
		}
		if w < 0 {
			return fmt.Errorf("workload config: %s: %q has negative weight %d", field, fmt.Sprint(k), w)
		}
		total += w
	}
	if total == 0 {
		return fmt.Errorf("workload config: %s: all weights are 0", field)
	}
	return nil
}

// picker draws from weighted choices; choices are sorted so that a seed
// gives the same draws whatever the map's iteration order.
type picker[T any] struct {
	items []T
	cum   []int
}

func newPicker[T any](items []T, w func(T) int) picker[T] {
	p := picker[T]{}
	total := 0
	for _, it := range items {
		if w(it) <= 0 {
			continue
		}
		total += w(it)
		p.items = append(p.items, it)
		p.cum = append(p.cum, total)
	}
	return p
}

func (p picker[T]) pick(r *rand.Rand) T {
	n := r.IntN(p.cum[len(p.cum)-1])
	for i, c := range p.cum {
		if n < c {
			return p.items[i]
		}
	}
	return p.items[len(p.items)-1]
}

func sortedKeys[K ~string](m map[K]int) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// keyState is what the workload believes about one key.
type keyState struct {
	written bool   // a write of it was issued
	cur     string // op id of the payload it holds, as far as the workload knows
	sse     string // its SSE mode, likewise
	live    bool   // last acknowledged change left a value
}

type run struct {
	cfg     Config
	clients map[string]map[string]*client.Recording // site → API → client
	sites   picker[string]
	apis    picker[string]
	kinds   picker[history.Kind]
	sizes   picker[Size]
	sses    picker[string]

	mu      sync.Mutex
	keys    map[string]*keyState // bucket/key
	written map[string][]string  // bucket → keys with a write issued, for copy sources

	claimed  atomic.Int64
	deadline time.Time
	tick     <-chan time.Time
	fatal    atomic.Pointer[error]
}

// Run runs the workload over clients, which must be *client.Recording, at
// most one per site and API, with an S3 client at every weighted site.
// Errors of operations are counted, never returned: Run returns an error
// for a bad configuration, for a history that can no longer be written,
// and ctx's error if ctx ends first (with the stats so far).
func Run(ctx context.Context, cfg Config, clients []client.Client) (Stats, error) {
	start := time.Now()
	st := Stats{ByKind: map[history.Kind]int{}}
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = client.MinPartSize
	}
	r := &run{cfg: cfg, clients: map[string]map[string]*client.Recording{}, keys: map[string]*keyState{}, written: map[string][]string{}}
	for _, c := range clients {
		rc, ok := c.(*client.Recording)
		if !ok {
			return st, fmt.Errorf("workload: client %s/%s is a %T, not a *client.Recording", c.Site(), c.API(), c)
		}
		if r.clients[c.Site()] == nil {
			r.clients[c.Site()] = map[string]*client.Recording{}
		}
		if r.clients[c.Site()][c.API()] != nil {
			return st, fmt.Errorf("workload: two %s clients of site %s", c.API(), c.Site())
		}
		r.clients[c.Site()][c.API()] = rc
	}
	for site, w := range cfg.Sites {
		if w == 0 {
			continue
		}
		if r.clients[site][client.APIS3] == nil {
			return st, fmt.Errorf("workload: Sites: no S3 client for site %q", site)
		}
		if cfg.APIs[client.APISwift] > 0 && r.clients[site][client.APISwift] == nil {
			return st, fmt.Errorf("workload: APIs: Swift has a weight but site %q has no Swift client", site)
		}
	}
	if cfg.BothSites+cfg.BothSitesConcurrent > 0 && len(r.clients) < 2 {
		return st, fmt.Errorf("workload: BothSites: clients of one site only")
	}
	r.sites = newPicker(sortedKeys(cfg.Sites), func(s string) int { return cfg.Sites[s] })
	r.apis = newPicker(sortedKeys(cfg.APIs), func(s string) int { return cfg.APIs[s] })
	r.sses = newPicker(sortedKeys(cfg.SSE), func(s string) int { return cfg.SSE[s] })
	r.kinds = newPicker(sortedKeys(cfg.Mix), func(k history.Kind) int { return cfg.Mix[k] })
	r.sizes = newPicker(cfg.Sizes, func(s Size) int { return s.Weight })
	if cfg.Duration > 0 {
		r.deadline = start.Add(cfg.Duration)
	}
	if cfg.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		defer t.Stop()
		r.tick = t.C
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	per := make([]Stats, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range cfg.Concurrency {
		per[i].ByKind = map[history.Kind]int{}
		wg.Go(func() {
			w := &worker{r: r, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), st: &per[i]}
			if err := w.loop(wctx); err != nil {
				r.fatal.CompareAndSwap(nil, &err)
				cancel()
			}
		})
	}
	wg.Wait()
	for _, p := range per {
		st.add(p)
	}
	st.Elapsed = time.Since(start)
	if e := r.fatal.Load(); e != nil {
		return st, *e
	}
	return st, ctx.Err()
}

// claim takes the next operation's slot; false when the run is over.
func (r *run) claim(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if r.cfg.Ops > 0 {
		if r.claimed.Add(1) > int64(r.cfg.Ops) {
			return false
		}
	} else if !time.Now().Before(r.deadline) {
		return false
	}
	if r.tick != nil {
		select {
		case <-r.tick:
		case <-ctx.Done():
			return false
		}
		if r.cfg.Duration > 0 && !time.Now().Before(r.deadline) {
			return false
		}
	}
	return true
}

// historyFailed reports whether err is the Recording refusing an operation
// because the history could not be written.
func historyFailed(err error) bool { return errors.Is(err, client.ErrNotRecorded) }

type worker struct {
	r   *run
	rng *rand.Rand
	st  *Stats
}

func (w *worker) loop(ctx context.Context) error {
	for w.r.claim(ctx) {
		if err := w.one(ctx); err != nil {
			return err
		}
	}
	return nil
}

// count records an operation's outcome; it returns err if the history failed.
func (w *worker) count(kind history.Kind, err error, bytes int64) error {
	w.st.Ops++
	w.st.ByKind[kind]++
	switch client.Classify(err) {
	case history.OK:
		w.st.OK++
		w.st.Bytes += bytes
	case history.Failed:
		w.st.Failed++
	default:
		w.st.Unknown++
	}
	if historyFailed(err) {
		return fmt.Errorf("workload: %w", err)
	}
	return nil
}

// client returns the client of site for api, S3 if the API cannot do it.
func (w *worker) client(site, api string, s3Only bool) *client.Recording {
	if s3Only {
		api = client.APIS3
	}
	if c := w.r.clients[site][api]; c != nil {
		return c
	}
	return w.r.clients[site][client.APIS3]
}

func (w *worker) sse(mode string) client.SSE {
	if mode == client.SSEC {
		return client.SSE{Mode: client.SSEC, Key: w.r.cfg.SSECKey}
	}
	if mode == client.SSEKMS {
		return client.SSE{Mode: mode, KMSKeyID: w.r.cfg.KMSKeyID}
	}
	return client.SSE{Mode: mode}
}

func (w *worker) one(ctx context.Context) error {
	r := w.r
	// Every draw is made whatever the kind, so that the sequence of draws
	// of a worker does not depend on the kinds it drew.
	site := r.sites.pick(w.rng)
	api := r.apis.pick(w.rng)
	bucket := r.cfg.Buckets[w.rng.IntN(len(r.cfg.Buckets))]
	key := fmt.Sprintf("k%06d", w.rng.IntN(r.cfg.Keys))
	kind := r.kinds.pick(w.rng)
	size := r.sizes.pick(w.rng).Size
	mode := r.sses.pick(w.rng)
	seed := w.rng.Uint64()
	srcPick := w.rng.Uint64()
	var both bothMode
	switch d := w.rng.IntN(100); {
	case d < r.cfg.BothSites:
		both = bothSequential
	case d < r.cfg.BothSites+r.cfg.BothSitesConcurrent:
		both = bothConcurrent
	}

	switch kind {
	case history.Put, history.Overwrite, history.Multipart:
		return w.write(ctx, site, api, bucket, key, kind == history.Multipart, size, mode, seed, both)
	case history.Delete:
		c := w.client(site, api, false)
		_, err := c.Delete(ctx, bucket, key, "")
		if err == nil {
			r.update(bucket, key, func(k *keyState) { k.live, k.cur, k.sse = false, "", "" })
		}
		return w.count(history.Delete, err, 0)
	case history.Copy:
		return w.copy(ctx, site, api, bucket, key, mode, srcPick, size, seed, both)
	case history.Meta:
		return w.meta(ctx, site, api, bucket, key)
	default: // Get
		return w.get(ctx, site, api, bucket, key)
	}
}

func (r *run) update(bucket, key string, f func(*keyState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys[bucket+"/"+key]
	if k == nil {
		k = &keyState{}
		r.keys[bucket+"/"+key] = k
	}
	f(k)
}

func (r *run) belief(bucket, key string) keyState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := r.keys[bucket+"/"+key]; k != nil {
		return *k
	}
	return keyState{}
}

// bothMode says whether a write is paired with one at another site.
type bothMode int

const (
	bothNone       bothMode = iota
	bothSequential          // after the write completes
	bothConcurrent          // while the write is in flight
)

// write writes key: Put the first time, Overwrite after, or Multipart.
func (w *worker) write(ctx context.Context, site, api, bucket, key string, multipart bool, size int64, mode string, seed uint64, both bothMode) error {
	r := w.r
	c := w.client(site, api, multipart || mode != client.SSENone)
	kind := history.Multipart
	var o client.PutOptions
	if multipart {
		o.PartSize = r.cfg.PartSize
		if size <= o.PartSize {
			size += o.PartSize + 1
		}
	}
	id := c.NextID()
	r.mu.Lock()
	k := r.keys[bucket+"/"+key]
	if k == nil {
		k = &keyState{}
		r.keys[bucket+"/"+key] = k
	}
	if !multipart {
		kind = history.Overwrite
		if !k.written {
			kind = history.Put
		}
	}
	if !k.written {
		r.written[bucket] = append(r.written[bucket], key)
	}
	k.written = true
	r.mu.Unlock()

	spec := payload.Spec{OpID: id, Seed: seed, Size: size}
	sum := payload.SHA256(spec)
	o.Meta = map[string]string{state.MetaOpID: id}
	o.SSE = w.sse(mode)
	actx := client.Annotate(ctx, client.Annotation{ID: id, Kind: kind, Seed: seed, SHA256: hex.EncodeToString(sum[:])})
	var rival chan rewrite
	if both == bothConcurrent {
		rival = make(chan rewrite, 1)
		go func() {
			rival <- w.rewriteElsewhere(ctx, site, c.API(), bucket, key, size, mode, seed^0x9e3779b97f4a7c15)
		}()
	}
	_, err := c.Put(actx, bucket, key, payload.NewReader(spec), size, o)
	if err == nil {
		r.update(bucket, key, func(k *keyState) { k.cur, k.sse, k.live = id, mode, true })
	}
	if err := w.count(kind, err, size); err != nil {
		return err
	}
	switch both {
	case bothSequential:
		return w.countRewrite(w.rewriteElsewhere(ctx, site, c.API(), bucket, key, size, mode, seed^0x9e3779b97f4a7c15))
	case bothConcurrent:
		return w.countRewrite(<-rival)
	}
	return nil
}

// rewrite is the outcome of rewriteElsewhere, counted by the worker's own
// goroutine.
type rewrite struct {
	done bool // an operation was made
	kind history.Kind
	err  error
	size int64
}

func (w *worker) countRewrite(rw rewrite) error {
	if !rw.done {
		return nil
	}
	return w.count(rw.kind, rw.err, rw.size)
}

// rewriteElsewhere overwrites key at a site other than site, if the run
// has an operation left for it. It may run beside the worker's own write,
// so it leaves counting to the worker.
func (w *worker) rewriteElsewhere(ctx context.Context, site, api, bucket, key string, size int64, mode string, seed uint64) rewrite {
	r := w.r
	if !r.claim(ctx) {
		return rewrite{}
	}
	var other string
	for _, s := range sortedKeys(mapOf(r.clients)) {
		if s != site && r.clients[s][client.APIS3] != nil {
			other = s
			break
		}
	}
	if other == "" {
		return rewrite{}
	}
	c := w.client(other, api, mode != client.SSENone || size > r.cfg.PartSize)
	id := c.NextID()
	spec := payload.Spec{OpID: id, Seed: seed, Size: size}
	sum := payload.SHA256(spec)
	o := client.PutOptions{Meta: map[string]string{state.MetaOpID: id}, SSE: w.sse(mode)}
	if size > r.cfg.PartSize {
		o.PartSize = r.cfg.PartSize
	}
	kind := history.Overwrite
	if o.Multipart(c.API(), size) {
		kind = history.Multipart
	}
	actx := client.Annotate(ctx, client.Annotation{ID: id, Kind: kind, Seed: seed, SHA256: hex.EncodeToString(sum[:])})
	_, err := c.Put(actx, bucket, key, payload.NewReader(spec), size, o)
	if err == nil {
		r.update(bucket, key, func(k *keyState) { k.cur, k.sse, k.live = id, mode, true })
	}
	return rewrite{done: true, kind: kind, err: err, size: size}
}

func mapOf[V any](m map[string]V) map[string]int {
	out := make(map[string]int, len(m))
	for k := range m {
		out[k] = 1
	}
	return out
}

// copy copies a key written before onto key; with no such key yet, it
// writes key instead.
func (w *worker) copy(ctx context.Context, site, api, bucket, key, mode string, srcPick uint64, size int64, seed uint64, both bothMode) error {
	r := w.r
	r.mu.Lock()
	cands := r.written[bucket]
	var src string
	if len(cands) > 0 {
		// Never the key itself: a copy onto itself is a metadata update.
		if src = cands[srcPick%uint64(len(cands))]; src == key {
			src = cands[(srcPick+1)%uint64(len(cands))]
		}
	}
	if src == key {
		src = ""
	}
	r.mu.Unlock()
	if src == "" {
		return w.write(ctx, site, api, bucket, key, false, size, mode, seed, both)
	}
	from := r.belief(bucket, src)
	o := client.CopyOptions{DstSSE: w.sse(mode)}
	if from.sse == client.SSEC {
		o.SrcSSE = w.sse(client.SSEC)
	}
	c := w.client(site, api, mode != client.SSENone || from.sse == client.SSEC)
	_, err := c.Copy(client.Annotate(ctx, client.Annotation{ID: c.NextID(), Kind: history.Copy}), bucket, src, key, o)
	if err == nil {
		r.update(bucket, key, func(k *keyState) {
			if !k.written {
				r.written[bucket] = append(r.written[bucket], key)
			}
			k.written, k.cur, k.sse, k.live = true, from.cur, mode, from.live
		})
	}
	return w.count(history.Copy, err, 0)
}

// meta replaces key's user metadata, keeping the op id of the write the
// workload believes it holds.
func (w *worker) meta(ctx context.Context, site, api, bucket, key string) error {
	b := w.r.belief(bucket, key)
	c := w.client(site, api, false)
	id := c.NextID()
	err := c.UpdateMeta(client.Annotate(ctx, client.Annotation{ID: id, Kind: history.Meta}), bucket, key,
		map[string]string{state.MetaOpID: b.cur, state.MetaUpdateID: id})
	return w.count(history.Meta, err, 0)
}

// get reads key through and discards the bytes (the Recording hashes them).
func (w *worker) get(ctx context.Context, site, api, bucket, key string) error {
	b := w.r.belief(bucket, key)
	var o client.GetOptions
	if b.sse == client.SSEC {
		o.SSE = w.sse(client.SSEC)
	}
	c := w.client(site, api, o.SSE.Mode != client.SSENone)
	rc, _, err := c.Get(client.Annotate(ctx, client.Annotation{ID: c.NextID(), Kind: history.Get}), bucket, key, o)
	var n int64
	if err == nil {
		n, err = io.Copy(io.Discard, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	return w.count(history.Get, err, n)
}
