// Package state reads what every site serves at the end of a run and turns
// it into the checker's final state: for each key and site, whether it is
// there, which write its bytes come from (by the self-describing payload,
// never by ETag, which is no content hash for encrypted or multipart
// objects), whether the bytes are exactly that write's, the encryption the
// site reports and the user metadata.
package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// MetaOpID is the user-metadata name under which every write records its
// operation id: it identifies objects too small for the payload header.
const MetaOpID = "replcheck-op"

// MetaUpdateID is the user-metadata name under which a metadata update
// records its own operation id (MetaOpID keeps the id of the write whose
// data the object holds): it tells a probe that the object was rewritten
// by that update.
const MetaUpdateID = "touched"

// Options configure a read.
type Options struct {
	// SSEC is the customer key the run's SSE-C writes used; objects that
	// need it are read with it.
	SSEC client.SSE
	// MaxObject bounds how much of one object is read (0: no bound).
	MaxObject int64
}

// Read reads the final state of buckets at every site: the keys each site
// lists, plus every key the history wrote (a key no site lists is absent
// everywhere, which the checker may find to be a loss). Each site is read
// a few keys at a time, so its client must be safe for concurrent use, as
// every client.Client is.
func Read(ctx context.Context, sites []client.Client, buckets []string, h *history.History, o Options) (checker.FinalState, error) {
	fs := checker.FinalState{Keys: map[checker.Key][]checker.Observation{}}
	ix := index{specs: map[string]payload.Spec{}, written: map[checker.Key][]string{}, copiedFrom: map[checker.Key][]checker.Key{}}
	specs := ix.specs
	keys := map[checker.Key]bool{}
	inRun := map[string]bool{}
	for _, b := range buckets {
		inRun[b] = true
	}
	if h != nil {
		for _, op := range h.Ops {
			if op.Kind.IsWrite() && inRun[op.Bucket] {
				keys[checker.Key{Bucket: op.Bucket, Key: op.Key}] = true
				// Copies carry their source's payload; updates carry none.
				k := checker.Key{Bucket: op.Bucket, Key: op.Key}
				switch op.Kind {
				case history.Put, history.Overwrite, history.Multipart:
					specs[op.ID] = payload.Spec{OpID: op.ID, Seed: op.Seed, Size: op.Size}
					ix.written[k] = append(ix.written[k], op.ID)
				case history.Copy:
					ix.copiedFrom[k] = append(ix.copiedFrom[k], checker.Key{Bucket: op.Bucket, Key: op.Source})
				}
			}
		}
	}
	for _, c := range sites {
		fs.Sites = append(fs.Sites, c.Site())
		for _, b := range buckets {
			list, err := c.List(ctx, b, "")
			if err != nil && !client.IsNotFound(err) {
				return fs, fmt.Errorf("read final state: list %s at %s: %w", b, c.Site(), err)
			}
			for _, e := range list {
				keys[checker.Key{Bucket: b, Key: e.Key}] = true
			}
		}
	}
	sorted := make([]checker.Key, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].String() < sorted[j].String() })
	// Keys are read concurrently at every site, then assembled in order,
	// so the state (and the first error, by key then site) is what one
	// read after the other would give.
	n := len(sites)
	obs := make([]checker.Observation, len(sorted)*n)
	errs := make([]error, len(sorted)*n)
	var wg sync.WaitGroup
	for s, c := range sites {
		var next atomic.Int64
		for range min(inFlight, len(sorted)) {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(sorted) {
						return
					}
					if err := ctx.Err(); err != nil {
						errs[i*n+s] = err // fail the rest fast
						continue
					}
					obs[i*n+s], errs[i*n+s] = observe(ctx, c, sorted[i], &ix, o)
				}
			})
		}
	}
	wg.Wait()
	for i, k := range sorted {
		for s, c := range sites {
			if err := errs[i*n+s]; err != nil {
				return fs, fmt.Errorf("read final state: %s at %s: %w", k, c.Site(), err)
			}
		}
		fs.Keys[k] = obs[i*n : (i+1)*n : (i+1)*n]
	}
	return fs, nil
}

// inFlight bounds the keys read at once at each site: one at a time, a
// read of many keys waits on round trips, not on the sites.
const inFlight = 16

// index is what the history says of the run's writes.
type index struct {
	specs      map[string]payload.Spec       // by op id
	written    map[checker.Key][]string      // op ids of a key's writes, in history order
	copiedFrom map[checker.Key][]checker.Key // sources of copies onto a key, in history order
}

// maxCandidates bounds how many writes an object too small for a header
// is compared with.
const maxCandidates = 64

