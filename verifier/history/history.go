// Package history is the record of a run: every operation the workload
// invoked, its outcome, and the faults injected meanwhile, as JSON lines
// written as they happen. A run killed at any point leaves a history the
// checker can read: an operation invoked but never completed has an
// unknown outcome, exactly as it would for a client that timed out.
//
// Times are monotonic offsets from the run's start, so clock steps on the
// machine running the verifier never reorder operations; the header keeps
// the wall-clock start for reports.
package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// SchemaVersion is the version of the line format; readers refuse newer ones.
const SchemaVersion = 1

// Kind is what an operation did.
type Kind string

// Operation kinds.
const (
	Put       Kind = "put"       // a write of a key that had no live value the writer knew of
	Overwrite Kind = "overwrite" // a write of a key the workload wrote before
	Delete    Kind = "delete"
	Multipart Kind = "multipart" // a multipart upload, completed (or not) as one operation
	Copy      Kind = "copy"      // server-side copy; Source names the source key
	Meta      Kind = "meta"      // metadata update in place (Swift POST) or tags
	Get       Kind = "get"       // a read; its result is attributed to a write
)

// IsWrite reports whether the kind changes the key's value.
func (k Kind) IsWrite() bool { return k != Get }

// Outcome is what the client learned.
type Outcome string

// Outcomes. Unknown means the client cannot tell (timeout, connection
// lost, run killed): the operation may or may not have taken effect.
const (
	OK      Outcome = "ok"
	Failed  Outcome = "failed"
	Unknown Outcome = "unknown"
)

// Time is a monotonic offset from the run's start, in nanoseconds.
type Time int64

// Duration converts t to a time.Duration.
func (t Time) Duration() time.Duration { return time.Duration(t) }

