package suite

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// Session records the operations of one spec and judges them with the
// verifier. Make one per spec with Env.Session and Close it.
type Session struct {
	env     *Env
	dir     string
	token   string
	hist    *history.Writer
	tracker *convergence.Tracker
	probes  map[string]client.Client
	mu      sync.Mutex
	rec     map[string]*client.Recording // site/api
	buckets []string
	seed    atomic.Uint64
	cancel  context.CancelFunc
	// SSEC is the session's SSE-C key.
	SSEC client.SSE
	// ClockUncertainty widens "happened before"; default 5 ms.
	ClockUncertainty time.Duration
}

var sessions atomic.Int64

// Session starts a recorded session.
func (e *Env) Session() (*Session, error) {
	dir, err := os.MkdirTemp("", "replcheck-suite-")
	if err != nil {
		return nil, err
	}
	n := sessions.Add(1)
	s := &Session{env: e, dir: dir, token: fmt.Sprintf("%s%d", strings.TrimSuffix(strings.TrimPrefix(e.Prefix, "rcs-"), "-"), n),
		probes: map[string]client.Client{}, rec: map[string]*client.Recording{}, ClockUncertainty: 5 * time.Millisecond}
	key := make([]byte, 32)
	copy(key, randomHex(16))
	s.SSEC = client.SSE{Mode: client.SSEC, Key: key}
	if s.hist, err = history.Create(filepath.Join(dir, "history.jsonl"), s.token); err != nil {
		return nil, err
	}
	var names []string
	for _, site := range e.Sites() {
		names = append(names, site.Name())
		if s.probes[site.Name()], err = e.probeClient(site); err != nil {
			return nil, err
		}
	}
	if s.tracker, err = convergence.New(convergence.Config{Sites: names, Probes: s.probes, SSEC: s.SSEC,
		Clock: s.hist.Now, ClockUncertainty: s.ClockUncertainty}); err != nil {
		return nil, err
	}
	s.hist.OnComplete(s.tracker.Observe)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.tracker.Start(ctx)
	return s, nil
}

// Close stops the probes and removes the session's files.
func (s *Session) Close() {
	s.cancel()
	s.tracker.Stop()
	s.hist.Close()
	os.RemoveAll(s.dir)
}

// Client returns the recorded client of site through api, on its
// replicated endpoint.
func (s *Session) Client(site harness.Site, api string) (*client.Recording, error) {
	k := site.Name() + "/" + api
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.rec[k]; ok {
		return c, nil
	}
	c, err := s.env.Client(site, api, true)
	if err != nil {
		return nil, err
	}
	r := client.NewRecording(c, s.hist, client.WithIDs(client.Sequence(s.token+"-"+site.Name()+"-"+api)))
	s.rec[k] = r
	return r, nil
}

// Bucket creates the run's bucket name for replication at site
// (Env.CreateBucket), waits until every other site has it (and, if
// versioned, has versioning on), and checks it at the end of the session.
func (s *Session) Bucket(ctx context.Context, site harness.Site, name string, o client.BucketOptions) (string, error) {
	b := s.env.BucketName(name)
	if err := s.env.CreateBucket(ctx, site, b, o); err != nil {
		return "", fmt.Errorf("create bucket %s at %s: %w", b, site.Name(), err)
	}
	s.buckets = append(s.buckets, b)
	if err := s.WaitBucket(ctx, b, 30*time.Second); err != nil {
		return b, err
	}
	if o.Versioning {
		// Versioning is a second change of the bucket, replicated on its
		// own: writes at a site that has not seen it yet would replace.
		return b, s.WaitVersioning(ctx, b, 30*time.Second)
	}
	return b, nil
}

