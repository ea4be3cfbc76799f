package external_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/external"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
)

// startEmbedded starts an embedded topology and returns it with a sites
// file describing it (links and status URLs included) and the
// environment holding its credentials.
func startEmbedded(t *testing.T) (*embedded.Topology, string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	t.Cleanup(func() {
		if topo != nil {
			topo.Close(context.Background())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("sites:\n")
	for _, name := range embedded.DefaultSites {
		s, _ := topo.EngineSite(name)
		fmt.Fprintf(&b, `  - name: %s
    s3: %s
    s3_non_replicated: %s
    swift_auth: %s
    access_key_env: TEST_ACCESS_KEY
    secret_key_env: TEST_SECRET_KEY
    swift_user: %s
    status_url: %s
`, name, s.URL(true), s.URL(false), s.SwiftAuthURL(true), s.Credentials().SwiftUser, s.InternalURL()+replication.StatusPath)
	}
	b.WriteString("links:\n")
	for _, l := range topo.Links() {
		fmt.Fprintf(&b, "  - {from: %s, to: %s, toxiproxy: '%s', proxy: %s}\n", l.From(), l.To(), topo.WANControl(), l.WAN().Name())
	}
	c := topo.Sites()[0].Credentials()
	return topo, b.String(), map[string]string{"TEST_ACCESS_KEY": c.AccessKey, "TEST_SECRET_KEY": c.SecretKey}
}

func TestOpenEmbeddedAndPartition(t *testing.T) {
	etopo, src, vars := startEmbedded(t)
	f, err := external.Parse("sites.yaml", []byte(src), env(vars))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topo, err := external.Open(ctx, f, external.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close(ctx)

	if topo.Target() != "external" || len(topo.Sites()) != 2 || len(topo.Links()) != 2 {
		t.Fatalf("topology %s: %d sites, %d links", topo.Target(), len(topo.Sites()), len(topo.Links()))
	}
	caps := topo.Capabilities()
	if got := strings.Join(caps.List(), ","); got != "partition,replication-status,wan-shape" {
		t.Errorf("capabilities %s", got)
	}
	a, b := embedded.DefaultSites[0], embedded.DefaultSites[1]
	sa, err := topo.Site(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := topo.Site(b)
	es, _ := etopo.EngineSite(a)
	if sa.Region() != "europe-se-1" || sa.Replicated().S3 != es.URL(true) || sa.NonReplicated().S3 != es.URL(false) ||
		sa.Credentials() != es.Credentials() {
		t.Errorf("site %s: region %s, endpoints %v %v", a, sa.Region(), sa.Replicated(), sa.NonReplicated())
	}
	for _, s := range topo.Sites() {
		d := fmt.Sprintf("%v %+v %#v %s", s, s, s, topo)
		if strings.Contains(d, vars["TEST_SECRET_KEY"]) {
			t.Errorf("a description shows the secret key: %s", d)
		}
		sr, ok := s.(harness.StatusReporter)
		if !ok {
			t.Fatalf("site %s has a status URL but no ReplicationStatus", s.Name())
		}
		if _, err := sr.ReplicationStatus(ctx); err != nil {
			t.Error(err)
		}
	}
	if _, ok := sa.(harness.Crasher); ok {
		t.Error("an external site claims it can crash")
	}

	ca, err := client.NewS3(sa, true)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := client.NewS3(sb, true)
	const bucket = "ext-partition"
	if err := ca.CreateBucket(ctx, bucket, client.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		t.Helper()
		body := []byte("hello " + key)
		if _, err := ca.Put(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// arrives reports whether key reaches b within d.
	arrives := func(key string, d time.Duration) bool {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			_, err := cb.Head(ctx, bucket, key, client.GetOptions{})
			if err == nil {
				return true
			}
			if !client.IsNotFound(err) {
				t.Fatalf("head %s at %s: %v", key, b, err)
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	put("before")
	if !arrives("before", 10*time.Second) {
		t.Fatal("no replication before the partition")
	}

	l, err := topo.Link(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WAN().Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	put("during")
	if arrives("during", time.Second) {
		t.Fatal("a write crossed the partitioned link")
	}
	// The engine's own link is the one cut: the embedded topology's view
	// of it agrees.
	el, _ := etopo.Link(a, b)
	if faults, err := el.WAN().Faults(); err != nil || len(faults) == 0 {
		t.Errorf("embedded link faults %v, %v", faults, err)
	}
	if err := l.WAN().Heal(); err != nil {
		t.Fatal(err)
	}
	if !arrives("during", 10*time.Second) {
		t.Fatal("the write made during the partition did not arrive after heal")
	}
	if err := topo.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Close left the sites alone.
	put("after-close")
	if !arrives("after-close", 10*time.Second) {
		t.Fatal("replication stopped after Close")
	}
}

func TestOpenFailures(t *testing.T) {
	_, src, vars := startEmbedded(t)
	ctx := context.Background()
	open := func(src string, vars map[string]string) error {
		t.Helper()
		f, err := external.Parse("sites.yaml", []byte(src), env(vars))
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		topo, err := external.Open(ctx, f, external.Options{Timeout: 2 * time.Second})
		if err == nil {
			topo.Close(ctx)
		}
		return err
	}
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	noFields := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"pendingOperations": 0}`)) }))
	defer noFields.Close()
	firstS3 := src[strings.Index(src, "s3: ")+4 : strings.Index(src, "\n    s3_non")]
	firstStatus := src[strings.Index(src, "status_url: ")+12 : strings.Index(src, "/replication/v1/status")+len("/replication/v1/status")]

	wrong := map[string]string{"TEST_ACCESS_KEY": vars["TEST_ACCESS_KEY"], "TEST_SECRET_KEY": "wrong-secret-key-value"}
	for _, tc := range []struct {
		name string
		src  string
		vars map[string]string
		want string
	}{
		{"unreachable", strings.Replace(src, firstS3, dead, 1), vars, "site europe-se-1a: replicated S3 endpoint " + dead + " does not answer"},
		{"wrong secret", src, wrong, "site europe-se-1a: replicated S3 endpoint " + firstS3 + " refused the credentials from $TEST_ACCESS_KEY and $TEST_SECRET_KEY: SignatureDoesNotMatch"},
		{"no such proxy", strings.Replace(src, "proxy: europe-se-1a-to-europe-se-1b", "proxy: nope", 1), vars, "WAN link europe-se-1a → europe-se-1b: proxy nope on toxiproxy"},
		{"status 404", strings.Replace(src, firstStatus, notFound.URL+"/status", 1), vars, "site europe-se-1a: status " + notFound.URL + "/status: 404 Not Found"},
		{"status fields", strings.Replace(src, firstStatus, noFields.URL+"/status", 1), vars, "the status has no pendingBytes, inSync"},
	} {
		err := open(tc.src, tc.vars)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "wrong-secret-key-value") || strings.Contains(err.Error(), vars["TEST_SECRET_KEY"]) {
			t.Errorf("%s: the error shows a secret: %v", tc.name, err)
		}
	}

	// A variable unset between Load and Open is named, not guessed.
	f, err := external.Parse("sites.yaml", []byte(src), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	delete(vars, "TEST_SECRET_KEY")
	if _, err := external.Open(ctx, f, external.Options{}); err == nil || !strings.Contains(err.Error(), "environment variable TEST_SECRET_KEY is not set") {
		t.Errorf("unset after load: %v", err)
	}
}
