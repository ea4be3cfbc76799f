// Package proc runs the processes of a real-engine topology on this host
// and keeps a record of them on disk, so that processes left behind by a
// harness that died can be found and stopped later.
//
// A topology owns one state directory, Root()/<engine>-<id>/, holding
// state.json (the pids, their start times and the ports in use) and one log
// file per process. Each process runs in its own process group so that
// Stop reaches the children it forks. Stop sends SIGTERM, then SIGKILL
// after a grace period. Leftovers lists state directories that still exist;
// Cleanup stops their processes and removes them.
//
// Linux only: liveness and pid-reuse checks read /proc.
package proc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvRoot overrides Root; EnvEnginesDir names an extra directory FindBinary
// searches first.
const (
	EnvRoot       = "REPLCHECK_ENGINES_STATE"
	EnvEnginesDir = "REPLCHECK_ENGINES_DIR"
)

// stateFile is the record's name inside a state directory; directories
// without one (such as the bin directory) are not topologies.
const stateFile = "state.json"

// DefaultGrace is how long Stop waits after SIGTERM before SIGKILL.
const DefaultGrace = 10 * time.Second

// Root returns the directory holding the state directories:
// $REPLCHECK_ENGINES_STATE, else $(os.UserCacheDir)/replcheck/engines.
func Root() (string, error) {
	if r := os.Getenv(EnvRoot); r != "" {
		return r, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("engine state directory: %w (set %s)", err, EnvRoot)
	}
	return filepath.Join(c, "replcheck", "engines"), nil
}

// Record is the content of state.json.
type Record struct {
	Engine  string         `json:"engine"`
	ID      string         `json:"id"`
	Owner   int            `json:"owner"` // pid of the harness that started the topology
	Created time.Time      `json:"created"`
	Procs   []ProcRecord   `json:"procs"`
	Ports   map[string]int `json:"ports,omitempty"`
	// Remove lists directories (such as temporary data directories) that
	// Close and Cleanup delete with the state directory.
	Remove []string `json:"remove,omitempty"`
}

// ProcRecord is one process of a Record.
type ProcRecord struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// StartTicks is the process start time from /proc/<pid>/stat, which
	// tells a live process from an unrelated one that reused its pid.
	StartTicks uint64   `json:"startTicks"`
	Args       []string `json:"args"`
	Log        string   `json:"log"`
}

// State is the state directory of one running topology. Its methods are
// safe for concurrent use.
type State struct {
	dir string
	mu  sync.Mutex
	rec Record
}

