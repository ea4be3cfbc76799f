package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/engine/site"
)

// firstLine waits for the first complete line a command writes to out.
func firstLine(t *testing.T, out *syncBuffer, what string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			return line
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed nothing", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago, for
// settings that must be known before the process that binds them starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runInBackground runs a long-running command line; stop cancels it and
// returns its exit code.
func runInBackground(t *testing.T, args ...string) (out, errb *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, out, errb) }()
	stopped, code := false, 0
	stop = func() int {
		if stopped {
			return code
		}
		stopped = true
		cancel()
		select {
		case code = <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("%v did not stop", args)
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return out, errb, stop
}

func TestSiteReplicationUsageErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badPeerFile := writeFile("peer.yaml", "name: europe-se-1a\npeer: europe-se-1b\n")
	badFlawFile := writeFile("flaw.yaml", "name: europe-se-1a\npeer: europe-se-1b=http://127.0.0.1:9\nflaws: [no-retry, nope]\n")
	badBackoffFile := writeFile("backoff.yaml", "name: europe-se-1a\n\nmin_backoff: lots\n")
	ownNameFile := writeFile("own.yaml", "name: europe-se-1b\npeer: europe-se-1b=http://127.0.0.1:9\n")

	t.Setenv(envReplicationSecret, "")
	var errb bytes.Buffer
	code := run(context.Background(), []string{"site", "--peer", "europe-se-1b=http://127.0.0.1:9100"}, io.Discard, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), envReplicationSecret) {
		t.Fatalf("--peer without a secret: exit %d, %q", code, errb.String())
	}

	const secret = "test-replication-secret-0123456789"
	t.Setenv(envReplicationSecret, secret)
	peer := func(v string) []string { return []string{"site", "--peer", v} }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{peer("europe-se-1b"), "NAME=URL"},
		{peer("europe-se-1b:http://127.0.0.1:9100"), "NAME=URL"},
		{peer("=http://127.0.0.1:9100"), "peer name"},
		{peer("europe se=http://127.0.0.1:9100"), "peer name"},
		{peer("europe-se-1b=127.0.0.1:9100"), "http://host:port"},
		{peer("europe-se-1b=ftp://127.0.0.1:9100"), "http://host:port"},
		{peer("europe-se-1b=http://wan-a-to-b"), "http://host:port"},
		{peer("europe-se-1b=http://:9100"), "http://host:port"},
		{peer("europe-se-1b=http://wan-a-to-b:9100/replication"), "http://host:port"},
		{peer("europe-se-1b=http://wan-a-to-b:9100?x=1"), "http://host:port"},
		{peer("europe-se-1b=http://user:pw@wan-a-to-b:9100"), "http://host:port"},
		{peer("europe-se-1b=http://wan-a-to-b:99999"), "port"},
		{peer("europe-se-1a=http://127.0.0.1:9100"), "own name"},
		{[]string{"site", "--name", "europe-se-1b", "--peer", "europe-se-1b=http://127.0.0.1:9100"}, "own name"},
		{[]string{"site", "--peer", "europe-se-1b=http://127.0.0.1:9100", "--flaw", "no-retry", "--flaw", "nope"}, `unknown flaw "nope"`},
		{[]string{"site", "--peer", "europe-se-1b=http://127.0.0.1:9100", "--min-backoff", "-1s"}, "--min-backoff must not be negative"},
		{[]string{"site", "--peer", "europe-se-1b=http://127.0.0.1:9100", "--min-backoff", "2s", "--max-backoff", "1s"}, "is above --max-backoff"},
		{[]string{"site", "--peer", "europe-se-1b=http://127.0.0.1:9100", "--max-backoff", "soon"}, "max-backoff"},
		{[]string{"site", "--flaw", "no-retry"}, "off without --peer"},
		{[]string{"site", "--internal-addr", "127.0.0.1:9100"}, "off without --peer"},
		{[]string{"site", "--config", badPeerFile}, "NAME=URL"},
		{[]string{"site", "--config", badFlawFile}, `unknown flaw "nope"`},
		{[]string{"site", "--config", badBackoffFile}, `"lots" is not a duration`},
		{[]string{"site", "--config", ownNameFile}, "own name"},
	} {
		var errb bytes.Buffer
		code := run(context.Background(), tc.args, io.Discard, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errb.String(), tc.want)
		}
		if strings.Contains(errb.String(), secret) {
			t.Errorf("%v: the replication secret is in the error: %q", tc.args, errb.String())
		}
	}
	// Errors from the file name its line and field.
	for file, want := range map[string]string{badPeerFile: "[2:", badFlawFile: "[3:", badBackoffFile: "[3:"} {
		var errb bytes.Buffer
		run(context.Background(), []string{"site", "--config", file}, io.Discard, &errb)
		if !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), file) {
			t.Errorf("%s: error without %q or the file name: %s", file, want, errb.String())
		}
	}
	// A taken internal port is an infrastructure problem, not a usage one.
	portInUse, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer portInUse.Close()
	errb.Reset()
	code = run(context.Background(), []string{"site", "--peer", "europe-se-1b=http://127.0.0.1:9100",
		"--internal-addr", portInUse.Addr().String()}, io.Discard, &errb)
	if code != exitInfra || !strings.Contains(errb.String(), "replication endpoint") {
		t.Errorf("internal port in use: exit %d, %q", code, errb.String())
	}
}

