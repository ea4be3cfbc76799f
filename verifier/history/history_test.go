package history_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replcheck/replcheck/verifier/history"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := history.Create(path, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	put, _ := w.Invoke(history.Op{ID: "w1", Site: "a", API: "s3", Kind: history.Put, Bucket: "b", Key: "k",
		Size: 10, SHA256: "abc", Seed: 7, SSE: "SSE-S3", Meta: map[string]string{"op": "w1"}})
	time.Sleep(time.Millisecond)
	put.Outcome, put.VersionID, put.ETag = history.OK, "v1", "etag"
	if _, err := w.Complete(put); err != nil {
		t.Fatal(err)
	}
	get, _ := w.Invoke(history.Op{ID: "r1", Site: "b", API: "swift", Kind: history.Get, Bucket: "b", Key: "k"})
	get.Outcome, get.ReadOf, get.Size, get.SHA256 = history.OK, "w1", 10, "abc"
	w.Complete(get)
	w.RecordFault("partition a→b", "inject", time.Now(), errors.New("boom"))
	w.Invoke(history.Op{ID: "w2", Site: "a", API: "s3", Kind: history.Delete, Bucket: "b", Key: "k"}) // never completes
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Header.Run != "run-1" || h.Header.Schema != history.SchemaVersion || h.Truncated {
		t.Fatalf("header %+v truncated=%v", h.Header, h.Truncated)
	}
	if len(h.Ops) != 3 || len(h.Faults) != 1 || h.Faults[0].Error != "boom" {
		t.Fatalf("ops %d faults %+v", len(h.Ops), h.Faults)
	}
	w1, r1, w2 := h.Ops[0], h.Ops[1], h.Ops[2]
	if w1.Outcome != history.OK || w1.VersionID != "v1" || w1.Size != 10 || w1.SHA256 != "abc" || w1.Meta["op"] != "w1" ||
		w1.Complete <= w1.Invoke {
		t.Fatalf("w1 %+v", w1)
	}
	if r1.ReadOf != "w1" || r1.SHA256 != "abc" || r1.Size != 10 {
		t.Fatalf("r1 %+v", r1)
	}
	if w2.Outcome != history.Unknown || w2.Complete != h.End {
		t.Fatalf("an op never completed must be unknown until the end: %+v (end %d)", w2, h.End)
	}
}

// TestKilledRun cuts the file in the middle of its last line, as a crash
// would: everything before it reads back, and the cut is reported.
func TestKilledRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, _ := history.Create(path, "r")
	for i := range 3 {
		op, _ := w.Invoke(history.Op{ID: fmt.Sprint("w", i), Kind: history.Put, Key: "k"})
		op.Outcome = history.OK
		w.Complete(op)
	}
	w.Close()
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-10], 0o644)
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Truncated || len(h.Ops) != 3 || h.Ops[2].Outcome != history.Unknown || h.Ops[1].Outcome != history.OK {
		t.Fatalf("truncated=%v ops %+v", h.Truncated, h.Ops)
	}
}

func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, _ := history.Create(path, "r")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				op, _ := w.Invoke(history.Op{ID: fmt.Sprintf("g%d-%d", g, i), Kind: history.Put, Key: strings.Repeat("k", i)})
				op.Outcome = history.OK
				w.Complete(op)
			}
		}()
	}
	wg.Wait()
	w.Close()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 1600 {
		t.Fatalf("%d ops", len(h.Ops))
	}
	for i := 1; i < len(h.Ops); i++ {
		if h.Ops[i].Invoke < h.Ops[i-1].Invoke {
			t.Fatal("ops not ordered by invoke time")
		}
	}
}

func TestBadHistories(t *testing.T) {
	header := `{"ev":"header","header":{"schema":1,"run":"r","start":"2026-01-01T00:00:00Z"}}`
	inv := `{"ev":"invoke","op":{"id":"a","kind":"put","invoke":1}}`
	for name, tc := range map[string]struct{ text, want string }{
		"empty":           {"", "empty"},
		"no header":       {inv + "\n", "header"},
		"newer schema":    {`{"ev":"header","header":{"schema":99}}` + "\n", "newer"},
		"bad middle line": {header + "\n{oops\n" + inv + "\n", "line 2"},
		"duplicate":       {header + "\n" + inv + "\n" + inv + "\n", "invoked twice"},
		"orphan":          {header + "\n" + `{"ev":"complete","op":{"id":"x","outcome":"ok"}}` + "\n", "never invoked"},
		"unknown record":  {header + "\n" + `{"ev":"weird"}` + "\n", "unknown record"},
	} {
		_, err := history.Read(strings.NewReader(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}

func TestCompleteNeedsOutcomeAndNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	w, _ := history.Create(path, "r")
	defer w.Close()
	op, _ := w.Invoke(history.Op{ID: "x", Kind: history.Put})
	if _, err := w.Complete(op); err == nil {
		t.Fatal("completion without outcome accepted")
	}
	// A history is never overwritten: a second run needs its own file.
	if _, err := history.Create(path, "r2"); err == nil {
		t.Fatal("existing history overwritten")
	}
}

// TestWriteHashedWhileStreaming: a write invoked without a hash (its body
// could not be read twice) gets the hash its completion carries.
func TestWriteHashedWhileStreaming(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, _ := history.Create(path, "r")
	op, _ := w.Invoke(history.Op{ID: "w", Kind: history.Put, Key: "k"})
	op.Outcome, op.Size, op.SHA256 = history.OK, 3, "abc"
	w.Complete(op)
	r, _ := w.Invoke(history.Op{ID: "r", Kind: history.Get, Key: "k", Range: "bytes=0-1"})
	r.Outcome, r.Size, r.SHA256 = history.OK, 2, "ab"
	w.Complete(r)
	w.Close()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Ops[0].SHA256 != "abc" || h.Ops[0].Size != 3 || h.Ops[1].Range != "bytes=0-1" || h.Ops[1].SHA256 != "ab" {
		t.Fatalf("ops %+v", h.Ops)
	}
}

func TestOnCompleteSeesFullOps(t *testing.T) {
	w, err := history.Create(filepath.Join(t.TempDir(), "h.jsonl"), "run")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var seen []history.Op
	w.OnComplete(func(op history.Op) { seen = append(seen, op) })
	op, _ := w.Invoke(history.Op{ID: "w1", Site: "a", Kind: history.Put, Bucket: "b", Key: "k", Meta: map[string]string{"m": "1"}})
	op.Outcome = history.OK
	w.Complete(op)
	if len(seen) != 1 || seen[0].Site != "a" || seen[0].Meta["m"] != "1" || seen[0].Complete <= 0 || seen[0].Invoke > seen[0].Complete {
		t.Fatalf("observer saw %+v, want w1 in full with its times", seen)
	}
}
