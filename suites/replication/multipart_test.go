package replication_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

// partSize is the reference engine's (and S3's) smallest part but the last.
const partSize = client.MinPartSize

var _ = Describe("multipart and large objects", Label("replication"), func() {
	It("replicates multipart uploads both ways, keeping their part layout", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "multipart", client.BucketOptions{})
		ca, cb := rec(s, a, client.APIS3), rec(s, b, client.APIS3)
		put(ctx, s, ca, bk, "mp/from-a", suite.Write{Kind: history.Multipart, PartSize: partSize, Size: 2*partSize + 12345})
		put(ctx, s, cb, bk, "mp/from-b", suite.Write{Kind: history.Multipart, PartSize: partSize, Size: partSize + 1})
		put(ctx, s, ca, bk, "mp/replaced", suite.Write{Kind: history.Multipart, PartSize: partSize, Size: partSize + 100})
		expectConverged(ctx, s)
		// Overwritten at the other site: a multipart object by another
		// multipart upload, and by a single PUT through Swift.
		put(ctx, s, cb, bk, "mp/from-a", suite.Write{Kind: history.Multipart, PartSize: partSize, Size: 2*partSize - 1})
		put(ctx, s, rec(s, b, client.APISwift), bk, "mp/replaced", suite.Write{Kind: history.Overwrite, Size: 1 << 20})
		expectConverged(ctx, s)
		// Listings agree, ETags (md5-of-md5s-N: the part layout) too.
		expectSameListings(ctx, bk, "mp/from-a", "mp/from-b", "mp/replaced")
	}, SpecTimeout(2*time.Minute))

	It("replicates large objects, single PUT and multipart, both ways", Label("slow"), func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "large", client.BucketOptions{})
		// Both at once. Session.Client is not safe for concurrent use:
		// the clients are made first.
		ca, cb := rec(s, a, client.APIS3), rec(s, b, client.APIS3)
		errs := parallel(
			func() error {
				_, err := s.Put(ctx, ca, bk, "large/single", suite.Write{Size: 64 << 20})
				return err
			},
			func() error {
				_, err := s.Put(ctx, cb, bk, "large/multipart",
					suite.Write{Kind: history.Multipart, PartSize: 8 << 20, Size: 40 << 20})
				return err
			},
		)
		Expect(errs).To(HaveEach(Succeed()))
		expectConverged(ctx, s)
		expectSameListings(ctx, bk, "large/multipart", "large/single")
	}, SpecTimeout(3*time.Minute))
})
