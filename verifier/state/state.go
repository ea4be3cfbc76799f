// Package state reads what every site serves at the end of a run and turns
// it into the checker's final state: for each key and site, whether it is
// there, which write its bytes come from (by the self-describing payload,
// never by ETag, which is no content hash for encrypted or multipart
// objects), whether the bytes are exactly that write's, the encryption the
// site reports and the user metadata.
package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"

	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// MetaOpID is the user-metadata name under which every write records its
// operation id: it identifies objects too small for the payload header.
const MetaOpID = "replcheck-op"

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
// everywhere, which the checker may find to be a loss).
func Read(ctx context.Context, sites []client.Client, buckets []string, h *history.History, o Options) (checker.FinalState, error) {
	fs := checker.FinalState{Keys: map[checker.Key][]checker.Observation{}}
	specs := map[string]payload.Spec{}
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
				if op.Kind == history.Put || op.Kind == history.Overwrite || op.Kind == history.Multipart {
					specs[op.ID] = payload.Spec{OpID: op.ID, Seed: op.Seed, Size: op.Size}
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
	for _, k := range sorted {
		for _, c := range sites {
			ob, err := observe(ctx, c, k, specs, o)
			if err != nil {
				return fs, fmt.Errorf("read final state: %s at %s: %w", k, c.Site(), err)
			}
			fs.Keys[k] = append(fs.Keys[k], ob)
		}
	}
	return fs, nil
}

// observe reads one key at one site. Errors from the site reading an
// object it has are observations (unreadable), not failures of the read;
// only a broken context is.
func observe(ctx context.Context, c client.Client, k checker.Key, specs map[string]payload.Spec, o Options) (checker.Observation, error) {
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
	body, _, err := c.Get(ctx, k.Bucket, k.Key, get)
	if err != nil {
		if client.IsNotFound(err) {
			return checker.Observation{Site: c.Site()}, nil // deleted between head and get
		}
		ob.Error = "get: " + err.Error()
		return ob, ctx.Err()
	}
	defer body.Close()
	if spec, ok := specs[info.Meta[MetaOpID]]; ok && !spec.Identifiable() {
		// Too small for a header: check against the write the metadata names.
		same, err := payload.Matches(spec, io.LimitReader(body, spec.Size+1))
		if err != nil {
			ob.Error = "read: " + err.Error()
			return ob, ctx.Err()
		}
		ob.ReadOf, ob.Valid = spec.OpID, same
		return ob, nil
	}
	res, err := payload.Identify(body, o.MaxObject)
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
