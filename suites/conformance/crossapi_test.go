package conformance_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/verifier/client"
)

var _ = Describe("one namespace through S3 and Swift", Label("conformance", "cross-api"), func() {
	perSite(func(i int) {
		It("serves an S3 bucket as a Swift container and back", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s, c := swiftLogin(ctx, site, true), mc(site, true)
			viaS3, viaSwift := bucketName("x-bucket-s3", i), bucketName("x-bucket-swift", i)

			createBucket(ctx, s3Client(site, true), viaS3, client.BucketOptions{})
			r := s.must(ctx, http.MethodHead, viaS3, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), "HEAD container of a bucket made over S3: %s", r)

			s.createContainer(ctx, viaSwift, nil)
			ok, err := c.BucketExists(ctx, viaSwift)
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue(), "a container made over Swift is an S3 bucket")
			bs, err := c.ListBuckets(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(bucketNames(bs)).To(ContainElements(viaS3, viaSwift))
			acct := s.must(ctx, http.MethodGet, "", "", url.Values{"prefix": {env.Prefix + "x-bucket-"}}, nil, nil)
			Expect(acct.Status).To(Equal(http.StatusOK), acct.String())
			Expect(string(acct.Body)).To(ContainSubstring(viaS3 + "\n"))
			Expect(string(acct.Body)).To(ContainSubstring(viaSwift + "\n"))

			// Deleted through one API, gone through the other.
			Expect(c.RemoveBucket(ctx, viaSwift)).To(Succeed())
			r = s.must(ctx, http.MethodHead, viaSwift, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "a bucket deleted over S3: %s", r)
			r = s.must(ctx, http.MethodDelete, viaS3, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), "DELETE container of a bucket made over S3: %s", r)
			ok, err = c.BucketExists(ctx, viaS3)
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeFalse(), "a container deleted over Swift")
		}, SpecTimeout(shortTimeout))

		It("reads an object written over S3 through Swift, and one written over Swift through S3, metadata included", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s, c, sc := swiftLogin(ctx, site, true), mc(site, true), s3Client(site, true)
			b := bucketName("x-object", i)
			createBucket(ctx, sc, b, client.BucketOptions{})

			body := randomBytes(20_000)
			s3Put(ctx, c, b, "from-s3/obj", body, minio.PutObjectOptions{ContentType: "text/csv",
				UserMetadata: map[string]string{"foo": "bar", "multi-word": "x y"}})
			r := s.must(ctx, http.MethodGet, b, "from-s3/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), r.String())
			Expect(r.Body).To(Equal(body), "Swift reads the bytes written over S3")
			Expect(unquote(r.Header.Get("Etag"))).To(Equal(md5Hex(body)))
			Expect(r.Header.Get("Content-Type")).To(Equal("text/csv"))
			Expect(r.Header.Get("X-Object-Meta-Foo")).To(Equal("bar"), "X-Amz-Meta-Foo is X-Object-Meta-Foo")
			Expect(r.Header.Get("X-Object-Meta-Multi-Word")).To(Equal("x y"))

			body2 := randomBytes(30_000)
			s.put(ctx, b, "from-swift/obj", body2, http.Header{"Content-Type": {"application/pdf"},
				"X-Object-Meta-Foo": {"baz"}, "X-Object-Meta-Multi-Word": {"p q"}})
			got, err := s3Get(ctx, c, b, "from-swift/obj", minio.GetObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(bytes.Equal(got, body2)).To(BeTrue(), "S3 reads the bytes written over Swift")
			h, err := sc.Head(ctx, b, "from-swift/obj", client.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.ETag).To(Equal(md5Hex(body2)))
			Expect(h.ContentType).To(Equal("application/pdf"))
			Expect(h.Meta).To(Equal(map[string]string{"foo": "baz", "multi-word": "p q"}), "X-Object-Meta-Foo is X-Amz-Meta-Foo")

			// A metadata update over Swift shows over S3.
			r = s.must(ctx, http.MethodPost, b, "from-s3/obj", nil, http.Header{"X-Object-Meta-Foo": {"updated"}}, nil)
			Expect(r.Status).To(Equal(http.StatusAccepted), r.String())
			h, err = sc.Head(ctx, b, "from-s3/obj", client.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.Meta).To(Equal(map[string]string{"foo": "updated"}))
			Expect(h.ETag).To(Equal(md5Hex(body)))

			// Deleted through one API, gone through the other.
			r = s.must(ctx, http.MethodDelete, b, "from-s3/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), r.String())
			_, err = c.StatObject(ctx, b, "from-s3/obj", minio.StatObjectOptions{})
			Expect(errStatus(err)).To(Equal(http.StatusNotFound))
			Expect(c.RemoveObject(ctx, b, "from-swift/obj", minio.RemoveObjectOptions{})).To(Succeed())
			r = s.must(ctx, http.MethodHead, b, "from-swift/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), r.String())
		}, SpecTimeout(shortTimeout))

		It("lists the same keys, sizes and ETags through both APIs", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s, c := swiftLogin(ctx, site, true), mc(site, true)
			b := bucketName("x-list", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			for n := range 12 {
				k := fmt.Sprintf("k/%02d", n)
				if n%2 == 0 {
					s3Put(ctx, c, b, k, randomBytes(100+n), minio.PutObjectOptions{})
				} else {
					s.put(ctx, b, k, randomBytes(100+n), nil)
				}
			}
			s3Put(ctx, c, b, "top", randomBytes(7), minio.PutObjectOptions{})

			type entry struct {
				Key  string
				Size int64
				ETag string
			}
			var viaS3 []entry
			for o := range c.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true}) {
				Expect(o.Err).NotTo(HaveOccurred())
				viaS3 = append(viaS3, entry{o.Key, o.Size, unquote(o.ETag)})
			}
			var viaSwift []entry
			for _, e := range s.list(ctx, b, nil) {
				viaSwift = append(viaSwift, entry{e.Name, e.Bytes, unquote(e.Hash)})
			}
			Expect(viaS3).To(HaveLen(13))
			Expect(viaSwift).To(Equal(viaS3))

			// The same with a delimiter: S3's common prefixes are Swift's subdirs.
			res, err := core(site, true).ListObjectsV2(b, "", "", "", "/", 1000)
			Expect(err).NotTo(HaveOccurred())
			want := slices.Concat(prefixes(res.CommonPrefixes), contentKeys(res.Contents))
			slices.Sort(want)
			Expect(names(s.list(ctx, b, url.Values{"delimiter": {"/"}}))).To(Equal(want))
			Expect(want).To(Equal([]string{"k/", "top"}))
		}, SpecTimeout(shortTimeout))
	})
})

