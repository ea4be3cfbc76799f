package suite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
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
	path := sitesFile(t, sites, true)

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
	mustPass(t, s, "external run")
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

// offerer is a topology that offers only some SSE modes, names its KMS
// key and prepares its buckets itself, like the real engines do.
type offerer struct {
	*embedded.Topology
	prepared []string
}

func (o *offerer) SSEModes() []string { return []string{client.SSES3} }
func (o *offerer) KMSKeyID() string   { return "the-key" }
func (o *offerer) PrepareBucket(ctx context.Context, bucket string) error {
	o.prepared = append(o.prepared, bucket)
	// The reference engine replicates it to the other site.
	c, err := client.NewS3(o.Sites()[0], true)
	if err != nil {
		return err
	}
	return c.CreateBucket(ctx, bucket, client.BucketOptions{})
}

// TestS3OnlyTargetSkipsWhatItLacks: on external sites that give only S3
// endpoints (no Swift, no non-replicated endpoint), the checks specs skip
// by name the target and what it lacks, Swift ways in become S3, and a
// replication session written that way still passes; on the full
// reference engine the same checks let every spec run; an engine offering
// some SSE modes and preparing its buckets is asked to.
func TestS3OnlyTargetSkipsWhatItLacks(t *testing.T) {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close(ctx)

	full := NewEnv(TargetEmbedded, topo)
	site := full.Site(0)
	for what, why := range map[string]string{
		"swift":                   full.MissingSwift(),
		"non-replicated":          full.MissingNonReplicated(),
		"replicated policies":     full.MissingPolicies(ctx, site, true, "hp.intensive", "gp.recurring"),
		"non-replicated policies": full.MissingPolicies(ctx, site, false, "standard", "archive.cold"),
		"versioning":              full.MissingVersioning(ctx),
		"SSE-C":                   full.MissingSSE(client.SSEC),
	} {
		if why != "" {
			t.Errorf("embedded target, %s: %q, want nothing missing", what, why)
		}
	}
	if why := full.MissingPolicies(ctx, site, true, "archive.cold"); !strings.Contains(why, "no storage policy archive.cold at the replicated endpoint") {
		t.Errorf("a local-only policy on the replicated endpoint: %q", why)
	}
	if got := full.APIs(); len(got) != 2 || full.WayIn(client.APISwift) != client.APISwift {
		t.Errorf("embedded target: APIs %v, Swift way in %s", got, full.WayIn(client.APISwift))
	}

	sites := topo.Sites()
	path := sitesFile(t, sites, false)
	oldTarget, oldSites := *flagTarget, *flagSites
	*flagTarget, *flagSites = TargetExternal, path
	defer func() { *flagTarget, *flagSites = oldTarget, oldSites }()
	env, err := Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Teardown(ctx)
	a, b := env.Site(0), env.Site(1)
	for what, c := range map[string]struct{ why, want string }{
		"swift":          {env.MissingSwift(), "target external has no Swift API at site " + a.Name()},
		"swift at b":     {env.MissingSwift(b), "target external has no Swift API at site " + b.Name()},
		"non-replicated": {env.MissingNonReplicated(), "target external has no non-replicated endpoint at site " + a.Name()},
		"policies":       {env.MissingPolicies(ctx, a, true, "hp.intensive"), "target external has no Swift API at the replicated endpoint of site " + a.Name()},
	} {
		if !strings.Contains(c.why, c.want) {
			t.Errorf("S3-only target, %s: %q, want it to say %q", what, c.why, c.want)
		}
	}
	if got := env.APIs(); len(got) != 1 || got[0] != client.APIS3 || env.WayIn(client.APISwift) != client.APIS3 {
		t.Errorf("S3-only target: APIs %v, Swift way in %s; want S3 only", got, env.WayIn(client.APISwift))
	}

	// The S3-only form of a replication spec: written at both sites, the
	// Swift share over S3, and judged.
	s, err := env.Session()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bk, err := s.Bucket(ctx, a, "s3-only", client.BucketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, site := range env.Sites() {
		for _, api := range []string{client.APIS3, client.APISwift} {
			c, err := s.Client(site, env.WayIn(api))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Put(ctx, c, bk, fmt.Sprintf("%s/%d", api, i), Write{Size: 2000}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustPass(t, s, "S3-only session")

	// An engine that offers some SSE modes, names its KMS key and sets
	// replication up per bucket.
	o := &offerer{Topology: topo}
	eng := NewEnv("some-engine", o)
	if why := eng.MissingSSE(client.SSEC); why != "target some-engine does not offer SSE-C (it offers SSE-S3)" {
		t.Errorf("SSE-C on an engine offering SSE-S3: %q", why)
	}
	if why := eng.MissingSSE(client.SSES3); why != "" {
		t.Errorf("SSE-S3 on an engine offering it: %q", why)
	}
	es, err := eng.Session()
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	if got := es.SSE(client.SSEKMS); got.KMSKeyID != "the-key" {
		t.Errorf("SSE-KMS write on a KMS key namer: %+v", got)
	}
	pb, err := es.Bucket(ctx, b, "prepared", client.BucketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.prepared) != 1 || o.prepared[0] != pb {
		t.Errorf("prepared buckets %v, want [%s]", o.prepared, pb)
	}
}

// mustPass has the verifier judge s and fails the test unless it passes.
func mustPass(t *testing.T, s *Session, what string) {
	t.Helper()
	v, err := s.Verify(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != reports.Pass {
		t.Fatalf("%s: %s", what, v)
	}
}

// sitesFile writes a sites file for sites' replicated endpoints (S3, and
// Swift if withSwift), naming credentials by variables it sets.
func sitesFile(t *testing.T, sites []harness.Site, withSwift bool) string {
	t.Helper()
	cr := sites[0].Credentials()
	t.Setenv("RC_TEST_ACCESS_KEY", cr.AccessKey)
	t.Setenv("RC_TEST_SECRET_KEY", cr.SecretKey)
	var file strings.Builder
	file.WriteString("sites:\n")
	for _, s := range sites {
		fmt.Fprintf(&file, "  - name: %s\n    s3: %s\n", s.Name(), s.Replicated().S3)
		if withSwift {
			fmt.Fprintf(&file, "    swift_auth: %s\n    swift_user: %s\n", s.Replicated().SwiftAuth, cr.SwiftUser)
		}
		file.WriteString("    access_key_env: RC_TEST_ACCESS_KEY\n    secret_key_env: RC_TEST_SECRET_KEY\n")
	}
	path := filepath.Join(t.TempDir(), "sites.yaml")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
