package chaos_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

const (
	// within bounds how long Verify waits for convergence once a fault is
	// healed; the correct engine needs milliseconds for small objects.
	within = 20 * time.Second
	// withinShaped is within for specs that move MiB through a slow WAN.
	withinShaped = 40 * time.Second
	// KiB and MiB are sizes.
	KiB = 1 << 10
	MiB = 1 << 20
)

// skipUnless skips the spec, saying why, when the target lacks caps.
func skipUnless(caps ...harness.Capability) {
	if why := env.Missing(caps...); why != "" {
		Skip(why)
	}
}

// newSession starts a recorded session closed when the node ends.
func newSession() *suite.Session {
	s, err := env.Session()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.Close)
	return s
}

// wanLink returns the WAN direction from → to.
func wanLink(from, to harness.Site) *wan.Link {
	l, err := env.WAN(from, to)
	Expect(err).NotTo(HaveOccurred())
	return l
}

// healOnCleanup heals partitions and removes shaping of links at the end
// of the node, whatever happened.
func healOnCleanup(links ...*wan.Link) {
	DeferCleanup(func() {
		for _, l := range links {
			Expect(l.ClearFaults()).To(Succeed(), "heal %s", l)
		}
	})
}

// writer records writes of one session into one bucket.
type writer struct {
	s      *suite.Session
	bucket string
}

// client returns the recorded client of site through api. Swift is only
// a second way in to the bucket here: on a target without Swift its
// writes go over S3, and the spec still checks replication.
func (w writer) client(site harness.Site, api string) *client.Recording {
	c, err := w.s.Client(site, env.WayIn(api))
	Expect(err).NotTo(HaveOccurred())
	return c
}

// put writes key (kind Put or Overwrite) and expects it acknowledged.
func (w writer) put(ctx context.Context, c *client.Recording, key string, kind history.Kind, size int64) string {
	GinkgoHelper()
	id, err := w.s.Put(ctx, c, w.bucket, key, suite.Write{Kind: kind, Size: size})
	Expect(err).NotTo(HaveOccurred(), "%s %s at %s over %s", kind, key, c.Site(), c.API())
	return id
}

// del deletes key and expects it acknowledged.
func (w writer) del(ctx context.Context, c *client.Recording, key string) {
	GinkgoHelper()
	_, err := w.s.Delete(ctx, c, w.bucket, key)
	Expect(err).NotTo(HaveOccurred(), "delete %s at %s over %s", key, c.Site(), c.API())
}

// fresh writes n new keys prefix-1 … prefix-n of size bytes through c.
func (w writer) fresh(ctx context.Context, c *client.Recording, prefix string, n int, size int64) {
	GinkgoHelper()
	for i := 1; i <= n; i++ {
		w.put(ctx, c, fmt.Sprintf("%s-%d", prefix, i), history.Put, size)
	}
}

// parallel runs fs at once and waits for them all.
func parallel(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
}

// verifyPass judges the session and expects nothing lost, missing,
// corrupt or late.
func verifyPass(ctx context.Context, s *suite.Session, limit time.Duration) suite.Verdict {
	GinkgoHelper()
	v, err := s.Verify(ctx, limit)
	Expect(err).NotTo(HaveOccurred())
	Expect(v.Verdict).To(Equal(reports.Pass), v.String())
	return v
}

// inSync waits until the engines report nothing pending: a barrier
// before a fault, so that it meets only what the spec writes after it.
func inSync(ctx context.Context, s *suite.Session) {
	GinkgoHelper()
	Expect(s.WaitInSync(ctx, 10*time.Second)).To(Succeed())
}

// hold waits d while a fault is active (never to decide that
// replication happened: the verifier does that).
func hold(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// inject makes fault f and heals it at the end of the node, whatever
// happened: a nemesis fault remembers what it did, so its Heal undoes
// only that, and is safe twice.
func inject(ctx context.Context, f nemesis.Fault) {
	GinkgoHelper()
	Expect(nemesis.Available(f, env.Topo)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(f.Heal(ctx, env.Topo)).To(Succeed(), "heal %s", f.Name())
	}, NodeTimeout(2*time.Minute))
	Expect(f.Inject(ctx, env.Topo)).To(Succeed(), "inject %s", f.Name())
}

// heal heals fault f now.
func heal(ctx context.Context, f nemesis.Fault) {
	GinkgoHelper()
	Expect(f.Heal(ctx, env.Topo)).To(Succeed(), "heal %s", f.Name())
}

// settled is where the specs that write at both sites start: a session
// with a bucket named name, n objects of size written at a over S3 (pre/a-…)
// and at b over Swift (pre/b-…), judged converged. It returns the writer
// and both clients.
func settled(ctx context.Context, name string, n int, size int64) (s *suite.Session, w writer, ca, cb *client.Recording) {
	GinkgoHelper()
	s = newSession()
	a, b := env.Site(0), env.Site(1)
	bucket, err := s.Bucket(ctx, a, name, client.BucketOptions{})
	Expect(err).NotTo(HaveOccurred())
	w = writer{s, bucket}
	ca, cb = w.client(a, client.APIS3), w.client(b, client.APISwift)
	w.fresh(ctx, ca, "pre/a", n, size)
	w.fresh(ctx, cb, "pre/b", n, size)
	verifyPass(ctx, s, within)
	return s, w, ca, cb
}
