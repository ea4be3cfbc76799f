package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/replcheck/replcheck/harness/external"
	"github.com/replcheck/replcheck/probe"
)

// probeRun is a `replcheck probe` running in this process.
type probeRun struct {
	out, errb *syncBuffer
	done      chan int
	cancel    context.CancelFunc
}

func startProbe(t *testing.T, args ...string) *probeRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &probeRun{out: &syncBuffer{}, errb: &syncBuffer{}, done: make(chan int, 1), cancel: cancel}
	go func() { r.done <- run(ctx, append([]string{"probe"}, args...), r.out, r.errb) }()
	t.Cleanup(cancel)
	return r
}

// wait returns the exit code.
func (r *probeRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("probe did not end\nstdout:\n%s\nstderr:\n%s", r.out.String(), r.errb.String())
	}
	return 0
}

// await waits until stdout holds want.
func (r *probeRun) await(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(r.out.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("probe never printed %q\nstdout:\n%s\nstderr:\n%s", want, r.out.String(), r.errb.String())
		}
	}
}

// scrape parses the probe's /metrics with Prometheus' text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// series is the value of a family's series for a direction: a counter's
// or gauge's value, a histogram's observation count.
func series(fams map[string]*dto.MetricFamily, name, from, to string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["from"] != from || l["to"] != to {
			continue
		}
		switch {
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// siteClients are S3 clients for the sites of a sites file, with the
// credentials of the variables it names: independent of what the probe
// itself uses.
func siteClients(t *testing.T, f *external.File) []*minio.Client {
	t.Helper()
	var out []*minio.Client
	for _, s := range f.Sites {
		c, err := minio.New(strings.TrimPrefix(s.S3, "http://"), &minio.Options{
			Creds:  credentials.NewStaticV4(os.Getenv(s.AccessKeyEnv), os.Getenv(s.SecretKeyEnv), ""),
			Region: s.Region, BucketLookup: minio.BucketLookupPath})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// probeLeftovers lists, at every site, what is under the probe prefix in
// bucket, and says whether the bucket is still there.
func probeLeftovers(t *testing.T, clients []*minio.Client, bucket string) (keys []string, buckets int) {
	t.Helper()
	ctx := context.Background()
	for _, c := range clients {
		ok, err := c.BucketExists(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		buckets++
		for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: probe.KeyPrefix, Recursive: true, WithVersions: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			keys = append(keys, c.EndpointURL().Host+" "+o.Key)
		}
	}
	return keys, buckets
}

var probeBucketRE = regexp.MustCompile(`bucket (replcheck-probe-[0-9a-z-]+)`)

// TestProbeAgainstTopologyInAnotherProcess is the probe's acceptance
// test: a topology runs in its own process (`topology up --write-sites`)
// and the probe reaches it only through the sites file.
func TestProbeAgainstTopologyInAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "replcheck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sitesFile := filepath.Join(t.TempDir(), "sites.yaml")
	up := startProc(t, bin, nil, "topology", "up", "--json", "--write-sites", sitesFile)
	var info topologyInfo
	if err := json.Unmarshal([]byte(up.first), &info); err != nil || len(info.Sites) != 2 {
		t.Fatalf("topology up --json %q: %v", up.first, err)
	}
	t.Setenv(envAccessKey, info.Sites[0].AccessKey)
	t.Setenv(envSecretKey, info.Sites[0].SecretKey)
	secrets := []string{info.Sites[0].AccessKey, info.Sites[0].SecretKey}
	ext, err := external.Load(sitesFile)
	if err != nil {
		t.Fatal(err)
	}
	a, b := ext.Sites[0].Name, ext.Sites[1].Name
	clients := siteClients(t, ext)
	noSecrets := func(r *probeRun) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(r.out.String()+r.errb.String(), s) {
				t.Errorf("the probe's output shows a credential")
			}
		}
	}

	t.Run("go", func(t *testing.T) {
		addr := freeAddr(t)
		r := startProbe(t, "--sites", sitesFile, "--metrics", addr, "--duration", "3s", "--slo", "2s",
			"--interval", "100ms", "--report-every", "500ms")
		r.await(t, "metrics http://"+addr+"/metrics")
		// Scrape while it runs, until every direction has lags and its
		// counters have moved since the first scrape.
		first := scrape(t, addr)
		moved := false
		for deadline := time.Now().Add(10 * time.Second); !moved && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			fams := scrape(t, addr)
			moved = true
			for _, d := range [][2]string{{a, b}, {b, a}} {
				lags, ok := series(fams, probe.MetricLatency, d[0], d[1])
				w0, _ := series(first, probe.MetricWritten, d[0], d[1])
				w1, _ := series(fams, probe.MetricWritten, d[0], d[1])
				c1, _ := series(fams, probe.MetricConverged, d[0], d[1])
				last, _ := series(fams, probe.MetricLastSuccess, d[0], d[1])
				if !ok || lags == 0 || w1 <= w0 || c1 == 0 || last == 0 {
					moved = false
				}
			}
		}
		if !moved {
			t.Errorf("metrics did not move in both directions:\n%s", r.out.String())
		}
		fams := scrape(t, addr)
		for _, name := range []string{probe.MetricPending, probe.MetricOldestPending, probe.MetricWriteFailures, probe.MetricPollFailures} {
			if _, ok := series(fams, name, a, b); !ok {
				t.Errorf("no %s{from=%q,to=%q}", name, a, b)
			}
			if f := fams[name]; f == nil || f.GetHelp() == "" {
				t.Errorf("%s has no HELP", name)
			}
		}
		if code := r.wait(t); code != exitPass {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, r.out.String(), r.errb.String())
		}
		out := r.out.String()
		for _, want := range []string{a + "→" + b + "  written", b + "→" + a + "  written", ", last ", "p50 ", "go: all "} {
			if !strings.Contains(out, want) {
				t.Errorf("output without %q:\n%s", want, out)
			}
		}
		if _, err := net.Dial("tcp", addr); err == nil {
			t.Errorf("the metrics endpoint outlived the probe")
		}
		m := probeBucketRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no bucket named in:\n%s", out)
		}
		if keys, buckets := probeLeftovers(t, clients, m[1]); len(keys) > 0 || buckets > 0 {
			t.Errorf("left behind: %v, bucket %s at %d sites", keys, m[1], buckets)
		}
		noSecrets(r)
	})

	t.Run("no-go", func(t *testing.T) {
		var link external.LinkSpec
		for _, l := range ext.Links {
			if l.From == a && l.To == b {
				link = l
			}
		}
		if link.Toxiproxy == "" {
			t.Fatalf("the sites file has no link %s→%s", a, b)
		}
		proxy, err := toxiproxy.NewClient(link.Toxiproxy).Proxy(link.Proxy)
		if err != nil {
			t.Fatal(err)
		}
		r := startProbe(t, "--sites", sitesFile, "--duration", "2s", "--slo", "1s", "--interval", "100ms", "--json")
		r.await(t, `{"event":"start"`)
		// Cut a→b for longer than the SLO: the probe ends with it cut.
		if err := proxy.Disable(); err != nil {
			t.Fatal(err)
		}
		code := r.wait(t)
		if err := proxy.Enable(); err != nil {
			t.Fatal(err)
		}
		var res struct {
			Event string `json:"event"`
			probe.Result
		}
		lines := strings.Split(strings.TrimSpace(r.out.String()), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.Event != "result" {
			t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
		}
		if code != exitFail || res.Go || res.Outcome != probe.OutcomeNoGo {
			t.Fatalf("exit %d, verdict %s; want 1, no-go\nstderr:\n%s", code, res.Verdict, r.errb.String())
		}
		want := "from " + a + " to " + b + " still pending, "
		if !strings.Contains(res.Verdict.String(), want) || strings.Contains(res.Verdict.String(), "from "+b+" to "+a) {
			t.Errorf("verdict %q: want the reason %q and nothing about %s→%s", res.Verdict, want, b, a)
		}
		if !res.Cleanup.OK() || !res.Cleanup.BucketRemoved {
			t.Errorf("cleanup: %+v", res.Cleanup)
		}
		// Healed: what the partition held back arrives, and must not bring
		// anything back.
		deadline := time.Now().Add(10 * time.Second)
		for {
			keys, buckets := probeLeftovers(t, clients, res.Bucket)
			if len(keys) == 0 && buckets == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("left behind after the heal: %v, bucket %s at %d sites", keys, res.Bucket, buckets)
			}
			time.Sleep(50 * time.Millisecond)
		}
		noSecrets(r)
	})

	t.Run("existing bucket", func(t *testing.T) {
		ctx := context.Background()
		const bucket, key = "ops-canary", "notes/keep.txt"
		if err := clients[0].MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: ext.Sites[0].Region}); err != nil {
			t.Fatal(err)
		}
		body := []byte("the user's own object")
		if _, err := clients[0].PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		read := func(c *minio.Client) ([]byte, error) {
			o, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
			if err != nil {
				return nil, err
			}
			defer o.Close()
			return io.ReadAll(o)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if got, err := read(clients[1]); err == nil && bytes.Equal(got, body) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the user's object never reached the second site")
			}
		}
		// The SLO leaves room for the shipper's backoff after the heal above.
		r := startProbe(t, "--sites", sitesFile, "--bucket", bucket, "--duration", "1s", "--slo", "5s", "--interval", "100ms", "-q")
		if code := r.wait(t); code != exitPass {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.out.String(), r.errb.String())
		}
		if strings.Contains(r.out.String(), "  written ") || !strings.Contains(r.out.String(), "go: all ") {
			t.Errorf("-q output:\n%s", r.out.String())
		}
		keys, buckets := probeLeftovers(t, clients, bucket)
		if len(keys) > 0 || buckets != 2 {
			t.Errorf("left behind: %v; bucket at %d sites, want 2", keys, buckets)
		}
		for _, c := range clients {
			if got, err := read(c); err != nil || !bytes.Equal(got, body) {
				t.Errorf("the user's object at %s: %q, %v", c.EndpointURL().Host, got, err)
			}
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		r := startProbe(t, "--sites", sitesFile, "--interval", "100ms", "--report-every", "200ms")
		r.await(t, ", last ") // a status line with a converged canary
		r.cancel()            // as SIGINT
		if code := r.wait(t); code != exitPass {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, r.out.String(), r.errb.String())
		}
		out := r.out.String()
		if !strings.Contains(out, "interrupted") || !strings.Contains(out, "stopped without a --duration, so no verdict") ||
			!strings.Contains(out, "canaries removed at both sites") {
			t.Errorf("summary:\n%s", out)
		}
		m := probeBucketRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no bucket named in:\n%s", out)
		}
		if keys, buckets := probeLeftovers(t, clients, m[1]); len(keys) > 0 || buckets > 0 {
			t.Errorf("left behind: %v, bucket at %d sites", keys, buckets)
		}
	})
}