var _ = Describe("read-your-writes at the local endpoint", Label("conformance", "read-your-writes"), func() {
	perSite(func(i int) {
		It("serves each S3 write at once to GET, HEAD and LIST at the same endpoint", func(ctx SpecContext) {
			site := siteAt(i)
			c, raw := mc(site, true), rawS3(site, true)
			b := bucketName("ryw-s3", i)
			// A new bucket takes writes at once.
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			for n := range 20 {
				body := randomBytes(1000 + n)
				s3Put(ctx, c, b, "same", body, minio.PutObjectOptions{UserMetadata: map[string]string{"n": fmt.Sprint(n)}})
				got, err := s3Get(ctx, c, b, "same", minio.GetObjectOptions{})
				Expect(err).NotTo(HaveOccurred())
				Expect(bytes.Equal(got, body)).To(BeTrue(), "GET right after overwrite %d", n)
				st, err := c.StatObject(ctx, b, "same", minio.StatObjectOptions{})
				Expect(err).NotTo(HaveOccurred())
				Expect(unquote(st.ETag)).To(Equal(md5Hex(body)), "HEAD right after overwrite %d", n)
				Expect(st.UserMetadata["N"]).To(Equal(fmt.Sprint(n)))

				k := fmt.Sprintf("new/%02d", n)
				s3Put(ctx, c, b, k, body, minio.PutObjectOptions{})
				res, err := core(site, true).ListObjectsV2(b, "", "", "", "", 1000)
				Expect(err).NotTo(HaveOccurred())
				Expect(contentKeys(res.Contents)).To(ContainElement(k), "LIST right after PUT %d", n)
				etags := map[string]string{}
				for _, o := range res.Contents {
					etags[o.Key] = unquote(o.ETag)
				}
				Expect(etags).To(HaveKeyWithValue("same", md5Hex(body)), "LIST shows overwrite %d", n)

				Expect(c.RemoveObject(ctx, b, k, minio.RemoveObjectOptions{})).To(Succeed())
				r := raw.must(ctx, http.MethodHead, b, k, nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusNotFound), "HEAD right after DELETE %d: %s", n, r)
				res, err = core(site, true).ListObjectsV2(b, "", "", "", "", 1000)
				Expect(err).NotTo(HaveOccurred())
				Expect(contentKeys(res.Contents)).NotTo(ContainElement(k), "LIST right after DELETE %d", n)
			}
		}, SpecTimeout(shortTimeout))

		It("serves each Swift write at once to GET, HEAD and listing at the same endpoint", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s := swiftLogin(ctx, site, true)
			c := bucketName("ryw-swift", i)
			s.createContainer(ctx, c, nil)
			for n := range 20 {
				body := randomBytes(1000 + n)
				s.put(ctx, c, "same", body, http.Header{"X-Object-Meta-N": {fmt.Sprint(n)}})
				r := s.must(ctx, http.MethodGet, c, "same", nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusOK), r.String())
				Expect(r.Body).To(Equal(body), "GET right after overwrite %d", n)
				r = s.must(ctx, http.MethodHead, c, "same", nil, nil, nil)
				Expect(unquote(r.Header.Get("Etag"))).To(Equal(md5Hex(body)), "HEAD right after overwrite %d", n)
				Expect(r.Header.Get("X-Object-Meta-N")).To(Equal(fmt.Sprint(n)))

				k := fmt.Sprintf("new/%02d", n)
				s.put(ctx, c, k, body, nil)
				es := s.list(ctx, c, nil)
				Expect(names(es)).To(ContainElement(k), "listing right after PUT %d", n)
				j := slices.IndexFunc(es, func(e swiftEntry) bool { return e.Name == "same" })
				Expect(j).To(BeNumerically(">=", 0), "listing right after overwrite %d", n)
				Expect(unquote(es[j].Hash)).To(Equal(md5Hex(body)), "listing shows overwrite %d", n)
				Expect(es[j].Bytes).To(Equal(int64(len(body))), "listing shows overwrite %d", n)

				r = s.must(ctx, http.MethodDelete, c, k, nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusNoContent), r.String())
				r = s.must(ctx, http.MethodHead, c, k, nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusNotFound), "HEAD right after DELETE %d: %s", n, r)
				Expect(names(s.list(ctx, c, nil))).NotTo(ContainElement(k), "listing right after DELETE %d", n)
			}
			r := s.must(ctx, http.MethodHead, c, "", nil, nil, nil)
			Expect(r.Header.Get("X-Container-Object-Count")).To(Equal("1"), "the container's count right after the writes")
		}, SpecTimeout(shortTimeout))
	})
})