func TestSiteKeyringFromEnvironment(t *testing.T) {
	t.Setenv(envKeyring, `{"version": 1, "masterKey": 42}`)
	var errb bytes.Buffer
	code := run(context.Background(), []string{"site"}, io.Discard, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), envKeyring) {
		t.Fatalf("bad %s: exit %d, %q", envKeyring, code, errb.String())
	}
	// --keyring wins over the environment: the bad variable is not read.
	errb.Reset()
	code = run(context.Background(), []string{"site", "--keyring", filepath.Join(t.TempDir(), "none.json")}, io.Discard, &errb)
	if code != exitUsage || strings.Contains(errb.String(), envKeyring) || !strings.Contains(errb.String(), "none.json") {
		t.Fatalf("--keyring with %s set: exit %d, %q", envKeyring, code, errb.String())
	}
}

// TestSiteReplicationSettings runs a site with replication set from a
// config file and flags, and checks what it prints and serves.
func TestSiteReplicationSettings(t *testing.T) {
	const secret = "test-replication-secret-abcdef"
	t.Setenv(envReplicationSecret, secret)
	internal := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(cfg, []byte(`name: europe-se-1b
peer: europe-se-1a=http://127.0.0.1:9
internal_addr: 127.0.0.1:1
flaws: [wallclock-lww]
min_backoff: 5ms
max_backoff: 50ms
`), 0o644)
	out, errb, stop := runInBackground(t, "site", "--config", cfg, "--internal-addr", internal, "--flaw", "no-retry", "--json")
	var info siteInfo
	if err := json.Unmarshal([]byte(firstLine(t, out, "site")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Site != "europe-se-1b" || info.Internal != "http://"+internal || info.Peer != "europe-se-1a" ||
		info.PeerURL != "http://127.0.0.1:9" || info.Flaws != "no-retry" {
		t.Fatalf("site info %+v", info)
	}
	resp, err := http.Get(info.Internal + replication.StatusPath)
	if err != nil {
		t.Fatal(err)
	}
	var st replication.Status
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Site != "europe-se-1b" || st.Peer != "europe-se-1a" || st.Flaws != "no-retry" {
		t.Fatalf("replication status %+v", st)
	}
	ctx := context.Background()
	if err := site.SetRemoteClockSkew(ctx, nil, info.Internal, []byte(secret), -time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, err := site.RemoteClockSkew(ctx, nil, info.Internal); err != nil || d != -time.Hour {
		t.Fatalf("skew %v, %v", d, err)
	}
	if code := stop(); code != exitPass {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String()+errb.String(), secret) {
		t.Fatal("the replication secret was printed")
	}
}

func TestSiteBannerShowsReplication(t *testing.T) {
	t.Setenv(envReplicationSecret, "s3cret-for-banner")
	out, _, stop := runInBackground(t, "site", "--peer", "europe-se-1b=http://wan-a-to-b:9100")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Stop with") {
		if time.Now().After(deadline) {
			t.Fatalf("banner %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	b := out.String()
	for _, want := range []string{"replication endpoint:     http://127.0.0.1:", site.ClockSkewPath,
		"peer:                     europe-se-1b at http://wan-a-to-b:9100   (flaws: none)"} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "s3cret-for-banner") {
		t.Error("banner shows the replication secret")
	}

	t.Setenv(envReplicationSecret, "")
	out, _, stop = runInBackground(t, "site")
	for !strings.Contains(out.String(), "Stop with") {
		if time.Now().After(deadline) {
			t.Fatalf("banner %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if !strings.Contains(out.String(), "replication:              off") {
		t.Errorf("banner without replication:\n%s", out.String())
	}
}
