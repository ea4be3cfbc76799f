package chaos_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

var _ = Describe("site faults", Label("chaos", "site"), func() {
	It("converges after the receiving site crashes with MiB in flight", Label("destructive", "slow", "flaw:no-retry"), func(ctx SpecContext) {
		skipUnless(harness.CapCrash, harness.CapWANShape)
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bucket, err := s.Bucket(ctx, a, "crash-receiver", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		w := writer{s, bucket}
		ab := wanLink(a, b)
		healOnCleanup(ab)
		crash := &nemesis.SiteCrash{Site: b.Name()}
		ca := w.client(a, client.APIS3)
		w.fresh(ctx, ca, "pre", 3, 4*KiB)
		verifyPass(ctx, s, within)

		// 2 MiB objects at 1 MiB/s: each takes two seconds on the wire.
		Expect(ab.SetBandwidth(1 * MiB)).To(Succeed())
		w.fresh(ctx, ca, "big", 3, 2*MiB)
		w.fresh(ctx, ca, "small", 4, 4*KiB)
		w.put(ctx, ca, "pre-1", history.Overwrite, 512*KiB)
		hold(ctx, 300*time.Millisecond)
		inject(ctx, crash)
		// a keeps taking writes while its peer is down.
		w.fresh(ctx, ca, "while-down", 3, 64*KiB)
		hold(ctx, time.Second)
		heal(ctx, crash)
		Expect(ab.SetBandwidth(0)).To(Succeed())
		verifyPass(ctx, s, withinShaped)
	}, SpecTimeout(3*time.Minute))

	It("converges after the sending site crashes with a replication backlog", Label("destructive", "flaw:volatile-queue"), func(ctx SpecContext) {
		skipUnless(harness.CapCrash, harness.CapPartition)
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bucket, err := s.Bucket(ctx, a, "crash-sender", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		w := writer{s, bucket}
		ab := wanLink(a, b)
		healOnCleanup(ab)
		crash := &nemesis.SiteCrash{Site: a.Name()}
		ca, cb := w.client(a, client.APIS3), w.client(b, client.APIS3)
		w.fresh(ctx, cb, "pre/b", 2, 4*KiB)
		verifyPass(ctx, s, within)

		inSync(ctx, s)
		// a's changes queue up: its shipments go nowhere.
		Expect(ab.Partition(wan.Blackhole)).To(Succeed())
		w.fresh(ctx, ca, "queued", 8, 8*KiB)
		w.put(ctx, w.client(a, client.APISwift), "pre/b-1", history.Overwrite, 2*KiB)
		inject(ctx, crash)
		// Healed while a is down, so that a meets a working link when it
		// comes back with whatever its queue kept.
		Expect(ab.Heal()).To(Succeed())
		hold(ctx, 300*time.Millisecond)
		heal(ctx, crash)
		verifyPass(ctx, s, within)
	}, SpecTimeout(3*time.Minute))

	It("converges after a site is paused under writes at its peer", Label("destructive"), func(ctx SpecContext) {
		skipUnless(harness.CapPause)
		s, w, ca, cb := settled(ctx, "pause", 3, 4*KiB)
		pause := &nemesis.SitePause{Site: env.Site(1).Name()}

		inSync(ctx, s)
		inject(ctx, pause)
		// Only a takes writes: a paused site holds every request.
		w.del(ctx, ca, "pre/a-1")
		w.del(ctx, ca, "pre/b-1")
		w.fresh(ctx, ca, "paused", 5, 16*KiB)
		w.put(ctx, ca, "pre/b-2", history.Overwrite, 2*KiB)
		hold(ctx, 1500*time.Millisecond)
		heal(ctx, pause)
		w.put(ctx, cb, "pre/a-2", history.Overwrite, 2*KiB)
		w.fresh(ctx, cb, "resumed", 2, 4*KiB)
		verifyPass(ctx, s, within)
	}, SpecTimeout(2*time.Minute))

	// The hard partition needs sites that are separate hosts: only the
	// containers target has it. It catches no-retry and
	// drop-delete-while-peer-down there; it carries no flaw label because
	// the default target (where the flaw matrix runs) skips it.
	It("converges after a site is cut off the inter-site network", Label("destructive", "needs-docker"), func(ctx SpecContext) {
		skipUnless(harness.CapDisconnect)
		s, w, ca, cb := settled(ctx, "disconnect", 4, 4*KiB)
		cut := &nemesis.SiteDisconnect{Site: env.Site(1).Name()}

		inSync(ctx, s)
		inject(ctx, cut)
		// Clients still reach both sites: both take writes. Deletes first.
		w.del(ctx, ca, "pre/a-1")
		w.del(ctx, cb, "pre/b-1")
		w.del(ctx, ca, "pre/b-2")
		w.fresh(ctx, ca, "cut/a", 4, 8*KiB)
		w.fresh(ctx, cb, "cut/b", 4, 8*KiB)
		w.put(ctx, ca, "pre/b-3", history.Overwrite, 2*KiB)
		w.put(ctx, cb, "pre/a-3", history.Overwrite, 2*KiB)
		w.put(ctx, ca, "pre/a-4", history.Overwrite, 2*KiB)
		hold(ctx, 20*time.Millisecond) // beyond the verifier's clock uncertainty: b's write is later
		w.put(ctx, cb, "pre/a-4", history.Overwrite, 3*KiB)
		hold(ctx, time.Second)
		heal(ctx, cut)
		verifyPass(ctx, s, withinShaped)
	}, SpecTimeout(3*time.Minute))

	// The skew is on the site that writes second, and backwards: a site
	// whose clock runs ahead leaves a hybrid logical clock ahead of wall
	// time at both sites (it never goes back) after the skew is reset, so
	// real-time order would not decide conflicts for the next 30 s of
	// other specs. A clock behind leaves nothing once reset.
	It("loses nothing when one site's clock runs 30 s behind and both update the same keys", Label("flaw:wallclock-lww"), func(ctx SpecContext) {
		skipUnless(harness.CapClockSkew)
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bucket, err := s.Bucket(ctx, a, "clock-skew", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		w := writer{s, bucket}
		inject(ctx, nemesis.ClockSkew{Site: b.Name(), Skew: -30 * time.Second}) // healed (skew 0) at the end
		ca, cb := w.client(a, client.APIS3), w.client(b, client.APISwift)
		cbS3 := w.client(b, client.APIS3)

		// Each round updates keys the other site wrote in the round
		// before, once that reached it: sequential in real time, so the
		// later write must win although b's clock says otherwise.
		w.fresh(ctx, ca, "k", 4, 2*KiB)
		verifyPass(ctx, s, within)
		w.put(ctx, cb, "k-1", history.Overwrite, 3*KiB)
		w.put(ctx, cbS3, "k-2", history.Overwrite, 3*KiB)
		w.del(ctx, cb, "k-3")
		verifyPass(ctx, s, within)
		w.put(ctx, ca, "k-1", history.Overwrite, 4*KiB)
		w.put(ctx, ca, "k-3", history.Put, 4*KiB)
		verifyPass(ctx, s, within)
		w.put(ctx, cb, "k-1", history.Overwrite, 5*KiB)
		w.put(ctx, cb, "k-3", history.Overwrite, 5*KiB)
		w.del(ctx, cbS3, "k-4")
		verifyPass(ctx, s, within)
	}, SpecTimeout(3*time.Minute))
})
