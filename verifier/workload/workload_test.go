package workload_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
	"github.com/replcheck/replcheck/verifier/workload"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

var ssecKey = bytes.Repeat([]byte{7}, 32)

type env struct {
	topo    *embedded.Topology
	w       *history.Writer
	path    string
	clients []client.Client // recording, site × API
	plain   []client.Client // one unrecorded S3 client per site, for the final state
	sites   []string
}

// setup starts an embedded topology, creates buckets and returns recording
// clients of both sites over both APIs, writing to a fresh history.
func setup(t *testing.T, buckets ...string) *env {
	t.Helper()
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{NoSync: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	t.Cleanup(func() {
		if topo != nil {
			// Bounded: an unbounded close takes about 5 s after a run.
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			topo.Close(ctx)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{topo: topo, path: filepath.Join(t.TempDir(), "history.jsonl")}
	e.w, err = history.Create(e.path, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.w.Close() })
	for _, s := range topo.Sites() {
		e.sites = append(e.sites, s.Name())
		s3, err := client.NewS3(s, true)
		if err != nil {
			t.Fatal(err)
		}
		sw, err := client.NewSwift(s, true)
		if err != nil {
			t.Fatal(err)
		}
		e.plain = append(e.plain, s3)
		e.clients = append(e.clients, client.NewRecording(s3, e.w), client.NewRecording(sw, e.w))
	}
	for _, b := range buckets {
		if err := e.plain[0].CreateBucket(ctx, b, client.BucketOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "bucket "+b+" at the peer", func() bool {
			_, err := e.plain[1].List(ctx, b, "")
			return err == nil
		})
	}
	return e
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) config(ops int) workload.Config {
	return workload.Config{
		Ops: ops, Keys: 20, Concurrency: 4, Buckets: []string{"wload"}, Seed: 42,
		Mix: map[history.Kind]int{history.Put: 40, history.Multipart: 2, history.Delete: 8,
			history.Copy: 8, history.Meta: 8, history.Get: 34},
		Sizes:   []workload.Size{{0, 1}, {1, 1}, {30, 2}, {1000, 4}, {16 << 10, 2}, {64 << 10, 1}},
		APIs:    map[string]int{client.APIS3: 2, client.APISwift: 1},
		Sites:   map[string]int{e.sites[0]: 1, e.sites[1]: 1},
		SSE:     map[string]int{client.SSENone: 4, client.SSES3: 1, client.SSEKMS: 1, client.SSEC: 1},
		SSECKey: ssecKey,
	}
}

func TestRunRecordsEveryOperation(t *testing.T) {
	e := setup(t, "wload")
	cfg := e.config(300)
	st, err := workload.Run(context.Background(), cfg, e.clients)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v", st)
	if st.Ops != 300 || st.OK+st.Failed+st.Unknown != st.Ops {
		t.Fatalf("stats %+v: want 300 ops, outcomes adding up", st)
	}
	if st.OK < st.Ops/2 {
		t.Errorf("only %d of %d ops OK on a healthy topology", st.OK, st.Ops)
	}
	h, err := history.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != st.Ops {
		t.Fatalf("history has %d ops, stats %d", len(h.Ops), st.Ops)
	}
	kinds := map[history.Kind]int{}
	byKey := map[string][]history.Op{}
	for _, op := range h.Ops {
		kinds[op.Kind]++
		if op.Outcome == "" {
			t.Errorf("%s: no outcome", op.ID)
		}
		switch op.Kind {
		case history.Put, history.Overwrite, history.Multipart:
			sum := payload.SHA256(payload.Spec{OpID: op.ID, Seed: op.Seed, Size: op.Size})
			if op.Seed == 0 || op.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: seed %x sha256 %s, payload's %x", op.ID, op.Seed, op.SHA256, sum)
			}
			if op.Meta[state.MetaOpID] != op.ID {
				t.Errorf("%s: metadata %v does not name it", op.ID, op.Meta)
			}
			if op.Kind == history.Multipart && (op.API != client.APIS3 || op.Size <= client.MinPartSize) {
				t.Errorf("%s: multipart over %s of %d bytes", op.ID, op.API, op.Size)
			}
			byKey[op.Key] = append(byKey[op.Key], op)
		case history.Copy, history.Meta:
			byKey[op.Key] = append(byKey[op.Key], op)
		}
		if op.API == client.APISwift && op.SSE != "" && op.Kind != history.Get {
			t.Errorf("%s: %s over Swift with %s", op.ID, op.Kind, op.SSE)
		}
	}
	t.Logf("kinds: %v", kinds)
	writes := kinds[history.Put] + kinds[history.Overwrite]
	for kind, want := range map[string][2]int{"write": {writes, 40}, "get": {kinds[history.Get], 34},
		"delete": {kinds[history.Delete], 8}, "copy": {kinds[history.Copy], 8}, "meta": {kinds[history.Meta], 8}} {
		// 300 draws: expected n = 3*weight; allow a wide binomial margin.
		// Copies made before any key of the bucket was written become writes.
		exp := 3 * want[1]
		if got := want[0]; got < exp/2-5 || got > exp*3/2+10 {
			t.Errorf("%s: %d ops, expected about %d", kind, got, exp)
		}
	}
	for key, ops := range byKey {
		sort.Slice(ops, func(i, j int) bool { return ops[i].Invoke < ops[j].Invoke })
		first := ops[0]
		// The first write of a key is a Put (or a multipart upload, its own
		// kind); an Overwrite may only begin while that Put is under way.
		if first.Kind == history.Put || first.Kind == history.Multipart || first.Kind == history.Copy {
			continue
		}
		if first.Kind == history.Meta {
			continue // a metadata update of a key not written yet: fails, changes nothing
		}
		// Two workers may draw a fresh key at once: the one that claimed
		// it first writes a Put, the other an Overwrite that may reach the
		// history first, while the Put is under way.
		overlapped := false
		for _, op := range ops[1:] {
			overlapped = overlapped || (op.Kind == history.Put && op.Invoke <= first.Complete)
		}
		if !overlapped {
			t.Errorf("key %s: first write %s is %s", key, first.ID, first.Kind)
		}
	}
	if st.ByKind[history.Put] != kinds[history.Put] || st.ByKind[history.Get] != kinds[history.Get] {
		t.Errorf("stats by kind %v, history %v", st.ByKind, kinds)
	}
}

// TestNoFalseAlarms runs a workload on the correct engine, waits for
// replication to settle and checks the final state: there must be no
// anomaly at all.
func TestNoFalseAlarms(t *testing.T) {
	for _, tc := range []struct {
		name string
		mix  map[history.Kind]int
	}{
		{"writes-deletes-gets", map[history.Kind]int{history.Put: 50, history.Multipart: 2, history.Delete: 10, history.Get: 38}},
		{"with-copy-and-meta", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, "wload")
			cfg := e.config(300)
			cfg.BothSites, cfg.BothSitesConcurrent = 10, 10
			if tc.mix != nil {
				cfg.Mix = tc.mix
			}
			st, err := workload.Run(context.Background(), cfg, e.clients)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("stats: %+v", st)
			settle(t, e)
			h, err := history.ReadFile(e.path)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := state.Read(context.Background(), e.plain, cfg.Buckets, h, state.Options{SSEC: client.SSE{Mode: client.SSEC, Key: cfg.SSECKey}})
			if err != nil {
				t.Fatal(err)
			}
			// The engine orders writes by a hybrid logical clock of millisecond
			// resolution: two writes at different sites within the same
			// millisecond, not causally related, are concurrent to it (site
			// id breaks the tie), whatever their real-time order. The
			// checker with no uncertainty calls that a lost write; BothSites
			// rewrites, microseconds apart, hit it.
			res := checker.Check(h, fs, checker.Options{ClockUncertainty: 2 * time.Millisecond})
			if len(res.Anomalies) == 0 {
				return
			}
			report := t.Errorf
			seen := map[string]bool{}
			for _, a := range res.Anomalies {
				report("anomaly %s %s/%s sites %v ops %v: %s", a.Name, a.Bucket, a.Key, a.Sites, a.Ops, a.Detail)
				if seen[a.Key] {
					continue
				}
				seen[a.Key] = true
				related := map[string]bool{a.Key: true}
				for _, op := range h.Ops {
					if op.Key == a.Key && op.Kind == history.Copy {
						related[op.Source] = true // what a copy onto the key may have brought
					}
				}
				for _, op := range h.Ops {
					if related[op.Key] || op.Source == a.Key && op.Kind == history.Copy {
						t.Logf("  %s %s %s %s/%s src=%q %s [%v..%v] meta=%v sse=%q %s", op.ID, op.Site, op.API, op.Kind, op.Key, op.Source,
							op.Outcome, op.Invoke.Duration(), op.Complete.Duration(), op.Meta, op.SSE, op.Error)
					}
				}
			}
			report("%d anomalies over %d keys: %v", len(res.Anomalies), res.Keys, res.Counts())
		})
	}
}

