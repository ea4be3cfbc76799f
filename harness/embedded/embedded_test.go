package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/wan"
)

func start(t testing.TB, opts embedded.Options) *embedded.Topology {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 100*time.Millisecond
	}
	topo, err := embedded.Start(context.Background(), opts)
	t.Cleanup(func() {
		if topo != nil {
			topo.Close(context.Background())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func s3c(t testing.TB, s harness.Site) *minio.Client {
	t.Helper()
	c := s.Credentials()
	cl, err := minio.New(strings.TrimPrefix(s.Replicated().S3, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""), Region: s.Region()})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func swc(t testing.TB, s harness.Site) *swift.Connection {
	t.Helper()
	c := s.Credentials()
	conn := &swift.Connection{UserName: c.SwiftUser, ApiKey: c.SwiftKey, AuthUrl: s.Replicated().SwiftAuth}
	if err := conn.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return conn
}

func sites(t testing.TB, topo *embedded.Topology) (harness.Site, harness.Site) {
	s := topo.Sites()
	return s[0], s[1]
}

func eventually(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(c *minio.Client, bucket, key string) (string, error) {
	obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", err
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	return string(b), err
}

func put(t testing.TB, c *minio.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

func hasValue(c *minio.Client, bucket, key, want string) func() error {
	return func() error {
		got, err := get(c, bucket, key)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s/%s is %q, want %q", bucket, key, got, want)
		}
		return nil
	}
}

func mkbucket(t testing.TB, a, b *minio.Client, name string) {
	t.Helper()
	if err := a.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	// BucketExists asks the peer (minio-go answers GetBucketLocation from
	// its own region setting without a request).
	eventually(t, 5*time.Second, "bucket "+name+" at the peer", func() error {
		ok, err := b.BucketExists(context.Background(), name)
		if err == nil && !ok {
			err = fmt.Errorf("bucket %s not there yet", name)
		}
		return err
	})
}

func TestConvergesBothWaysAcrossAPIs(t *testing.T) {
	topo := start(t, embedded.Options{})
	a, b := sites(t, topo)
	ca, cb := s3c(t, a), s3c(t, b)
	mkbucket(t, ca, cb, "both")
	put(t, ca, "both", "k1", "a1")
	if err := swc(t, b).ObjectPutString(context.Background(), "both", "k2", "b2", "text/plain"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "k1 at b", hasValue(cb, "both", "k1", "a1"))
	eventually(t, 5*time.Second, "k2 at a", hasValue(ca, "both", "k2", "b2"))
	// Concurrent overwrites of one key from both sites converge to one value.
	for i := range 20 {
		put(t, ca, "both", "hot", fmt.Sprint("a", i))
		put(t, cb, "both", "hot", fmt.Sprint("b", i))
	}
	eventually(t, 10*time.Second, "hot converges", func() error {
		va, err1 := get(ca, "both", "hot")
		vb, err2 := get(cb, "both", "hot")
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if va != vb {
			return fmt.Errorf("a=%q b=%q", va, vb)
		}
		return nil
	})
}

func TestPartitionHealLosesNothing(t *testing.T) {
	topo := start(t, embedded.Options{})
	a, b := sites(t, topo)
	ca, cb := s3c(t, a), s3c(t, b)
	mkbucket(t, ca, cb, "part")
	for _, l := range topo.Links() {
		if err := l.WAN().Partition(wan.Refuse); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		put(t, ca, "part", fmt.Sprint("a-", i), "va")
		put(t, cb, "part", fmt.Sprint("b-", i), "vb")
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := get(cb, "part", "a-0"); err == nil {
		t.Fatal("a write crossed a partitioned link")
	}
	st, _ := topo.EngineSite(a.Name())
	if s := st.Replicator().Status(); s.InSync || s.PendingOperations == 0 {
		t.Fatalf("status during partition: %+v", s)
	}
	for _, l := range topo.Links() {
		l.WAN().Heal()
	}
	for i := range 30 {
		eventually(t, 10*time.Second, "after heal", hasValue(cb, "part", fmt.Sprint("a-", i), "va"))
		eventually(t, 10*time.Second, "after heal", hasValue(ca, "part", fmt.Sprint("b-", i), "vb"))
	}
}

// TestCrashMidShipmentLosesNothing crashes a site while its changes are
// held back by a blackholed link, restarts it, and expects every change to
// arrive once the link heals.
func TestCrashMidShipmentLosesNothing(t *testing.T) {
	for _, backend := range []string{"memory", "disk"} {
		t.Run(backend, func(t *testing.T) {
			opts := embedded.Options{}
			if backend == "disk" {
				opts.DataDir, opts.NoSync = t.TempDir(), true
			}
			topo := start(t, opts)
			a, b := sites(t, topo)
			ca, cb := s3c(t, a), s3c(t, b)
			mkbucket(t, ca, cb, "crash")
			ab, _ := topo.Link(a.Name(), b.Name())
			ab.WAN().Partition(wan.Blackhole)
			for i := range 20 {
				put(t, ca, "crash", fmt.Sprint("k", i), "v")
			}
			ctx := context.Background()
			if err := a.(harness.Crasher).Crash(ctx); err != nil {
				t.Fatal(err)
			}
			ab.WAN().Heal()
			if err := a.(harness.Crasher).Restart(ctx); err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				eventually(t, 10*time.Second, "after restart", hasValue(cb, "crash", fmt.Sprint("k", i), "v"))
			}
		})
	}
}

func TestOneWayPartition(t *testing.T) {
	topo := start(t, embedded.Options{})
	a, b := sites(t, topo)
	ca, cb := s3c(t, a), s3c(t, b)
	mkbucket(t, ca, cb, "oneway")
	ab, _ := topo.Link(a.Name(), b.Name())
	ab.WAN().Partition(wan.Refuse)
	put(t, ca, "oneway", "from-a", "x")
	put(t, cb, "oneway", "from-b", "y")
	eventually(t, 5*time.Second, "b→a still flows", hasValue(ca, "oneway", "from-b", "y"))
	if _, err := get(cb, "oneway", "from-a"); err == nil {
		t.Fatal("a→b is partitioned, yet from-a arrived")
	}
	ab.WAN().Heal()
	eventually(t, 5*time.Second, "a→b after heal", hasValue(cb, "oneway", "from-a", "x"))
}

func TestStartClose(t *testing.T) {
	start0 := time.Now()
	topo, err := embedded.Start(context.Background(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("start and close: %v", time.Since(start0))
	if _, err := embedded.Start(context.Background(), embedded.Options{Sites: []string{"x", "x"}}); err == nil {
		t.Fatal("two sites with one name accepted")
	}
}

// TestPauseHoldsRequestsAndShipping freezes site b: its endpoints answer
// nothing and a's changes wait; on resume both catch up.
func TestPauseHoldsRequestsAndShipping(t *testing.T) {
	ctx := context.Background()
	topo := start(t, embedded.Options{})
	a, b := sites(t, topo)
	ca, cb := s3c(t, a), s3c(t, b)
	mkbucket(t, ca, cb, "pause")
	if err := b.(harness.Pauser).Pause(ctx); err != nil {
		t.Fatal(err)
	}
	put(t, ca, "pause", "k", "v")
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := cb.StatObject(short, "pause", "k", minio.StatObjectOptions{}); err == nil {
		t.Fatal("a paused site answered")
	}
	ea, _ := topo.EngineSite(a.Name())
	if st := ea.Replicator().Status(); st.InSync {
		t.Fatalf("a in sync with a paused peer: %+v", st)
	}
	if err := b.(harness.Pauser).Resume(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "after resume", hasValue(cb, "pause", "k", "v"))
}
