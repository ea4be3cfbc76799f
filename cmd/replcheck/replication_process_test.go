package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/replcheck/replcheck/engine/site"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/harness/wan"
)

// proc is a replcheck process started by a test.
type proc struct {
	cmd    *exec.Cmd
	first  string // first line of stdout
	stderr *syncBuffer
}

// startProc starts the binary with args and extra environment, and waits
// for the first line it prints (the JSON banner).
func startProc(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			cmd.Wait()
			t.Fatalf("%v exited without printing: %s", args, p.stderr.String())
		}
		p.first = line
	case <-time.After(10 * time.Second):
		t.Fatalf("%v printed nothing: %s", args, p.stderr.String())
	}
	return p
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("%v after SIGTERM: %v\n%s", p.cmd.Args, err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%v: no exit after SIGTERM", p.cmd.Args)
	}
}

// TestSiteProcessesReplicateThroughWANProxy runs a two-site topology of
// separate processes, as containers would: a wanproxy with one link per
// direction, and two sites that reach each other only through it.
func TestSiteProcessesReplicateThroughWANProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "replcheck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	wp := startProc(t, bin, nil, "wanproxy", "--listen", "127.0.0.1:0", "--json")
	var wpInfo wanproxyInfo
	if err := json.Unmarshal([]byte(wp.first), &wpInfo); err != nil {
		t.Fatalf("wanproxy --json %q: %v", wp.first, err)
	}

	// Internal addresses are fixed before anything starts, as container
	// ports are: each WAN link points at the peer's, each site at its link.
	names := [2]string{"europe-se-1a", "europe-se-1b"}
	internal := [2]string{freeAddr(t), freeAddr(t)}
	network := wan.Connect(wpInfo.Control)
	var links [2]*wan.Link
	for i := range 2 {
		l, err := network.AddLink(names[i]+"-to-"+names[1-i], "127.0.0.1:0", internal[1-i])
		if err != nil {
			t.Fatal(err)
		}
		links[i] = l
	}

	kr, err := json.Marshal(sse.GenerateKeyring())
	if err != nil {
		t.Fatal(err)
	}
	secret := site.GenerateSecret()
	env := []string{envReplicationSecret + "=" + string(secret), envKeyring + "=" + string(kr),
		envAccessKey + "=RCTESTACCESSKEY", envSecretKey + "=rctestsecretkey"}
	var sites [2]*proc
	var infos [2]siteInfo
	for i := range 2 {
		sites[i] = startProc(t, bin, env, "site", "--name", names[i], "--internal-addr", internal[i],
			"--peer", names[1-i]+"=http://"+links[i].Addr(), "--min-backoff", "10ms", "--max-backoff", "100ms", "--json")
		if err := json.Unmarshal([]byte(sites[i].first), &infos[i]); err != nil {
			t.Fatalf("site --json %q: %v", sites[i].first, err)
		}
		if infos[i].Internal != "http://"+internal[i] || infos[i].Peer != names[1-i] || infos[i].PeerURL != "http://"+links[i].Addr() {
			t.Fatalf("site %d: %+v", i, infos[i])
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := func(info siteInfo) *minio.Client {
		c, err := minio.New(strings.TrimPrefix(info.Replicated, "http://"), &minio.Options{
			Creds: credentials.NewStaticV4(info.AccessKey, "rctestsecretkey", ""), Region: info.Region})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client(infos[0]), client(infos[1])
	if err := a.MakeBucket(ctx, "crossing", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	plain := []byte("written at site a, read at site b")
	if _, err := a.PutObject(ctx, "crossing", "plain", bytes.NewReader(plain), int64(len(plain)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// SSE-S3 decrypts at the peer only if the keyring from the environment
	// is shared.
	secretBody := bytes.Repeat([]byte("encrypted "), 1000)
	if _, err := a.PutObject(ctx, "crossing", "encrypted", bytes.NewReader(secretBody), int64(len(secretBody)),
		minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE()}); err != nil {
		t.Fatal(err)
	}
	read := func(c *minio.Client, key string) ([]byte, error) {
		obj, err := c.GetObject(ctx, "crossing", key, minio.GetObjectOptions{})
		if err != nil {
			return nil, err
		}
		defer obj.Close()
		return io.ReadAll(obj)
	}
	await := func(c *minio.Client, key string, want []byte) {
		t.Helper()
		for {
			got, err := read(c, key)
			if err == nil && bytes.Equal(got, want) {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s never replicated: %v (%d bytes)\nsite a: %s\nsite b: %s", key, err, len(got),
					sites[0].stderr.String(), sites[1].stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	await(b, "plain", plain)
	await(b, "encrypted", secretBody)

	// The clock of a site in another process is skewed through its
	// internal API.
	if err := site.SetRemoteClockSkew(ctx, nil, infos[1].Internal, secret, 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	if d, err := site.RemoteClockSkew(ctx, nil, infos[1].Internal); err != nil || d != 90*time.Minute {
		t.Fatalf("skew of site b: %v, %v", d, err)
	}
	if _, err := b.PutObject(ctx, "crossing", "from-b", bytes.NewReader(plain), int64(len(plain)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := b.StatObject(ctx, "crossing", "from-b", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if off := time.Until(st.LastModified); off < 89*time.Minute || off > 91*time.Minute {
		t.Fatalf("Last-Modified at the skewed site is %v ahead", off)
	}
	await(a, "from-b", plain) // and the other way

	for _, p := range append(sites[:], wp) {
		p.stop(t)
	}
	for _, p := range sites {
		if strings.Contains(p.stderr.String(), string(secret)) {
			t.Fatal("a site logged the replication secret")
		}
	}
}
