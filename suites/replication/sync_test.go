package replication_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

var _ = Describe("object sync", Label("replication"), func() {
	It("replicates puts and overwrites both ways, through S3 and Swift", func(ctx SpecContext) {
		s, err := env.Session()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(s.Close)
		a, b := env.Site(0), env.Site(1)
		bucket, err := s.Bucket(ctx, a, "sync", client.BucketOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, api := range []string{client.APIS3, client.APISwift} {
			ca, err := s.Client(a, api)
			Expect(err).NotTo(HaveOccurred())
			cb, err := s.Client(b, api)
			Expect(err).NotTo(HaveOccurred())
			_, err = s.Put(ctx, ca, bucket, api+"/from-a", suite.Write{Size: 10 << 10})
			Expect(err).NotTo(HaveOccurred())
			_, err = s.Put(ctx, cb, bucket, api+"/from-b", suite.Write{Size: 1 << 20})
			Expect(err).NotTo(HaveOccurred())
			_, err = s.Put(ctx, cb, bucket, api+"/from-a", suite.Write{Kind: history.Overwrite, Size: 2000})
			Expect(err).NotTo(HaveOccurred())
		}
		v, err := s.Verify(ctx, time.Minute)
		Expect(err).NotTo(HaveOccurred())
		Expect(v.Verdict).To(Equal("pass"), v.String())
	}, SpecTimeout(2*time.Minute))
})
