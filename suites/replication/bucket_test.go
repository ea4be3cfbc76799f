package replication_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
)

// bucketLimit bounds how long a bucket's creation or removal may take to
// reach the other site. The verifier judges objects, not buckets, so
// bucket existence is polled here, unrecorded.
const bucketLimit = 30 * time.Second

// expectBucketAt waits until site does (or does not) have b through api.
func expectBucketAt(ctx context.Context, site harness.Site, api, b string, want bool) {
	GinkgoHelper()
	Eventually(ctx, func() (bool, error) { return exists(ctx, site, api, b) }).
		WithTimeout(bucketLimit).WithPolling(20*time.Millisecond).
		Should(Equal(want), "bucket %s at %s over %s", b, site.Name(), api)
}

var _ = Describe("buckets and containers", Label("replication"), func() {
	type lifecycle struct {
		name                 string
		createAt, removeAt   int
		createAPI, removeAPI string
	}
	for _, c := range []lifecycle{
		{"s3-here", 0, 0, client.APIS3, client.APIS3},           // created and removed at a over S3
		{"swift-here", 1, 1, client.APISwift, client.APISwift},  // created and removed at b over Swift
		{"s3-swift-there", 0, 1, client.APIS3, client.APISwift}, // created at a over S3, removed at b over Swift
		{"swift-s3-there", 1, 0, client.APISwift, client.APIS3}, // created at b over Swift, removed at a over S3
	} {
		It("replicates the creation and removal of a bucket: "+c.name, func(ctx SpecContext) {
			if c.createAPI == client.APISwift || c.removeAPI == client.APISwift {
				skipIf(env.MissingSwift()) // about containers made or removed over Swift
			}
			b := env.BucketName("life-" + c.name)
			at, to := env.Site(c.createAt), env.Site(1-c.createAt)
			cc, err := env.Client(at, c.createAPI, true)
			Expect(err).NotTo(HaveOccurred())
			Expect(cc.CreateBucket(ctx, b, client.BucketOptions{})).To(Succeed())
			// Written at once at the creating site, before the bucket can
			// have reached the other site: the object's change may reach
			// it before the bucket's (they replicate independently).
			s := newSession()
			put(ctx, s, rec(s, at, client.APISwift), b, "from-creator", suite.Write{Size: 2 << 10})
			for _, api := range env.APIs() {
				expectBucketAt(ctx, to, api, b, true)
			}
			Expect(s.UseBucket(ctx, b, bucketLimit)).To(Succeed())
			put(ctx, s, rec(s, to, client.APIS3), b, "from-peer", suite.Write{Size: 1 << 10})
			expectConverged(ctx, s)
			expectSameListings(ctx, b, "from-creator", "from-peer")
			// Emptied (verified), it can be removed, and is gone at both.
			for _, k := range []string{"from-creator", "from-peer"} {
				del(ctx, s, rec(s, env.Site(c.removeAt), c.removeAPI), b, k)
			}
			expectConverged(ctx, s)
			expectSameListings(ctx, b, []string{}...)
			rc, err := env.Client(env.Site(c.removeAt), c.removeAPI, true)
			Expect(err).NotTo(HaveOccurred())
			versioned := false
			if s3c, ok := rc.(*client.S3); ok {
				vc, err := s3c.Minio().GetBucketVersioning(ctx, b)
				Expect(err).NotTo(HaveOccurred())
				versioned = vc.Status != ""
			}
			if versioned {
				// S3 removes only a bucket without versions: a versioned one
				// (MinIO versions every bucket) still holds the deleted
				// keys' versions and delete markers, which go first, and
				// the peer's copies of them may still be arriving.
				Eventually(func() error {
					if err := suite.Empty(ctx, rc, b); err != nil {
						return err
					}
					return rc.DeleteBucket(ctx, b)
				}).WithContext(ctx).WithTimeout(bucketLimit).WithPolling(500 * time.Millisecond).Should(Succeed())
			} else {
				Expect(rc.DeleteBucket(ctx, b)).To(Succeed())
			}
			for _, site := range env.Sites() {
				for _, api := range env.APIs() {
					expectBucketAt(ctx, site, api, b, false)
				}
			}
		}, SpecTimeout(2*time.Minute))
	}
})
