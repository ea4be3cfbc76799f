package conformance_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/replcheck/replcheck/verifier/client"
)

var _ = Describe("S3 API of the replicated endpoint", Label("conformance", "s3"), func() {
	perSite(func(i int) {
		It("creates, heads, lists and deletes a bucket", func(ctx SpecContext) {
			site := siteAt(i)
			c, raw := mc(site, true), rawS3(site, true)
			b := bucketName("s3-bucket", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})

			r := raw.must(ctx, http.MethodHead, b, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), "HEAD bucket: %s", r)
			ok, err := c.BucketExists(ctx, b)
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue())
			bs, err := c.ListBuckets(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(bucketNames(bs)).To(ContainElement(b))

			r = raw.must(ctx, http.MethodGet, b, "", url.Values{"location": {""}}, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), "GET ?location: %s", r)

			Expect(c.RemoveBucket(ctx, b)).To(Succeed())
			r = raw.must(ctx, http.MethodHead, b, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "HEAD of a deleted bucket: %s", r)
			bs, err = c.ListBuckets(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(bucketNames(bs)).NotTo(ContainElement(b))
		}, SpecTimeout(shortTimeout))

		It("puts, gets, heads and deletes an object with its content type, user metadata and MD5 ETag", func(ctx SpecContext) {
			site := siteAt(i)
			c := mc(site, true)
			b := bucketName("s3-object", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			body := randomBytes(100_000)
			info := s3Put(ctx, c, b, "dir/object.txt", body, minio.PutObjectOptions{
				ContentType:  "text/plain; charset=utf-8",
				UserMetadata: map[string]string{"color": "blue", "multi-word": "two words"},
			})
			Expect(unquote(info.ETag)).To(Equal(md5Hex(body)), "the ETag of a single-part upload is the MD5 of its body")

			got, err := s3Get(ctx, c, b, "dir/object.txt", minio.GetObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(bytes.Equal(got, body)).To(BeTrue(), "GET returns the bytes written")

			h, err := s3Client(site, true).Head(ctx, b, "dir/object.txt", client.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.Size).To(Equal(int64(len(body))))
			Expect(h.ETag).To(Equal(md5Hex(body)))
			Expect(h.ContentType).To(Equal("text/plain; charset=utf-8"))
			Expect(h.Meta).To(Equal(map[string]string{"color": "blue", "multi-word": "two words"}))
			Expect(h.LastModified.IsZero()).To(BeFalse(), "Last-Modified")

			// An object written without a content type reads back with one.
			s3Put(ctx, c, b, "plain", []byte("x"), minio.PutObjectOptions{})
			h, err = s3Client(site, true).Head(ctx, b, "plain", client.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.ContentType).NotTo(BeEmpty())

			Expect(c.RemoveObject(ctx, b, "dir/object.txt", minio.RemoveObjectOptions{})).To(Succeed())
			_, err = c.StatObject(ctx, b, "dir/object.txt", minio.StatObjectOptions{})
			Expect(errStatus(err)).To(Equal(http.StatusNotFound), "HEAD of a deleted object: %v", err)
			_, err = s3Get(ctx, c, b, "dir/object.txt", minio.GetObjectOptions{})
			Expect(errCode(err)).To(Equal("NoSuchKey"), "GET of a deleted object: %v", err)

			// Deleting a key that does not exist succeeds.
			r := rawS3(site, true).must(ctx, http.MethodDelete, b, "never-written", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), "DELETE of a missing key: %s", r)
		}, SpecTimeout(shortTimeout))

		It("serves byte ranges", func(ctx SpecContext) {
			site := siteAt(i)
			raw := rawS3(site, true)
			b := bucketName("s3-range", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			body := randomBytes(1000)
			s3Put(ctx, mc(site, true), b, "k", body, minio.PutObjectOptions{})
			for _, tc := range []struct {
				rng        string
				start, end int // inclusive
			}{
				{"bytes=10-19", 10, 19},
				{"bytes=990-", 990, 999},
				{"bytes=-5", 995, 999},
				{"bytes=900-5000", 900, 999},
			} {
				r := raw.must(ctx, http.MethodGet, b, "k", nil, http.Header{"Range": {tc.rng}}, nil)
				Expect(r.Status).To(Equal(http.StatusPartialContent), "%s: %s", tc.rng, r)
				Expect(r.Header.Get("Content-Range")).To(Equal(fmt.Sprintf("bytes %d-%d/1000", tc.start, tc.end)), tc.rng)
				Expect(r.Body).To(Equal(body[tc.start:tc.end+1]), tc.rng)
			}
			r := raw.must(ctx, http.MethodGet, b, "k", nil, http.Header{"Range": {"bytes=1000-1001"}}, nil)
			Expect(r.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "a range past the end: %s", r)
			Expect(r.S3Error().Code).To(Equal("InvalidRange"))
		}, SpecTimeout(shortTimeout))

		It("answers conditional GETs: If-None-Match, If-Match", func(ctx SpecContext) {
			site := siteAt(i)
			raw := rawS3(site, true)
			b := bucketName("s3-cond", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			body := randomBytes(500)
			etag := `"` + md5Hex(body) + `"`
			s3Put(ctx, mc(site, true), b, "k", body, minio.PutObjectOptions{})

			r := raw.must(ctx, http.MethodGet, b, "k", nil, http.Header{"If-None-Match": {etag}}, nil)
			Expect(r.Status).To(Equal(http.StatusNotModified), "If-None-Match with the current ETag: %s", r)
			Expect(r.Body).To(BeEmpty())
			r = raw.must(ctx, http.MethodHead, b, "k", nil, http.Header{"If-None-Match": {etag}}, nil)
			Expect(r.Status).To(Equal(http.StatusNotModified), "HEAD If-None-Match with the current ETag: %s", r)
			r = raw.must(ctx, http.MethodGet, b, "k", nil, http.Header{"If-None-Match": {`"0123456789abcdef0123456789abcdef"`}}, nil)
			Expect(r.Status).To(Equal(http.StatusOK), "If-None-Match with another ETag: %s", r)
			Expect(r.Body).To(Equal(body))

			r = raw.must(ctx, http.MethodGet, b, "k", nil, http.Header{"If-Match": {etag}}, nil)
			Expect(r.Status).To(Equal(http.StatusOK), "If-Match with the current ETag: %s", r)
			r = raw.must(ctx, http.MethodGet, b, "k", nil, http.Header{"If-Match": {`"0123456789abcdef0123456789abcdef"`}}, nil)
			Expect(r.Status).To(Equal(http.StatusPreconditionFailed), "If-Match with another ETag: %s", r)
			Expect(r.S3Error().Code).To(Equal("PreconditionFailed"))
		}, SpecTimeout(shortTimeout))

		It("lists objects (v2) by prefix and delimiter, page by page", func(ctx SpecContext) {
			site := siteAt(i)
			c, cc := mc(site, true), core(site, true)
			b := bucketName("s3-list", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			keys := []string{"a/1", "a/2", "a/b/3", "b/1", "c", "d"}
			sizes := map[string]int64{}
			for n, k := range keys {
				s3Put(ctx, c, b, k, randomBytes(10+n), minio.PutObjectOptions{})
				sizes[k] = int64(10 + n)
			}

			res, err := cc.ListObjectsV2(b, "", "", "", "", 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(contentKeys(res.Contents)).To(Equal(keys), "every key, in order")
			for _, o := range res.Contents {
				Expect(o.Size).To(Equal(sizes[o.Key]), o.Key)
				Expect(unquote(o.ETag)).To(MatchRegexp("^[0-9a-f]{32}$"), o.Key)
			}
			Expect(res.IsTruncated).To(BeFalse())

			res, err = cc.ListObjectsV2(b, "", "", "", "/", 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(contentKeys(res.Contents)).To(Equal([]string{"c", "d"}))
			Expect(prefixes(res.CommonPrefixes)).To(Equal([]string{"a/", "b/"}))

			res, err = cc.ListObjectsV2(b, "a/", "", "", "/", 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(contentKeys(res.Contents)).To(Equal([]string{"a/1", "a/2"}))
			Expect(prefixes(res.CommonPrefixes)).To(Equal([]string{"a/b/"}))

			res, err = cc.ListObjectsV2(b, "", "b/1", "", "", 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(contentKeys(res.Contents)).To(Equal([]string{"c", "d"}), "start-after")

			// max-keys 2: three pages of two, linked by continuation tokens.
			var pages [][]string
			token := ""
			for range 10 {
				res, err = cc.ListObjectsV2(b, "", "", token, "", 2)
				Expect(err).NotTo(HaveOccurred())
				Expect(len(res.Contents)).To(BeNumerically("<=", 2))
				pages = append(pages, contentKeys(res.Contents))
				if !res.IsTruncated {
					break
				}
				Expect(res.NextContinuationToken).NotTo(BeEmpty(), "a truncated page has a continuation token")
				token = res.NextContinuationToken
			}
			Expect(pages).To(Equal([][]string{{"a/1", "a/2"}, {"a/b/3", "b/1"}, {"c", "d"}}))

			// Common prefixes count towards max-keys.
			var entries []string
			token = ""
			for range 10 {
				res, err = cc.ListObjectsV2(b, "", "", token, "/", 1)
				Expect(err).NotTo(HaveOccurred())
				got := append(prefixes(res.CommonPrefixes), contentKeys(res.Contents)...)
				Expect(got).To(HaveLen(1), "max-keys 1 with a delimiter")
				entries = append(entries, got...)
				if !res.IsTruncated {
					break
				}
				token = res.NextContinuationToken
			}
			Expect(entries).To(Equal([]string{"a/", "b/", "c", "d"}))

			_, err = cc.ListObjectsV2(bucketName("s3-list-missing", i), "", "", "", "", 1000)
			Expect(errCode(err)).To(Equal("NoSuchBucket"))
		}, SpecTimeout(shortTimeout))

		It("uploads in parts: initiate, upload parts, list parts, complete, abort", func(ctx SpecContext) {
			site := siteAt(i)
			c, cc := mc(site, true), core(site, true)
			b := bucketName("s3-multipart", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			p1, p2 := randomBytes(client.MinPartSize), randomBytes(1234)

			id, err := cc.NewMultipartUpload(ctx, b, "big", minio.PutObjectOptions{ContentType: "application/x-test",
				UserMetadata: map[string]string{"origin": "multipart"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(id).NotTo(BeEmpty())
			ups, err := cc.ListMultipartUploads(ctx, b, "", "", "", "", 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(uploadIDs(ups)).To(ContainElement(id), "the upload in progress is listed")

			var parts []minio.CompletePart
			for n, p := range [][]byte{p1, p2} {
				op, err := cc.PutObjectPart(ctx, b, "big", id, n+1, bytes.NewReader(p), int64(len(p)), partOptions(cc))
				Expect(err).NotTo(HaveOccurred())
				Expect(unquote(op.ETag)).To(Equal(md5Hex(p)), "a part's ETag is its MD5")
				parts = append(parts, minio.CompletePart{PartNumber: n + 1, ETag: op.ETag})
			}
			lp, err := cc.ListObjectParts(ctx, b, "big", id, 0, 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(lp.ObjectParts).To(HaveLen(2))
			for n, p := range lp.ObjectParts {
				Expect(p.PartNumber).To(Equal(n + 1))
				Expect(p.Size).To(Equal(int64(len([][]byte{p1, p2}[n]))))
				Expect(unquote(p.ETag)).To(Equal(unquote(parts[n].ETag)))
			}
			_, err = c.StatObject(ctx, b, "big", minio.StatObjectOptions{})
			Expect(errStatus(err)).To(Equal(http.StatusNotFound), "an upload is invisible until completed")

			info, err := cc.CompleteMultipartUpload(ctx, b, "big", id, parts, minio.PutObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(unquote(info.ETag)).To(HaveSuffix("-2"), "a multipart ETag ends in -<parts>")
			got, err := s3Get(ctx, c, b, "big", minio.GetObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(bytes.Equal(got, append(slices.Clone(p1), p2...))).To(BeTrue(), "the parts, in order")
			st, err := c.StatObject(ctx, b, "big", minio.StatObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(st.ContentType).To(Equal("application/x-test"))
			Expect(st.UserMetadata).To(HaveKeyWithValue("Origin", "multipart"))
			Expect(unquote(st.ETag)).To(Equal(unquote(info.ETag)))
			// A ranged read across the part boundary.
			r := rawS3(site, true).must(ctx, http.MethodGet, b, "big", nil,
				http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", len(p1)-10, len(p1)+9)}}, nil)
			Expect(r.Status).To(Equal(http.StatusPartialContent), r.String())
			Expect(r.Body).To(Equal(append(slices.Clone(p1[len(p1)-10:]), p2[:10]...)))

			// Abort: the upload and its parts are gone, nothing is written.
			id2, err := cc.NewMultipartUpload(ctx, b, "aborted", minio.PutObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			_, err = cc.PutObjectPart(ctx, b, "aborted", id2, 1, bytes.NewReader(p2), int64(len(p2)), partOptions(cc))
			Expect(err).NotTo(HaveOccurred())
			Expect(cc.AbortMultipartUpload(ctx, b, "aborted", id2)).To(Succeed())
			_, err = cc.ListObjectParts(ctx, b, "aborted", id2, 0, 1000)
			Expect(errCode(err)).To(Equal("NoSuchUpload"), "list parts of an aborted upload: %v", err)
			_, err = cc.PutObjectPart(ctx, b, "aborted", id2, 2, bytes.NewReader(p2), int64(len(p2)), partOptions(cc))
			Expect(errCode(err)).To(Equal("NoSuchUpload"), "upload a part to an aborted upload: %v", err)
			ups, err = cc.ListMultipartUploads(ctx, b, "", "", "", "", 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(uploadIDs(ups)).NotTo(ContainElement(id2))
			Expect(uploadIDs(ups)).NotTo(ContainElement(id), "a completed upload is no longer listed")
			_, err = c.StatObject(ctx, b, "aborted", minio.StatObjectOptions{})
			Expect(errStatus(err)).To(Equal(http.StatusNotFound))
		}, SpecTimeout(shortTimeout))

		It("copies objects, keeping or replacing their metadata", func(ctx SpecContext) {
			site := siteAt(i)
			c, sc := mc(site, true), s3Client(site, true)
			b := bucketName("s3-copy", i)
			createBucket(ctx, sc, b, client.BucketOptions{})
			body := randomBytes(4096)
			s3Put(ctx, c, b, "src", body, minio.PutObjectOptions{ContentType: "image/png",
				UserMetadata: map[string]string{"color": "blue"}})

			_, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "kept"},
				minio.CopySrcOptions{Bucket: b, Object: "src"})
			Expect(err).NotTo(HaveOccurred())
			h, err := sc.Head(ctx, b, "kept", client.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.ETag).To(Equal(md5Hex(body)))
			Expect(h.ContentType).To(Equal("image/png"), "COPY directive keeps the content type")
			Expect(h.Meta).To(Equal(map[string]string{"color": "blue"}), "COPY directive keeps the metadata")

			_, err = c.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "replaced", ReplaceMetadata: true,
				ContentType: "text/plain", UserMetadata: map[string]string{"shape": "round"}},
				minio.CopySrcOptions{Bucket: b, Object: "src"})
			Expect(err).NotTo(HaveOccurred())
			h, err = sc.Head(ctx, b, "replaced", client.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.ETag).To(Equal(md5Hex(body)))
			Expect(h.ContentType).To(Equal("text/plain"))
			Expect(h.Meta).To(Equal(map[string]string{"shape": "round"}), "REPLACE directive replaces the metadata")
			got, err := s3Get(ctx, c, b, "replaced", minio.GetObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(bytes.Equal(got, body)).To(BeTrue())

			// The source is untouched.
			h, err = sc.Head(ctx, b, "src", client.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.Meta).To(Equal(map[string]string{"color": "blue"}))

			_, err = c.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "x"},
				minio.CopySrcOptions{Bucket: b, Object: "no-such-source"})
			Expect(errCode(err)).To(Equal("NoSuchKey"), "copy of a missing source: %v", err)
		}, SpecTimeout(shortTimeout))

		It("tags objects", func(ctx SpecContext) {
			site := siteAt(i)
			c := mc(site, true)
			b := bucketName("s3-tagging", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			s3Put(ctx, c, b, "k", []byte("tagged"), minio.PutObjectOptions{UserTags: map[string]string{"stage": "new"}})
			t, err := c.GetObjectTagging(ctx, b, "k", minio.GetObjectTaggingOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(t.ToMap()).To(Equal(map[string]string{"stage": "new"}), "tags given at PUT (x-amz-tagging)")

			nt, err := tags.NewTags(map[string]string{"team": "storage", "env": "test"}, true)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.PutObjectTagging(ctx, b, "k", nt, minio.PutObjectTaggingOptions{})).To(Succeed())
			t, err = c.GetObjectTagging(ctx, b, "k", minio.GetObjectTaggingOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(t.ToMap()).To(Equal(map[string]string{"team": "storage", "env": "test"}), "PUT ?tagging replaces the tag set")

			Expect(c.RemoveObjectTagging(ctx, b, "k", minio.RemoveObjectTaggingOptions{})).To(Succeed())
			t, err = c.GetObjectTagging(ctx, b, "k", minio.GetObjectTaggingOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(t.ToMap()).To(BeEmpty())

			_, err = c.GetObjectTagging(ctx, b, "missing", minio.GetObjectTaggingOptions{})
			Expect(errCode(err)).To(Equal("NoSuchKey"))
		}, SpecTimeout(shortTimeout))

		It("versions objects: enable, suspend, list versions, read and delete versions", func(ctx SpecContext) {
			site := siteAt(i)
			skipIf(env.MissingVersioning(ctx))
			c := mc(site, true)
			b := bucketName("s3-versions", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			vc, err := c.GetBucketVersioning(ctx, b)
			Expect(err).NotTo(HaveOccurred())
			Expect(vc.Status).To(BeEmpty(), "a new bucket is unversioned")

			v0, v1, v2, v3 := []byte("v0"), []byte("v1"), []byte("v2"), []byte("v3")
			s3Put(ctx, c, b, "k", v0, minio.PutObjectOptions{})
			Expect(c.EnableVersioning(ctx, b)).To(Succeed())
			vc, err = c.GetBucketVersioning(ctx, b)
			Expect(err).NotTo(HaveOccurred())
			Expect(vc.Status).To(Equal("Enabled"))

			id1 := s3Put(ctx, c, b, "k", v1, minio.PutObjectOptions{}).VersionID
			id2 := s3Put(ctx, c, b, "k", v2, minio.PutObjectOptions{}).VersionID
			Expect(id1).NotTo(BeEmpty(), "a PUT into a versioned bucket returns x-amz-version-id")
			Expect(id2).NotTo(BeElementOf(id1, "", "null"))

			vs := listVersions(ctx, c, b)
			Expect(vs).To(HaveLen(3))
			Expect(vs[0].VersionID).To(Equal(id2))
			Expect(vs[0].IsLatest).To(BeTrue())
			Expect(vs[1].VersionID).To(Equal(id1))
			Expect(vs[2].VersionID).To(Equal("null"), "the version written before versioning is the null version")

			for id, want := range map[string][]byte{id1: v1, id2: v2, "null": v0} {
				got, err := s3Get(ctx, c, b, "k", minio.GetObjectOptions{VersionID: id})
				Expect(err).NotTo(HaveOccurred(), "version %s", id)
				Expect(got).To(Equal(want), "version %s", id)
			}

			// A delete without a version id leaves a delete marker.
			Expect(c.RemoveObject(ctx, b, "k", minio.RemoveObjectOptions{})).To(Succeed())
			_, err = s3Get(ctx, c, b, "k", minio.GetObjectOptions{})
			Expect(errStatus(err)).To(Equal(http.StatusNotFound), "GET behind a delete marker: %v", err)
			vs = listVersions(ctx, c, b)
			Expect(vs).To(HaveLen(4))
			Expect(vs[0].IsDeleteMarker).To(BeTrue())
			Expect(vs[0].IsLatest).To(BeTrue())
			marker := vs[0].VersionID
			got, err := s3Get(ctx, c, b, "k", minio.GetObjectOptions{VersionID: id2})
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(v2), "older versions survive a delete marker")

			// A delete with a version id removes that version for good.
			Expect(c.RemoveObject(ctx, b, "k", minio.RemoveObjectOptions{VersionID: id2})).To(Succeed())
			_, err = s3Get(ctx, c, b, "k", minio.GetObjectOptions{VersionID: id2})
			Expect(errStatus(err)).To(Equal(http.StatusNotFound), "a deleted version: %v", err)
			Expect(errCode(err)).To(BeElementOf("NoSuchVersion", "NoSuchKey"))

			// Suspended: new writes replace the null version.
			Expect(c.SuspendVersioning(ctx, b)).To(Succeed())
			vc, err = c.GetBucketVersioning(ctx, b)
			Expect(err).NotTo(HaveOccurred())
			Expect(vc.Status).To(Equal("Suspended"))
			s3Put(ctx, c, b, "k", v3, minio.PutObjectOptions{})
			vs = listVersions(ctx, c, b)
			ids := make([]string, len(vs))
			for n, v := range vs {
				ids[n] = v.VersionID
			}
			Expect(ids).To(ConsistOf("null", marker, id1))
			Expect(vs[0].VersionID).To(Equal("null"))
			Expect(vs[0].IsLatest).To(BeTrue())
			got, err = s3Get(ctx, c, b, "k", minio.GetObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(v3))
			got, err = s3Get(ctx, c, b, "k", minio.GetObjectOptions{VersionID: id1})
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(v1))
		}, SpecTimeout(shortTimeout))

		It("answers errors with S3's codes", func(ctx SpecContext) {
			site := siteAt(i)
			c, raw := mc(site, true), rawS3(site, true)
			b := bucketName("s3-errors", i)
			createBucket(ctx, s3Client(site, true), b, client.BucketOptions{})
			missing := bucketName("s3-errors-missing", i)

			r := raw.must(ctx, http.MethodGet, missing, "k", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), r.String())
			Expect(r.S3Error().Code).To(Equal("NoSuchBucket"))
			r = raw.must(ctx, http.MethodPut, missing, "k", nil, nil, []byte("x"))
			Expect(r.Status).To(Equal(http.StatusNotFound), r.String())
			Expect(r.S3Error().Code).To(Equal("NoSuchBucket"))
			r = raw.must(ctx, http.MethodGet, missing, "", url.Values{"list-type": {"2"}}, nil, nil)
			Expect(r.S3Error().Code).To(Equal("NoSuchBucket"), r.String())
			r = raw.must(ctx, http.MethodDelete, missing, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), r.String())
			Expect(r.S3Error().Code).To(Equal("NoSuchBucket"))

			r = raw.must(ctx, http.MethodGet, b, "missing", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), r.String())
			Expect(r.S3Error().Code).To(Equal("NoSuchKey"))
			r = raw.must(ctx, http.MethodHead, b, "missing", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), r.String())

			s3Put(ctx, c, b, "k", []byte("x"), minio.PutObjectOptions{})
			r = raw.must(ctx, http.MethodDelete, b, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusConflict), r.String())
			Expect(r.S3Error().Code).To(Equal("BucketNotEmpty"))
			Expect(c.BucketExists(ctx, b)).To(BeTrue(), "a refused delete leaves the bucket")

			err := s3Client(site, true).CreateBucket(ctx, b, client.BucketOptions{})
			Expect(errStatus(err)).To(Equal(http.StatusConflict), "creating a bucket that exists: %v", err)
			Expect(errCode(err)).To(BeElementOf("BucketAlreadyOwnedByYou", "BucketAlreadyExists"))

			for _, bad := range []string{"Upper-Case-" + strings.TrimPrefix(b, env.Prefix), "ab", "under_score", "-leading-hyphen", "two..dots", "192.168.5.4"} {
				err := s3Client(site, true).CreateBucket(ctx, bad, client.BucketOptions{})
				if err == nil {
					_ = c.RemoveBucket(ctx, bad)
				}
				Expect(err).To(HaveOccurred(), "bucket name %q", bad)
				Expect(errStatus(err)).To(Equal(http.StatusBadRequest), "bucket name %q: %v", bad, err)
				Expect(errCode(err)).To(Equal("InvalidBucketName"), "bucket name %q", bad)
			}

			// Wrong credentials: refused, and nothing written.
			cr := site.Credentials()
			for _, tc := range []struct {
				what, access, secret string
				codes                []string
			}{
				{"a wrong secret key", cr.AccessKey, cr.SecretKey + "x", []string{"SignatureDoesNotMatch", "AccessDenied"}},
				{"an unknown access key", "AKIDNOSUCHKEY0000000", cr.SecretKey, []string{"InvalidAccessKeyId", "AccessDenied"}},
				{"no signature", "", "", []string{"AccessDenied"}},
			} {
				w := raw.withKeys(tc.access, tc.secret)
				r = w.must(ctx, http.MethodPut, b, "forbidden", nil, nil, []byte("x"))
				Expect(r.Status).To(Equal(http.StatusForbidden), "PUT with %s: %s", tc.what, r)
				Expect(r.S3Error().Code).To(BeElementOf(tc.codes), "PUT with %s", tc.what)
				GinkgoWriter.Printf("PUT with %s: %d %s\n", tc.what, r.Status, r.S3Error().Code)
				r = w.must(ctx, http.MethodGet, b, "k", nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusForbidden), "GET with %s: %s", tc.what, r)
				Expect(r.S3Error().Code).To(BeElementOf(tc.codes), "GET with %s", tc.what)
				r = w.must(ctx, http.MethodGet, "", "", nil, nil, nil)
				Expect(r.Status).To(Equal(http.StatusForbidden), "list buckets with %s: %s", tc.what, r)
			}
			_, err = c.StatObject(ctx, b, "forbidden", minio.StatObjectOptions{})
			Expect(errStatus(err)).To(Equal(http.StatusNotFound), "a refused PUT writes nothing")
		}, SpecTimeout(shortTimeout))
	})
})

func bucketNames(bs []minio.BucketInfo) []string {
	out := make([]string, len(bs))
	for n, b := range bs {
		out[n] = b.Name
	}
	return out
}

func contentKeys(os []minio.ObjectInfo) []string {
	out := make([]string, 0, len(os))
	for _, o := range os {
		out = append(out, o.Key)
	}
	return out
}

func prefixes(ps []minio.CommonPrefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Prefix)
	}
	return out
}

func uploadIDs(r minio.ListMultipartUploadsResult) []string {
	out := make([]string, 0, len(r.Uploads))
	for _, u := range r.Uploads {
		out = append(out, u.UploadID)
	}
	return out
}

// listVersions lists every version and delete marker of bucket, newest
// first per key.
func listVersions(ctx SpecContext, c *minio.Client, bucket string) []minio.ObjectInfo {
	GinkgoHelper()
	var out []minio.ObjectInfo
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		Expect(o.Err).NotTo(HaveOccurred())
		out = append(out, o)
	}
	return out
}
