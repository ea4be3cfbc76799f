package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/reports"
)

// upWithSitesFile runs `topology up --write-sites` until the test ends
// and returns the sites file, with the variables of the export line it
// printed set in the environment.
func upWithSitesFile(t *testing.T) (sites string, vars map[string]string) {
	t.Helper()
	sites = filepath.Join(t.TempDir(), "sites.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"topology", "up", "--write-sites", sites}, out, &syncBuffer{}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitPass {
				t.Errorf("topology up: exit %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("topology up did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Stop with Ctrl-C") {
		select {
		case code := <-done:
			t.Fatalf("topology up: exit %d\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("topology up printed no banner:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	vars = map[string]string{}
	for line := range strings.Lines(out.String()) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
		}
	}
	if vars[envAccessKey] == "" || vars[envSecretKey] == "" {
		t.Fatalf("no export line with %s and %s:\n%s", envAccessKey, envSecretKey, out.String())
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	data, err := os.ReadFile(sites)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), vars[envSecretKey]) || strings.Contains(string(data), vars[envAccessKey]) {
		t.Fatalf("the sites file holds a credential:\n%s", data)
	}
	for _, want := range []string{"access_key_env: " + envAccessKey, "toxiproxy:", "status_url:", "proxy: europe-se-1a-to-europe-se-1b"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("sites file without %q:\n%s", want, data)
		}
	}
	return sites, vars
}

// TestRunAgainstSitesFile starts a topology as another terminal would,
// then runs scenarios against it through the sites file it wrote.
func TestRunAgainstSitesFile(t *testing.T) {
	sites, vars := upWithSitesFile(t)
	dir := t.TempDir()

	runJSON := func(args ...string) (reports.Result, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(args, "--out", filepath.Join(dir, "runs"), "--json", "-q"), &stdout, &stderr)
		for _, v := range vars {
			if strings.Contains(stdout.String()+stderr.String(), v) {
				t.Errorf("%v: output shows a credential", args)
			}
		}
		if code != exitPass {
			t.Fatalf("%v: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", args, code, stdout.String(), stderr.String())
		}
		var res struct {
			Dir string `json:"dir"`
			reports.Result
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("--json output: %v\n%s", err, stdout.String())
		}
		return res.Result, res.Dir
	}

	res, runDir := runJSON("run", "quickstart", "--sites", sites)
	if res.Target != "external" || res.Verdict != reports.Pass || res.Convergence.Overall.Converged == 0 {
		t.Fatalf("quickstart: target %s, verdict %s, %d converged", res.Target, res.Verdict, res.Convergence.Overall.Converged)
	}
	if len(res.EngineStatus) != 2 {
		t.Errorf("engine status of %d sites, want 2 (the sites file gives status URLs)", len(res.EngineStatus))
	}
	for _, f := range []string{reports.ResultFile, reports.HistoryFile} {
		data, err := os.ReadFile(filepath.Join(runDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), vars[envSecretKey]) {
			t.Errorf("%s holds the secret key", f)
		}
	}

	// A scenario of its own site names, with a partition through the
	// file's WAN proxies: its sites become the file's, in order.
	sc := filepath.Join(dir, "cut.yaml")
	os.WriteFile(sc, []byte(`name: cut
description: a short partition on sites named otherwise
topology:
  sites: [x-1a, x-1b]
workload:
  duration: 3s
  rate: 40
  keys: 20
  sites: {x-1a: 70, x-1b: 30}
faults:
  - at: 500ms
    for: 1500ms
    partition: {from: x-1a, to: x-1b, both: true}
checks:
  observe: 10s
`), 0o644)
	res, _ = runJSON("run", sc, "--target", "external", "--sites", sites)
	if res.Target != "external" || res.Verdict != reports.Pass || strings.Join(res.Sites, ",") != "europe-se-1a,europe-se-1b" {
		t.Fatalf("cut: target %s, verdict %s, sites %v", res.Target, res.Verdict, res.Sites)
	}
	injected := false
	for _, f := range res.Faults {
		if f.Kind == "inject" && strings.Contains(f.Name, "europe-se-1a") && f.Error == "" {
			injected = true
		}
	}
	if !injected {
		t.Errorf("no partition injected on the file's sites: %+v", res.Faults)
	}
}

