package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("name: a\nreplicated_adr: 127.0.0.1:1\n"), 0o644)
	badType := filepath.Join(dir, "type.yaml")
	os.WriteFile(badType, []byte("name: a\nmin_part_size: lots\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nonsense"}, "unknown command"},
		{[]string{"site", "--no-such-flag"}, "unknown flag"},
		{[]string{"site", "extra-arg"}, "unknown command"},
		{[]string{"site", "--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"site", "--config", badYAML}, "replicated_adr"},
		{[]string{"site", "--config", badType}, "min_part_size"},
		{[]string{"site", "--keyring", filepath.Join(dir, "nokeyring.json")}, "keyring"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errb.String(), tc.want)
		}
	}
	// The YAML error names the line.
	var errb bytes.Buffer
	run(context.Background(), []string{"site", "--config", badYAML}, io.Discard, &errb)
	if !strings.Contains(errb.String(), "[2:") {
		t.Errorf("YAML error without a line number: %s", errb.String())
	}
}

func TestPortInUseExitsThree(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var errb bytes.Buffer
	code := run(context.Background(), []string{"site", "--replicated-addr", ln.Addr().String()}, io.Discard, &errb)
	if code != exitInfra || !strings.Contains(errb.String(), "replicated endpoint") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

func TestSiteRunsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	t.Setenv(envAccessKey, "TESTACCESSKEY")
	t.Setenv(envSecretKey, "testsecretkey")
	go func() { done <- run(ctx, []string{"site", "--json"}, out, io.Discard) }()
	var info siteInfo
	deadline := time.Now().Add(10 * time.Second)
	for {
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			if err := json.Unmarshal([]byte(line), &info); err != nil {
				t.Fatalf("--json output %q: %v", line, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("site printed nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.AccessKey != "TESTACCESSKEY" || info.SwiftUser != "replcheck:admin" {
		t.Fatalf("credentials from the environment not used: %+v", info)
	}
	resp, err := http.Get(info.SwiftAuth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("swift auth without credentials: %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitPass {
			t.Fatalf("exit %d after cancel", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("site did not stop")
	}
}

// TestSiteStopsOnSIGTERM runs the real binary, as an operator would.
func TestSiteStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "replcheck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "site", "--name", "europe-se-1b")
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var first string
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "Stop with") {
			break
		}
	}
	if len(lines) > 0 {
		first = lines[0]
	}
	if !strings.Contains(first, "europe-se-1b") || !strings.Contains(first, "region europe-se-1,") {
		t.Fatalf("banner %q", strings.Join(lines, "\n"))
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestTopologyUp(t *testing.T) {
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"topology", "up", "--flaw", "no-such-flaw"}, io.Discard, &errb); code != exitUsage ||
		!strings.Contains(errb.String(), "sse-reencrypt-echo") {
		t.Fatalf("bad flaw: exit %d, %q", code, errb.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"topology", "up", "--json", "--flaw", "no-retry"}, out, io.Discard) }()
	var info topologyInfo
	deadline := time.Now().Add(10 * time.Second)
	for {
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			if err := json.Unmarshal([]byte(line), &info); err != nil {
				t.Fatalf("--json output %q: %v", line, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("topology printed nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(info.Sites) != 2 || len(info.Links) != 2 || info.Flaws != "no-retry" || info.WANControl == "" {
		t.Fatalf("topology %+v", info)
	}
	resp, err := http.Get(info.Sites[1].Internal + "/replication/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Site  string `json:"site"`
		Peer  string `json:"peer"`
		Flaws string `json:"flaws"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Site != "europe-se-1b" || st.Peer != "europe-se-1a" || st.Flaws != "no-retry" {
		t.Fatalf("status %+v", st)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitPass {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("topology did not stop")
	}
}
