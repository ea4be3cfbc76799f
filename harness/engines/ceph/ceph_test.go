package ceph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
)

// engineWanted says whether the slow test of a real engine should run:
// only when REPLCHECK_ENGINES names it, so `make test` stays fast.
func engineWanted(t *testing.T) {
	t.Helper()
	if !listed(os.Getenv("REPLCHECK_ENGINES"), Target) {
		t.Skip("slow Ceph bring-up: set REPLCHECK_ENGINES=ceph to run it")
	}
	if err := Check(); err != nil {
		if listed(os.Getenv("REPLCHECK_REQUIRE_ENGINES"), Target) {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func listed(list, name string) bool {
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		if f == name || f == "all" {
			return true
		}
	}
	return false
}

func s3Client(t *testing.T, s harness.Site) *minio.Client {
	t.Helper()
	c := s.Credentials()
	u := strings.TrimPrefix(s.Replicated().S3, "http://")
	cl, err := minio.New(u, &minio.Options{Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""), Region: s.Region()})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// waitFor polls check until it succeeds, at most limit tries 100 ms apart.
func waitFor(ctx context.Context, limit int, check func() error) error {
	var err error
	for range limit {
		if err = check(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

func putObject(ctx context.Context, c *minio.Client, bucket, key, body string) error {
	_, err := c.PutObject(ctx, bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
	return err
}

func getObject(ctx context.Context, c *minio.Client, bucket, key string) (string, error) {
	o, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", err
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	return string(b), err
}

// arrival writes key at from and returns how long until to serves it
// with the same body.
func arrival(ctx context.Context, t *testing.T, from, to *minio.Client, bucket, key string) time.Duration {
	t.Helper()
	body := "written " + key + " " + time.Now().String()
	start := time.Now()
	if err := putObject(ctx, from, bucket, key, body); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	if err := waitFor(ctx, 1200, func() error {
		got, err := getObject(ctx, to, bucket, key)
		if err != nil {
			return err
		}
		if got != body {
			return fmt.Errorf("read %q, want %q", got, body)
		}
		return nil
	}); err != nil {
		t.Fatalf("%s never reached the peer: %v", key, err)
	}
	return time.Since(start)
}

func rssKiB(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}

func TestMultisite(t *testing.T) {
	engineWanted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	start := time.Now()
	topo, err := Start(ctx, Options{StateRoot: t.TempDir(), SyncLeasePeriod: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if topo != nil {
		defer topo.Close(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start-up to both gateways ready and the user synced: %s", time.Since(start).Round(time.Millisecond))
	pids := topo.Processes()
	for name, pid := range pids {
		t.Logf("RSS after start-up %s (pid %d): %s", name, pid, rssKiB(pid))
	}

	sites := topo.Sites()
	a, b := sites[0], sites[1]
	ca, cb := s3Client(t, a), s3Client(t, b)
	bucket := "replcheck-ceph-test"

	// A bucket made at the master zone reaches the other by metadata sync.
	t0 := time.Now()
	if err := ca.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: a.Region()}); err != nil {
		t.Fatalf("make bucket at %s: %v", a.Name(), err)
	}
	if err := waitFor(ctx, 1200, func() error {
		ok, err := cb.BucketExists(ctx, bucket)
		if err == nil && !ok {
			err = errors.New("bucket not there yet")
		}
		return err
	}); err != nil {
		t.Fatalf("bucket never reached %s: %v", b.Name(), err)
	}
	t.Logf("bucket %s → %s: %s", a.Name(), b.Name(), time.Since(t0).Round(time.Millisecond))

	for i := range 3 {
		t.Logf("object %s → %s: %s", a.Name(), b.Name(), arrival(ctx, t, ca, cb, bucket, fmt.Sprintf("ab-%d", i)).Round(time.Millisecond))
		t.Logf("object %s → %s: %s", b.Name(), a.Name(), arrival(ctx, t, cb, ca, bucket, fmt.Sprintf("ba-%d", i)).Round(time.Millisecond))
	}
	for _, s := range sites {
		st, err := s.(harness.StatusReporter).ReplicationStatus(ctx)
		t.Logf("replication status of %s: %+v %v", s.Name(), st, err)
	}

	// Cutting link A→B (the proxy B pulls A's changes through) stops A's
	// writes reaching B, and only those: B's writes still reach A.
	ab, err := topo.Link(a.Name(), b.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := ab.WAN().Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	const held = "held-at-a"
	if err := putObject(ctx, ca, bucket, held, "while cut"); err != nil {
		t.Fatalf("put at %s while its outgoing link is cut: %v", a.Name(), err)
	}
	t.Logf("object %s → %s while %s → %s is cut: %s", b.Name(), a.Name(), a.Name(), b.Name(),
		arrival(ctx, t, cb, ca, bucket, "ba-during-cut").Round(time.Millisecond))
	// B cannot have the object: its only way to A is the cut proxy. This
	// also shows B does not answer a read of it by fetching from A.
	if _, err := cb.StatObject(ctx, bucket, held, minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("stat %s at %s while cut: want NoSuchKey, got %v", held, b.Name(), err)
	}
	st, err := a.(harness.StatusReporter).ReplicationStatus(ctx)
	t.Logf("replication status of %s while cut: %+v %v", a.Name(), st, err)
	healed := time.Now()
	if err := ab.WAN().Heal(); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 1800, func() error {
		got, err := getObject(ctx, cb, bucket, held)
		if err == nil && got != "while cut" {
			err = fmt.Errorf("read %q", got)
		}
		return err
	}); err != nil {
		t.Fatalf("%s never reached %s after heal: %v", held, b.Name(), err)
	}
	t.Logf("object held during the cut reached %s %s after heal", b.Name(), time.Since(healed).Round(time.Millisecond))

	// Proxied reads: with 1 s of latency on A→B, B cannot have fetched an
	// object from A by the time it is asked right after the write. A
	// gateway that answers by fetching from A would serve it; RGW answers
	// from its own zone only.
	if err := ab.WAN().SetLatency(time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, ca, bucket, "fresh", "fresh"); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.StatObject(ctx, bucket, "fresh", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("stat of an object not yet replicated at %s: want NoSuchKey, got %v", b.Name(), err)
	}
	if _, err := getObject(ctx, cb, bucket, "fresh"); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("get of an object not yet replicated at %s: want NoSuchKey, got %v", b.Name(), err)
	}
	if err := ab.WAN().ClearFaults(); err != nil {
		t.Fatal(err)
	}

	sseProbe(ctx, t, topo, a.Name(), b.Name(), ca, cb, bucket)

	// Crash and Restart act on the zone's radosgw: writes made at A while
	// B's gateway is down arrive once it is back. Pause and Resume too.
	crasher, pauser := b.(harness.Crasher), b.(harness.Pauser)
	crashed := time.Now()
	if err := crasher.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, ca, bucket, "during-crash", "during-crash"); err != nil {
		t.Fatal(err)
	}
	if err := crasher.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 1200, func() error { _, err := getObject(ctx, cb, bucket, "during-crash"); return err }); err != nil {
		t.Fatalf("object written while %s was down never arrived: %v", b.Name(), err)
	}
	t.Logf("crash, write at %s, restart of %s: object arrived %s after the crash", a.Name(), b.Name(), time.Since(crashed).Round(time.Millisecond))
	paused := time.Now()
	if err := pauser.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, ca, bucket, "during-pause", "during-pause"); err != nil {
		t.Fatal(err)
	}
	if err := pauser.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 1200, func() error { _, err := getObject(ctx, cb, bucket, "during-pause"); return err }); err != nil {
		t.Fatalf("object written while %s was paused never arrived: %v", b.Name(), err)
	}
	t.Logf("pause of %s, write at %s, resume: object arrived %s after the pause", b.Name(), a.Name(), time.Since(paused).Round(time.Millisecond))
	pids = topo.Processes() // the restarted gateway has a new pid

	// Swift over the same namespace at the peer.
	sw := swiftRead(ctx, t, b, bucket, "ab-0")
	if !strings.HasPrefix(sw, "written ab-0") {
		t.Fatalf("swift read at %s: %q", b.Name(), sw)
	}

	for name, pid := range pids {
		t.Logf("RSS at end %s (pid %d): %s", name, pid, rssKiB(pid))
	}
	stop := time.Now()
	if err := topo.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("teardown: %s", time.Since(stop).Round(time.Millisecond))
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Close: %v", name, pid, err)
		}
	}
	if _, err := os.Stat(topo.StateDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory %s left after Close: %v", topo.StateDir(), err)
	}
}

// swiftRead authenticates with TempAuth v1 at s and reads bucket/key.
func swiftRead(ctx context.Context, t *testing.T, s harness.Site, bucket, key string) string {
	t.Helper()
	c := s.Credentials()
	req, _ := newRequest(ctx, "GET", s.Replicated().SwiftAuth, nil)
	req.Header.Set("X-Auth-User", c.SwiftUser)
	req.Header.Set("X-Auth-Key", c.SwiftKey)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	storage, token := resp.Header.Get("X-Storage-Url"), resp.Header.Get("X-Auth-Token")
	if resp.StatusCode/100 != 2 || storage == "" || token == "" {
		t.Fatalf("swift auth at %s: %s", s.Name(), resp.Status)
	}
	req, _ = newRequest(ctx, "GET", storage+"/"+bucket+"/"+key, nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err = httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("swift GET at %s: %s", s.Name(), resp.Status)
	}
	return buf.String()
}

func TestParseSyncStatus(t *testing.T) {
	out := `          realm b5c67c78 (replcheck)
      zonegroup a0afd1ef (europe-se-1)
           zone 45afa0f6 (b)
  metadata sync syncing
                metadata is caught up with master
      data sync source: 9d801a3a (a)
                        syncing
                        full sync: 0/128 shards
                        incremental sync: 128/128 shards
                        data is behind on 3 shards
                        behind shards: [1,7,9]
      data sync source: 11111111 (c)
                        data is caught up with source
`
	st, err := parseSyncStatus(out, "a")
	if err != nil || st.InSync || st.PendingOperations != 3 {
		t.Fatalf("source a: %+v %v", st, err)
	}
	st, err = parseSyncStatus(out, "c")
	if err != nil || !st.InSync || st.PendingOperations != 0 {
		t.Fatalf("source c: %+v %v", st, err)
	}
	if _, err := parseSyncStatus(out, "zz"); err == nil || !strings.Contains(err.Error(), "zz") {
		t.Fatalf("missing source: %v", err)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Sites: []string{"one"}},
		{Sites: []string{"x", "x"}},
		{Sites: []string{"a b", "c"}},
		{Region: "eu/1"},
		{SyncLeasePeriod: time.Millisecond},
	} {
		if _, err := Start(context.Background(), o); err == nil {
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
}

func TestRedactHidesSecrets(t *testing.T) {
	got := strings.Join(redact([]string{"user", "create", "--access-key", "AK", "--secret", "SK"}), " ")
	if strings.Contains(got, "AK") || strings.Contains(got, "SK") {
		t.Fatalf("redact left a secret: %s", got)
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func newRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, method, url, body)
}

// sseProbe writes an object in each SSE mode at the first site, asserts
// it reads back there, and logs whether and how it reached the second.
func sseProbe(ctx context.Context, t *testing.T, topo *Topology, zoneA, zoneB string, ca, cb *minio.Client, bucket string) {
	t.Helper()
	ssec, err := encrypt.NewSSEC(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	kms, err := encrypt.NewSSEKMS(KMSKeyID, nil)
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name string
		sse  encrypt.ServerSide
	}{{"sse-s3", encrypt.NewSSE()}, {"sse-kms", kms}, {"sse-c", ssec}}
	var written []int
	for i, m := range modes {
		body := "encrypted with " + m.name
		_, err := ca.PutObject(ctx, bucket, m.name, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{ServerSideEncryption: m.sse})
		if err != nil {
			t.Logf("SSE %s: put refused: %v", m.name, err)
			continue
		}
		o, err := ca.GetObject(ctx, bucket, m.name, minio.GetObjectOptions{ServerSideEncryption: m.sse})
		if err != nil {
			t.Fatalf("SSE %s: get at the writing site: %v", m.name, err)
		}
		got, err := io.ReadAll(o)
		o.Close()
		if err != nil || string(got) != body {
			t.Fatalf("SSE %s: read back %q, %v", m.name, got, err)
		}
		written = append(written, i)
		// RGW records how it encrypted an object in the rgw.crypt.* attrs
		// that radosgw-admin shows; their absence means stored in clear.
		out, err := topo.Admin(ctx, "object", "stat", "--bucket="+bucket, "--object="+m.name, "--rgw-zone="+zoneA)
		if err != nil {
			t.Fatalf("SSE %s: object stat: %v", m.name, err)
		}
		mode := cryptMode(out)
		t.Logf("SSE %s: stored with crypt mode attr: %q", m.name, mode)
		// SSE-S3 is stored in clear by pacific (no SSE-S3 backend); the
		// other modes must be encrypted at rest.
		if m.name != "sse-s3" && mode == "" {
			t.Errorf("SSE %s: stored without encryption at %s", m.name, zoneA)
		}
	}
	for _, i := range written {
		m := modes[i]
		var info minio.ObjectInfo
		err := waitFor(ctx, 300, func() error {
			var err error
			info, err = cb.StatObject(ctx, bucket, m.name, minio.StatObjectOptions{ServerSideEncryption: m.sse})
			return err
		})
		if err != nil {
			t.Logf("SSE %s: not at the peer after 30 s: %v", m.name, err)
			continue
		}
		t.Logf("SSE %s: at the peer: %s", m.name, sseHeaders(info))
		if out, err := topo.Admin(ctx, "object", "stat", "--bucket="+bucket, "--object="+m.name, "--rgw-zone="+zoneB); err != nil {
			t.Logf("SSE %s: object stat at the peer: %v", m.name, err)
		} else {
			mode := cryptMode(out)
			t.Logf("SSE %s: stored at the peer with crypt mode attr: %q", m.name, mode)
			if m.name != "sse-s3" && mode == "" {
				t.Errorf("SSE %s: replica stored without encryption at %s", m.name, zoneB)
			}
		}
		// What each site serves to a client that gives no key: for SSE-C
		// a site holding ciphertext must refuse.
		for _, c := range []*minio.Client{ca, cb} {
			hi, herr := c.StatObject(ctx, bucket, m.name, minio.StatObjectOptions{})
			got, gerr := getObject(ctx, c, bucket, m.name)
			t.Logf("SSE %s: %s without key: head %s %v; get %q %v", m.name, c.EndpointURL().Host, sseHeaders(hi), herr, got, gerr)
		}
	}
}

func sseHeaders(info minio.ObjectInfo) string {
	var out []string
	for k, v := range info.Metadata {
		if strings.Contains(strings.ToLower(k), "encryption") {
			out = append(out, k+"="+strings.Join(v, ","))
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// cryptMode returns the value of the user.rgw.crypt.mode attr in the JSON
// of `radosgw-admin object stat`, or "" if the object is not encrypted.
func cryptMode(stat []byte) string {
	var s struct {
		Attrs map[string]string `json:"attrs"`
	}
	if err := json.Unmarshal(stat, &s); err != nil {
		return "unreadable: " + err.Error()
	}
	return s.Attrs["user.rgw.crypt.mode"]
}
