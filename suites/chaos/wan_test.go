package chaos_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

var _ = Describe("a slow WAN", Label("chaos", "wan"), func() {
	It("replicates MiB-sized writes both ways over 50 ms and 2 MiB/s", Label("slow"), func(ctx SpecContext) {
		skipUnless(harness.CapWANShape)
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bucket, err := s.Bucket(ctx, a, "wan-shaped", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		w := writer{s, bucket}
		ab, ba := wanLink(a, b), wanLink(b, a)
		healOnCleanup(ab, ba)
		for _, l := range []*wan.Link{ab, ba} {
			Expect(l.SetLatency(50*time.Millisecond, 0)).To(Succeed())
			Expect(l.SetBandwidth(2 * MiB)).To(Succeed())
		}
		ca, cb := w.client(a, client.APIS3), w.client(b, client.APISwift)
		parallel(func() {
			w.fresh(ctx, ca, "big/a", 2, 3*MiB)
			w.fresh(ctx, ca, "small/a", 5, 4*KiB)
			w.put(ctx, ca, "small/b-1", history.Overwrite, 1*KiB)
		}, func() {
			w.fresh(ctx, cb, "big/b", 1, 3*MiB)
			w.fresh(ctx, cb, "small/b", 5, 4*KiB)
			w.put(ctx, cb, "small/a-1", history.Overwrite, 1*KiB)
		})
		verifyPass(ctx, s, withinShaped)
	}, SpecTimeout(2*time.Minute))

	It("does not hold small writes back behind a large one", Label("slow", "flaw:serial-large-objects"), func(ctx SpecContext) {
		skipUnless(harness.CapWANShape)
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bucket, err := s.Bucket(ctx, a, "wan-hol", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		w := writer{s, bucket}
		ab := wanLink(a, b)
		healOnCleanup(ab)
		inSync(ctx, s)
		// 4 MiB at 1 MiB/s: four seconds on the wire.
		Expect(ab.SetBandwidth(1 * MiB)).To(Succeed())
		ca := w.client(a, client.APIS3)
		const large, small = 4 * MiB, 1 * KiB
		w.put(ctx, ca, "large", history.Put, large)
		// Then many small new keys, at once.
		const n = 40
		keys := make(chan string, n)
		for i := range n {
			keys <- fmt.Sprintf("small-%02d", i)
		}
		close(keys)
		var fs []func()
		for range 8 {
			fs = append(fs, func() {
				for k := range keys {
					w.put(ctx, ca, k, history.Put, small)
				}
			})
		}
		parallel(fs...)
		v := verifyPass(ctx, s, withinShaped)
		// Small writes spread over the engine's streams; only those that
		// share the large object's may wait for it. The lags are the
		// verifier's measurement (probe brackets, see convergence).
		const slo = time.Second
		smalls := v.Writes(func(w convergence.Write) bool { return w.Size == small && w.Origin == a.Name() })
		Expect(smalls).To(HaveLen(n))
		var late []string
		for _, w := range smalls {
			if w.LagSeconds > slo.Seconds() {
				late = append(late, fmt.Sprintf("%s %.2fs", w.Key, w.LagSeconds))
			}
		}
		Expect(len(late)).To(BeNumerically("<=", 2*n/3),
			"slo-breach: %d of %d small writes took over %v to reach %s behind a 4 MiB one on a 1 MiB/s link (%v): a large object holds back the writes queued behind it",
			len(late), n, slo, b.Name(), late)
	}, SpecTimeout(2*time.Minute))

	It("converges after a link flaps both ways under writes at both sites", Label("flaw:no-retry"), func(ctx SpecContext) {
		skipUnless(harness.CapPartition)
		s, w, ca, cb := settled(ctx, "flap", 5, 2*KiB)
		a, b := env.Site(0), env.Site(1)
		ab, ba := wanLink(a, b), wanLink(b, a)

		fctx, stop := context.WithCancel(ctx)
		var flaps sync.WaitGroup
		// Stop flapping and heal, whatever happens (Flap heals when its
		// context ends; ClearFaults covers a Flap that failed).
		DeferCleanup(func() { stop(); flaps.Wait() })
		healOnCleanup(ab, ba)
		for i, l := range []*wan.Link{ab, ba} {
			flaps.Add(1)
			go func() {
				defer GinkgoRecover()
				defer flaps.Done()
				// Out of phase: a little apart, so the directions differ.
				hold(fctx, time.Duration(i)*70*time.Millisecond)
				Expect(l.Flap(fctx, 250*time.Millisecond, 150*time.Millisecond)).To(Succeed())
			}()
		}
		// Writes spread over about three seconds of flapping.
		end := time.Now().Add(3 * time.Second)
		parallel(func() {
			for i := 1; time.Now().Before(end); i++ {
				w.put(ctx, ca, fmt.Sprintf("flap/a-%d", i), history.Put, 2*KiB)
				if i <= 5 {
					w.put(ctx, ca, fmt.Sprintf("pre/b-%d", i), history.Overwrite, 1*KiB)
				}
				hold(ctx, 90*time.Millisecond)
			}
		}, func() {
			for i := 1; time.Now().Before(end); i++ {
				w.put(ctx, cb, fmt.Sprintf("flap/b-%d", i), history.Put, 2*KiB)
				if i <= 5 {
					w.put(ctx, cb, fmt.Sprintf("pre/a-%d", i), history.Overwrite, 1*KiB)
				}
				hold(ctx, 110*time.Millisecond)
			}
		})
		stop()
		flaps.Wait()
		verifyPass(ctx, s, within)
	}, SpecTimeout(2*time.Minute))
})
