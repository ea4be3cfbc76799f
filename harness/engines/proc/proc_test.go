package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envOrphan makes the test binary act as a harness that starts a process
// and dies without cleaning up.
const envOrphan = "PROC_TEST_ORPHAN_ROOT"

func TestMain(m *testing.M) {
	if root := os.Getenv(envOrphan); root != "" {
		s, err := NewState(root, "orphan")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		data := filepath.Join(root, "data")
		if err := os.MkdirAll(data, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := s.RemoveWith(data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if _, err := s.Start(context.Background(), Cmd{Name: "sleeper", Path: "sleep", Args: []string{"300"}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(s.Dir())
		os.Exit(0) // no Close: the crash of the owner
	}
	os.Exit(m.Run())
}

func TestStartLogsAndStop(t *testing.T) {
	root := t.TempDir()
	s, err := NewState(root, "test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Start(context.Background(), Cmd{Name: "sh", Path: "sh", Args: []string{"-c", "echo hello-out; echo hello-err >&2; exec sleep 300"}})
	if err != nil {
		t.Fatal(err)
	}
	// The log is written by the child; wait for both lines, bounded.
	if err := Wait(context.Background(), p, "log both lines", func(context.Context) error {
		if tail := p.LogTail(5); !strings.Contains(tail, "hello-out") || !strings.Contains(tail, "hello-err") {
			return fmt.Errorf("log so far: %q", tail)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Exited(); ok {
		t.Fatal("process exited early")
	}
	ls, err := Leftovers(root)
	if err != nil || len(ls) != 1 || len(ls[0].Alive) != 1 || ls[0].Alive[0].PID != p.PID() || ls[0].Record.Engine != "test" {
		t.Fatalf("leftovers = %+v, %v; want one with pid %d alive", ls, err, p.PID())
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Exited(); !ok {
		t.Fatal("not exited after Stop")
	}
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir()); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	s, err := NewState(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(time.Second)
	// The shell ignores SIGTERM, so only SIGKILL ends it.
	p, err := s.Start(context.Background(), Cmd{Name: "stubborn", Path: "sh", Args: []string{"-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Wait(context.Background(), p, "trap set", func(context.Context) error {
		if !strings.Contains(p.LogTail(1), "ready") {
			return fmt.Errorf("not ready")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	_, werr := p.Exited()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("wait error %v, want killed by SIGKILL", werr)
	}
}

func TestLeftoverAfterOwnerCrash(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envOrphan+"="+root)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("orphan helper: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	ls, err := Leftovers(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Dir != dir || len(ls[0].Alive) != 1 || ls[0].OwnerAlive {
		t.Fatalf("leftovers = %+v, want %s with one live process and a dead owner", ls, dir)
	}
	pid := ls[0].Alive[0].PID
	if err := Cleanup(ls[0], 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if ls[0].Alive[0].alive() {
		t.Fatalf("pid %d still alive after Cleanup", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "data")); !os.IsNotExist(err) {
		t.Fatalf("data dir recorded with RemoveWith still there: %v", err)
	}
	if ls, _ := Leftovers(root); len(ls) != 0 {
		t.Fatalf("leftovers after cleanup: %+v", ls)
	}
}

func TestPidReuseIsNotKilled(t *testing.T) {
	// A record whose start time does not match the live pid is another
	// process: it must not count as alive.
	r := ProcRecord{PID: os.Getpid(), StartTicks: 1}
	if r.alive() {
		t.Fatal("record with a different start time counts as alive")
	}
	ticks, err := startTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !(ProcRecord{PID: os.Getpid(), StartTicks: ticks}).alive() {
		t.Fatal("own process not alive")
	}
}

func TestLeftoversSkipsOtherDirs(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ls, err := Leftovers(root); err != nil || len(ls) != 0 {
		t.Fatalf("leftovers = %+v, %v; want none", ls, err)
	}
	if ls, err := Leftovers(filepath.Join(root, "missing")); err != nil || len(ls) != 0 {
		t.Fatalf("missing root: %+v, %v", ls, err)
	}
}

func TestRestartReplacesRecord(t *testing.T) {
	root := t.TempDir()
	s, err := NewState(root, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(time.Second)
	c := Cmd{Name: "svc", Path: "sleep", Args: []string{"300"}}
	p1, err := s.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p1.Kill(); err != nil {
		t.Fatal(err)
	}
	p2, err := s.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := Leftovers(root)
	if err != nil || len(ls) != 1 || len(ls[0].Record.Procs) != 1 || ls[0].Record.Procs[0].PID != p2.PID() {
		t.Fatalf("leftovers = %+v, %v; want one record for pid %d", ls, err, p2.PID())
	}
}

func TestWaitTCPAndHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	if err := WaitTCP(ctx, srv.Listener.Addr().String(), nil); err != nil {
		t.Fatal(err)
	}
	if err := WaitHTTP(ctx, srv.URL+"/ready", nil, nil); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if err := WaitHTTP(short, srv.URL+"/down", nil, nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("wait on a 503 endpoint: %v, want an error naming the status", err)
	}
}

func TestWaitFailsWhenProcessExits(t *testing.T) {
	s, err := NewState(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(time.Second)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Start(context.Background(), Cmd{Name: "dies", Path: "sh", Args: []string{"-c", "echo fatal: no config >&2; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = WaitTCP(ctx, Addr(port), p)
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "fatal: no config") {
		t.Fatalf("err = %v; want exit and the log tail", err)
	}
}

func TestFreePortListenable(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", Addr(port))
	if err != nil {
		t.Fatalf("port %d from FreePort not listenable: %v", port, err)
	}
	l.Close()
}

func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "replcheck-test-engine")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvEnginesDir, dir)
	if p, err := FindBinary("replcheck-test-engine"); err != nil || p != bin {
		t.Fatalf("FindBinary = %q, %v; want %s", p, err, bin)
	}
	if _, err := FindBinary("replcheck-no-such-engine"); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("missing binary error %v should name %s", err, dir)
	}
}

func TestBadNames(t *testing.T) {
	if _, err := NewState(t.TempDir(), "a/b"); err == nil {
		t.Fatal("engine name with a slash accepted")
	}
	s, err := NewState(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(time.Second)
	if _, err := s.Start(context.Background(), Cmd{Name: "../x", Path: "true"}); err == nil {
		t.Fatal("process name with a slash accepted")
	}
	if err := s.RemoveWith("relative/dir"); err == nil {
		t.Fatal("relative RemoveWith accepted")
	}
}
