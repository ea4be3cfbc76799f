package replication_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

var _ = Describe("server-side copy", Label("replication"), func() {
	It("replicates copies within a bucket made at either site, through S3 and Swift", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := bucket(ctx, s, a, "copy", client.BucketOptions{})
		put(ctx, s, rec(s, a, client.APIS3), bk, "src/a", suite.Write{Size: 300 << 10})
		put(ctx, s, rec(s, b, client.APISwift), bk, "src/b", suite.Write{Size: 2 << 10})
		put(ctx, s, rec(s, a, client.APIS3), bk, "src/mp", suite.Write{Kind: history.Multipart, PartSize: partSize, Size: partSize + 4096})
		put(ctx, s, rec(s, b, client.APIS3), bk, "dst/overwritten", suite.Write{Size: 100})
		expectConverged(ctx, s)
		copies := []struct {
			at       int
			api      string
			src, dst string
		}{
			{0, client.APIS3, "src/a", "dst/a-at-a-s3"},       // at the writing site
			{1, client.APIS3, "src/a", "dst/a-at-b-s3"},       // at the other site, from its replica
			{1, client.APISwift, "src/a", "dst/a-at-b-swift"}, //
			{0, client.APISwift, "src/b", "dst/b-at-a-swift"}, //
			{1, client.APIS3, "src/mp", "dst/mp-at-b-s3"},     // a multipart source
			{0, client.APIS3, "src/b", "dst/overwritten"},     // onto a key written at the other site
		}
		var keys []string
		for _, c := range copies {
			_, err := s.Copy(ctx, rec(s, env.Site(c.at), c.api), bk, c.src, c.dst, client.CopyOptions{})
			Expect(err).NotTo(HaveOccurred(), "copy %s to %s at %s over %s", c.src, c.dst, env.Site(c.at).Name(), c.api)
			keys = append(keys, c.dst)
		}
		// A copy made right after its source was written, at the writing
		// site, before the source can have replicated.
		put(ctx, s, rec(s, b, client.APIS3), bk, "src/fresh", suite.Write{Size: 10 << 10})
		_, err := s.Copy(ctx, rec(s, b, client.APIS3), bk, "src/fresh", "dst/fresh", client.CopyOptions{})
		Expect(err).NotTo(HaveOccurred())
		expectConverged(ctx, s)
		// The source overwritten after the copy: the copy keeps its value.
		put(ctx, s, rec(s, a, client.APIS3), bk, "src/a", suite.Write{Kind: history.Overwrite, Size: 5})
		expectConverged(ctx, s)
		expectSameListings(ctx, bk, append(keys, "dst/fresh", "src/a", "src/b", "src/fresh", "src/mp")...)
	}, SpecTimeout(2*time.Minute))

	It("replicates copies across buckets", func(ctx SpecContext) {
		// verifier/client.CopyOptions has no source bucket (Client.Copy
		// copies within one bucket), and history.Op records a copy's
		// source as a key of the copy's own bucket, so the checker could
		// not judge a copy from another bucket. Until both can say where
		// a copy came from, this case is not run.
		Skip("cross-bucket copy cannot be recorded: client.CopyOptions has no source bucket and history.Op.Source is a key of the same bucket")
	}, SpecTimeout(time.Minute))
})
