package conformance_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
)

// Storage policies (flavors), as DESIGN.md names them.
var (
	replicatedPolicies = []string{"hp.intensive", "gp.recurring"}
	localOnlyPolicies  = []string{"standard", "archive.cold"}
)

var _ = Describe("replicated and non-replicated endpoints", Label("conformance", "endpoints"), func() {
	perSite(func(i int) {
		It("keeps a bucket created through the non-replicated endpoint at its site, while replication flows",
			Label("slow"), func(ctx SpecContext) {
				site, peer := siteAt(i), peerOf(i)
				needNonReplicated(site)
				nrS3, nrSwift := bucketName("nr-s3", i), bucketName("nr-swift", i)
				witness := bucketName("nr-witness", i)

				// Local buckets first, through both APIs (Swift where the
				// endpoint has it), each with an object.
				local := []string{nrS3}
				createBucket(ctx, s3Client(site, false), nrS3, client.BucketOptions{})
				s3Put(ctx, mc(site, false), nrS3, "local", []byte("stays here"), minio.PutObjectOptions{})
				if site.NonReplicated().SwiftAuth != "" {
					nrs := swiftLogin(ctx, site, false)
					nrs.createContainer(ctx, nrSwift, nil)
					nrs.put(ctx, nrSwift, "local", []byte("stays here too"), nil)
					local = append(local, nrSwift)
				}

				// Then the witness: a bucket for replication and an object
				// through the replicated endpoint.
				Expect(env.CreateBucket(ctx, site, witness, client.BucketOptions{})).To(Succeed())
				body := randomBytes(1000)
				s3Put(ctx, mc(site, true), witness, "witness", body, minio.PutObjectOptions{})
				start := time.Now()
				pc := mc(peer, true)
				Eventually(func(ctx context.Context) (string, error) {
					st, err := pc.StatObject(ctx, witness, "witness", minio.StatObjectOptions{})
					return unquote(st.ETag), err
				}).WithContext(ctx).WithTimeout(replicationWait()).WithPolling(poll).Should(Equal(md5Hex(body)),
					"the witness object written at %s must reach %s: replication must flow for the absence to mean anything",
					site.Name(), peer.Name())
				GinkgoWriter.Printf("witness reached %s in %v\n", peer.Name(), time.Since(start).Round(time.Millisecond))

				// The local buckets are still served where they were made…
				ok, err := mc(site, false).BucketExists(ctx, nrS3)
				Expect(err).NotTo(HaveOccurred())
				Expect(ok).To(BeTrue())
				// …and never appear at the peer, through any endpoint or API.
				var ps *swiftSession
				if env.MissingSwift(peer) == "" {
					ps = swiftLogin(ctx, peer, true)
				}
				absent := func(ctx context.Context) error {
					for _, b := range local {
						if err := bucketAbsent(ctx, peer, ps, b); err != nil {
							return err
						}
					}
					return nil
				}
				Consistently(absent).WithContext(ctx).WithTimeout(*flagAbsenceWait).WithPolling(100 * time.Millisecond).
					Should(Succeed())
			}, SpecTimeout(peerTimeout()))
	})
})

// bucketAbsent returns an error if bucket is visible at site: S3 HEAD
// bucket and ListBuckets at its endpoints, Swift HEAD container at its
// replicated endpoint through ps (unless ps is nil: no Swift).
func bucketAbsent(ctx context.Context, site harness.Site, ps *swiftSession, bucket string) error {
	eps := []bool{true}
	if site.NonReplicated().S3 != "" {
		eps = append(eps, false)
	}
	for _, replicated := range eps {
		r, err := rawS3(site, replicated).do(ctx, http.MethodHead, bucket, "", nil, nil, nil)
		if err != nil {
			return err
		}
		if r.Status != http.StatusNotFound {
			return fmt.Errorf("HEAD bucket %s at %s (replicated endpoint: %v): %s, want 404", bucket, site.Name(), replicated, r)
		}
	}
	bs, err := mc(site, true).ListBuckets(ctx)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.Name == bucket {
			return fmt.Errorf("bucket %s is listed at %s", bucket, site.Name())
		}
	}
	if ps == nil {
		return nil
	}
	r, err := ps.do(ctx, http.MethodHead, bucket, "", nil, nil, nil)
	if err != nil {
		return err
	}
	if r.Status != http.StatusNotFound {
		return fmt.Errorf("Swift HEAD container %s at %s: %s, want 404", bucket, site.Name(), r)
	}
	return nil
}

