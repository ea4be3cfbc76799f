package suite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/verifier/client"
)

// TestExternalRunTouchesOnlyItsOwn: a run against external sites (here an
// embedded topology started apart, described by a sites file) passes,
// removes every bucket it made at both sites, and leaves the buckets it
// did not make, even one with a similar name, as they were.
func TestExternalRunTouchesOnlyItsOwn(t *testing.T) {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close(ctx)
	sites := topo.Sites()
	cr := sites[0].Credentials()
	t.Setenv("RC_TEST_ACCESS_KEY", cr.AccessKey)
	t.Setenv("RC_TEST_SECRET_KEY", cr.SecretKey)
	var file strings.Builder
	file.WriteString("sites:\n")
	for _, s := range sites {
		fmt.Fprintf(&file, "  - name: %s\n    s3: %s\n    swift_auth: %s\n    swift_user: %s\n    access_key_env: RC_TEST_ACCESS_KEY\n    secret_key_env: RC_TEST_SECRET_KEY\n",
			s.Name(), s.Replicated().S3, s.Replicated().SwiftAuth, cr.SwiftUser)
	}
	path := filepath.Join(t.TempDir(), "sites.yaml")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// What the run must not touch: the user's buckets, one named like ours.
	owner, err := client.NewS3(sites[0], true)
	if err != nil {
		t.Fatal(err)
	}
	foreign := []string{"customer-data", "rcs-00000000-sync"}
	for _, b := range foreign {
		if err := owner.CreateBucket(ctx, b, client.BucketOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := owner.Put(ctx, b, "keep-me", strings.NewReader("precious"), 8, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	oldTarget, oldSites := *flagTarget, *flagSites
	*flagTarget, *flagSites = TargetExternal, path
	defer func() { *flagTarget, *flagSites = oldTarget, oldSites }()
	env, err := Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if env.Target != TargetExternal || env.Topo.Target() != TargetExternal {
		t.Fatalf("target %s / %s", env.Target, env.Topo.Target())
	}
	s, err := env.Session()
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for i, site := range env.Sites() {
		b, err := s.Bucket(ctx, site, fmt.Sprint("own-", i), client.BucketOptions{Versioning: i == 1})
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, b)
		for _, other := range env.Sites() {
			c, err := s.Client(other, client.APIS3)
			if err != nil {
				t.Fatal(err)
			}
			for k := range 3 {
				if _, err := s.Put(ctx, c, b, fmt.Sprintf("%s/%d", other.Name(), k), Write{Size: 1000}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	v, err := s.Verify(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != reports.Pass {
		t.Fatalf("external run: %s", v)
	}
	s.Close()
	if err := env.Teardown(ctx); err != nil {
		t.Fatal(err)
	}

	for _, site := range sites {
		c, err := client.NewS3(site, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range mine {
			if _, err := c.List(ctx, b, ""); !client.IsNotFound(err) {
				t.Errorf("%s still at %s after teardown (%v)", b, site.Name(), err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, b := range foreign {
			for {
				rc, _, err := c.Get(ctx, b, "keep-me", client.GetOptions{})
				if err == nil {
					body := make([]byte, 16)
					n, _ := rc.Read(body)
					rc.Close()
					if string(body[:n]) != "precious" {
						t.Errorf("%s/keep-me at %s: %q", b, site.Name(), body[:n])
					}
					break
				}
				if time.Now().After(deadline) { // the peer's replica may still be on its way
					t.Errorf("%s/keep-me at %s: %v", b, site.Name(), err)
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}
