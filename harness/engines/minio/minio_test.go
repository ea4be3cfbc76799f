package minio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/engines/proc"
	"github.com/replcheck/replcheck/harness/wan"
)

// engineTest skips unless REPLCHECK_ENGINES names minio (these tests start
// real servers and take tens of seconds), and skips when the binaries are
// missing unless REPLCHECK_REQUIRE_ENGINES names minio.
func engineTest(t *testing.T) {
	t.Helper()
	if !strings.Contains(os.Getenv("REPLCHECK_ENGINES"), Target) {
		t.Skip("starts real MinIO servers: set REPLCHECK_ENGINES=minio (make test-engines) to run")
	}
	if err := Check(); err != nil {
		if strings.Contains(os.Getenv("REPLCHECK_REQUIRE_ENGINES"), Target) {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func startTopology(t *testing.T) *Topology {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	top, err := Start(ctx, Options{StateRoot: t.TempDir()})
	if err != nil {
		if top != nil {
			_ = top.Close(context.Background())
		}
		t.Fatal(err)
	}
	t.Logf("start-up: %v", time.Since(t0).Round(time.Millisecond))
	return top
}

func s3For(t *testing.T, s harness.Site, rt http.RoundTripper) *miniogo.Client {
	t.Helper()
	c := s.Credentials()
	cl, err := miniogo.New(strings.TrimPrefix(s.Replicated().S3, "http://"), &miniogo.Options{
		Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""), Region: s.Region(), Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// replicaAt reports whether key is at the site as a local copy: the read
// carries the no-proxy header, so a site that lacks the object answers
// 404 instead of fetching it from its peer.
func replicaAt(ctx context.Context, c *miniogo.Client, bucket, key string) (miniogo.ObjectInfo, bool, error) {
	o := miniogo.StatObjectOptions{}
	o.Set(NoProxyHeader, "true")
	info, err := c.StatObject(ctx, bucket, key, o)
	if err != nil {
		if miniogo.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return info, false, nil
		}
		return info, false, err
	}
	return info, true, nil
}

// waitFor polls check every 200 ms until it holds or ctx ends.
func waitFor(ctx context.Context, what string, check func() (bool, error)) error {
	var last error
	for {
		ok, err := check()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, errors.New("no VmRSS")
}

func TestFindSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(proc.EnvEnginesDir, t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	err := Check()
	if err == nil || !strings.Contains(err.Error(), "go install "+MinioModule) || !strings.Contains(err.Error(), "go install "+MCModule) {
		t.Fatalf("Check() = %v; want both binaries named with their install commands", err)
	}
}

func TestStartRejectsBadSites(t *testing.T) {
	for _, sites := range [][]string{{"a"}, {"a", "a"}, {"a", "b/c"}} {
		if _, err := Start(context.Background(), Options{Sites: sites}); err == nil {
			t.Errorf("Start with sites %q: no error", sites)
		}
	}
}

func TestSiteReplicationThroughWAN(t *testing.T) {
	engineTest(t)
	top := startTopology(t)
	closed := false
	defer func() {
		if !closed {
			_ = top.Close(context.Background())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sites := top.Sites()
	a, b := sites[0], sites[1]
	if a.Replicated().SwiftAuth != "" || a.NonReplicated().S3 != "" {
		t.Fatalf("endpoints %+v / %+v: MinIO has no Swift API and no non-replicated endpoint", a.Replicated(), a.NonReplicated())
	}
	var pids []int
	for _, s := range top.OwnSites() {
		pid := s.PID()
		pids = append(pids, pid)
		rss, err := rssKiB(pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("site %s: pid %d, RSS after start %d KiB", s.name, pid, rss)
	}
	ca, cb := s3For(t, a, nil), s3For(t, b, nil)

	// Each site is registered at the proxy its peer sends through.
	out, err := top.MC(ctx, "admin", "replicate", "status", a.Name(), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Sites map[string]struct{ Name, Endpoint string }
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("decode mc admin replicate status: %v", err)
	}
	for _, pair := range [][2]harness.Site{{a, b}, {b, a}} {
		site, peer := pair[0], pair[1]
		l, err := top.Link(peer.Name(), site.Name())
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, rs := range st.Sites {
			if rs.Name == site.Name() {
				found = true
				if want := "http://" + l.WAN().Addr(); rs.Endpoint != want {
					t.Errorf("site %s registered at %s, want the proxy %s→%s at %s", site.Name(), rs.Endpoint, peer.Name(), site.Name(), want)
				}
			}
		}
		if !found {
			t.Errorf("site %s not in site replication status", site.Name())
		}
	}

	const bucket = "replcheck-test"
	if err := ca.MakeBucket(ctx, bucket, miniogo.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, "bucket at "+b.Name(), func() (bool, error) { return cb.BucketExists(ctx, bucket) }); err != nil {
		t.Fatal(err)
	}
	put := func(c *miniogo.Client, key string, o miniogo.PutObjectOptions) {
		t.Helper()
		body := []byte("body of " + key)
		if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), o); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	arrives := func(c *miniogo.Client, site, key string) {
		t.Helper()
		t0 := time.Now()
		if err := waitFor(ctx, key+" replicated to "+site, func() (bool, error) {
			info, ok, err := replicaAt(ctx, c, bucket, key)
			return ok && info.ReplicationStatus == "REPLICA", err
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s at %s after %v", key, site, time.Since(t0).Round(time.Millisecond))
	}
	put(ca, "from-a", miniogo.PutObjectOptions{})
	put(cb, "from-b", miniogo.PutObjectOptions{})
	arrives(cb, b.Name(), "from-a")
	arrives(ca, a.Name(), "from-b")
	put(ca, "sse-s3", miniogo.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE()})
	arrives(cb, b.Name(), "sse-s3")
	kms, err := encrypt.NewSSEKMS(KMSKeyName, nil)
	if err != nil {
		t.Fatal(err)
	}
	put(ca, "sse-kms", miniogo.PutObjectOptions{ServerSideEncryption: kms})
	arrives(cb, b.Name(), "sse-kms")

	// Cut A→B: B→A keeps flowing, A→B stalls.
	ab, err := top.Link(a.Name(), b.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := ab.WAN().Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	put(ca, "cut-from-a", miniogo.PutObjectOptions{})
	put(cb, "cut-from-b", miniogo.PutObjectOptions{})
	arrives(ca, a.Name(), "cut-from-b")
	if _, ok, err := replicaAt(ctx, cb, bucket, "cut-from-a"); err != nil || ok {
		t.Fatalf("cut-from-a at %s while A→B is cut: present=%v err=%v", b.Name(), ok, err)
	}
	// What MinIO says of its replication while A→B is cut, for the docs.
	if os.Getenv("REPLCHECK_MINIO_STATUS") != "" {
		for _, args := range [][]string{{"admin", "replicate", "status", a.Name(), "--json"},
			{"replicate", "status", a.Name() + "/" + bucket, "--json"}} {
			out, err := top.MC(ctx, args...)
			t.Logf("mc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// A plain read at B is answered by fetching from A (through B→A).
	if info, err := cb.StatObject(ctx, bucket, "cut-from-a", miniogo.StatObjectOptions{}); err == nil {
		t.Logf("plain HEAD of cut-from-a at %s while A→B is cut: 200, replication status %q (proxied read)", b.Name(), info.ReplicationStatus)
	} else {
		t.Logf("plain HEAD of cut-from-a at %s while A→B is cut: %v", b.Name(), err)
	}
	if err := ab.WAN().Heal(); err != nil {
		t.Fatal(err)
	}
	arrives(cb, b.Name(), "cut-from-a")

	// And the other way: cut B→A, A→B keeps flowing.
	ba, err := top.Link(b.Name(), a.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := ba.WAN().Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	put(cb, "cut2-from-b", miniogo.PutObjectOptions{})
	put(ca, "cut2-from-a", miniogo.PutObjectOptions{})
	arrives(cb, b.Name(), "cut2-from-a")
	if _, ok, err := replicaAt(ctx, ca, bucket, "cut2-from-b"); err != nil || ok {
		t.Fatalf("cut2-from-b at %s while B→A is cut: present=%v err=%v", a.Name(), ok, err)
	}
	if err := ba.WAN().Heal(); err != nil {
		t.Fatal(err)
	}

	// Crash and restart B on the same drive: its data survives.
	sb, _ := top.MinioSite(b.Name())
	if err := sb.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sb.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	pids = append(pids, sb.PID())
	if _, ok, err := replicaAt(ctx, cb, bucket, "from-a"); err != nil || !ok {
		t.Fatalf("from-a at %s after restart: present=%v err=%v", b.Name(), ok, err)
	}

	dir := top.StateDir()
	t0 := time.Now()
	closed = true
	if err := top.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("teardown: %v", time.Since(t0).Round(time.Millisecond))
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(st), ") Z ") {
				t.Errorf("pid %d still running after Close", pid)
			}
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir %s still there after Close: %v", dir, err)
	}
}
