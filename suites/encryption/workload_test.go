package encryption_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

// The encryption workload: cases (an SSE mode and a size) played through
// patterns (who updates the key, and when), each a list of phases with
// the verifier's judgement after every phase. The specs play one case
// through one pattern on the suite's target and expect every judgement
// to pass; the calibration specs play many at once against a flawed
// engine and expect a judgement to fail.

const (
	KiB = 1 << 10
	MiB = 1 << 20
	// partSize is the multipart part size: S3's least.
	partSize = client.MinPartSize
	// singleSize spans several of the engine's 64 KiB encryption chunks;
	// multipartSize makes two parts, 5 MiB and 320 KiB.
	singleSize    = 200 * KiB
	multipartSize = partSize + 320*KiB
	// within bounds each judgement's wait for convergence: the correct
	// engine needs milliseconds here, a few seconds on containers.
	within = 10 * time.Second
)

// modes are the SSE modes, as the history records them.
var modes = []string{client.SSEC, client.SSES3, client.SSEKMS}

// encCase is an SSE mode and a size.
type encCase struct {
	mode      string
	multipart bool
}

func (c encCase) String() string {
	if c.multipart {
		return c.mode + " multipart"
	}
	return c.mode + " single-part"
}

// sse is the case's encryption for a write in s (SSE-C uses the session's
// key, which the verifier reads with; SSE-KMS the key the target names,
// or the endpoint's default key).
func (c encCase) sse(s *suite.Session) client.SSE { return s.SSE(c.mode) }

func (c encCase) write(s *suite.Session, kind history.Kind) suite.Write {
	w := suite.Write{Kind: kind, Size: singleSize, SSE: c.sse(s)}
	if c.multipart {
		w.Size, w.PartSize = multipartSize, partSize
	}
	return w
}

// keyName is a key for a case in a pattern.
func keyName(p pattern, c encCase) string {
	mp := "single"
	if c.multipart {
		mp = "multipart"
	}
	return strings.ToLower(fmt.Sprintf("%s/%s/%s", p.name, c.mode, mp))
}

// run is a recorded workload on one topology.
type run struct {
	env    *suite.Env
	s      *suite.Session
	a, b   harness.Site
	within time.Duration
	// strict: every judgement must pass; otherwise the first one that
	// does not ends the workload (calibration).
	strict  bool
	buckets map[bool]string // by versioning
	last    suite.Verdict
}

func newRun(e *suite.Env, strict bool, within time.Duration) *run {
	s, err := e.Session()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.Close)
	r := &run{env: e, s: s, a: e.Site(0), b: e.Site(1), within: within, strict: strict, buckets: map[bool]string{}}
	// Session.Client is not safe for concurrent use: make every client
	// here, before phases write from both sites at once.
	for _, site := range e.Sites() {
		for _, api := range e.APIs() {
			r.client(site, api)
		}
	}
	return r
}

// bucket returns the run's bucket (versioned or not), made at a the
// first time.
func (r *run) bucket(ctx context.Context, versioned bool) string {
	GinkgoHelper()
	if b, ok := r.buckets[versioned]; ok {
		return b
	}
	name := "sse-" + nextBucketSuffix()
	if versioned {
		name += "-v"
	}
	b, err := r.s.Bucket(ctx, r.a, name, client.BucketOptions{Versioning: versioned})
	Expect(err).NotTo(HaveOccurred()) // a versioned bucket is versioned at every site by then
	r.buckets[versioned] = b
	return b
}

var bucketSeq int

func nextBucketSuffix() string {
	bucketSeq++
	return fmt.Sprintf("%03d", bucketSeq)
}