// candidates returns writes other than named whose content may be what a
// key holds when it is too small for a header: writes of size bytes of the
// key itself, newest first, then of keys copied onto it (and onto those).
func (ix *index) candidates(k checker.Key, named string, size int64) []payload.Spec {
	var out []payload.Spec
	seen := map[checker.Key]bool{k: true}
	for queue := []checker.Key{k}; len(queue) > 0 && len(out) < maxCandidates; queue = queue[1:] {
		at := queue[0]
		ids := ix.written[at]
		for i := len(ids) - 1; i >= 0 && len(out) < maxCandidates; i-- {
			if s := ix.specs[ids[i]]; s.OpID != named && s.Size == size && !s.Identifiable() && s.Validate() == nil {
				out = append(out, s)
			}
		}
		srcs := ix.copiedFrom[at]
		for i := len(srcs) - 1; i >= 0; i-- {
			if !seen[srcs[i]] {
				seen[srcs[i]] = true
				queue = append(queue, srcs[i])
			}
		}
	}
	return out
}

// observe reads one key at one site. Errors from the site reading an
// object it has are observations (unreadable), not failures of the read;
// only a broken context is.
func observe(ctx context.Context, c client.Client, k checker.Key, ix *index, o Options) (checker.Observation, error) {
	specs := ix.specs
	ob := checker.Observation{Site: c.Site()}
	// Objects are read without a customer key first: S3 refuses one for an
	// object not stored with SSE-C. Only if that fails is the run's key tried.
	var get client.GetOptions
	info, err := c.Head(ctx, k.Bucket, k.Key, get)
	if err != nil && !client.IsNotFound(err) && ctx.Err() == nil && o.SSEC.Mode != "" {
		get.SSE = o.SSEC
		if i, err2 := c.Head(ctx, k.Bucket, k.Key, get); err2 == nil {
			info, err = i, nil
		}
	}
	switch {
	case client.IsNotFound(err):
		return ob, nil
	case ctx.Err() != nil:
		return ob, ctx.Err()
	case err != nil:
		ob.Present, ob.Error = true, "head: "+err.Error()
		return ob, nil
	}
	ob.Present, ob.SSE = true, info.SSE
	ob.Meta = maps.Clone(info.Meta)
	delete(ob.Meta, MetaOpID)
	body, served, err := c.Get(ctx, k.Bucket, k.Key, get)
	if err != nil {
		if client.IsNotFound(err) {
			return checker.Observation{Site: c.Site()}, nil // deleted between head and get
		}
		ob.Error = "get: " + err.Error()
		return ob, ctx.Err()
	}
	defer body.Close()
	var r io.Reader = body
	named, ok := specs[info.Meta[MetaOpID]]
	namedSmall := ok && !named.Identifiable()
	if namedSmall || info.Size <= int64(payload.MaxHeaderLen) {
		// Too small for a header: check against the write the metadata
		// names, then against the key's other writes of the same size. A
		// metadata update records the write the workload believed the key
		// held, which a stale replica may not hold.
		head, err := io.ReadAll(io.LimitReader(body, int64(payload.MaxHeaderLen)+1))
		if err != nil {
			ob.Error = "read: " + err.Error()
			return ob, ctx.Err()
		}
		var cands []payload.Spec
		if namedSmall {
			cands = append(cands, named)
		}
		if len(head) <= payload.MaxHeaderLen {
			cands = append(cands, ix.candidates(k, named.OpID, int64(len(head)))...)
		}
		if len(cands) > 0 {
			matches, err := payload.MatchAll(bytes.NewReader(head), cands)
			if err != nil {
				ob.Error = "read: " + err.Error()
				return ob, ctx.Err()
			}
			if len(matches) > 0 {
				ob.ReadOf, ob.Valid = matches[0].OpID, true
				for _, m := range matches[1:] {
					if m.OpID != ob.ReadOf && !slices.Contains(ob.Alike, m.OpID) {
						ob.Alike = append(ob.Alike, m.OpID)
					}
				}
				return ob, nil
			}
		}
		if namedSmall {
			ob.ReadOf = named.OpID
			return ob, nil
		}
		r = io.MultiReader(bytes.NewReader(head), body)
	}
	// Identify's buffer grows to its limit: bound it by the length the
	// response declares, which the body cannot exceed, so a small object
	// costs a small buffer. The byte beyond keeps the limit from ever
	// cutting the object short.
	limit := o.MaxObject
	if n := served.Size; n >= 0 && n < math.MaxInt64 && (limit <= 0 || n < limit-1) {
		limit = n + 1
	}
	res, err := payload.Identify(r, limit)
	if err != nil && !errors.Is(err, payload.ErrLimit) {
		ob.Error = "read: " + err.Error()
		return ob, ctx.Err()
	}
	if res.HeaderOK {
		ob.ReadOf = res.Spec.OpID
		// The header must name a write of this run with this seed and size.
		want, known := specs[res.Spec.OpID]
		ob.Valid = res.Valid && known && want.Seed == res.Spec.Seed && want.Size == res.Spec.Size
	}
	return ob, nil
}
