package chaos_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

var _ = Describe("partition and heal", Ordered, Label("chaos", "partition"), func() {
	var (
		s        *suite.Session
		w        writer
		a, b     harness.Site
		ab, ba   *wan.Link
		ca, cb   *client.Recording // S3 at a, Swift at b
		caSwift  *client.Recording
		cbS3     *client.Recording
		preA     = func(i int) string { return fmt.Sprintf("pre/a-%d", i) }
		preB     = func(i int) string { return fmt.Sprintf("pre/b-%d", i) }
		cutStart time.Time
	)

	BeforeAll(func(ctx SpecContext) {
		skipUnless(harness.CapPartition)
		s = newSession()
		a, b = env.Site(0), env.Site(1)
		bucket, err := s.Bucket(ctx, a, "partition", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		w = writer{s, bucket}
		ca, caSwift = w.client(a, client.APIS3), w.client(a, client.APISwift)
		cb, cbS3 = w.client(b, client.APISwift), w.client(b, client.APIS3)
		ab, ba = wanLink(a, b), wanLink(b, a)
		healOnCleanup(ab, ba) // after the last spec of the container, whatever happened
	}, NodeTimeout(time.Minute))

	It("replicates what both sites write before the cut", func(ctx SpecContext) {
		for i := 1; i <= 5; i++ {
			w.put(ctx, ca, preA(i), history.Put, 4*KiB)
			w.put(ctx, cb, preB(i), history.Put, 4*KiB)
		}
		verifyPass(ctx, s, within)
	}, SpecTimeout(time.Minute))

	It("keeps taking writes at both sites while they cannot reach each other", func(ctx SpecContext) {
		inSync(ctx, s)
		Expect(ab.Partition(wan.Refuse)).To(Succeed())
		Expect(ba.Partition(wan.Refuse)).To(Succeed())
		cutStart = time.Now()
		// Deletes first: each is then the first change its shipping stream
		// meets during the cut, whatever the engine's stream layout.
		w.del(ctx, ca, preA(1))      // a deletes its own key
		w.del(ctx, caSwift, preB(1)) // a deletes its replica of b's key
		w.del(ctx, cbS3, preB(2))
		w.del(ctx, cb, preA(2))
		// New keys at both sites, through both APIs.
		w.fresh(ctx, ca, "cut/a-s3", 3, 8*KiB)
		w.fresh(ctx, caSwift, "cut/a-swift", 2, 8*KiB)
		w.fresh(ctx, cb, "cut/b-swift", 3, 8*KiB)
		w.fresh(ctx, cbS3, "cut/b-s3", 2, 64*KiB)
		// Overwrites of the other site's keys.
		w.put(ctx, ca, preB(3), history.Overwrite, 2*KiB)
		w.put(ctx, cb, preA(3), history.Overwrite, 2*KiB)
		// The same key written at both sites during the cut: the later
		// write (in real time) must win at both once they meet again.
		// Each pair is further apart than the verifier's clock
		// uncertainty (5 ms), within which either write may win.
		w.put(ctx, ca, preA(4), history.Overwrite, 3*KiB)
		hold(ctx, 20*time.Millisecond)
		w.put(ctx, cb, preA(4), history.Overwrite, 5*KiB)
		w.put(ctx, cbS3, preB(4), history.Overwrite, 3*KiB)
		hold(ctx, 20*time.Millisecond)
		w.del(ctx, ca, preB(4))
		w.del(ctx, cb, preA(5))
		hold(ctx, 20*time.Millisecond)
		w.put(ctx, caSwift, preA(5), history.Overwrite, 7*KiB)
		// A fault is active: hold it a little so retries meet it too.
		hold(ctx, time.Until(cutStart.Add(time.Second)))
	}, SpecTimeout(time.Minute))

	It("converges once healed, losing nothing written during the cut",
		Label("flaw:no-retry", "flaw:drop-delete-while-peer-down"), func(ctx SpecContext) {
			Expect(ab.Heal()).To(Succeed())
			Expect(ba.Heal()).To(Succeed())
			verifyPass(ctx, s, within)
		}, SpecTimeout(time.Minute))
})

var _ = Describe("one-way partition", Ordered, Label("chaos", "partition"), func() {
	var (
		sa, sb *suite.Session // writes made at a (judged after the heal), at b (judged during the cut)
		wa, wb writer
		a, b   harness.Site
		ab     *wan.Link
	)

	BeforeAll(func(ctx SpecContext) {
		skipUnless(harness.CapPartition)
		a, b = env.Site(0), env.Site(1)
		sa, sb = newSession(), newSession()
		bucket, err := sa.Bucket(ctx, a, "oneway-from-a", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		wa = writer{sa, bucket}
		bucket, err = sb.Bucket(ctx, b, "oneway-from-b", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		wb = writer{sb, bucket}
		ab = wanLink(a, b)
		healOnCleanup(ab)
	}, NodeTimeout(time.Minute))

	It("replicates what both sites write before the cut", func(ctx SpecContext) {
		ca, cb := wa.client(a, client.APIS3), wa.client(b, client.APIS3)
		wa.fresh(ctx, ca, "pre/a", 4, 4*KiB)
		wa.fresh(ctx, cb, "pre/b", 3, 4*KiB)
		verifyPass(ctx, sa, within)
	}, SpecTimeout(time.Minute))

	It("still replicates b's writes to a while a→b silently drops everything", func(ctx SpecContext) {
		inSync(ctx, sa)
		Expect(ab.Partition(wan.Blackhole)).To(Succeed())
		ca, caSwift := wa.client(a, client.APIS3), wa.client(a, client.APISwift)
		// a, whose shipments now hang: deletes first (see "partition and
		// heal"), then new keys and overwrites.
		wa.del(ctx, ca, "pre/a-1")
		wa.del(ctx, caSwift, "pre/b-1")
		wa.fresh(ctx, ca, "cut/a", 4, 16*KiB)
		wa.put(ctx, caSwift, "pre/a-2", history.Overwrite, 2*KiB)
		wa.put(ctx, ca, "pre/b-2", history.Overwrite, 2*KiB)
		// b, whose direction works: its writes reach a during the cut.
		cb, cbSwift := wb.client(b, client.APIS3), wb.client(b, client.APISwift)
		wb.fresh(ctx, cb, "cut/b-s3", 4, 16*KiB)
		wb.fresh(ctx, cbSwift, "cut/b-swift", 2, 16*KiB)
		wb.put(ctx, cbSwift, "cut/b-s3-1", history.Overwrite, 1*KiB)
		wb.del(ctx, cb, "cut/b-s3-2")
		verifyPass(ctx, sb, within)
	}, SpecTimeout(time.Minute))

	It("converges once healed, losing nothing a wrote during the cut",
		Label("flaw:no-retry", "flaw:drop-delete-while-peer-down"), func(ctx SpecContext) {
			Expect(ab.Heal()).To(Succeed())
			verifyPass(ctx, sa, within)
		}, SpecTimeout(time.Minute))
})