// settle waits until both sites' replicators have nothing pending, twice
// in a row.
func settle(t *testing.T, e *env) {
	t.Helper()
	calm := 0
	waitFor(t, 30*time.Second, "replication to settle", func() bool {
		for _, name := range e.sites {
			s, err := e.topo.EngineSite(name)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Replicator().Status().InSync {
				calm = 0
				return false
			}
		}
		calm++
		return calm >= 3
	})
}

func TestDurationBound(t *testing.T) {
	e := setup(t, "wload")
	cfg := e.config(0)
	cfg.Duration = 700 * time.Millisecond
	cfg.Mix = map[history.Kind]int{history.Put: 1, history.Get: 1}
	start := time.Now()
	st, err := workload.Run(context.Background(), cfg, e.clients)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < cfg.Duration || el > cfg.Duration*3/2 {
		t.Errorf("a %v run took %v", cfg.Duration, el)
	}
	if st.Ops == 0 {
		t.Error("no ops")
	}
}

func TestRateCap(t *testing.T) {
	e := setup(t, "wload")
	cfg := e.config(0)
	cfg.Duration = time.Second
	cfg.Rate = 20
	cfg.Mix = map[history.Kind]int{history.Get: 1}
	st, err := workload.Run(context.Background(), cfg, e.clients)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ops > 22 || st.Ops < 10 {
		t.Errorf("rate 20/s for 1s: %d ops", st.Ops)
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	e := setup(t, "wload")
	cfg := e.config(0)
	cfg.Duration = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	st, err := workload.Run(ctx, cfg, e.clients)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("cancelled after 300ms, returned after %v", el)
	}
	if st.Ops == 0 {
		t.Error("no ops before the cancel")
	}
}