func TestRunExternalBadInput(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envAccessKey, "TESTACCESSKEY")
	t.Setenv(envSecretKey, "testsecretkeyvalue")
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(src), 0o644)
		return p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	site := func(name, url string) string {
		return "  - name: " + name + "\n    s3: " + url + "\n    access_key_env: " + envAccessKey + "\n    secret_key_env: " + envSecretKey + "\n"
	}
	unreachable := write("dead.yaml", "sites:\n"+site("europe-se-1a", dead)+site("europe-se-1b", dead))
	noLinks := unreachable
	bad := write("bad.yaml", "sites:\n"+site("europe-se-1a", dead)+"  - name: europe-se-1b\n    s3: ftp://x\n    access_key_env: A\n    secret_key_env: B\n")
	unset := write("unset.yaml", "sites:\n"+site("europe-se-1a", dead)+strings.Replace(site("europe-se-1b", dead), envSecretKey, "NO_SUCH_VARIABLE_SET", 1))
	swift := write("swift.yaml", `name: swift
description: d
workload: {duration: 1s, apis: {s3: 50, swift: 50}}
`)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "quickstart", "--target", "external"}, exitUsage, `scenario quickstart: target "external" needs a sites file: give --sites FILE`},
		{[]string{"run", "quickstart", "--target", "embedded", "--sites", unreachable}, exitUsage, "--sites describes the external target's sites; it cannot go with --target embedded"},
		{[]string{"run", "quickstart", "--sites", filepath.Join(dir, "missing.yaml")}, exitUsage, "sites file: open " + filepath.Join(dir, "missing.yaml")},
		{[]string{"run", "quickstart", "--sites", bad}, exitUsage, bad + ":7:9: sites[1].s3: not an http:// or https:// URL"},
		{[]string{"run", "quickstart", "--sites", unset}, exitUsage, unset + ":9:21: sites[1].secret_key_env: environment variable NO_SUCH_VARIABLE_SET is not set (site europe-se-1b)"},
		{[]string{"run", "site-crash", "--sites", noLinks}, exitUsage, "crash europe-se-1b: target external cannot crash"},
		{[]string{"run", "partition-heal", "--sites", noLinks}, exitUsage, "target external cannot wan-shape"},
		{[]string{"run", swift, "--sites", noLinks}, exitUsage, "scenario swift uses Swift (workload apis swift 50), and " + noLinks + " gives site europe-se-1a no swift_auth"},
		{[]string{"run", "flaw-no-retry", "--sites", noLinks}, exitUsage, "scenario flaw-no-retry turns on flaws (no-retry), options of the reference engine; target external runs your own sites"},
		{[]string{"calibrate", "--flaw", "no-retry", "--sites", noLinks}, exitUsage, "turns on flaws (no-retry)"},
		{[]string{"run", "quickstart", "--sites", unreachable, "--out", filepath.Join(dir, "runs")}, exitInfra, "site europe-se-1a: replicated S3 endpoint " + dead + " does not answer"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
		if strings.Contains(errb.String(), "testsecretkeyvalue") {
			t.Errorf("%v: stderr shows the secret key", tc.args)
		}
	}

	// --write-sites needs a directory to write in.
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"topology", "up", "--write-sites", filepath.Join(dir, "no", "such", "sites.yaml")}, &bytes.Buffer{}, &errb); code != exitUsage ||
		!strings.Contains(errb.String(), "--write-sites") {
		t.Errorf("--write-sites in a missing directory: exit %d, %q", code, errb.String())
	}
}
