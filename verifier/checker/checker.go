// Package checker finds anomalies in a run: from the history of operations
// and what every site serves at the end, it decides for each key whether
// the final state is one a correct replicated store could have reached,
// and says why not, with the operations, sites and times as evidence.
//
// It imports the history types only: it knows nothing of how the sites
// ran or how faults were made.
//
// Values are judged by every operation that can set one: writes, deletes,
// copies and in-place metadata updates. Sites are only eventually
// consistent, so a site may copy or update from a stale replica: a copy
// onto a key may leave any value its source could have held at some site
// before the copy completed (values travel along chains of copies), and a
// metadata update, which rewrites what its site holds, may leave any value
// the key could have held before the update completed.
//
// Reads made during the run are judged too (stale-local-read): a site
// must serve its own acknowledged writes. A get at a site that returned a
// write older, in real time beyond the clock uncertainty, than a write or
// delete that site had acknowledged before the get began, returned a value
// that site had already replaced. Only reads attributed to a write of
// their own key are judged, not ranged or corrupt reads, nor reads of keys
// that copies or metadata updates wrote. Not-found reads are not judged:
// the history records them as failures that nothing tells apart from
// other refusals.
package checker

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/replcheck/replcheck/verifier/history"
)

// Anomaly names, as DESIGN.md defines them.
const (
	LostWrite           = "lost-write"
	Divergence          = "divergence"
	MissingReplica      = "missing-replica"
	CorruptRead         = "corrupt-read"
	Unreadable          = "unreadable"
	Resurrection        = "resurrection"
	MetadataMismatch    = "metadata-mismatch"
	EncryptionDowngrade = "encryption-downgrade"
	StaleLocalRead      = "stale-local-read"
)

// Observation is what one site serves for one key at the end of a run.
type Observation struct {
	Site    string
	Present bool // listed and served
	// ReadOf is the write the bytes identify as ("" when they match none).
	ReadOf string
	// Valid says the bytes are exactly that write's.
	Valid bool
	// Alike are other writes whose bytes are exactly the same as ReadOf's:
	// content too short for a header can be (every empty write is), and
	// then the site may hold any of them.
	Alike []string `json:",omitempty"`
	// Error is set when the site lists the key but cannot serve it.
	Error string
	SSE   string            // encryption mode the site reports
	Meta  map[string]string // user metadata the site serves
}

// Key names an object.
type Key struct{ Bucket, Key string }

func (k Key) String() string { return k.Bucket + "/" + k.Key }

// FinalState is what every site serves for every key the workload touched.
type FinalState struct {
	Sites []string
	Keys  map[Key][]Observation // one per site
}

// Options tune the check.
type Options struct {
	// ClockUncertainty widens "happened before": a write supersedes another
	// only if it was invoked more than this after the other completed.
	// The verifier's own clock is monotonic, so the default is 0.
	ClockUncertainty time.Duration
}

// Anomaly is one finding with its evidence.
type Anomaly struct {
	Name   string   `json:"name"`
	Bucket string   `json:"bucket"`
	Key    string   `json:"key"`
	Sites  []string `json:"sites,omitempty"`
	Ops    []string `json:"ops,omitempty"` // operation ids, most relevant first
	Detail string   `json:"detail"`
}

// Result is the outcome of a check.
type Result struct {
	Anomalies []Anomaly `json:"anomalies"`
	Keys      int       `json:"keys"`
}

// Counts returns how many anomalies of each name were found.
func (r Result) Counts() map[string]int {
	c := map[string]int{}
	for _, a := range r.Anomalies {
		c[a.Name]++
	}
	return c
}

// absent stands for "no value" among possible final values.
const absent = ""

// maxChain bounds how many copies deep a value is traced: a value that
// could only have come through a longer chain of copies is accepted
// unchecked rather than searched for without end.
const maxChain = 64

const (
	never   = history.Time(math.MaxInt64) // bound of an operation that may still take effect
	minTime = history.Time(math.MinInt64)
)

// prod is an operation that can set a key's value: a put, overwrite,
// multipart upload, delete, copy or metadata update that did not fail.
type prod struct {
	op  int32 // index into the history's operations
	src int32 // for a copy, its source's key index; else -1
}

// copyRef is a copy onto a key, as the search for a value's paths sees it.
type copyRef struct {
	op, src       int32
	invoke, bound history.Time
}