func TestHistoryFailureAborts(t *testing.T) {
	e := setup(t, "wload")
	cfg := e.config(100000)
	cfg.Mix = map[history.Kind]int{history.Put: 1}
	time.AfterFunc(200*time.Millisecond, func() { e.w.Close() })
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		_, err = workload.Run(context.Background(), cfg, e.clients)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("run went on after its history failed")
	}
	if !errors.Is(err, client.ErrNotRecorded) {
		t.Errorf("err %v, want the history's failure", err)
	}
}

func TestRunRefusesUnrecordedClients(t *testing.T) {
	e := setup(t)
	if _, err := workload.Run(context.Background(), e.config(10), e.plain); err == nil || !strings.Contains(err.Error(), "Recording") {
		t.Errorf("err %v, want a complaint about unrecorded clients", err)
	}
}

func TestValidate(t *testing.T) {
	base := workload.Config{Ops: 10, Keys: 5, Buckets: []string{"b"},
		Mix: map[history.Kind]int{history.Put: 1}, Sizes: []workload.Size{{10, 1}},
		APIs: map[string]int{client.APIS3: 1}, Sites: map[string]int{"a": 1}, SSE: map[string]int{client.SSENone: 1}}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for field, mut := range map[string]func(*workload.Config){
		"Ops":         func(c *workload.Config) { c.Duration = time.Second },
		"Ops ":        func(c *workload.Config) { c.Ops = 0 },
		"Duration":    func(c *workload.Config) { c.Duration = -1 },
		"Concurrency": func(c *workload.Config) { c.Concurrency = -1 },
		"Rate":        func(c *workload.Config) { c.Rate = -1 },
		"Keys":        func(c *workload.Config) { c.Keys = 0 },
		"Buckets":     func(c *workload.Config) { c.Buckets = nil },
		"Mix":         func(c *workload.Config) { c.Mix = map[history.Kind]int{"frobnicate": 1} },
		"Mix ":        func(c *workload.Config) { c.Mix = map[history.Kind]int{history.Get: 0} },
		"Sizes":       func(c *workload.Config) { c.Sizes = []workload.Size{{-1, 1}} },
		"APIs":        func(c *workload.Config) { c.APIs = map[string]int{"ftp": 1} },
		"Sites":       func(c *workload.Config) { c.Sites = nil },
		"SSE":         func(c *workload.Config) { c.SSE = map[string]int{"rot13": 1} },
		"SSECKey":     func(c *workload.Config) { c.SSE = map[string]int{client.SSEC: 1}; c.SSECKey = []byte("short") },
		"PartSize":    func(c *workload.Config) { c.PartSize = 1024 },
		"BothSites":   func(c *workload.Config) { c.BothSites = 101 },
	} {
		c := base
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(field)+":") {
			t.Errorf("%s: err %v, want one naming the field", field, err)
		}
	}
}
