// Package checker finds anomalies in a run: from the history of operations
// and what every site serves at the end, it decides for each key whether
// the final state is one a correct replicated store could have reached,
// and says why not, with the operations, sites and times as evidence.
//
// It imports the history types only: it knows nothing of how the sites
// ran or how faults were made.
//
// Values are judged by writes and deletes. Copies and in-place metadata
// updates are not part of that judgement yet: their keys are checked for
// corruption, readability, agreement between sites and metadata only.
package checker

import (
	"fmt"
	"maps"
	"slices"
	"sort"
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
)

// Observation is what one site serves for one key at the end of a run.
type Observation struct {
	Site    string
	Present bool // listed and served
	// ReadOf is the write the bytes identify as ("" when they match none).
	ReadOf string
	// Valid says the bytes are exactly that write's.
	Valid bool
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

// Check compares the final state with the history.
func Check(h *history.History, fs FinalState, o Options) Result {
	// Indexes into h.Ops, not copies: a history may hold millions.
	byKey := map[Key][]int32{}
	ops := make(map[string]int32, len(h.Ops))
	for i := range h.Ops {
		op := &h.Ops[i]
		ops[op.ID] = int32(i)
		if (op.Kind == history.Put || op.Kind == history.Overwrite || op.Kind == history.Multipart || op.Kind == history.Delete) &&
			op.Outcome != history.Failed {
			k := Key{op.Bucket, op.Key}
			byKey[k] = append(byKey[k], int32(i))
		}
	}
	look := func(id string) (history.Op, bool) {
		i, ok := ops[id]
		if !ok {
			return history.Op{}, false
		}
		return h.Ops[i], true
	}
	res := Result{}
	keys := slices.Collect(maps.Keys(fs.Keys))
	for k := range byKey {
		if _, ok := fs.Keys[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		res.Keys++
		writes := make([]history.Op, len(byKey[k]))
		for i, j := range byKey[k] {
			writes[i] = h.Ops[j]
		}
		res.Anomalies = append(res.Anomalies, checkKey(k, writes, fs.Keys[k], look, o)...)
	}
	return res
}

// before reports whether a completed before b was invoked, beyond the
// clock uncertainty: only then must b's effect replace a's.
func before(a, b history.Op, eps time.Duration) bool {
	return a.Outcome != history.Unknown && a.Complete+history.Time(eps) < b.Invoke
}

// value is what a write leaves: its own id, or absent for a delete.
func value(op history.Op) string {
	if op.Kind == history.Delete {
		return absent
	}
	return op.ID
}

// legal returns the values a correct store may converge on for a key: the
// value of every write (acknowledged or in doubt) that no acknowledged
// write is known to have followed; "absent" also when nothing was written
// for certain.
func legal(writes []history.Op, eps time.Duration) map[string]bool {
	out := map[string]bool{}
	sure := false
	// w is superseded iff some acknowledged write was invoked after w
	// completed: comparing with the latest such invocation is enough, so
	// a key costs linear time however many writes it has.
	lastOKInvoke := history.Time(-1)
	for _, w := range writes {
		if w.Outcome == history.OK {
			sure = true
			lastOKInvoke = max(lastOKInvoke, w.Invoke)
		}
	}
	for _, w := range writes {
		superseded := w.Outcome != history.Unknown && w.Complete+history.Time(eps) < lastOKInvoke
		if !superseded {
			out[value(w)] = true
		}
	}
	if !sure {
		out[absent] = true // every write may have failed
	}
	return out
}

func checkKey(k Key, writes []history.Op, obs []Observation, look func(string) (history.Op, bool), o Options) []Anomaly {
	var out []Anomaly
	add := func(name string, sites []string, opIDs []string, format string, args ...any) {
		out = append(out, Anomaly{Name: name, Bucket: k.Bucket, Key: k.Key, Sites: sites, Ops: opIDs, Detail: fmt.Sprintf(format, args...)})
	}
	ok := legal(writes, o.ClockUncertainty)
	// What each site converged on, for the divergence check.
	final := map[string][]string{}
	var written []string
	for _, w := range writes {
		written = append(written, w.ID)
	}
	for _, ob := range obs {
		switch {
		case ob.Error != "":
			add(Unreadable, []string{ob.Site}, nil, "%s lists the key but cannot serve it: %s", ob.Site, ob.Error)
			continue
		case ob.Present && ob.ReadOf == "":
			add(CorruptRead, []string{ob.Site}, written, "%s serves bytes that match no write of this key", ob.Site)
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
		if ok[v] {
			if ob.Present {
				if w, found := look(v); found && w.SSE != "" && ob.SSE == "" {
					add(EncryptionDowngrade, []string{ob.Site}, []string{v}, "%s was written with %s; %s serves it unencrypted", v, w.SSE, ob.Site)
				}
			}
			continue
		}
		// An illegal final value: which write should have replaced it?
		if v == absent {
			if presentElsewhere(obs, ok) {
				continue // the peer never got it: missing-replica, below
			}
			latest := lastAcked(writes)
			add(LostWrite, []string{ob.Site}, []string{latest.ID}, "%s has no value, but acknowledged write %s (completed %v) was never deleted",
				ob.Site, latest.ID, latest.Complete.Duration())
			continue
		}
		w, _ := look(v)
		by := supersedingAfter(w, writes, o.ClockUncertainty)
		switch {
		case by.ID == "":
			// Not superseded, so not among the writes at all: the client
			// was told it failed, yet it replaced what was acknowledged.
			latest := lastAcked(writes)
			add(LostWrite, []string{ob.Site}, []string{latest.ID, v}, "%s serves %s, a write reported as %s, instead of acknowledged %s",
				ob.Site, v, w.Outcome, latest.ID)
		case by.Kind == history.Delete:
			add(Resurrection, []string{ob.Site}, []string{v, by.ID}, "%s serves %s, deleted by %s after it completed", ob.Site, v, by.ID)
		default:
			add(LostWrite, []string{ob.Site}, []string{by.ID, v}, "%s serves %s, but acknowledged write %s began after it completed", ob.Site, v, by.ID)
		}
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
		sort.Strings(parts)
		sort.Strings(sites)
		if len(final[absent]) > 0 && len(final) == 2 {
			add(MissingReplica, sites, nil, "present at some sites, missing at others (%s)", strings.Join(parts, "; "))
		} else {
			add(Divergence, sites, nil, "sites disagree (%s)", strings.Join(parts, "; "))
		}
	}
	out = append(out, metadataMismatch(k, obs)...)
	return out
}

// presentElsewhere reports whether some site serves a legal value.
func presentElsewhere(obs []Observation, ok map[string]bool) bool {
	for _, ob := range obs {
		if ob.Present && ob.Valid && ob.Error == "" && ok[ob.ReadOf] {
			return true
		}
	}
	return false
}

// lastAcked returns the acknowledged write completed last.
func lastAcked(writes []history.Op) history.Op {
	var best history.Op
	for _, w := range writes {
		if w.Outcome == history.OK && w.Complete >= best.Complete {
			best = w
		}
	}
	return best
}

// supersedingAfter returns the earliest acknowledged write invoked after w
// completed: the one that should have replaced w.
func supersedingAfter(w history.Op, writes []history.Op, eps time.Duration) history.Op {
	var best history.Op
	for _, x := range writes {
		if x.Outcome == history.OK && before(w, x, eps) && (best.ID == "" || x.Invoke < best.Invoke) {
			best = x
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
