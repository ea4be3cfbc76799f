package replication_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

var _ = Describe("versioned buckets", Label("replication"), func() {
	It("replicates versions and delete markers made at one site, then the other", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		bk := versionedBucket(ctx, s, a, "versioned-incremental")
		ca, cb := rec(s, a, client.APIS3), rec(s, b, client.APIS3)
		// Each step is verified (so it reached the other site) before the
		// next is made at the other site.
		put(ctx, s, ca, bk, "k", suite.Write{Size: 10 << 10})
		expectConverged(ctx, s)
		put(ctx, s, cb, bk, "k", suite.Write{Kind: history.Overwrite, Size: 20 << 10})
		expectConverged(ctx, s)
		del(ctx, s, ca, bk, "k") // a delete marker
		expectConverged(ctx, s)
		put(ctx, s, rec(s, b, client.APISwift), bk, "k", suite.Write{Kind: history.Overwrite, Size: 30 << 10})
		expectConverged(ctx, s)
		del(ctx, s, rec(s, a, client.APISwift), bk, "k") // a delete marker, made over Swift
		expectConverged(ctx, s)
		// A key deleted at the other site right after it was written,
		// likely before the write arrived there. Both sites must order the
		// marker and the version alike; which is newer is the verifier's
		// to judge (within the clock-uncertainty bound, either is legal).
		put(ctx, s, cb, bk, "early-delete", suite.Write{Size: 1 << 10})
		del(ctx, s, ca, bk, "early-delete")
		// A multipart version over a single-PUT one, and back.
		put(ctx, s, ca, bk, "mp", suite.Write{Size: 1 << 10})
		expectConverged(ctx, s)
		put(ctx, s, cb, bk, "mp", suite.Write{Kind: history.Multipart, PartSize: partSize, Size: partSize + 1})
		expectConverged(ctx, s)
		put(ctx, s, ca, bk, "mp", suite.Write{Kind: history.Overwrite, Size: 2 << 10})
		expectConverged(ctx, s)
		vs := expectSameVersions(ctx, bk)
		Expect(shape(vs, "k")).To(Equal("mvmvv"), "versions of k: %v", vs)
		Expect(shape(vs, "early-delete")).To(BeElementOf("mv", "vm"), "versions of early-delete: %v", vs)
		Expect(shape(vs, "mp")).To(Equal("vvv"), "versions of mp: %v", vs)
		live := []string{"mp"}
		if shape(vs, "early-delete") == "vm" {
			live = append(live, "early-delete")
		}
		expectSameListings(ctx, bk, live...)
	}, SpecTimeout(2*time.Minute))

	It("replicates versions and delete markers made at both sites at once", func(ctx SpecContext) {
		s := newSession()
		bk := versionedBucket(ctx, s, env.Site(0), "versioned-concurrent")
		const keys = 8
		// At each site at once, for every key: a write, an overwrite and,
		// for odd keys, a delete; so every key has concurrent versions
		// (and markers) from both sites.
		work := func(i int) func() error {
			c := rec(s, env.Site(i), client.APIS3)
			return func() error {
				for k := range keys {
					key := fmt.Sprintf("k%d", k)
					for n, size := range []int64{int64(1000 * (k + 1)), int64(100 * (i + 1))} {
						kind := history.Put
						if n > 0 {
							kind = history.Overwrite
						}
						if _, err := s.Put(ctx, c, bk, key, suite.Write{Kind: kind, Size: size}); err != nil {
							return err
						}
					}
					if k%2 == 1 {
						if _, err := s.Delete(ctx, c, bk, key); err != nil {
							return err
						}
					}
				}
				return nil
			}
		}
		Expect(parallel(work(0), work(1))).To(HaveEach(Succeed()))
		expectConverged(ctx, s)
		vs := expectSameVersions(ctx, bk)
		// Which site's last operation wins a key is the verifier's to
		// judge; here every version and marker must be kept, and a key is
		// listed exactly when its newest entry is a version.
		var live []string
		for k := range keys {
			key := fmt.Sprintf("k%d", k)
			n := 4 // two writes at each site
			if k%2 == 1 {
				n += 2 // and a marker from each
			}
			sh := shape(vs, key)
			Expect(sh).To(HaveLen(n), "versions of %s: %v", key, vs)
			if sh[0] == 'v' {
				live = append(live, key)
			}
		}
		expectSameListings(ctx, bk, live...)
	}, SpecTimeout(2*time.Minute))
})