// keyIndex is what the history says of one key.
type keyIndex struct {
	key     Key
	prods   []prod       // in history order
	copies  []copyRef    // completed copies onto the key, by invoke time
	pending []copyRef    // copies onto the key with an unknown outcome
	maxDur  history.Time // longest of copies, invoke to completion
	// lastCopied is the latest bound of a copy from the key (minTime if
	// none): a write of the key invoked after it went nowhere else.
	lastCopied history.Time
	gets       []int32 // reads to judge, in history order
	// indirect says a copy or metadata update wrote the key, whatever its
	// outcome: reads of it are not judged.
	indirect bool
}

type checker struct {
	ops   []history.Op
	ids   map[string]int32
	keyOf map[Key]int32
	keys  []keyIndex
	eps   history.Time
	// Scratch of search, reset after each one.
	seen    []history.Time // per key, the latest bound searched
	touched []int32
	// cleared remembers failed searches: per write, per key, a bound
	// before which no copy can have brought the write to the key. A value
	// served at many keys is then searched for once, not once per key.
	cleared     map[int32]map[int32]history.Time
	clearedSize int
	queue       []reachItem
	acks        []int32 // scratch of staleReads
}

type reachItem struct {
	key   int32
	bound history.Time
	depth int
}

// Check compares the final state with the history.
func Check(h *history.History, fs FinalState, o Options) Result {
	c := newChecker(h, o)
	type named struct {
		k    Key
		name string
	}
	keys := make([]named, 0, len(fs.Keys)+len(c.keys))
	for k := range fs.Keys {
		keys = append(keys, named{k, k.String()})
	}
	for i := range c.keys {
		k := c.keys[i].key
		if _, ok := fs.Keys[k]; !ok && len(c.keys[i].prods) > 0 {
			keys = append(keys, named{k, k.String()})
		}
	}
	slices.SortFunc(keys, func(a, b named) int { return strings.Compare(a.name, b.name) })
	res := Result{}
	for _, k := range keys {
		res.Keys++
		res.Anomalies = append(res.Anomalies, c.checkKey(k.k, fs.Keys[k.k])...)
		if i, ok := c.keyOf[k.k]; ok {
			res.Anomalies = append(res.Anomalies, c.staleReads(i)...)
		}
	}
	return res
}

// newChecker indexes the history by key. It keeps indexes into h.Ops, not
// copies: a history may hold millions of operations.
func newChecker(h *history.History, o Options) *checker {
	c := &checker{ops: h.Ops, ids: make(map[string]int32, len(h.Ops)), keyOf: map[Key]int32{}, eps: history.Time(o.ClockUncertainty)}
	intern := func(k Key) int32 {
		i, ok := c.keyOf[k]
		if !ok {
			i = int32(len(c.keys))
			c.keyOf[k] = i
			c.keys = append(c.keys, keyIndex{key: k, lastCopied: minTime})
		}
		return i
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		c.ids[op.ID] = int32(i)
		switch op.Kind {
		case history.Put, history.Overwrite, history.Multipart, history.Delete:
		case history.Copy, history.Meta:
			c.keys[intern(Key{op.Bucket, op.Key})].indirect = true
		case history.Get:
			if op.Outcome == history.OK && op.ReadOf != "" && op.Range == "" && !op.Corrupt {
				k := intern(Key{op.Bucket, op.Key})
				c.keys[k].gets = append(c.keys[k].gets, int32(i))
			}
			continue
		default:
			continue
		}
		if op.Outcome == history.Failed {
			continue
		}
		k := intern(Key{op.Bucket, op.Key})
		p := prod{op: int32(i), src: -1}
		if op.Kind == history.Copy {
			p.src = intern(Key{op.Bucket, op.Source})
			cr := copyRef{op: p.op, src: p.src, invoke: op.Invoke, bound: boundOf(op)}
			c.keys[p.src].lastCopied = max(c.keys[p.src].lastCopied, cr.bound)
			ki := &c.keys[k]
			if cr.bound == never {
				ki.pending = append(ki.pending, cr)
			} else {
				ki.copies = append(ki.copies, cr)
				ki.maxDur = max(ki.maxDur, cr.bound-cr.invoke)
			}
		}
		c.keys[k].prods = append(c.keys[k].prods, p)
	}
	for i := range c.keys {
		for _, cs := range [][]copyRef{c.keys[i].copies, c.keys[i].pending} {
			if !slices.IsSortedFunc(cs, byInvoke) {
				slices.SortStableFunc(cs, byInvoke)
			}
		}
	}
	c.seen = make([]history.Time, len(c.keys))
	for i := range c.seen {
		c.seen[i] = minTime
	}
	return c
}

