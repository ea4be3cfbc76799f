package replication_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
)

var _ = Describe("metadata updates", Label("replication"), func() {
	It("replicates metadata updates made at either site, through S3 and Swift", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "metadata", client.BucketOptions{})
		meta := func(ctx SpecContext, at int, api, key, holds string, m map[string]string) {
			GinkgoHelper()
			_, err := s.UpdateMeta(ctx, rec(s, env.Site(at), api), bk, key, holds, m)
			Expect(err).NotTo(HaveOccurred(), "update %s at %s over %s", key, env.Site(at).Name(), api)
		}
		holds := map[string]string{
			"s3-written":    put(ctx, s, rec(s, a, client.APIS3), bk, "s3-written", suite.Write{Size: 8 << 10, Meta: map[string]string{"color": "red"}}),
			"swift-written": put(ctx, s, rec(s, b, client.APISwift), bk, "swift-written", suite.Write{Size: 3 << 10, Meta: map[string]string{"color": "blue"}}),
			"twice":         put(ctx, s, rec(s, a, client.APISwift), bk, "twice", suite.Write{Size: 100}),
			"racing":        put(ctx, s, rec(s, b, client.APIS3), bk, "racing", suite.Write{Size: 200 << 10}),
			"local":         put(ctx, s, rec(s, a, client.APIS3), bk, "local", suite.Write{Size: 1 << 10}),
		}
		// Updated at the writing site at once, before the write can have
		// replicated.
		meta(ctx, 0, client.APISwift, "local", holds["local"], map[string]string{"updated-at": "a"})
		expectConverged(ctx, s)
		// Updated at the other site, through the other API as well.
		meta(ctx, 1, client.APIS3, "s3-written", holds["s3-written"], map[string]string{"color": "green", "updated-at": "b"})
		meta(ctx, 0, client.APIS3, "swift-written", holds["swift-written"], map[string]string{"unicode": "blå ünï"})
		meta(ctx, 1, client.APISwift, "twice", holds["twice"], map[string]string{"round": "1"})
		expectConverged(ctx, s)
		// An update of an update, from the other site again.
		meta(ctx, 0, client.APIS3, "twice", holds["twice"], map[string]string{"round": "2"})
		expectConverged(ctx, s)
		// Both sites update one key at once: either may win, but both
		// sites must end up with the same metadata.
		// (Session.Client is not safe for concurrent use: clients first.)
		sa, sb := rec(s, a, client.APISwift), rec(s, b, client.APISwift)
		errs := parallel(
			func() error {
				_, err := s.UpdateMeta(ctx, sa, bk, "racing", holds["racing"], map[string]string{"by": "a"})
				return err
			},
			func() error {
				_, err := s.UpdateMeta(ctx, sb, bk, "racing", holds["racing"], map[string]string{"by": "b"})
				return err
			},
		)
		Expect(errs).To(HaveEach(Succeed()))
		expectConverged(ctx, s)
		expectSameListings(ctx, bk, "local", "racing", "s3-written", "swift-written", "twice")
		// Each key serves its last update's metadata at both sites.
		Expect(userMeta(ctx, bk, "local")).To(Equal(map[string]string{"updated-at": "a"}))
		Expect(userMeta(ctx, bk, "s3-written")).To(Equal(map[string]string{"color": "green", "updated-at": "b"}))
		Expect(userMeta(ctx, bk, "swift-written")).To(Equal(map[string]string{"unicode": "blå ünï"}))
		Expect(userMeta(ctx, bk, "twice")).To(Equal(map[string]string{"round": "2"}))
		Expect(userMeta(ctx, bk, "racing")).To(BeElementOf(map[string]string{"by": "a"}, map[string]string{"by": "b"}))
	}, SpecTimeout(2*time.Minute))

	It("converges when one key's metadata is updated at both sites at once, through S3 and Swift", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "metadata-mixed", client.BucketOptions{})
		id := put(ctx, s, rec(s, a, client.APIS3), bk, "k", suite.Write{Size: 4 << 10})
		expectConverged(ctx, s)
		// Over S3 an update is a copy onto itself (a new write); over
		// Swift a POST changes the metadata in place.
		ca, cb := rec(s, a, client.APIS3), rec(s, b, client.APISwift)
		errs := parallel(
			func() error {
				_, err := s.UpdateMeta(ctx, ca, bk, "k", id, map[string]string{"by": "a-s3"})
				return err
			},
			func() error {
				_, err := s.UpdateMeta(ctx, cb, bk, "k", id, map[string]string{"by": "b-swift"})
				return err
			},
		)
		Expect(errs).To(HaveEach(Succeed()))
		expectConverged(ctx, s)
		expectSameListings(ctx, bk, "k")
		Expect(userMeta(ctx, bk, "k")).To(BeElementOf(map[string]string{"by": "a-s3"}, map[string]string{"by": "b-swift"}))
	}, SpecTimeout(2*time.Minute))
})
