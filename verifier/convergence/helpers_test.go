package convergence_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
)

const bucket = "conv"

// env is a two-site embedded topology with a history, a recording S3
// client per site and unrecorded probe clients.
type env struct {
	topo *embedded.Topology
	a, b harness.Site
	hist *history.Writer
	rec  map[string]*client.Recording
	rt   *http.Transport // every client's, so the test can close its connections
}

// setup starts a topology, creates the test bucket at a (it replicates)
// and waits until b has it too.
func setup(t testing.TB) *env {
	t.Helper()
	topo, err := embedded.Start(context.Background(), embedded.Options{NoSync: true,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	t.Cleanup(func() {
		if topo != nil {
			topo.Close(context.Background())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	s := topo.Sites()
	e := &env{topo: topo, a: s[0], b: s[1], rec: map[string]*client.Recording{}, rt: client.NewTransport()}
	// Before the sites shut down: a server waits 5 s for a connection
	// that was opened but never used, which a transport keeps idle.
	t.Cleanup(e.rt.CloseIdleConnections)
	e.hist, err = history.Create(filepath.Join(t.TempDir(), "history.jsonl"), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.hist.Close() })
	for _, site := range s {
		e.rec[site.Name()] = client.NewRecording(e.s3(t, site), e.hist, client.WithIDs(client.Sequence(t.Name()+"/"+site.Name())))
	}
	if err := e.rec[e.a.Name()].CreateBucket(context.Background(), bucket, client.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bucket at "+e.b.Name(), func() error {
		_, err := e.s3(t, e.b).List(context.Background(), bucket, "")
		return err
	})
	return e
}

func (e *env) s3(t testing.TB, s harness.Site) client.Client {
	t.Helper()
	c, err := client.NewS3(s, true, client.WithTransport(e.rt))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// probes are unrecorded S3 clients of both sites.
func (e *env) probes(t testing.TB) map[string]client.Client {
	return map[string]client.Client{e.a.Name(): e.s3(t, e.a), e.b.Name(): e.s3(t, e.b)}
}

// tracker starts a tracker over both sites, fed by the history.
func (e *env) tracker(t testing.TB, cfg convergence.Config) *convergence.Tracker {
	t.Helper()
	cfg.Sites = []string{e.a.Name(), e.b.Name()}
	if cfg.Probes == nil {
		cfg.Probes = e.probes(t)
	}
	cfg.Clock = e.hist.Now
	tr, err := convergence.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.hist.OnComplete(tr.Observe)
	tr.Start(context.Background())
	t.Cleanup(func() { tr.Stop() })
	return tr
}

// link returns the WAN direction from → to.
func (e *env) link(t testing.TB, from, to harness.Site) *wan.Link {
	t.Helper()
	l, err := e.topo.Link(from.Name(), to.Name())
	if err != nil {
		t.Fatal(err)
	}
	return l.WAN()
}

// put writes size bytes to key at site s, with the op id in metadata as
// the workload writes it, and returns the id.
func (e *env) put(t testing.TB, s harness.Site, key string, size int, o client.PutOptions) string {
	t.Helper()
	r := e.rec[s.Name()]
	id := r.NextID()
	o.Meta = map[string]string{state.MetaOpID: id}
	body := bytes.Repeat([]byte{byte(len(id))}, size)
	if _, err := r.Put(client.WithID(context.Background(), id), bucket, key, bytes.NewReader(body), int64(size), o); err != nil {
		t.Fatalf("put %s at %s: %v", key, s.Name(), err)
	}
	return id
}

// del deletes key at site s and returns the op id.
func (e *env) del(t testing.TB, s harness.Site, key string) string {
	t.Helper()
	r := e.rec[s.Name()]
	id := r.NextID()
	if _, err := r.Delete(client.WithID(context.Background(), id), bucket, key, ""); err != nil {
		t.Fatalf("delete %s at %s: %v", key, s.Name(), err)
	}
	return id
}

// trueLag is the engine's ground truth for w: when the peer applied the
// version w wrote at its origin, less w's acknowledgement.
func (e *env) trueLag(t testing.TB, w convergence.Write) time.Duration {
	t.Helper()
	origin, err := e.topo.EngineSite(w.Origin)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := e.topo.EngineSite(w.Peer)
	if err != nil {
		t.Fatal(err)
	}
	v, err := origin.Store().GetObject(w.Bucket, w.Key, "")
	if err != nil {
		t.Fatalf("%s at %s: %v", w.Key, w.Origin, err)
	}
	at, ok := peer.Replicator().Receiver().AppliedAt(w.Bucket, w.Key, v.VersionID, v.Stamp)
	if !ok {
		t.Fatalf("%s: %s has no record of applying version %s", w.Key, w.Peer, v.VersionID)
	}
	return at.Sub(e.hist.Start().Add(w.Ack.Duration()))
}

// wait waits for tr to have nothing pending, failing the test after d.
func wait(t testing.TB, tr *convergence.Tracker, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := tr.Wait(ctx); err != nil {
		ops, bytes := tr.Pending()
		t.Fatalf("still %d writes (%d bytes) pending after %v: %v", ops, bytes, d, err)
	}
}

func eventually(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// byOp indexes a result's writes by op id (two sites: one peer each).
func byOp(r convergence.Result) map[string]convergence.Write {
	m := map[string]convergence.Write{}
	for _, w := range r.Writes {
		m[w.Op] = w
	}
	return m
}

// counting is a probe client that records when each HEAD was sent and
// how many were in flight at once.
type counting struct {
	client.Client
	mu                    sync.Mutex
	sent                  []time.Time
	inFlight, maxInFlight int
}

func (c *counting) Head(ctx context.Context, bucket, key string, o client.GetOptions) (client.ObjectInfo, error) {
	c.mu.Lock()
	c.sent = append(c.sent, time.Now())
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	return c.Client.Head(ctx, bucket, key, o)
}

// maxIn returns the most requests sent within any window of length d.
func (c *counting) maxIn(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	most, j := 0, 0
	for i := range c.sent {
		for c.sent[i].Sub(c.sent[j]) >= d {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

func ms(s float64) string { return fmt.Sprintf("%.1fms", s*1000) }