func (r *run) client(site harness.Site, api string) *client.Recording {
	GinkgoHelper()
	c, err := r.s.Client(site, api)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// put writes key at site through api, as the case says over S3, and
// unencrypted over Swift (which cannot ask for SSE).
func (r *run) put(ctx context.Context, bucket string, site harness.Site, api, key string, kind history.Kind, c encCase) {
	GinkgoHelper()
	w := c.write(r.s, kind)
	if api == client.APISwift {
		w = suite.Write{Kind: kind, Size: singleSize}
	}
	_, err := r.s.Put(ctx, r.client(site, api), bucket, key, w)
	Expect(err).NotTo(HaveOccurred(), "%s %s (%s) at %s over %s", kind, key, c, site.Name(), api)
}

// read reads key whole at site through api, recorded: the checker
// judges what a site serves right after its own writes.
func (r *run) read(ctx context.Context, bucket string, site harness.Site, api, key string, o client.GetOptions) {
	GinkgoHelper()
	body, _, err := r.client(site, api).Get(ctx, bucket, key, o)
	Expect(err).NotTo(HaveOccurred(), "get %s at %s over %s", key, site.Name(), api)
	_, err = io.Copy(io.Discard, body)
	Expect(err).NotTo(HaveOccurred(), "read %s at %s over %s", key, site.Name(), api)
	Expect(body.Close()).To(Succeed())
}

// verify judges the run so far; it reports whether the verdict passed.
func (r *run) verify(ctx context.Context) bool {
	GinkgoHelper()
	v, err := r.s.Verify(ctx, r.within)
	Expect(err).NotTo(HaveOccurred())
	r.last = v
	if r.strict {
		Expect(v.Verdict).To(Equal(reports.Pass), v.String())
	}
	return v.Verdict == reports.Pass
}

// item is one case played through one pattern.
type item struct {
	p pattern
	c encCase
}

// play plays the items' patterns phase by phase (phase i of every item,
// then a judgement) until a judgement fails or the phases end; it
// reports whether every judgement passed.
func (r *run) play(ctx context.Context, items ...item) bool {
	GinkgoHelper()
	n := 0
	for _, it := range items {
		n = max(n, len(it.p.phases))
	}
	for i := range n {
		for _, it := range items {
			if i < len(it.p.phases) {
				it.p.phases[i](ctx, r, r.bucket(ctx, it.p.versioned), keyName(it.p, it.c), it.c)
			}
		}
		if !r.verify(ctx) {
			return false
		}
	}
	return true
}

// phase is one step of a pattern: writes (and reads) of key in bucket.
type phase func(ctx context.Context, r *run, bucket, key string, c encCase)

// pattern is a way of updating a key: phases, each judged.
type pattern struct {
	name      string
	what      string // for the spec's text
	versioned bool
	// needs are the capabilities the pattern's faults need.
	needs []harness.Capability
	// swift patterns write over Swift too; they run single-part only.
	swift  bool
	phases []phase
}

// writeAt is a phase that writes key at site (0 or 1) through api.
func writeAt(site int, api string, kind history.Kind) phase {
	return func(ctx context.Context, r *run, bucket, key string, c encCase) {
		r.put(ctx, bucket, r.env.Site(site), api, key, kind, c)
	}
}

// both is a phase that runs ps at once.
func both(ps ...phase) phase {
	return func(ctx context.Context, r *run, bucket, key string, c encCase) {
		done := make(chan struct{}, len(ps))
		for _, p := range ps {
			go func() {
				defer GinkgoRecover()
				defer func() { done <- struct{}{} }()
				p(ctx, r, bucket, key, c)
			}()
		}
		for range ps {
			<-done
		}
	}
}

// then is a phase that runs ps in turn.
func then(ps ...phase) phase {
	return func(ctx context.Context, r *run, bucket, key string, c encCase) {
		for _, p := range ps {
			p(ctx, r, bucket, key, c)
		}
	}
}

// readAt is a phase that reads key whole at site through api; encrypted
// says whether the value read was written with the case's encryption
// (Swift cannot pass an SSE-C key: such a read is left out).
func readAt(site int, api string, encrypted bool) phase {
	return func(ctx context.Context, r *run, bucket, key string, c encCase) {
		if encrypted && c.mode == client.SSEC && api == client.APISwift {
			return
		}
		var o client.GetOptions
		if encrypted && c.mode == client.SSEC {
			o.SSE = r.s.SSEC
		}
		r.read(ctx, bucket, r.env.Site(site), api, key, o)
	}
}

// backlog is a phase that writes a key once and three keys three times
// each at a while a→b silently drops everything, then heals: older
// versions reach b only after later ones were acknowledged at a.
func backlog(ctx context.Context, r *run, bucket, key string, c encCase) {
	GinkgoHelper()
	ab, err := r.env.WAN(r.a, r.b)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(ab.ClearFaults()).To(Succeed()) })
	Expect(r.s.WaitInSync(ctx, 10*time.Second)).To(Succeed())
	Expect(ab.Partition(wan.Blackhole)).To(Succeed())
	// A key written once, first: its shipment is the one that hangs in
	// the blackhole until the heal cuts it (an engine that drops failed
	// shipments instead of retrying them loses it).
	r.put(ctx, bucket, r.a, client.APIS3, key+"-once", history.Put, c)
	for _, kind := range []history.Kind{history.Put, history.Overwrite, history.Overwrite} {
		for i := range 3 {
			r.put(ctx, bucket, r.a, client.APIS3, fmt.Sprintf("%s-%d", key, i), kind, c)
		}
		// Each round of writes comes well after the one before: the
		// verifier treats writes less than its clock uncertainty (5 ms)
		// apart as concurrent, and then either may legally win.
		pause(ctx, 20*time.Millisecond)
	}
	// The fault is active: hold it briefly, then heal.
	pause(ctx, 200*time.Millisecond)
	Expect(ab.Heal()).To(Succeed())
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

