package containers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/containers"
	"github.com/replcheck/replcheck/harness/containers/dockertest"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
)

// binary is the static replcheck the tests pack into the image, built
// once per test process ("" when there is no Docker engine).
var binary string

func TestMain(m *testing.M) {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx := context.Background()
	if dockertest.Available() == nil {
		dir, err := os.MkdirTemp("", "replcheck-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		binary, err = containers.BuildBinary(ctx, "../..", filepath.Join(dir, "replcheck"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
	}
	code := m.Run()
	if code == 0 && dockertest.Available() == nil {
		// Nothing this process started may outlive it.
		if left, err := leftovers(ctx); err != nil || left != "" {
			fmt.Fprintf(os.Stderr, "FAIL: topologies of this test process left behind: %s %v\n", left, err)
			code = 1
		}
	}
	os.Exit(code)
}

// runPrefix starts the run id of every topology this process starts, so
// that leftovers can tell them from those of tests running beside it.
var runPrefix = fmt.Sprintf("t%d-", os.Getpid())

var runSeq int

func runID() string {
	runSeq++
	return fmt.Sprintf("%s%d", runPrefix, runSeq)
}

// leftovers lists what remains of this process's topologies.
func leftovers(ctx context.Context) (string, error) {
	p, err := containers.Provider(ctx)
	if err != nil {
		return "", err
	}
	defer p.Close()
	var out []string
	for i := 1; i <= runSeq; i++ {
		id := fmt.Sprintf("%s%d", runPrefix, i)
		l, err := containers.Find(ctx, p.Client(), id)
		if err != nil {
			return "", err
		}
		if l != (containers.Leftovers{}) {
			out = append(out, id+": "+l.String())
		}
	}
	return strings.Join(out, "; "), nil
}

func needDocker(t testing.TB) { t.Helper(); dockertest.Need(t) }

// start starts a topology that is removed when the test ends.
func start(t testing.TB, opts containers.Options) *containers.Topology {
	t.Helper()
	needDocker(t)
	opts.Binary = binary
	opts.RunID = runID()
	if opts.MaxBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 20*time.Millisecond, 500*time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topo, err := containers.Start(ctx, opts)
	if topo != nil {
		t.Cleanup(func() {
			if t.Failed() {
				dir := filepath.Join(t.TempDir(), "logs")
				if err := topo.SaveLogs(context.Background(), dir); err == nil {
					logs(t, dir)
				}
			}
			if err := topo.Close(context.Background()); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// logs prints the tail of each container log of a failed test.
func logs(t testing.TB, dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		t.Logf("--- %s\n%s", e.Name(), b)
	}
}

func s3(t testing.TB, s harness.Site) client.Client {
	t.Helper()
	c, err := client.NewS3(s, true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func swift(t testing.TB, s harness.Site) client.Client {
	t.Helper()
	c, err := client.NewSwift(s, true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func put(t testing.TB, c client.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.Put(context.Background(), bucket, key, strings.NewReader(body), int64(len(body)), client.PutOptions{}); err != nil {
		t.Fatalf("put %s/%s at %s: %v", bucket, key, c.Site(), err)
	}
}

// read returns what c serves for key, or "" if not found.
func read(t testing.TB, c client.Client, bucket, key string) string {
	t.Helper()
	rc, _, err := c.Get(context.Background(), bucket, key, client.GetOptions{})
	if client.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatalf("get %s/%s at %s: %v", bucket, key, c.Site(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("get %s/%s at %s: %v", bucket, key, c.Site(), err)
	}
	return string(b)
}

// eventually waits up to limit for c to serve want at key.
func eventually(t testing.TB, c client.Client, bucket, key, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := read(t, c, bucket, key)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s at %s after %v: %q, want %q", bucket, key, c.Site(), limit, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// never checks that c does not serve key for d.
func never(t testing.TB, c client.Client, bucket, key string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if got := read(t, c, bucket, key); got != "" {
			t.Fatalf("%s/%s reached %s: %q", bucket, key, c.Site(), got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReplicationAcrossContainers: objects written at either site,
// through either API, reach the other through the WAN proxies; a WAN
// partition holds them back until it heals; a hard partition
// (disconnect) too; a crashed site comes back with its data and catches
// up; pause holds requests; the clock can be skewed; status is reported.
func TestReplicationAcrossContainers(t *testing.T) {
	topo := start(t, containers.Options{})
	ctx := context.Background()
	sites := topo.Sites()
	a, b := sites[0], sites[1]
	sa, sb, wb := s3(t, a), s3(t, b), swift(t, b)
	if err := sa.CreateBucket(ctx, "cont", client.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	// The bucket replicates before objects in it can.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := sb.List(ctx, "cont", ""); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("bucket never reached %s: %v", b.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	put(t, sa, "cont", "a-to-b", "from a")
	eventually(t, sb, "cont", "a-to-b", "from a", 20*time.Second)
	put(t, wb, "cont", "b-to-a", "from b via swift")
	eventually(t, sa, "cont", "b-to-a", "from b via swift", 20*time.Second)

	t.Run("wan partition", func(t *testing.T) {
		l, err := topo.Link(a.Name(), b.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := l.WAN().Partition(wan.Refuse); err != nil {
			t.Fatal(err)
		}
		put(t, sa, "cont", "during-partition", "held")
		never(t, sb, "cont", "during-partition", 2*time.Second)
		if err := l.WAN().Heal(); err != nil {
			t.Fatal(err)
		}
		eventually(t, sb, "cont", "during-partition", "held", 20*time.Second)
	})

	t.Run("hard partition", func(t *testing.T) {
		d := a.(harness.Disconnecter)
		if err := d.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		put(t, sa, "cont", "while-disconnected", "a alone") // clients still reach a
		put(t, sb, "cont", "b-while-a-disconnected", "b alone")
		never(t, sb, "cont", "while-disconnected", 2*time.Second)
		if got := read(t, sa, "cont", "b-while-a-disconnected"); got != "" {
			t.Fatalf("b's write reached a while a was disconnected: %q", got)
		}
		if err := d.Reconnect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Reconnect(ctx); err != nil { // as HealAll does: harmless
			t.Fatalf("second reconnect: %v", err)
		}
		eventually(t, sb, "cont", "while-disconnected", "a alone", 30*time.Second)
		eventually(t, sa, "cont", "b-while-a-disconnected", "b alone", 30*time.Second)
	})

	t.Run("crash and restart", func(t *testing.T) {
		cr := b.(harness.Crasher)
		if err := cr.Crash(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := sb.Get(ctx, "cont", "a-to-b", client.GetOptions{}); err == nil {
			t.Fatal("a crashed site still answers")
		}
		put(t, sa, "cont", "during-crash", "queued at a")
		t0 := time.Now()
		if err := cr.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("restart of %s: %v to ready", b.Name(), time.Since(t0).Round(time.Millisecond))
		// Same ports, same volume: old data is there, new data arrives.
		if got := read(t, sb, "cont", "a-to-b"); got != "from a" {
			t.Fatalf("after restart %s serves %q", b.Name(), got)
		}
		eventually(t, sb, "cont", "during-crash", "queued at a", 30*time.Second)
	})

	t.Run("pause", func(t *testing.T) {
		p := b.(harness.Pauser)
		if err := p.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, _, err := sb.Get(short, "cont", "a-to-b", client.GetOptions{})
		cancel()
		if err == nil {
			t.Error("a paused site answered")
		}
		if err := p.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Resume(ctx); err != nil { // as a heal of every site does: harmless
			t.Fatalf("second resume: %v", err)
		}
		if got := read(t, sb, "cont", "a-to-b"); got != "from a" {
			t.Fatalf("after resume: %q", got)
		}
	})

	t.Run("clock skew and status", func(t *testing.T) {
		if err := a.(harness.ClockSkewer).SetClockSkew(time.Hour); err != nil {
			t.Fatal(err)
		}
		put(t, sa, "cont", "skewed", "x")
		info, err := sa.Head(ctx, "cont", "skewed", client.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ahead := time.Until(info.LastModified); ahead < 50*time.Minute {
			t.Errorf("last-modified %v is %v from now, want about an hour ahead", info.LastModified, ahead)
		}
		if err := a.(harness.ClockSkewer).SetClockSkew(0); err != nil {
			t.Fatal(err)
		}
		eventually(t, sb, "cont", "skewed", "x", 20*time.Second)
		st, err := a.(harness.StatusReporter).ReplicationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("status of %s: %+v", a.Name(), st)
	})
}

// TestCloseLeavesNothing: Close removes every container, volume and
// network of the topology; DownRun removes a topology nobody closed, as
// after a crashed run.
func TestCloseLeavesNothing(t *testing.T) {
	needDocker(t)
	ctx := context.Background()
	p, err := containers.Provider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, crashed := range []bool{false, true} {
		id := runID()
		topo, err := containers.Start(ctx, containers.Options{Binary: binary, RunID: id})
		if err != nil {
			if topo != nil {
				topo.Close(ctx)
			}
			t.Fatal(err)
		}
		l, err := containers.Find(ctx, p.Client(), id)
		if err != nil {
			t.Fatal(err)
		}
		if l != (containers.Leftovers{Containers: 4, Volumes: 2, Networks: 2}) {
			t.Fatalf("running topology: %v, want 4 containers, 2 volumes, 2 networks", l)
		}
		if crashed { // nobody calls Close; `topology down ID` cleans up
			removed, err := containers.DownRun(ctx, p.Client(), id)
			if err != nil || removed != l {
				t.Errorf("DownRun removed %v (%v), want %v", removed, err, l)
			}
		} else if err := topo.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if l, err := containers.Find(ctx, p.Client(), id); err != nil || l != (containers.Leftovers{}) {
			t.Fatalf("crashed %v: after cleanup: %v %v", crashed, l, err)
		}
	}
}

// TestImageCached: the second EnsureImage of one binary builds nothing;
// a binary that needs a dynamic loader is refused with the reason.
func TestImageCached(t *testing.T) {
	needDocker(t)
	ctx := context.Background()
	p, err := containers.Provider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ref, _, err := containers.EnsureImage(ctx, p, binary)
	if err != nil {
		t.Fatal(err)
	}
	ref2, built, err := containers.EnsureImage(ctx, p, binary)
	if err != nil || built || ref2 != ref {
		t.Fatalf("second EnsureImage: %s built=%v %v (first %s)", ref2, built, err, ref)
	}
	exe, err := os.Executable() // the test binary: built with cgo, dynamic
	if err != nil {
		t.Fatal(err)
	}
	if err := containers.CheckStatic(exe); err == nil {
		t.Skip("this test binary is static; nothing to refuse")
	} else if !errors.Is(err, containers.ErrNotStatic) {
		t.Fatalf("CheckStatic(%s): %v", exe, err)
	}
	if _, _, err := containers.EnsureImage(ctx, p, exe); !errors.Is(err, containers.ErrNotStatic) {
		t.Fatalf("EnsureImage of a dynamic binary: %v", err)
	}
}

// TestStartRefusesBadSites: site names become host names.
func TestStartRefusesBadSites(t *testing.T) {
	for _, sites := range [][]string{{"a"}, {"a", "a"}, {"Upper", "b"}, {"a_b", "c"}} {
		_, err := containers.Start(context.Background(), containers.Options{Sites: sites})
		if err == nil || !strings.Contains(err.Error(), "site") {
			t.Errorf("%v: %v", sites, err)
		}
	}
}