// NewState creates a state directory for a new topology of engine under
// root (Root() if empty) with a fresh id.
func NewState(root, engine string) (*State, error) {
	if engine == "" || strings.ContainsAny(engine, "/\\ ") {
		return nil, fmt.Errorf("new engine state: bad engine name %q", engine)
	}
	if root == "" {
		r, err := Root()
		if err != nil {
			return nil, err
		}
		root = r
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("new engine state: %w", err)
	}
	id := hex.EncodeToString(b[:])
	dir := filepath.Join(root, engine+"-"+id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("new engine state: %w", err)
	}
	s := &State{dir: dir, rec: Record{Engine: engine, ID: id, Owner: os.Getpid(), Created: time.Now().UTC(), Ports: map[string]int{}}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.saveLocked(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Dir returns the state directory.
func (s *State) Dir() string { return s.dir }

// ID returns the topology id (the directory name without the engine).
func (s *State) ID() string { return s.rec.ID }

// SetPort records a port the topology uses, for Leftovers' report.
func (s *State) SetPort(name string, port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Ports[name] = port
	return s.saveLocked()
}

// RemoveWith records dir for deletion by Close and Cleanup, so a
// topology whose owner died leaves no data behind either. dir must be
// absolute.
func (s *State) RemoveWith(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) == "/" {
		return fmt.Errorf("remove with engine state: %q is not an absolute directory below /", dir)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Remove = append(s.rec.Remove, filepath.Clean(dir))
	return s.saveLocked()
}

func (s *State) saveLocked() error {
	b, err := json.MarshalIndent(s.rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save engine state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, stateFile)); err != nil {
		return fmt.Errorf("save engine state: %w", err)
	}
	return nil
}

// Cmd describes a process to start.
type Cmd struct {
	Name string   // unique within the topology; names the log file
	Path string   // executable
	Args []string // arguments, without the program name
	Env  []string // added to the harness's environment
	Dir  string   // working directory; the state directory if empty
}

// Process is a started process.
type Process struct {
	name string
	pid  int
	log  string
	done chan struct{}
	err  error // Wait's result, set before done closes
}

// Start starts c with stdout and stderr appended to <state dir>/<name>.log
// and records it. Starting a name again (a restart) replaces its record.
// ctx bounds only the start, not the process's life.
func (s *State) Start(ctx context.Context, c Cmd) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/\\") {
		return nil, fmt.Errorf("start process: bad name %q", c.Name)
	}
	logPath := filepath.Join(s.dir, c.Name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	defer lf.Close()
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = s.dir
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", c.Name, c.Path, err)
	}
	p := &Process{name: c.Name, pid: cmd.Process.Pid, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	ticks, _ := startTicks(p.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := ProcRecord{Name: c.Name, PID: p.pid, StartTicks: ticks, Args: append([]string{c.Path}, c.Args...), Log: logPath}
	replaced := false
	for i := range s.rec.Procs {
		if s.rec.Procs[i].Name == c.Name {
			s.rec.Procs[i], replaced = r, true
		}
	}
	if !replaced {
		s.rec.Procs = append(s.rec.Procs, r)
	}
	if err := s.saveLocked(); err != nil {
		_ = p.Kill()
		return nil, err
	}
	return p, nil
}

// Close stops every recorded process still running (SIGTERM, SIGKILL after
// grace) and removes the state directory with its logs. Copy logs out
// first if they are wanted.
func (s *State) Close(grace time.Duration) error {
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	if err := stopRecord(rec, grace); err != nil {
		return err
	}
	return removeAll(rec, s.dir)
}

// removeAll deletes rec's extra directories, then dir.
func removeAll(rec Record, dir string) error {
	var errs []error
	for _, d := range rec.Remove {
		errs = append(errs, os.RemoveAll(d))
	}
	errs = append(errs, os.RemoveAll(dir))
	return errors.Join(errs...)
}

// Name returns the process's name.
func (p *Process) Name() string { return p.name }

// PID returns the process id (also its process group id).
func (p *Process) PID() int { return p.pid }

// LogPath returns the log file's path.
func (p *Process) LogPath() string { return p.log }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its wait error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// LogTail returns the last n lines of the log, for error messages.
func (p *Process) LogTail(n int) string { return Tail(p.log, n) }

// Kill sends SIGKILL to the process group and waits for the process: an
// abrupt crash.
func (p *Process) Kill() error {
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.done
	return nil
}

// Signal sends sig to the process group (SIGSTOP and SIGCONT pause and
// resume the whole engine process).
func (p *Process) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pid, sig); err != nil {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.pid, err)
	}
	return nil
}