var (
	a, b = 0, 1

	oneWay = pattern{name: "one-way", what: "written and then overwritten at one site", phases: []phase{
		writeAt(a, client.APIS3, history.Put),
		writeAt(a, client.APIS3, history.Overwrite),
	}}
	inTurn = pattern{name: "in-turn", what: "written at one site, overwritten at the other, then again at the first", phases: []phase{
		writeAt(a, client.APIS3, history.Put),
		writeAt(b, client.APIS3, history.Overwrite),
		writeAt(a, client.APIS3, history.Overwrite),
	}}
	concurrent = pattern{name: "concurrent", what: "overwritten at both sites at once", phases: []phase{
		writeAt(a, client.APIS3, history.Put),
		both(writeAt(a, client.APIS3, history.Overwrite), writeAt(b, client.APIS3, history.Overwrite)),
	}}
	// Swift cannot ask for SSE: S3 writes encrypted objects, Swift
	// overwrites them (unencrypted) at the other site and reads them.
	swiftInTurn = pattern{name: "swift-in-turn", swift: true,
		what: "written over S3 at one site, overwritten over Swift at the other, then again over S3 and read over Swift", phases: []phase{
			writeAt(a, client.APIS3, history.Put),
			then(writeAt(b, client.APISwift, history.Overwrite), readAt(b, client.APISwift, false)),
			then(writeAt(a, client.APIS3, history.Overwrite), readAt(a, client.APISwift, true), readAt(a, client.APIS3, true)),
		}}
	swiftConcurrent = pattern{name: "swift-concurrent", swift: true,
		what: "overwritten over S3 at one site and over Swift at the other at once", phases: []phase{
			writeAt(b, client.APIS3, history.Put),
			both(writeAt(a, client.APIS3, history.Overwrite), writeAt(b, client.APISwift, history.Overwrite)),
		}}
	// Updates made while replication is held back: a versioned bucket,
	// so that each version ships on its own.
	heldBack = pattern{name: "held-back", versioned: true, needs: []harness.Capability{harness.CapPartition},
		what: "overwritten twice at one site while its replication is held back (versioned bucket)", phases: []phase{
			backlog,
		}}
)