// Op is one operation: what was invoked and what came of it.
type Op struct {
	ID     string `json:"id"`
	Site   string `json:"site"`
	API    string `json:"api"` // s3 or swift
	Kind   Kind   `json:"kind"`
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Source string `json:"source,omitempty"` // copy source key
	// What a write wrote: size, plaintext SHA-256 (hex), the payload seed,
	// the SSE mode and user metadata.
	Size   int64             `json:"size,omitempty"`
	SHA256 string            `json:"sha256,omitempty"`
	Seed   uint64            `json:"seed,omitempty"`
	SSE    string            `json:"sse,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
	// Range is the byte range a read asked for ("bytes=first-last");
	// its Size and SHA256 are of that range only.
	Range  string `json:"range,omitempty"`
	Invoke Time   `json:"invoke"`

	// Filled at completion.
	Complete  Time    `json:"complete,omitempty"`
	Outcome   Outcome `json:"outcome,omitempty"`
	VersionID string  `json:"versionId,omitempty"`
	ETag      string  `json:"etag,omitempty"`
	Error     string  `json:"error,omitempty"`
	// For reads of a whole object: the write whose payload header the
	// bytes carry ("" when none does); Size and SHA256 tell whether they
	// are exactly that write's.
	ReadOf   string `json:"readOf,omitempty"`
	ReadHash string `json:"readHash,omitempty"`
	Corrupt  bool   `json:"corrupt,omitempty"`
}

// Fault is a fault injected or healed during the run.
type Fault struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // inject or heal
	At    Time   `json:"at"`
	Error string `json:"error,omitempty"`
}

// Header is the first line of a history.
type Header struct {
	Schema int       `json:"schema"`
	Run    string    `json:"run"`
	Start  time.Time `json:"start"` // wall clock at offset 0
}

// line is one JSON line; Ev says which fields are set.
type line struct {
	Ev     string  `json:"ev"` // header, invoke, complete, fault
	Header *Header `json:"header,omitempty"`
	Op     *Op     `json:"op,omitempty"`
	Fault  *Fault  `json:"fault,omitempty"`
}

// Writer appends to a history file. It is safe for concurrent use; each
// record is one write, so a crash loses at most the line being written.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	base time.Time // carries the monotonic reading
	err  error
	// observers see every completed op, in full, after it is written:
	// convergence probes start from acknowledgements as they happen.
	observers []func(Op)
}

// OnComplete registers f to be called with every op Complete records,
// after its line is written, on the completing goroutine. Register
// observers before operations start; f must be quick and safe for
// concurrent calls.
func (w *Writer) OnComplete(f func(Op)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.observers = append(w.observers, f)
}

// Create starts a history file at path.
func Create(path, run string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	w := &Writer{f: f, base: time.Now()}
	if err := w.write(line{Ev: "header", Header: &Header{Schema: SchemaVersion, Run: run, Start: w.base.UTC()}}); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Now returns the current offset from the run's start.
func (w *Writer) Now() Time { return Time(time.Since(w.base)) }

// Start returns the wall-clock time of offset 0.
func (w *Writer) Start() time.Time { return w.base }

func (w *Writer) write(l line) error {
	data, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	data = append(data, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if _, err := w.f.Write(data); err != nil {
		w.err = fmt.Errorf("history: %w", err)
	}
	return w.err
}

// Invoke records that op is being invoked now and returns it with its
// invoke time set. Call Complete with the result.
func (w *Writer) Invoke(op Op) (Op, error) {
	op.Invoke = w.Now()
	op.Complete, op.Outcome = 0, ""
	return op, w.write(line{Ev: "invoke", Op: &op})
}

// Complete records the result of an invoked op; its completion time is now.
func (w *Writer) Complete(op Op) (Op, error) {
	op.Complete = w.Now()
	if op.Outcome == "" {
		return op, errors.New("history: completion without an outcome")
	}
	// Only what completion adds goes on the line; the reader merges. Size
	// and hash come along: a read learns them only now, and a write whose
	// body was hashed as it streamed, too.
	c := Op{ID: op.ID, Complete: op.Complete, Outcome: op.Outcome, VersionID: op.VersionID, ETag: op.ETag,
		Error: op.Error, ReadOf: op.ReadOf, ReadHash: op.ReadHash, Corrupt: op.Corrupt, Size: op.Size, SHA256: op.SHA256}
	err := w.write(line{Ev: "complete", Op: &c})
	w.mu.Lock()
	obs := w.observers
	w.mu.Unlock()
	for _, f := range obs {
		f(op)
	}
	return op, err
}

// RecordFault records a fault event that happened at wall time at.
func (w *Writer) RecordFault(name, kind string, at time.Time, err error) error {
	f := &Fault{Name: name, Kind: kind, At: Time(at.Sub(w.base))}
	if err != nil {
		f.Error = err.Error()
	}
	return w.write(line{Ev: "fault", Fault: f})
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return errors.Join(w.err, err)
}

// History is a history read back.
type History struct {
	Header Header
	Ops    []Op    // by invoke time
	Faults []Fault // by time
	// End is the latest time recorded: invoked-but-not-completed
	// operations are unknown, completing no earlier than End.
	End Time
	// Truncated says the last line was cut short (a killed run).
	Truncated bool
}

// ReadFile reads a history file.
func ReadFile(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	h, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	return h, nil
}

// Read reads a history. A malformed last line is taken for a write cut
// short by a crash; a malformed line elsewhere is an error naming it.
func Read(r io.Reader) (*History, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	h := &History{}
	byID := map[string]int{}
	n := 0
	var bad error
	for sc.Scan() {
		n++
		if bad != nil {
			return nil, bad // a bad line that was not the last
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			bad = fmt.Errorf("line %d: %w", n, err)
			continue
		}
		switch l.Ev {
		case "header":
			if l.Header == nil || n != 1 {
				return nil, fmt.Errorf("line %d: misplaced header", n)
			}
			if l.Header.Schema > SchemaVersion {
				return nil, fmt.Errorf("schema %d is newer than this replcheck reads (%d)", l.Header.Schema, SchemaVersion)
			}
			h.Header = *l.Header
		case "invoke":
			if l.Op == nil || l.Op.ID == "" {
				return nil, fmt.Errorf("line %d: invoke without an operation id", n)
			}
			if _, dup := byID[l.Op.ID]; dup {
				return nil, fmt.Errorf("line %d: operation %s invoked twice", n, l.Op.ID)
			}
			byID[l.Op.ID] = len(h.Ops)
			h.Ops = append(h.Ops, *l.Op)
			h.End = max(h.End, l.Op.Invoke)
		case "complete":
			i, ok := byID[valueOr(l.Op).ID]
			if !ok {
				return nil, fmt.Errorf("line %d: completion of an operation never invoked", n)
			}
			op, c := &h.Ops[i], l.Op
			op.Complete, op.Outcome, op.VersionID, op.ETag, op.Error = c.Complete, c.Outcome, c.VersionID, c.ETag, c.Error
			op.ReadOf, op.ReadHash, op.Corrupt = c.ReadOf, c.ReadHash, c.Corrupt
			// A read's size and hash are known at completion; a write's
			// at invoke, unless its body was hashed while it streamed.
			if !op.Kind.IsWrite() || op.SHA256 == "" {
				op.Size, op.SHA256 = c.Size, c.SHA256
			}
			h.End = max(h.End, c.Complete)
		case "fault":
			if l.Fault == nil {
				return nil, fmt.Errorf("line %d: fault without details", n)
			}
			h.Faults = append(h.Faults, *l.Fault)
			h.End = max(h.End, l.Fault.At)
		default:
			return nil, fmt.Errorf("line %d: unknown record %q", n, l.Ev)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("empty history")
	}
	if h.Header.Schema == 0 {
		return nil, errors.New("no header line")
	}
	h.Truncated = bad != nil
	for i := range h.Ops {
		if h.Ops[i].Outcome == "" {
			// Invoked, never completed: it may or may not have happened.
			h.Ops[i].Outcome, h.Ops[i].Complete = Unknown, h.End
		}
	}
	sort.SliceStable(h.Ops, func(i, j int) bool { return h.Ops[i].Invoke < h.Ops[j].Invoke })
	sort.SliceStable(h.Faults, func(i, j int) bool { return h.Faults[i].At < h.Faults[j].At })
	return h, nil
}

func valueOr(op *Op) Op {
	if op == nil {
		return Op{}
	}
	return *op
}