var _ = Describe("storage policies", Label("conformance", "policies"), func() {
	perSite(func(i int) {
		It("offers hp.intensive and gp.recurring on the replicated endpoint, over S3 and Swift", func(ctx SpecContext) {
			site := siteAt(i)
			skipIf(env.MissingPolicies(ctx, site, true, replicatedPolicies...))
			s := swiftLogin(ctx, site, true)
			for _, p := range replicatedPolicies {
				b := bucketName("pol-s3-"+p, i)
				createBucket(ctx, s3Client(site, true), b, client.BucketOptions{Policy: p})
				Expect(containerPolicy(ctx, s, b)).To(Equal(p), "bucket created over S3 with LocationConstraint %s:%s", site.Region(), p)

				c := bucketName("pol-sw-"+p, i)
				s.createContainer(ctx, c, policyHeader(p))
				Expect(containerPolicy(ctx, s, c)).To(Equal(p), "container created with X-Storage-Policy %s", p)
			}
			b := bucketName("pol-s3-default", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			Expect(containerPolicy(ctx, s, b)).To(BeElementOf(replicatedPolicies), "the replicated endpoint's default policy")
			c := bucketName("pol-sw-default", i)
			s.createContainer(ctx, c, nil)
			Expect(containerPolicy(ctx, s, c)).To(BeElementOf(replicatedPolicies), "the replicated endpoint's default policy")
		}, SpecTimeout(shortTimeout))

		It("refuses other storage policies on the replicated endpoint with a clear error", func(ctx SpecContext) {
			site := siteAt(i)
			// Without the policies it offers, there is nothing to tell the
			// refused ones apart from.
			skipIf(env.MissingPolicies(ctx, site, true, replicatedPolicies...))
			s := swiftLogin(ctx, site, true)
			for _, p := range append(append([]string{}, localOnlyPolicies...), "no-such-policy") {
				b := bucketName("refused-s3-"+p, i)
				err := s3Client(site, true).CreateBucket(ctx, b, client.BucketOptions{Policy: p})
				Expect(err).To(HaveOccurred(), "S3 CreateBucket with LocationConstraint %s:%s", site.Region(), p)
				Expect(errStatus(err)).To(Equal(http.StatusBadRequest), "policy %s: %v", p, err)
				Expect(s3Err(err).Message).To(ContainSubstring(p), "the error names the refused policy")
				GinkgoWriter.Printf("S3 refuses %s: %s %s\n", p, errCode(err), s3Err(err).Message)
				r := s.must(ctx, http.MethodHead, b, "", nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusNotFound), "a refused bucket is not created: %s", r)

				c := bucketName("refused-sw-"+p, i)
				r = s.must(ctx, http.MethodPut, c, "", nil, policyHeader(p), nil)
				Expect(r.Status).To(Equal(http.StatusBadRequest), "Swift PUT container with X-Storage-Policy %s: %s", p, r)
				Expect(string(r.Body)).To(ContainSubstring(p), "the error names the refused policy")
				GinkgoWriter.Printf("Swift refuses %s: %s\n", p, r)
				r = s.must(ctx, http.MethodHead, c, "", nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusNotFound), "a refused container is not created: %s", r)
			}
		}, SpecTimeout(shortTimeout))

		It("offers standard and archive.cold on the non-replicated endpoint", func(ctx SpecContext) {
			site := siteAt(i)
			needNonReplicated(site)
			skipIf(env.MissingPolicies(ctx, site, false, localOnlyPolicies...))
			s := swiftLogin(ctx, site, false)
			for _, p := range localOnlyPolicies {
				b := bucketName("local-s3-"+p, i)
				createBucket(ctx, s3Client(site, false), b, client.BucketOptions{Policy: p})
				Expect(containerPolicy(ctx, s, b)).To(Equal(p), "bucket created over S3 with LocationConstraint %s:%s", site.Region(), p)
				c := bucketName("local-sw-"+p, i)
				s.createContainer(ctx, c, policyHeader(p))
				Expect(containerPolicy(ctx, s, c)).To(Equal(p), "container created with X-Storage-Policy %s", p)
			}
		}, SpecTimeout(shortTimeout))

		It("carries a bucket's storage policy to the peer site", func(ctx SpecContext) {
			site, peer := siteAt(i), peerOf(i)
			for _, at := range []harness.Site{site, peer} {
				skipIf(env.MissingPolicies(ctx, at, true, replicatedPolicies...))
			}
			s, ps := swiftLogin(ctx, site, true), swiftLogin(ctx, peer, true)
			type made struct{ bucket, policy, s3Policy string }
			var all []made
			for _, p := range replicatedPolicies {
				b := bucketName("travel-s3-"+p, i)
				createBucket(ctx, s3Client(site, true), b, client.BucketOptions{Policy: p})
				r := rawS3(site, true).must(ctx, http.MethodHead, b, "", nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusOK), r.String())
				all = append(all, made{b, p, r.Header.Get("X-Storage-Policy")})

				c := bucketName("travel-sw-"+p, i)
				s.createContainer(ctx, c, policyHeader(p))
				r = rawS3(site, true).must(ctx, http.MethodHead, c, "", nil, nil, nil)
				all = append(all, made{c, p, r.Header.Get("X-Storage-Policy")})
			}
			for _, m := range all {
				Eventually(func(ctx context.Context) (string, error) {
					return containerPolicyErr(ctx, ps, m.bucket)
				}).WithContext(ctx).WithTimeout(replicationWait()).WithPolling(poll).Should(Equal(m.policy),
					"bucket %s made at %s with policy %s, as seen at %s (X-Storage-Policy)", m.bucket, site.Name(), m.policy, peer.Name())
				// Where S3 HEAD bucket shows the policy at the origin, it shows the same at the peer.
				if m.s3Policy != "" {
					r := rawS3(peer, true).must(ctx, http.MethodHead, m.bucket, "", nil, nil, nil)
					Expect(r.Status).To(Equal(http.StatusOK), r.String())
					Expect(r.Header.Get("X-Storage-Policy")).To(Equal(m.s3Policy), "S3 HEAD bucket %s at %s", m.bucket, peer.Name())
				}
			}
		}, SpecTimeout(peerTimeout()))
	})
})

// containerPolicy is the X-Storage-Policy of a Swift HEAD of container.
func containerPolicy(ctx context.Context, s *swiftSession, container string) string {
	GinkgoHelper()
	p, err := containerPolicyErr(ctx, s, container)
	Expect(err).NotTo(HaveOccurred())
	return p
}

func containerPolicyErr(ctx context.Context, s *swiftSession, container string) (string, error) {
	r, err := s.do(ctx, http.MethodHead, container, "", nil, nil, nil)
	if err != nil {
		return "", err
	}
	if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
		return "", fmt.Errorf("HEAD container %s: %s", container, r)
	}
	return strings.TrimSpace(r.Header.Get("X-Storage-Policy")), nil
}

// policyHeader asks Swift for storage policy p.
func policyHeader(p string) http.Header { return http.Header{"X-Storage-Policy": {p}} }
