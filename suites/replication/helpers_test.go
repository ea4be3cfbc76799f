package replication_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/state"
)

// Every spec's verdict is the verifier's; within bounds how long a spec
// waits for replication (the verifier returns as soon as it can decide).
const within = time.Minute

// apis are both protocols over the one namespace, as specs name their
// writes; on a target without Swift, rec sends Swift's share over S3.
var apis = []string{client.APIS3, client.APISwift}

// newSession starts a recorded session closed when the spec ends.
func newSession() *suite.Session {
	GinkgoHelper()
	s, err := env.Session()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.Close)
	if why := env.MissingSwift(); why != "" {
		GinkgoWriter.Printf("%s: the spec's Swift writes and reads go over S3\n", why)
	}
	return s
}

// rec returns the session's recorded client of site through api: Swift
// is a second way in to the same objects, taken over S3 on a target
// without Swift (the S3-only form of the spec).
func rec(s *suite.Session, site harness.Site, api string) *client.Recording {
	GinkgoHelper()
	c, err := s.Client(site, env.WayIn(api))
	Expect(err).NotTo(HaveOccurred())
	return c
}

// skipIf skips the spec, with why, unless why is "".
func skipIf(why string) {
	if why != "" {
		Skip(why)
	}
}

// bucket creates the run's bucket name for replication from site
// (suite.Env.CreateBucket) and waits for the peer to have it.
func bucket(ctx context.Context, s *suite.Session, site harness.Site, name string, o client.BucketOptions) string {
	GinkgoHelper()
	b, err := s.Bucket(ctx, site, name, o)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// versionedBucket creates a versioned bucket at site; Session.Bucket
// returns once every site has versioning on. It skips the spec on a
// target that refuses S3 versioning.
func versionedBucket(ctx context.Context, s *suite.Session, site harness.Site, name string) string {
	GinkgoHelper()
	skipIf(env.MissingVersioning(ctx))
	return bucket(ctx, s, site, name, client.BucketOptions{Versioning: true})
}

// put writes key through c and returns the write's id.
func put(ctx context.Context, s *suite.Session, c *client.Recording, b, key string, w suite.Write) string {
	GinkgoHelper()
	id, err := s.Put(ctx, c, b, key, w)
	Expect(err).NotTo(HaveOccurred(), "put %s/%q at %s over %s", b, key, c.Site(), c.API())
	return id
}

// del deletes key through c and returns the delete's id.
func del(ctx context.Context, s *suite.Session, c *client.Recording, b, key string) string {
	GinkgoHelper()
	id, err := s.Delete(ctx, c, b, key)
	Expect(err).NotTo(HaveOccurred(), "delete %s/%q at %s over %s", b, key, c.Site(), c.API())
	return id
}

// expectConverged has the verifier judge everything the session did so
// far: every write reached the peer, and both sites hold exactly the
// values the history allows. A session may be verified after each step.
func expectConverged(ctx context.Context, s *suite.Session) suite.Verdict {
	GinkgoHelper()
	v, err := s.Verify(ctx, within)
	Expect(err).NotTo(HaveOccurred())
	Expect(v.Verdict).To(Equal(reports.Pass), v.String())
	return v
}

// listing is what one site lists of a bucket through one API.
func listing(ctx context.Context, site harness.Site, api, b string) ([]client.ListEntry, error) {
	c, err := env.Client(site, api, true)
	if err != nil {
		return nil, err
	}
	return c.List(ctx, b, "")
}

// expectSameListings lists b at every site through S3 and (where the
// target has it) Swift, unrecorded: every listing names the same keys with the same sizes,
// and the ETags of one API agree between the sites. With want not nil,
// the keys are exactly those (none for an empty want). It returns the
// keys listed.
func expectSameListings(ctx context.Context, b string, want ...string) []string {
	GinkgoHelper()
	type named struct {
		where string
		list  []client.ListEntry
	}
	var all []named
	for _, api := range env.APIs() {
		var first []client.ListEntry
		for i, site := range env.Sites() {
			l, err := listing(ctx, site, api, b)
			Expect(err).NotTo(HaveOccurred(), "list %s at %s over %s", b, site.Name(), api)
			if i == 0 {
				first = l
			} else {
				Expect(l).To(Equal(first), "%s lists %s over %s unlike %s", site.Name(), b, api, env.Site(0).Name())
			}
			all = append(all, named{site.Name() + "/" + api, l})
		}
	}
	keysOf := func(l []client.ListEntry) []string {
		var ks []string
		for _, e := range l {
			ks = append(ks, fmt.Sprintf("%q (%d bytes)", e.Key, e.Size))
		}
		return ks
	}
	for _, n := range all[1:] {
		Expect(keysOf(n.list)).To(Equal(keysOf(all[0].list)), "keys listed at %s unlike %s", n.where, all[0].where)
	}
	var got []string
	for _, e := range all[0].list {
		got = append(got, e.Key)
	}
	if want != nil {
		Expect(got).To(HaveExactElements(slices.Sorted(slices.Values(want))), "keys of %s", b)
	}
	return got
}

// userMeta returns the user metadata of b/key that every site serves
// through S3 and (where the target has it) Swift, unrecorded, expecting them all to agree; the
// names the verifier writes (the operation ids) are left out. The
// verifier compares metadata between the sites, not with the updates the
// history made, so a spec that knows what an update wrote checks it here.
func userMeta(ctx context.Context, b, key string) map[string]string {
	GinkgoHelper()
	var first map[string]string
	for i, site := range env.Sites() {
		for j, api := range env.APIs() {
			c, err := env.Client(site, api, true)
			Expect(err).NotTo(HaveOccurred())
			info, err := c.Head(ctx, b, key, client.GetOptions{})
			Expect(err).NotTo(HaveOccurred(), "head %s/%q at %s over %s", b, key, site.Name(), api)
			m := map[string]string{}
			for k, v := range info.Meta {
				if k != state.MetaOpID && k != state.MetaUpdateID {
					m[k] = v
				}
			}
			if i == 0 && j == 0 {
				first = m
				continue
			}
			Expect(m).To(Equal(first), "metadata of %s/%q at %s over %s unlike at %s over %s",
				b, key, site.Name(), api, env.Site(0).Name(), client.APIS3)
		}
	}
	return first
}

// exists reports whether site has bucket b (unrecorded): a listing that
// succeeds, or not found.
func exists(ctx context.Context, site harness.Site, api, b string) (bool, error) {
	_, err := listing(ctx, site, api, b)
	if client.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// version is one entry of a versioned listing.
type version struct {
	Key, VersionID, ETag string
	Size                 int64
	DeleteMarker, Latest bool
}

func (v version) String() string {
	kind := "version"
	if v.DeleteMarker {
		kind = "marker"
	}
	l := ""
	if v.Latest {
		l = " latest"
	}
	return fmt.Sprintf("%q %s %s%s (%d bytes, etag %s)", v.Key, kind, v.VersionID, l, v.Size, v.ETag)
}

// versions lists every version and delete marker of b at site (S3,
// unrecorded), each key's newest first.
func versions(ctx context.Context, site harness.Site, b string) ([]version, error) {
	c, err := env.Client(site, client.APIS3, true)
	if err != nil {
		return nil, err
	}
	var out []version
	for o := range c.(*client.S3).Minio().ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		out = append(out, version{Key: o.Key, VersionID: o.VersionID, ETag: strings.Trim(o.ETag, `"`), Size: o.Size,
			DeleteMarker: o.IsDeleteMarker, Latest: o.IsLatest})
	}
	return out, nil
}

// expectSameVersions waits (bounded) until every site lists the same
// versions and delete markers of b, in the same order, and returns them.
// The verifier judges the current value of each key; the history of
// non-current versions is not its business, so it is compared here, once
// the verifier has passed: older versions superseded before they arrived
// may still be on their way.
func expectSameVersions(ctx context.Context, b string) []version {
	GinkgoHelper()
	var first []version
	Eventually(ctx, func(g Gomega) {
		var err error
		first, err = versions(ctx, env.Site(0), b)
		g.Expect(err).NotTo(HaveOccurred())
		for _, site := range env.Sites()[1:] {
			l, err := versions(ctx, site, b)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(l).To(Equal(first), "versions of %s at %s unlike %s", b, site.Name(), env.Site(0).Name())
		}
	}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	return first
}

// shape is the kinds of a key's versions, newest first: "v" a version,
// "m" a delete marker.
func shape(vs []version, key string) string {
	var b strings.Builder
	for _, v := range vs {
		if v.Key != key {
			continue
		}
		if v.DeleteMarker {
			b.WriteByte('m')
		} else {
			b.WriteByte('v')
		}
	}
	return b.String()
}

// parallel runs fns at once and returns their errors joined in order.
func parallel(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, f := range fns {
		wg.Go(func() {
			defer GinkgoRecover()
			<-start
			errs[i] = f()
		})
	}
	close(start)
	wg.Wait()
	return errs
}
