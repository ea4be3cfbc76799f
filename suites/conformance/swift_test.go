package conformance_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Swift API of the replicated endpoint", Label("conformance", "swift"), func() {
	perSite(func(i int) {
		It("authenticates with TempAuth v1 and refuses bad keys and tokens", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			cr := site.Credentials()
			ep := site.Replicated()

			r, err := swiftAuth(ctx, ep.SwiftAuth, cr.SwiftUser, cr.SwiftKey)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Status).To(BeElementOf(http.StatusOK, http.StatusNoContent), r.String())
			Expect(r.Header.Get("X-Auth-Token")).NotTo(BeEmpty())
			su := r.Header.Get("X-Storage-Url")
			Expect(su).NotTo(BeEmpty())
			u, err := url.Parse(su)
			Expect(err).NotTo(HaveOccurred())
			Expect(u.Scheme).To(BeElementOf("http", "https"), "X-Storage-Url %s", su)
			Expect(u.Path).To(HavePrefix("/v1/"), "X-Storage-Url %s", su)

			s := swiftLogin(ctx, site, true)
			r = s.must(ctx, http.MethodHead, "", "", nil, nil, nil)
			Expect(r.Status).To(BeElementOf(http.StatusNoContent, http.StatusOK), "HEAD account with the token: %s", r)
			r = s.must(ctx, http.MethodGet, "", "", nil, nil, nil)
			Expect(r.Status).To(BeElementOf(http.StatusNoContent, http.StatusOK), "GET account with the token: %s", r)

			r, err = swiftAuth(ctx, ep.SwiftAuth, cr.SwiftUser, cr.SwiftKey+"x")
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Status).To(Equal(http.StatusUnauthorized), "a bad key: %s", r)
			Expect(r.Header.Get("X-Auth-Token")).To(BeEmpty())
			r, err = swiftAuth(ctx, ep.SwiftAuth, cr.SwiftUser+"nosuchuser", cr.SwiftKey)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Status).To(Equal(http.StatusUnauthorized), "an unknown user: %s", r)

			r = s.must(ctx, http.MethodHead, "", "", nil, http.Header{"X-Auth-Token": {"AUTH_tk0000000000000000bad"}}, nil)
			Expect(r.Status).To(Equal(http.StatusUnauthorized), "a bad token: %s", r)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.storageURL, nil)
			Expect(err).NotTo(HaveOccurred())
			resp, err := hc.Do(req)
			Expect(err).NotTo(HaveOccurred())
			r, err = readResponse(resp)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Status).To(BeElementOf(http.StatusUnauthorized, http.StatusForbidden), "no token: %s", r)
		}, SpecTimeout(shortTimeout))

		It("creates, heads, lists and deletes a container", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s := swiftLogin(ctx, site, true)
			c := bucketName("sw-container", i)

			r := s.must(ctx, http.MethodPut, c, "", nil, http.Header{"X-Container-Meta-Owner": {"team-a"}}, nil)
			Expect(r.Status).To(Equal(http.StatusCreated), "PUT container: %s", r)
			r = s.must(ctx, http.MethodPut, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusAccepted), "PUT of an existing container: %s", r)

			r = s.must(ctx, http.MethodHead, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), "HEAD container: %s", r)
			Expect(r.Header.Get("X-Container-Object-Count")).To(Equal("0"))
			Expect(r.Header.Get("X-Container-Bytes-Used")).To(Equal("0"))
			Expect(r.Header.Get("X-Container-Meta-Owner")).To(Equal("team-a"))
			Expect(r.Header.Get("X-Storage-Policy")).NotTo(BeEmpty())

			r = s.must(ctx, http.MethodGet, "", "", url.Values{"format": {"json"}, "prefix": {c}}, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), "GET account: %s", r)
			var cs []struct {
				Name  string `json:"name"`
				Count int64  `json:"count"`
				Bytes int64  `json:"bytes"`
			}
			Expect(json.Unmarshal(r.Body, &cs)).To(Succeed(), r.String())
			Expect(cs).To(HaveLen(1))
			Expect(cs[0].Name).To(Equal(c))

			Expect(s.list(ctx, c, nil)).To(BeEmpty(), "a new container lists nothing")

			r = s.must(ctx, http.MethodDelete, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), "DELETE container: %s", r)
			r = s.must(ctx, http.MethodHead, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "HEAD of a deleted container: %s", r)
			r = s.must(ctx, http.MethodDelete, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "DELETE of a deleted container: %s", r)
		}, SpecTimeout(shortTimeout))

		It("lists a container: JSON and plain, prefix, delimiter, marker, end_marker, limit", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s := swiftLogin(ctx, site, true)
			c := bucketName("sw-list", i)
			s.createContainer(ctx, c, nil)
			keys := []string{"a/1", "a/2", "a/b/3", "b/1", "c", "d"}
			var total int
			for n, k := range keys {
				body := randomBytes(10 + n)
				total += len(body)
				s.put(ctx, c, k, body, http.Header{"Content-Type": {"text/plain"}})
			}

			es := s.list(ctx, c, nil)
			Expect(names(es)).To(Equal(keys))
			for n, e := range es {
				Expect(e.Bytes).To(Equal(int64(10+n)), e.Name)
				Expect(e.Hash).To(MatchRegexp("^[0-9a-f]{32}$"), e.Name)
				Expect(e.ContentType).To(HavePrefix("text/plain"), e.Name)
			}
			r := s.must(ctx, http.MethodGet, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), r.String())
			Expect(strings.Split(strings.TrimRight(string(r.Body), "\n"), "\n")).To(Equal(keys), "the plain listing")

			Expect(names(s.list(ctx, c, url.Values{"prefix": {"a/"}}))).To(Equal([]string{"a/1", "a/2", "a/b/3"}))
			Expect(names(s.list(ctx, c, url.Values{"delimiter": {"/"}}))).To(Equal([]string{"a/", "b/", "c", "d"}))
			Expect(names(s.list(ctx, c, url.Values{"prefix": {"a/"}, "delimiter": {"/"}}))).To(Equal([]string{"a/1", "a/2", "a/b/"}))
			Expect(names(s.list(ctx, c, url.Values{"limit": {"2"}}))).To(Equal([]string{"a/1", "a/2"}))
			Expect(names(s.list(ctx, c, url.Values{"limit": {"2"}, "marker": {"a/2"}}))).To(Equal([]string{"a/b/3", "b/1"}))
			Expect(names(s.list(ctx, c, url.Values{"marker": {"d"}}))).To(BeEmpty())
			Expect(names(s.list(ctx, c, url.Values{"end_marker": {"b/1"}}))).To(Equal([]string{"a/1", "a/2", "a/b/3"}))

			r = s.must(ctx, http.MethodHead, c, "", nil, nil, nil)
			Expect(r.Header.Get("X-Container-Object-Count")).To(Equal(strconv.Itoa(len(keys))))
			Expect(r.Header.Get("X-Container-Bytes-Used")).To(Equal(strconv.Itoa(total)))
		}, SpecTimeout(shortTimeout))

		It("puts, gets, heads, posts and deletes an object with its metadata, content type and MD5 ETag", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s := swiftLogin(ctx, site, true)
			c := bucketName("sw-object", i)
			s.createContainer(ctx, c, nil)
			body := randomBytes(50_000)

			r := s.put(ctx, c, "dir/obj", body, http.Header{"Content-Type": {"application/json"},
				"X-Object-Meta-Color": {"blue"}, "X-Object-Meta-Multi-Word": {"two words"}})
			Expect(unquote(r.Header.Get("Etag"))).To(Equal(md5Hex(body)), "the ETag of a PUT is the MD5 of its body")

			r = s.must(ctx, http.MethodGet, c, "dir/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), r.String())
			Expect(r.Body).To(Equal(body))
			Expect(unquote(r.Header.Get("Etag"))).To(Equal(md5Hex(body)))
			Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))
			Expect(r.Header.Get("X-Object-Meta-Color")).To(Equal("blue"))
			Expect(r.Header.Get("X-Object-Meta-Multi-Word")).To(Equal("two words"))

			r = s.must(ctx, http.MethodHead, c, "dir/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), r.String())
			Expect(r.Body).To(BeEmpty())
			Expect(r.Header.Get("Content-Length")).To(Equal(strconv.Itoa(len(body))))
			Expect(unquote(r.Header.Get("Etag"))).To(Equal(md5Hex(body)))
			Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))
			Expect(r.Header.Get("X-Object-Meta-Color")).To(Equal("blue"))
			Expect(r.Header.Get("Last-Modified")).NotTo(BeEmpty())
			Expect(r.Header.Get("X-Timestamp")).NotTo(BeEmpty())

			// The ETag a client sends is checked against the body.
			r = s.must(ctx, http.MethodPut, c, "checked", nil, http.Header{"Etag": {md5Hex(body)}}, body)
			Expect(r.Status).To(Equal(http.StatusCreated), "PUT with the right ETag: %s", r)
			r = s.must(ctx, http.MethodPut, c, "bad-etag", nil, http.Header{"Etag": {md5Hex([]byte("other"))}}, body)
			Expect(r.Status).To(Equal(http.StatusUnprocessableEntity), "PUT with a wrong ETag: %s", r)
			r = s.must(ctx, http.MethodHead, c, "bad-etag", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "a PUT refused for its ETag writes nothing: %s", r)

			// POST replaces the user metadata, and keeps data and content type.
			r = s.must(ctx, http.MethodPost, c, "dir/obj", nil, http.Header{"X-Object-Meta-Shape": {"round"}}, nil)
			Expect(r.Status).To(Equal(http.StatusAccepted), "POST object: %s", r)
			r = s.must(ctx, http.MethodHead, c, "dir/obj", nil, nil, nil)
			Expect(r.Header.Get("X-Object-Meta-Shape")).To(Equal("round"))
			Expect(r.Header.Get("X-Object-Meta-Color")).To(BeEmpty(), "POST replaces every X-Object-Meta-*")
			Expect(unquote(r.Header.Get("Etag"))).To(Equal(md5Hex(body)))
			Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))

			r = s.must(ctx, http.MethodDelete, c, "dir/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), "DELETE object: %s", r)
			r = s.must(ctx, http.MethodGet, c, "dir/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "GET of a deleted object: %s", r)
			r = s.must(ctx, http.MethodDelete, c, "dir/obj", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "DELETE of a deleted object: %s", r)
		}, SpecTimeout(shortTimeout))

		It("serves ranges and conditional GETs", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s := swiftLogin(ctx, site, true)
			c := bucketName("sw-range", i)
			s.createContainer(ctx, c, nil)
			body := randomBytes(1000)
			etag := md5Hex(body)
			s.put(ctx, c, "k", body, nil)

			for _, tc := range []struct {
				rng, cr    string
				start, end int
			}{
				{"bytes=10-19", "bytes 10-19/1000", 10, 20},
				{"bytes=990-", "bytes 990-999/1000", 990, 1000},
				{"bytes=-5", "bytes 995-999/1000", 995, 1000},
			} {
				r := s.must(ctx, http.MethodGet, c, "k", nil, http.Header{"Range": {tc.rng}}, nil)
				Expect(r.Status).To(Equal(http.StatusPartialContent), "%s: %s", tc.rng, r)
				Expect(r.Header.Get("Content-Range")).To(Equal(tc.cr), tc.rng)
				Expect(r.Body).To(Equal(body[tc.start:tc.end]), tc.rng)
			}
			r := s.must(ctx, http.MethodGet, c, "k", nil, http.Header{"Range": {"bytes=1000-2000"}}, nil)
			Expect(r.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "a range past the end: %s", r)

			for _, inm := range []string{etag, `"` + etag + `"`, "*"} {
				r = s.must(ctx, http.MethodGet, c, "k", nil, http.Header{"If-None-Match": {inm}}, nil)
				Expect(r.Status).To(Equal(http.StatusNotModified), "If-None-Match %s: %s", inm, r)
				Expect(r.Body).To(BeEmpty())
			}
			r = s.must(ctx, http.MethodGet, c, "k", nil, http.Header{"If-None-Match": {md5Hex([]byte("other"))}}, nil)
			Expect(r.Status).To(Equal(http.StatusOK), "If-None-Match with another ETag: %s", r)
			r = s.must(ctx, http.MethodGet, c, "k", nil, http.Header{"If-Match": {etag}}, nil)
			Expect(r.Status).To(Equal(http.StatusOK), "If-Match with the ETag: %s", r)
			r = s.must(ctx, http.MethodGet, c, "k", nil, http.Header{"If-Match": {md5Hex([]byte("other"))}}, nil)
			Expect(r.Status).To(Equal(http.StatusPreconditionFailed), "If-Match with another ETag: %s", r)

			// If-None-Match: * on PUT creates only.
			r = s.must(ctx, http.MethodPut, c, "k", nil, http.Header{"If-None-Match": {"*"}}, []byte("again"))
			Expect(r.Status).To(Equal(http.StatusPreconditionFailed), "PUT If-None-Match: * over an object: %s", r)
			r = s.must(ctx, http.MethodPut, c, "new", nil, http.Header{"If-None-Match": {"*"}}, []byte("new"))
			Expect(r.Status).To(Equal(http.StatusCreated), "PUT If-None-Match: * of a new object: %s", r)
			r = s.must(ctx, http.MethodGet, c, "k", nil, nil, nil)
			Expect(r.Body).To(Equal(body), "the refused PUT changed nothing")
		}, SpecTimeout(shortTimeout))

		It("copies objects with COPY and X-Copy-From", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s := swiftLogin(ctx, site, true)
			c := bucketName("sw-copy", i)
			s.createContainer(ctx, c, nil)
			body := randomBytes(3000)
			s.put(ctx, c, "src", body, http.Header{"Content-Type": {"image/png"}, "X-Object-Meta-Color": {"blue"}})

			r := s.must(ctx, "COPY", c, "src", nil, http.Header{"Destination": {c + "/by-copy"}}, nil)
			Expect(r.Status).To(Equal(http.StatusCreated), "COPY: %s", r)
			r = s.must(ctx, http.MethodGet, c, "by-copy", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusOK), r.String())
			Expect(r.Body).To(Equal(body))
			Expect(unquote(r.Header.Get("Etag"))).To(Equal(md5Hex(body)))
			Expect(r.Header.Get("Content-Type")).To(Equal("image/png"))
			Expect(r.Header.Get("X-Object-Meta-Color")).To(Equal("blue"), "a copy keeps the source's metadata")

			r = s.must(ctx, http.MethodPut, c, "by-put", nil, http.Header{"X-Copy-From": {c + "/src"},
				"X-Object-Meta-Shape": {"round"}}, nil)
			Expect(r.Status).To(Equal(http.StatusCreated), "PUT with X-Copy-From: %s", r)
			r = s.must(ctx, http.MethodGet, c, "by-put", nil, nil, nil)
			Expect(r.Body).To(Equal(body))
			Expect(r.Header.Get("X-Object-Meta-Color")).To(Equal("blue"))
			Expect(r.Header.Get("X-Object-Meta-Shape")).To(Equal("round"), "the request's metadata is added")

			r = s.must(ctx, "COPY", c, "src", nil, http.Header{"Destination": {c + "/fresh"},
				"X-Fresh-Metadata": {"true"}, "X-Object-Meta-Size": {"big"}}, nil)
			Expect(r.Status).To(Equal(http.StatusCreated), "COPY with X-Fresh-Metadata: %s", r)
			r = s.must(ctx, http.MethodHead, c, "fresh", nil, nil, nil)
			Expect(r.Header.Get("X-Object-Meta-Size")).To(Equal("big"))
			Expect(r.Header.Get("X-Object-Meta-Color")).To(BeEmpty(), "X-Fresh-Metadata drops the source's metadata")

			r = s.must(ctx, http.MethodHead, c, "src", nil, nil, nil)
			Expect(r.Header.Get("X-Object-Meta-Color")).To(Equal("blue"), "the source is untouched")

			r = s.must(ctx, http.MethodPut, c, "x", nil, http.Header{"X-Copy-From": {c + "/no-such-source"}}, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "copy of a missing source: %s", r)
		}, SpecTimeout(shortTimeout))

		It("answers errors with Swift's statuses: 404, 409, 401", func(ctx SpecContext) {
			site := swiftSiteAt(i)
			s := swiftLogin(ctx, site, true)
			c := bucketName("sw-errors", i)
			missing := bucketName("sw-errors-missing", i)
			s.createContainer(ctx, c, nil)

			for _, tc := range []struct{ method, container, object string }{
				{http.MethodHead, missing, ""},
				{http.MethodGet, missing, ""},
				{http.MethodDelete, missing, ""},
				{http.MethodGet, missing, "k"},
				{http.MethodPut, missing, "k"},
				{http.MethodGet, c, "missing"},
				{http.MethodHead, c, "missing"},
				{http.MethodDelete, c, "missing"},
				{http.MethodPost, c, "missing"},
			} {
				var body []byte
				if tc.method == http.MethodPut {
					body = []byte("x")
				}
				r := s.must(ctx, tc.method, tc.container, tc.object, nil, nil, body)
				Expect(r.Status).To(Equal(http.StatusNotFound), "%s %s/%s: %s", tc.method, tc.container, tc.object, r)
			}

			s.put(ctx, c, "k", []byte("x"), nil)
			r := s.must(ctx, http.MethodDelete, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusConflict), "DELETE of a non-empty container: %s", r)
			r = s.must(ctx, http.MethodHead, c, "", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNoContent), "the container survives: %s", r)

			cr := site.Credentials()
			r, err := swiftAuth(ctx, site.Replicated().SwiftAuth, cr.SwiftUser, "wrong-"+cr.SwiftKey)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Status).To(Equal(http.StatusUnauthorized), "a bad key: %s", r)
			r = s.must(ctx, http.MethodPut, c, "k2", nil, http.Header{"X-Auth-Token": {"AUTH_tkbad"}}, []byte("x"))
			Expect(r.Status).To(Equal(http.StatusUnauthorized), "PUT with a bad token: %s", r)
			r = s.must(ctx, http.MethodHead, c, "k2", nil, nil, nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), "a refused PUT writes nothing: %s", r)
		}, SpecTimeout(shortTimeout))
	})
})