func TestProbeBadInput(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envAccessKey, "TESTACCESSKEY")
	t.Setenv(envSecretKey, "testsecretkeyvalue")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	site := func(name string) string {
		return "  - name: " + name + "\n    s3: " + dead + "\n    access_key_env: " + envAccessKey + "\n    secret_key_env: " + envSecretKey + "\n"
	}
	unreachable := filepath.Join(dir, "dead.yaml")
	os.WriteFile(unreachable, []byte("sites:\n"+site("europe-se-1a")+site("europe-se-1b")), 0o644)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--interval", "0s"}, exitUsage, "--interval 0s: want a positive duration"},
		{[]string{"--slo", "1m", "--max-pending-age", "2m"}, exitUsage, "--max-pending-age 2m0s exceeds --slo 1m0s"},
		{[]string{"--max-failures", "5"}, exitUsage, "--max-failures 5: want a share between 0 and 1"},
		{[]string{"--max-outstanding", "0"}, exitUsage, "--max-outstanding 0: want at least 1"},
		{[]string{"--duration", "-1s"}, exitUsage, "--duration -1s"},
		{[]string{"--target", "moon"}, exitUsage, `--target "moon": want embedded, containers, minio, ceph or swift`},
		{[]string{"--target", "external"}, exitUsage, "--target external needs --sites FILE"},
		{[]string{"--target", "embedded", "--sites", unreachable}, exitUsage, "--sites describes the external target's sites; it cannot go with --target embedded"},
		{[]string{"--sites", filepath.Join(dir, "missing.yaml")}, exitUsage, "missing.yaml"},
		{[]string{"--metrics", "9464"}, exitUsage, `--metrics "9464": want HOST:PORT`},
		{[]string{"--target", "embedded", "--bucket", "Bad_Bucket"}, exitUsage, `bucket "Bad_Bucket"`},
		{[]string{"--target", "embedded", "--bucket", "not-there", "--duration", "1s"}, exitUsage, "bucket not-there at europe-se-1a: no such bucket"},
		{[]string{"extra-arg"}, exitUsage, "unknown command"},
		{[]string{"--sites", unreachable, "--duration", "1s"}, exitInfra, "site europe-se-1a: replicated S3 endpoint " + dead + " does not answer"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"probe"}, tc.args...), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
		if strings.Contains(out.String()+errb.String(), "testsecretkeyvalue") {
			t.Errorf("%v: output shows the secret key", tc.args)
		}
	}
}

func TestProbeEmbeddedTarget(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"probe", "--target", "embedded", "--duration", "500ms", "--interval", "100ms", "--slo", "5s", "--json", "-q"}, &out, &errb)
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	var res struct {
		Event  string `json:"event"`
		Judged bool   `json:"judged"`
		probe.Result
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("-q --json prints one result line: %v\n%s", err, out.String())
	}
	if res.Event != "result" || !res.Judged || !res.Go || len(res.Directions) != 2 || res.Directions[0].Converged == 0 {
		t.Errorf("%+v", res)
	}
}