// Stop sends SIGTERM to the process group, SIGKILL after grace, and waits.
func (p *Process) Stop(grace time.Duration) error {
	if ok, _ := p.Exited(); ok {
		// The leader is gone; its group may not be.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	_ = syscall.Kill(-p.pid, syscall.SIGCONT) // a paused process cannot act on SIGTERM
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	return nil
}

// Tail returns the last n lines of the file at path ("" if unreadable).
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startTicks reads field 22 (starttime) of /proc/<pid>/stat. A zombie
// counts as not running.
func startTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("pid %d: exited", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether r's process is still the one that was started.
func (r ProcRecord) alive() bool {
	t, err := startTicks(r.PID)
	return err == nil && (r.StartTicks == 0 || t == r.StartTicks)
}

// stopRecord stops rec's live processes: SIGTERM to each group, then
// SIGKILL to those still running after grace.
func stopRecord(rec Record, grace time.Duration) error {
	var live, started []ProcRecord
	for _, p := range rec.Procs {
		if p.alive() {
			live = append(live, p)
			started = append(started, p)
			_ = syscall.Kill(-p.PID, syscall.SIGTERM)
			_ = syscall.Kill(-p.PID, syscall.SIGCONT)
		}
	}
	deadline := time.Now().Add(grace)
	for len(live) > 0 {
		var still []ProcRecord
		for _, p := range live {
			if p.alive() {
				still = append(still, p)
			}
		}
		live = still
		if len(live) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range live {
				_ = syscall.Kill(-p.PID, syscall.SIGKILL)
			}
			// A killed process disappears once its parent reaps it; give
			// that a bounded moment, then report what remains.
			for i := 0; i < 50 && anyAlive(live); i++ {
				time.Sleep(20 * time.Millisecond)
			}
			if anyAlive(live) {
				return fmt.Errorf("stop %s-%s: processes still running after SIGKILL: %v", rec.Engine, rec.ID, pids(live))
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Stray members of the groups just stopped; groups whose leader was
	// already gone are left alone, as their id may belong to another
	// process by now.
	for _, p := range started {
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	}
	return nil
}

func anyAlive(ps []ProcRecord) bool {
	for _, p := range ps {
		if p.alive() {
			return true
		}
	}
	return false
}

func pids(ps []ProcRecord) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.PID
	}
	return out
}

// Leftover is a state directory found on disk.
type Leftover struct {
	Dir    string
	Record Record
	// Alive lists the recorded processes still running.
	Alive []ProcRecord
	// OwnerAlive says the harness that started it still runs: the
	// topology may be in use, not left over.
	OwnerAlive bool
}

// Leftovers lists the state directories under root (Root() if empty).
// Directories without a readable record are skipped.
func Leftovers(root string) ([]Leftover, error) {
	if root == "" {
		r, err := Root()
		if err != nil {
			return nil, err
		}
		root = r
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list engine leftovers: %w", err)
	}
	var out []Leftover
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, stateFile))
		if err != nil {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			continue
		}
		l := Leftover{Dir: dir, Record: rec}
		for _, p := range rec.Procs {
			if p.alive() {
				l.Alive = append(l.Alive, p)
			}
		}
		if rec.Owner > 0 && rec.Owner != os.Getpid() {
			_, err := startTicks(rec.Owner)
			l.OwnerAlive = err == nil
		}
		out = append(out, l)
	}
	return out, nil
}

// Cleanup stops l's processes (SIGTERM, SIGKILL after grace) and removes
// its directory and the directories recorded with RemoveWith.
func Cleanup(l Leftover, grace time.Duration) error {
	if err := stopRecord(l.Record, grace); err != nil {
		return err
	}
	if err := removeAll(l.Record, l.Dir); err != nil {
		return fmt.Errorf("remove %s: %w", l.Dir, err)
	}
	return nil
}

// BinDir is where `make engines` installs engine binaries built from
// source: $(os.UserCacheDir)/replcheck/engines/bin, whatever EnvRoot says.
func BinDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "replcheck", "engines", "bin"), nil
}

// FindBinary looks for an executable called name in $REPLCHECK_ENGINES_DIR,
// then on PATH, then in BinDir(). The error says where it looked.
func FindBinary(name string) (string, error) {
	var dirs []string
	if d := os.Getenv(EnvEnginesDir); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if p, err := exec.LookPath(filepath.Join(d, name)); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if b, err := BinDir(); err == nil {
		if p, err := exec.LookPath(filepath.Join(b, name)); err == nil {
			return p, nil
		}
		dirs = append(dirs, b)
	}
	where := "PATH"
	if len(dirs) > 0 {
		where += ", " + strings.Join(dirs, ", ")
	}
	return "", fmt.Errorf("%s not found (looked in %s)", name, where)
}
