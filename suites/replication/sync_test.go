package replication_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

var _ = Describe("object sync", Label("replication"), func() {
	It("replicates puts and overwrites both ways, through S3 and Swift", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "sync", client.BucketOptions{})
		var keys []string
		for _, api := range apis {
			ca, cb := rec(s, a, api), rec(s, b, api)
			put(ctx, s, ca, bk, api+"/from-a", suite.Write{Size: 10 << 10})
			put(ctx, s, cb, bk, api+"/from-b", suite.Write{Size: 1 << 20})
			// Overwritten at the other site at once, racing the original's
			// replication: the later write must win at both sites (unless
			// the two are too close for the verifier to order them, when
			// either may, as long as both sites agree).
			put(ctx, s, ca, bk, api+"/racing", suite.Write{Size: 3000})
			put(ctx, s, cb, bk, api+"/racing", suite.Write{Kind: history.Overwrite, Size: 2000})
			// Empty and header-less (smaller than the payload header) objects.
			put(ctx, s, cb, bk, api+"/empty", suite.Write{Size: 0})
			put(ctx, s, ca, bk, api+"/tiny", suite.Write{Size: 7})
			keys = append(keys, api+"/from-a", api+"/from-b", api+"/racing", api+"/empty", api+"/tiny")
		}
		expectConverged(ctx, s)
		expectSameListings(ctx, bk, keys...)
	}, SpecTimeout(2*time.Minute))

	It("replicates an overwrite made at the other site after the original arrived there", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "overwrite", client.BucketOptions{})
		// Written at a; overwritten at b (with the other API too) once b
		// has the original; then again at a.
		for _, api := range apis {
			put(ctx, s, rec(s, a, api), bk, api+"/k", suite.Write{Size: 64 << 10})
		}
		expectConverged(ctx, s)
		put(ctx, s, rec(s, b, client.APISwift), bk, "s3/k", suite.Write{Kind: history.Overwrite, Size: 5000})
		put(ctx, s, rec(s, b, client.APIS3), bk, "swift/k", suite.Write{Kind: history.Overwrite, Size: 200 << 10})
		expectConverged(ctx, s)
		put(ctx, s, rec(s, a, client.APIS3), bk, "s3/k", suite.Write{Kind: history.Overwrite, Size: 10})
		put(ctx, s, rec(s, a, client.APISwift), bk, "swift/k", suite.Write{Kind: history.Overwrite, Size: 100})
		expectConverged(ctx, s)
		expectSameListings(ctx, bk, "s3/k", "swift/k")
	}, SpecTimeout(2*time.Minute))

	It("replicates deletes made at the writing site and at the other site, through S3 and Swift", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "delete", client.BucketOptions{})
		for _, api := range apis {
			for _, k := range []string{"at-writer", "at-peer", "kept"} {
				put(ctx, s, rec(s, a, api), bk, api+"/"+k, suite.Write{Size: 4 << 10})
			}
		}
		expectConverged(ctx, s)
		for _, api := range apis {
			del(ctx, s, rec(s, a, api), bk, api+"/at-writer")
			del(ctx, s, rec(s, b, api), bk, api+"/at-peer")
		}
		// A delete made at once, before the write can have replicated:
		// at the writing site, and (S3: deleting a key the site does not
		// have yet succeeds) at the other site, whose delete must still
		// win over the write that arrives after it, unless the two were
		// too close to tell apart (within the verifier's clock-uncertainty
		// bound, either may win, as long as both sites agree).
		ca, cb := rec(s, a, client.APIS3), rec(s, b, client.APIS3)
		for i := range 3 {
			k := fmt.Sprintf("quick/at-writer-%d", i)
			put(ctx, s, ca, bk, k, suite.Write{Size: 1 << 10})
			del(ctx, s, ca, bk, k)
			k = fmt.Sprintf("quick/at-peer-%d", i)
			put(ctx, s, ca, bk, k, suite.Write{Size: 1 << 10})
			del(ctx, s, cb, bk, k)
		}
		// And a key deleted and written again.
		put(ctx, s, cb, bk, "again", suite.Write{Size: 100})
		expectConverged(ctx, s)
		del(ctx, s, ca, bk, "again")
		expectConverged(ctx, s)
		put(ctx, s, rec(s, b, client.APISwift), bk, "again", suite.Write{Kind: history.Overwrite, Size: 300})
		expectConverged(ctx, s)
		var listed []string
		for _, k := range expectSameListings(ctx, bk) {
			if !strings.HasPrefix(k, "quick/at-peer-") {
				listed = append(listed, k)
			}
		}
		Expect(listed).To(Equal([]string{"again", "s3/kept", "swift/kept"}))
	}, SpecTimeout(2*time.Minute))

	// The verifier's recording client has no multi-object delete, and a
	// history line may only come from a recording client. The suite's
	// Session.DeleteObjects sends ONE S3 DeleteObjects request (POST
	// ?delete) through a client that the recorder wraps as it wraps any
	// other: each key is recorded as its own delete, invoked before the
	// request left and completed with what the response said of that key.
	It("replicates a multi-object delete (S3 DeleteObjects) made at either site", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "multidelete", client.BucketOptions{})
		var atA, atB []string
		for i := range 6 {
			site, api := a, apis[i%2]
			if i >= 3 {
				site = b
			}
			k := fmt.Sprintf("old/%s-%d", api, i)
			put(ctx, s, rec(s, site, api), bk, k, suite.Write{Size: int64(1000 * (i + 1))})
			if i%3 != 2 {
				atB = append(atB, k) // deleted at b, written at either site
			}
		}
		expectConverged(ctx, s)
		// b deletes keys written at both sites, and one never written.
		ids, errs, err := s.DeleteObjects(ctx, b, bk, append(atB, "old/never-written"))
		Expect(err).NotTo(HaveOccurred())
		Expect(errs).To(HaveEach(Succeed()), "ops %v", ids)
		// a writes keys and deletes them at once in one request, before
		// they can have replicated, keeping one.
		ca := rec(s, a, client.APIS3)
		for i := range 5 {
			k := fmt.Sprintf("new/%d", i)
			put(ctx, s, ca, bk, k, suite.Write{Size: 2 << 10})
			if i != 4 {
				atA = append(atA, k)
			}
		}
		ids, errs, err = s.DeleteObjects(ctx, a, bk, atA)
		Expect(err).NotTo(HaveOccurred())
		Expect(errs).To(HaveEach(Succeed()), "ops %v", ids)
		expectConverged(ctx, s)
		expectSameListings(ctx, bk, "new/4", "old/s3-2", "old/swift-5")
	}, SpecTimeout(2*time.Minute))
})