func byInvoke(a, b copyRef) int { return cmp.Compare(a.invoke, b.invoke) }

// boundOf is the time by which op's effect, if any, has happened: its
// completion, or never for an operation whose outcome is unknown.
func boundOf(op *history.Op) history.Time {
	if op.Outcome == history.Unknown {
		return never
	}
	return op.Complete
}

// isValue reports whether an operation of kind k writes bytes of its own,
// which sites then identify by its id.
func isValue(k history.Kind) bool {
	return k == history.Put || k == history.Overwrite || k == history.Multipart
}

// reaches reports whether key x may have held write v at some site before
// time b: v is a write of x invoked before b, or a copy onto x invoked
// before b may have brought it (recursively, from the copy's source before
// the copy completed). Metadata updates are not followed: they only
// rewrite values the key already had.
func (c *checker) reaches(x, vi int32, b history.Time) bool {
	c.queue = append(c.queue[:0], reachItem{key: x, bound: b})
	return c.search(vi)
}

// search reports whether write vi may have reached some key of c.queue
// before that item's bound. Nothing can hold v before v was invoked, which
// keeps the search to copies that completed after that.
//
// The search runs over keys and remembers, for each, the latest bound it
// was searched with: a key's copies are scanned at most once per search.
func (c *checker) search(vi int32) bool {
	v := &c.ops[vi]
	t0 := v.Invoke
	home, ok := c.keyOf[Key{v.Bucket, v.Key}]
	if !ok || !isValue(v.Kind) || v.Outcome == history.Failed {
		return false
	}
	if c.keys[home].lastCopied <= t0 {
		// No copy took v from its key: only the key itself holds it.
		for _, it := range c.queue {
			if it.key == home && it.bound > t0 {
				return true
			}
		}
		return false
	}
	known := c.cleared[vi]
	found := false
	defer func() {
		if !found {
			c.remember(vi, known)
		}
		for _, k := range c.touched {
			c.seen[k] = minTime
		}
		c.touched = c.touched[:0]
	}()
	for i := 0; i < len(c.queue); i++ {
		it := c.queue[i]
		prev := c.seen[it.key]
		if prev == minTime {
			if b, ok := known[it.key]; ok {
				prev = b
			}
		}
		if it.bound <= max(prev, t0) {
			continue
		}
		if c.seen[it.key] == minTime {
			c.touched = append(c.touched, it.key)
		}
		c.seen[it.key] = it.bound
		if it.key == home {
			found = true
			return true
		}
		ki := &c.keys[it.key]
		// Copies invoked before prev were scanned already; a copy invoked
		// more than maxDur before t0 completed before v began.
		from := max(prev, t0-ki.maxDur)
		j := firstFrom(ki.copies, from)
		for ; j < len(ki.copies) && ki.copies[j].invoke < it.bound; j++ {
			if cr := ki.copies[j]; cr.bound > t0 {
				if cr.src == home || it.depth == maxChain {
					found = true
					return true
				}
				c.queue = append(c.queue, reachItem{key: cr.src, bound: cr.bound, depth: it.depth + 1})
			}
		}
		for _, cr := range ki.pending {
			if cr.invoke >= prev && cr.invoke < it.bound {
				if cr.src == home || it.depth == maxChain {
					found = true
					return true
				}
				c.queue = append(c.queue, reachItem{key: cr.src, bound: never, depth: it.depth + 1})
			}
		}
	}
	return false
}

// memoBudget bounds how many (write, key) pairs failed searches keep.
const memoBudget = 1 << 20

// remember keeps what a failed search for write vi explored: every key it
// reached, up to the bound it reached it with, leads to no copy of vi.
func (c *checker) remember(vi int32, known map[int32]history.Time) {
	if len(c.touched) == 0 {
		return
	}
	if c.clearedSize+len(c.touched) > memoBudget {
		c.cleared, c.clearedSize, known = nil, 0, nil
	}
	if known == nil {
		known = make(map[int32]history.Time, len(c.touched))
		if c.cleared == nil {
			c.cleared = map[int32]map[int32]history.Time{}
		}
		c.cleared[vi] = known
	}
	for _, k := range c.touched {
		if _, ok := known[k]; !ok {
			c.clearedSize++
		}
		known[k] = max(known[k], c.seen[k])
	}
}