// WaitBucket waits until every site lists bucket.
func (s *Session) WaitBucket(ctx context.Context, bucket string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for name, c := range s.probes {
		for {
			_, err := c.List(ctx, bucket, "")
			if err == nil {
				break
			}
			if !client.IsNotFound(err) {
				return fmt.Errorf("bucket %s at %s: %w", bucket, name, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("bucket %s never reached %s: %w", bucket, name, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// Write is a put of a self-describing object (payload) of size bytes.
type Write struct {
	Kind history.Kind // Put (default), Overwrite or Multipart
	Size int64
	SSE  client.SSE
	// Meta is user metadata besides the operation id.
	Meta     map[string]string
	PartSize int64 // multipart: the part size
}

// Put writes key through c as a recorded operation whose content names
// it, and returns its id.
func (s *Session) Put(ctx context.Context, c *client.Recording, bucket, key string, w Write) (string, error) {
	id := c.NextID()
	spec := payload.Spec{OpID: id, Seed: s.seed.Add(1), Size: w.Size}
	sum := payload.SHA256(spec)
	o := client.PutOptions{SSE: w.SSE, PartSize: w.PartSize, Meta: map[string]string{state.MetaOpID: id}}
	maps.Copy(o.Meta, w.Meta)
	kind := w.Kind
	if kind == "" {
		kind = history.Put
	}
	actx := client.Annotate(ctx, client.Annotation{ID: id, Kind: kind, Seed: spec.Seed, SHA256: hex.EncodeToString(sum[:])})
	_, err := c.Put(actx, bucket, key, payload.NewReader(spec), w.Size, o)
	return id, err
}

// Delete deletes key through c, recorded.
func (s *Session) Delete(ctx context.Context, c *client.Recording, bucket, key string) (string, error) {
	id := c.NextID()
	_, err := c.Delete(client.Annotate(ctx, client.Annotation{ID: id, Kind: history.Delete}), bucket, key, "")
	return id, err
}

// Copy copies src onto dst in bucket through c, recorded.
func (s *Session) Copy(ctx context.Context, c *client.Recording, bucket, src, dst string, o client.CopyOptions) (string, error) {
	id := c.NextID()
	_, err := c.Copy(client.Annotate(ctx, client.Annotation{ID: id, Kind: history.Copy}), bucket, src, dst, o)
	return id, err
}

// UpdateMeta replaces key's user metadata through c, keeping the id of
// the write of holds (whose data the object keeps), recorded.
func (s *Session) UpdateMeta(ctx context.Context, c *client.Recording, bucket, key, holds string, meta map[string]string) (string, error) {
	id := c.NextID()
	m := map[string]string{state.MetaOpID: holds, state.MetaUpdateID: id}
	maps.Copy(m, meta)
	return id, c.UpdateMeta(client.Annotate(ctx, client.Annotation{ID: id, Kind: history.Meta}), bucket, key, m)
}

// Verdict is the verifier's judgement of a session.
type Verdict struct {
	*reports.Result
}

// Names lists the names of the anomalies found, sorted, once each.
func (v Verdict) Names() []string { return v.Found }

// String summarises the verdict with its evidence, for failure messages.
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict %s: %s", v.Verdict, strings.Join(v.Reasons, "; "))
	for i, a := range v.Anomalies {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … %d more", len(v.Anomalies)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s %s/%s at %v: %s (ops %v)", a.Name, a.Bucket, a.Key, a.Sites, a.Detail, a.Ops)
	}
	if n := v.Convergence.Overall.Pending; n > 0 {
		fmt.Fprintf(&b, "\n  %d writes still pending", n)
	}
	return b.String()
}

// Verify waits up to within for every acknowledged write to reach the
// other site, then reads the final state of the session's buckets at
// every site (again, while anomalies remain, until within has passed) and
// checks it against the history. A verdict of pass means nothing was
// lost, missing, corrupt or late.
func (s *Session) Verify(ctx context.Context, within time.Duration) (Verdict, error) {
	deadline := time.Now().Add(within)
	wctx, cancel := context.WithDeadline(ctx, deadline)
	_ = s.tracker.Wait(wctx)
	cancel()
	var names []string
	readers := make([]client.Client, 0, len(s.probes))
	for _, site := range s.env.Sites() {
		names = append(names, site.Name())
		readers = append(readers, s.probes[site.Name()])
	}
	res := &reports.Result{Sites: names, Target: s.env.Target,
		Checks: reports.Checks{SLOSeconds: convergence.DefaultSLO.Seconds(), ClockUncertaintySeconds: s.ClockUncertainty.Seconds()}}
	for {
		h, err := history.ReadFile(filepath.Join(s.dir, "history.jsonl"))
		if err != nil {
			return Verdict{}, err
		}
		fs, err := state.Read(ctx, readers, s.buckets, h, state.Options{SSEC: s.SSEC})
		if err != nil {
			return Verdict{}, err
		}
		res.Convergence = s.tracker.Snapshot()
		res.EngineStatus = s.engineStatus(ctx)
		res.Check(h, fs)
		if res.Verdict == reports.Pass || time.Now().Add(500*time.Millisecond).After(deadline) {
			return Verdict{res}, nil
		}
		select {
		case <-ctx.Done():
			return Verdict{res}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *Session) engineStatus(ctx context.Context) map[string]harness.ReplicationStatus {
	out := map[string]harness.ReplicationStatus{}
	for _, site := range s.env.Sites() {
		if sr, ok := site.(harness.StatusReporter); ok {
			if st, err := sr.ReplicationStatus(ctx); err == nil {
				out[site.Name()] = st
			}
		}
	}
	return out
}

// Anomaly names, re-exported for specs.
const (
	LostWrite           = checker.LostWrite
	Divergence          = checker.Divergence
	MissingReplica      = checker.MissingReplica
	CorruptRead         = checker.CorruptRead
	Unreadable          = checker.Unreadable
	Resurrection        = checker.Resurrection
	MetadataMismatch    = checker.MetadataMismatch
	EncryptionDowngrade = checker.EncryptionDowngrade
	StaleLocalRead      = checker.StaleLocalRead
	StatusMismatch      = reports.StatusMismatch
	SLOBreach           = reports.SLOBreach
)
