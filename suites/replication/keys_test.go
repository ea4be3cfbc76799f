package replication_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

// awkwardKeys are legal object names (UTF-8, no NUL, at most 1024 bytes,
// as S3 and Swift have them) that a path-cleaning, query-decoding or
// length-limited or Unicode-normalising hop between the sites would
// mangle (or merge: the NFC and NFD spellings of é are distinct keys).
var awkwardKeys = []string{
	"with space", "  leading and trailing spaces  ", "plus+sign", "a+b c", "percent%25literal", "100%", "%2e%2e",
	"q?mark", "?", "hash#tag", "#", "amp&eq=1;semi", "tilde~", "back\\slash", "quote\"s'", "<angle>", "tab\there",
	"ctrl\x01char", "new\nline", "cr\rkey", "del\x7f", "unicode/åäö/日本語", "emoji 🙂", "nfc \u00e9", "nfd e\u0301", "rtl עברית",
	"//double//slash", "/leading-slash", "trailing/", "a/../b", "..", ".", "./x", "x/./y",
	strings.Repeat("long/", 180),           // 900 bytes
	strings.Repeat("å", 450),               // 900 bytes, 450 characters
	strings.Repeat("k", 1024),              // the longest key
	"long " + strings.Repeat("%+?# ", 180), // 905 bytes, every one escaped
}

var _ = Describe("awkward key names", Label("replication"), func() {
	It("replicates and lists them identically at both sites, written through S3 and through Swift", func(ctx SpecContext) {
		s := newSession()
		a, b := env.Site(0), env.Site(1)
		// One bucket written through each API, each at its own site.
		viaS3 := bucket(ctx, s, a, "keys-s3", client.BucketOptions{})
		viaSwift := bucket(ctx, s, b, "keys-swift", client.BucketOptions{})
		for i, k := range awkwardKeys {
			put(ctx, s, rec(s, a, client.APIS3), viaS3, k, suite.Write{Size: int64(100 + i)})
			put(ctx, s, rec(s, b, client.APISwift), viaSwift, k, suite.Write{Size: int64(200 + i)})
		}
		expectConverged(ctx, s)
		// From the other site, through the other API: every third key is
		// overwritten, every fifth deleted (in the bucket written through
		// Swift, by one S3 multi-object delete, whose XML body and answer
		// carry the names).
		want := map[string][]string{}
		var multi []string
		for i, k := range awkwardKeys {
			for _, w := range []struct {
				bucket string
				c      *client.Recording
			}{{viaS3, rec(s, b, client.APISwift)}, {viaSwift, rec(s, a, client.APIS3)}} {
				switch {
				case i%5 == 4 && w.bucket == viaSwift:
					multi = append(multi, k)
					continue
				case i%5 == 4:
					del(ctx, s, w.c, w.bucket, k)
					continue
				case i%3 == 2:
					put(ctx, s, w.c, w.bucket, k, suite.Write{Kind: history.Overwrite, Size: int64(300 + i)})
				}
				want[w.bucket] = append(want[w.bucket], k)
			}
		}
		ids, errs, err := s.DeleteObjects(ctx, a, viaSwift, multi)
		Expect(err).NotTo(HaveOccurred())
		Expect(errs).To(HaveEach(Succeed()), "ops %v", ids)
		expectConverged(ctx, s)
		expectSameListings(ctx, viaS3, want[viaS3]...)
		expectSameListings(ctx, viaSwift, want[viaSwift]...)
	}, SpecTimeout(2*time.Minute))
})