// firstFrom returns the index of the first of cs invoked at t or later.
func firstFrom(cs []copyRef, t history.Time) int {
	lo, hi := 0, len(cs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cs[m].invoke < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// keyCheck judges one key.
type keyCheck struct {
	c     *checker
	k     Key
	kid   int32
	prods []prod
	live  []prod // producers no acknowledged producer is known to have followed
	// absentOK says the key may legally have no value.
	absentOK bool
	memo     map[[2]int32]bool
}

func (c *checker) newKeyCheck(k Key) *keyCheck {
	kc := &keyCheck{c: c, k: k, kid: -1}
	if i, ok := c.keyOf[k]; ok {
		kc.kid, kc.prods = i, c.keys[i].prods
	}
	// p is superseded iff some acknowledged producer was invoked after p
	// completed: comparing with the latest such invocation is enough, so
	// a key costs linear time however many producers it has.
	lastOKInvoke := history.Time(-1)
	sure := false
	for _, p := range kc.prods {
		if op := &c.ops[p.op]; op.Outcome == history.OK {
			sure = true
			lastOKInvoke = max(lastOKInvoke, op.Invoke)
		}
	}
	for _, p := range kc.prods {
		op := &c.ops[p.op]
		if op.Outcome == history.Unknown || op.Complete+c.eps >= lastOKInvoke {
			kc.live = append(kc.live, p)
			if op.Kind == history.Delete {
				kc.absentOK = true
			}
		}
	}
	if !sure {
		kc.absentOK = true // every producer may have failed
	}
	return kc
}

// canHold reports whether producer p may have left write vi as the key's
// value.
func (kc *keyCheck) canHold(p prod, vi int32) bool {
	op := &kc.c.ops[p.op]
	switch op.Kind {
	case history.Delete:
		return false
	case history.Copy, history.Meta:
		q := [2]int32{p.op, vi}
		if r, ok := kc.memo[q]; ok {
			return r
		}
		from := kc.kid
		if op.Kind == history.Copy {
			from = p.src
		}
		r := kc.c.reaches(from, vi, boundOf(op))
		if kc.memo == nil {
			kc.memo = map[[2]int32]bool{}
		}
		kc.memo[q] = r
		return r
	default:
		return p.op == vi
	}
}

// holders returns the producers among ps that may have left value v.
func (kc *keyCheck) holders(ps []prod, v string) []prod {
	vi, ok := kc.c.ids[v]
	if !ok {
		return nil
	}
	var out []prod
	for _, p := range ps {
		if kc.canHold(p, vi) {
			out = append(out, p)
		}
	}
	return out
}

// legal reports whether v ("" for absent) is a value a correct store may
// converge on for the key.
func (kc *keyCheck) legal(v string) bool {
	if v == absent {
		return kc.absentOK
	}
	vi, ok := kc.c.ids[v]
	if !ok {
		return false
	}
	for _, p := range kc.live {
		if kc.canHold(p, vi) {
			return true
		}
	}
	return false
}

// unencrypted reports whether producer p may have stored write vi
// unencrypted: a write or copy made without SSE, or a metadata update of
// such a value (an update keeps the encryption of what it rewrites).
func (kc *keyCheck) unencrypted(p prod, vi int32) bool {
	c := kc.c
	op := &c.ops[p.op]
	if op.Kind != history.Meta {
		return op.SSE == ""
	}
	b := boundOf(op)
	v := &c.ops[vi]
	if v.SSE == "" && v.Bucket == kc.k.Bucket && v.Key == kc.k.Key && v.Invoke < b {
		return true
	}
	// One search from every copy onto the key made without SSE before b.
	c.queue = c.queue[:0]
	ki := &c.keys[kc.kid]
	for _, cs := range [][]copyRef{ki.copies, ki.pending} {
		for _, cr := range cs {
			if cr.invoke >= b {
				break // both lists are by invoke time
			}
			if c.ops[cr.op].SSE == "" {
				c.queue = append(c.queue, reachItem{key: cr.src, bound: cr.bound, depth: 1})
			}
		}
	}
	return c.search(vi)
}

func (c *checker) checkKey(k Key, obs []Observation) []Anomaly {
	var out []Anomaly
	add := func(name string, sites []string, opIDs []string, format string, args ...any) {
		out = append(out, Anomaly{Name: name, Bucket: k.Bucket, Key: k.Key, Sites: sites, Ops: opIDs, Detail: fmt.Sprintf(format, args...)})
	}
	kc := c.newKeyCheck(k)
	obs = kc.resolveAlike(obs)
	// What each site converged on, for the divergence check.
	final := map[string][]string{}
	written := func() []string {
		var ids []string
		for _, p := range kc.prods {
			ids = append(ids, c.ops[p.op].ID)
		}
		return ids
	}
	for _, ob := range obs {
		switch {
		case ob.Error != "":
			add(Unreadable, []string{ob.Site}, nil, "%s lists the key but cannot serve it: %s", ob.Site, ob.Error)
			continue
		case ob.Present && ob.ReadOf == "":
			add(CorruptRead, []string{ob.Site}, written(), "%s serves bytes that match no write of this key", ob.Site)
			continue
		case ob.Present && !ob.Valid:
			add(CorruptRead, []string{ob.Site}, []string{ob.ReadOf}, "%s serves bytes that start as %s but differ from it", ob.Site, ob.ReadOf)
			continue
		}
		v := absent
		if ob.Present {
			v = ob.ReadOf
		}
		final[v] = append(final[v], ob.Site)
		if v == absent {
			if kc.absentOK || kc.presentElsewhere(obs) {
				continue // if present elsewhere, the peer never got it: missing-replica, below
			}
			latest := lastAcked(c.ops, kc.prods)
			add(LostWrite, []string{ob.Site}, []string{latest.ID}, "%s has no value, but acknowledged %s %s (completed %v) was never deleted",
				ob.Site, latest.Kind, latest.ID, latest.Complete.Duration())
			continue
		}
		if hs := kc.holders(kc.live, v); len(hs) > 0 {
			if ob.SSE == "" {
				kc.downgrade(ob, v, hs, add)
			}
			continue
		}
		kc.illegal(ob, v, add)
	}
	if len(final) > 1 {
		var parts []string
		var sites []string
		for v, ss := range final {
			name := v
			if v == absent {
				name = "nothing"
			}
			parts = append(parts, fmt.Sprintf("%s: %s", strings.Join(ss, ","), name))
			sites = append(sites, ss...)
		}
		slices.Sort(parts)
		slices.Sort(sites)
		if len(final[absent]) > 0 && len(final) == 2 {
			add(MissingReplica, sites, nil, "present at some sites, missing at others (%s)", strings.Join(parts, "; "))
		} else {
			add(Divergence, sites, nil, "sites disagree (%s)", strings.Join(parts, "; "))
		}
	}
	out = append(out, metadataMismatch(k, obs)...)
	return out
}

// resolveAlike attributes bytes that several writes share to one of them
// a correct store may hold, if any is; the first otherwise. Every site
// reading the same bytes gets the same write, so equal content is never
// called a divergence.
func (kc *keyCheck) resolveAlike(obs []Observation) []Observation {
	var out []Observation
	for i, ob := range obs {
		if !ob.Present || !ob.Valid || len(ob.Alike) == 0 || kc.legal(ob.ReadOf) {
			continue
		}
		for _, v := range ob.Alike {
			if kc.legal(v) {
				if out == nil {
					out = slices.Clone(obs)
				}
				out[i].ReadOf = v
				break
			}
		}
	}
	if out == nil {
		return obs
	}
	return out
}

type addFunc func(name string, sites []string, opIDs []string, format string, args ...any)

// downgrade reports ob serving v unencrypted when every producer that may
// have left v here stored it encrypted.
func (kc *keyCheck) downgrade(ob Observation, v string, hs []prod, add addFunc) {
	vi := kc.c.ids[v]
	for _, p := range hs {
		if kc.unencrypted(p, vi) {
			return
		}
	}
	ops := []string{v}
	var how []string
	for _, p := range hs {
		op := &kc.c.ops[p.op]
		if op.ID != v {
			ops = append(ops, op.ID)
		}
		mode := op.SSE
		if op.Kind == history.Meta {
			mode = "the encryption it kept"
		}
		how = append(how, fmt.Sprintf("%s %s with %s", op.Kind, op.ID, mode))
	}
	add(EncryptionDowngrade, []string{ob.Site}, ops, "%s was stored encrypted (%s); %s serves it unencrypted", v, strings.Join(how, ", "), ob.Site)
}

// illegal reports a site serving a value no correct store could have
// left, naming what should have replaced it.
func (kc *keyCheck) illegal(ob Observation, v string, add addFunc) {
	c := kc.c
	vi, known := c.ids[v]
	if !known || !isValue(c.ops[vi].Kind) {
		add(CorruptRead, []string{ob.Site}, []string{v}, "%s serves bytes naming %s, which wrote no bytes in this run", ob.Site, v)
		return
	}
	w := &c.ops[vi]
	// The producer that left v last; it was superseded, or v would be legal.
	var holder *history.Op
	for _, p := range kc.holders(kc.prods, v) {
		if op := &c.ops[p.op]; holder == nil || op.Complete > holder.Complete {
			holder = op
		}
	}
	if holder == nil {
		if w.Bucket != kc.k.Bucket || w.Key != kc.k.Key {
			add(CorruptRead, []string{ob.Site}, []string{v}, "%s serves %s, a write of %s/%s (%s) that no copy onto this key could have brought",
				ob.Site, v, w.Bucket, w.Key, w.Outcome)
			return
		}
		// A write of this key that is no producer: the client was told it
		// failed, yet it replaced what was acknowledged.
		latest := lastAcked(c.ops, kc.prods)
		if latest.ID == "" {
			add(LostWrite, []string{ob.Site}, []string{v}, "%s serves %s, a write reported as %s", ob.Site, v, w.Outcome)
			return
		}
		add(LostWrite, []string{ob.Site}, []string{latest.ID, v}, "%s serves %s, a write reported as %s, instead of acknowledged %s %s",
			ob.Site, v, w.Outcome, latest.Kind, latest.ID)
		return
	}
	via := ""
	if holder.ID != v {
		via = fmt.Sprintf(" (left by %s %s)", holder.Kind, holder.ID)
	}
	by := supersedingAfter(*holder, c.ops, kc.prods, c.eps)
	withHolder := func(ids ...string) []string {
		if holder.ID != v {
			ids = append(ids, holder.ID)
		}
		return ids
	}
	switch {
	case by.ID == "":
		add(LostWrite, []string{ob.Site}, withHolder(v), "%s serves %s%s, which no correct store leaves here", ob.Site, v, via)
	case by.Kind == history.Delete:
		add(Resurrection, []string{ob.Site}, withHolder(v, by.ID), "%s serves %s%s, deleted by %s after that completed", ob.Site, v, via, by.ID)
	default:
		add(LostWrite, []string{ob.Site}, withHolder(by.ID, v), "%s serves %s%s, but acknowledged %s %s began after that completed",
			ob.Site, v, via, by.Kind, by.ID)
	}
}

// presentElsewhere reports whether some site serves a legal value.
func (kc *keyCheck) presentElsewhere(obs []Observation) bool {
	for _, ob := range obs {
		if ob.Present && ob.Valid && ob.Error == "" && ob.ReadOf != absent && kc.legal(ob.ReadOf) {
			return true
		}
	}
	return false
}

// before reports whether a completed before b was invoked, beyond the
// clock uncertainty: only then must b's effect replace a's.
func before(a, b history.Op, eps history.Time) bool {
	return a.Outcome != history.Unknown && a.Complete+eps < b.Invoke
}

// lastAcked returns the acknowledged producer completed last.
func lastAcked(ops []history.Op, ps []prod) history.Op {
	var best history.Op
	for _, p := range ps {
		if w := &ops[p.op]; w.Outcome == history.OK && w.Complete >= best.Complete {
			best = *w
		}
	}
	return best
}

// supersedingAfter returns the earliest acknowledged producer invoked
// after w completed: the one that should have replaced w.
func supersedingAfter(w history.Op, ops []history.Op, ps []prod, eps history.Time) history.Op {
	var best history.Op
	for _, p := range ps {
		if x := &ops[p.op]; x.Outcome == history.OK && before(w, *x, eps) && (best.ID == "" || x.Invoke < best.Invoke) {
			best = *x
		}
	}
	return best
}

// metadataMismatch reports sites that serve the same write with different
// user metadata or encryption modes.
func metadataMismatch(k Key, obs []Observation) []Anomaly {
	var out []Anomaly
	byWrite := map[string][]Observation{}
	for _, ob := range obs {
		if ob.Present && ob.Valid && ob.Error == "" {
			byWrite[ob.ReadOf] = append(byWrite[ob.ReadOf], ob)
		}
	}
	for w, group := range byWrite {
		for _, ob := range group[1:] {
			first := group[0]
			if !maps.Equal(first.Meta, ob.Meta) {
				out = append(out, Anomaly{Name: MetadataMismatch, Bucket: k.Bucket, Key: k.Key, Sites: []string{first.Site, ob.Site},
					Ops: []string{w}, Detail: fmt.Sprintf("%s: metadata %v at %s, %v at %s", w, first.Meta, first.Site, ob.Meta, ob.Site)})
			}
		}
	}
	return out
}

// staleReads judges the reads of key kid: a get must not return a value
// that a write or delete acknowledged at its site, before it began, had
// replaced. Acknowledged writes are swept by completion while the reads
// are taken by invocation, so a key costs n log n in its operations.
func (c *checker) staleReads(kid int32) []Anomaly {
	ki := &c.keys[kid]
	if len(ki.gets) == 0 || ki.indirect {
		return nil
	}
	ops := c.ops
	acks := c.acks[:0]
	for _, p := range ki.prods {
		if ops[p.op].Outcome == history.OK {
			acks = append(acks, p.op)
		}
	}
	defer func() { c.acks = acks }()
	if len(acks) == 0 {
		return nil
	}
	slices.SortFunc(acks, func(a, b int32) int { return cmp.Compare(ops[a].Complete, ops[b].Complete) })
	gets := ki.gets
	if !slices.IsSortedFunc(gets, func(a, b int32) int { return cmp.Compare(ops[a].Invoke, ops[b].Invoke) }) {
		slices.SortStableFunc(gets, func(a, b int32) int { return cmp.Compare(ops[a].Invoke, ops[b].Invoke) })
	}
	// Per site, of the acknowledged writes swept so far, the one invoked
	// last: it replaced everything completed before it began. Sites are
	// few, so a slice beats a map.
	type local struct {
		site string
		w    int32
	}
	var latest []local
	var out []Anomaly
	j := 0
	for _, gi := range gets {
		g := &ops[gi]
		for ; j < len(acks) && ops[acks[j]].Complete+c.eps < g.Invoke; j++ {
			a := &ops[acks[j]]
			n := 0
			for n < len(latest) && latest[n].site != a.Site {
				n++
			}
			if n == len(latest) {
				latest = append(latest, local{site: a.Site, w: acks[j]})
			} else if a.Invoke > ops[latest[n].w].Invoke {
				latest[n].w = acks[j]
			}
		}
		w := int32(-1)
		for _, l := range latest {
			if l.site == g.Site {
				w = l.w
			}
		}
		if w < 0 {
			continue
		}
		vi, ok := c.ids[g.ReadOf]
		if !ok {
			continue
		}
		// Bytes of another key, bytes that are not exactly the write's, or
		// of a write the client was told failed, are the final-state
		// check's to judge; in-doubt writes may have taken effect at any
		// time.
		v, wo := &ops[vi], &ops[w]
		if v.Bucket != g.Bucket || v.Key != g.Key || !isValue(v.Kind) || v.Outcome != history.OK || v.SHA256 != g.SHA256 || v.Size != g.Size || v.Complete+c.eps >= wo.Invoke {
			continue
		}
		out = append(out, Anomaly{Name: StaleLocalRead, Bucket: g.Bucket, Key: g.Key, Sites: []string{g.Site}, Ops: []string{g.ID, wo.ID, v.ID},
			Detail: fmt.Sprintf("get %s at %s (invoked %v) returned %s, completed %v, but %s %s, invoked %v, was acknowledged there at %v",
				g.ID, g.Site, g.Invoke.Duration(), v.ID, v.Complete.Duration(), wo.Kind, wo.ID, wo.Invoke.Duration(), wo.Complete.Duration())})
	}
	return out
}
