package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

func newHistory(t *testing.T) (*history.Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := history.Create(path, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

func readHistory(t *testing.T, w *history.Writer, path string) map[string]history.Op {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]history.Op{}
	for _, op := range h.Ops {
		if op.Complete < op.Invoke {
			t.Errorf("%s completes before it is invoked", op.ID)
		}
		ops[op.ID] = op
	}
	return ops
}

// onlyReader hides everything but Read: a body that cannot seek.
type onlyReader struct{ io.Reader }

func TestRecording(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	w, path := newHistory(t)
	s3 := client.NewRecording(newS3(t, a), w)
	sw := client.NewRecording(newSwift(t, a), w)
	if err := s3.CreateBucket(ctx, "rec", client.BucketOptions{Versioning: true}); err != nil {
		t.Fatal(err)
	}
	body1, body2, big := payload(1, 1500), payload(2, 2500), payload(3, 11<<20)
	meta := map[string]string{"op": "first"}

	id1 := s3.NextID()
	p1, err := s3.Put(client.Annotate(ctx, client.Annotation{ID: id1, Seed: 11}), "rec", "k1", bytes.NewReader(body1), 1500,
		client.PutOptions{Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s3.Put(client.WithID(client.WithKind(ctx, history.Overwrite), "custom-1"), "rec", "k1", bytes.NewReader(body2), 2500,
		client.PutOptions{SSE: client.SSE{Mode: client.SSES3}})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := s3.Put(client.WithID(ctx, "mp"), "rec", "big", bytes.NewReader(big), int64(len(big)), client.PutOptions{PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// Bodies that cannot seek: hashed only if the caller declares it.
	if _, err := s3.Put(client.Annotate(ctx, client.Annotation{ID: "declared", SHA256: sum(body1)}), "rec", "declared",
		onlyReader{bytes.NewReader(body1)}, 1500, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Put(client.WithID(ctx, "undeclared"), "rec", "undeclared", onlyReader{bytes.NewReader(body1)}, 1500,
		client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A wrong declared hash is the caller's bug: reported, and noted.
	_, err = s3.Put(client.Annotate(ctx, client.Annotation{ID: "wrong", SHA256: sum(body2)}), "rec", "wrong",
		bytes.NewReader(body1), 1500, client.PutOptions{})
	if !errors.Is(err, client.ErrHashMismatch) {
		t.Errorf("wrong declared hash: %v", err)
	}

	// Reads: whole, closed early, missing, ranged, head.
	rc, _, err := s3.Get(client.WithID(ctx, "g-whole"), "rec", "k1", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, body2) {
		t.Fatalf("get: %d bytes %v", len(got), err)
	}
	rc.Close()
	rc, _, err = s3.Get(client.WithID(ctx, "g-early"), "rec", "big", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1000)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, err := s3.Get(client.WithID(ctx, "g-missing"), "rec", "missing", client.GetOptions{}); !client.IsNotFound(err) {
		t.Errorf("missing: %v", err)
	}
	rc, _, err = s3.Get(client.WithID(ctx, "g-range"), "rec", "k1", client.GetOptions{Offset: 5, Length: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Read exactly the range and close without seeing EOF: complete all the same.
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := s3.Head(client.WithID(ctx, "h"), "rec", "k1", client.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// Copy, metadata update, delete.
	cp, err := s3.Copy(client.WithID(ctx, "c"), "rec", "k1", "k2", client.CopyOptions{Meta: map[string]string{"copy": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.UpdateMeta(client.WithID(ctx, "m"), "rec", "k1", map[string]string{"op": "meta"}); err != nil {
		t.Fatal(err)
	}
	del, err := s3.Delete(client.WithID(ctx, "d"), "rec", "k2", "")
	if err != nil {
		t.Fatal(err)
	}

	// Swift, through the same history: default ids of the same site.
	if _, err := sw.Put(ctx, "rec", "k3", bytes.NewReader(body1), 1500, client.PutOptions{Meta: meta}); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Put(ctx, "rec", "k4", strings.NewReader("x"), 1, client.PutOptions{SSE: client.SSE{Mode: client.SSEKMS}}); err == nil {
		t.Error("Swift SSE write accepted")
	}
	// A kind that does not fit the call is refused, unrecorded.
	if _, err := s3.Put(client.WithID(client.WithKind(ctx, history.Delete), "bad-kind"), "rec", "k5", strings.NewReader("x"), 1,
		client.PutOptions{}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("put of kind delete: %v", err)
	}

	ops := readHistory(t, w, path)
	check := func(id string, f func(op history.Op) bool) {
		t.Helper()
		op, ok := ops[id]
		if !ok {
			t.Errorf("%s not recorded", id)
			return
		}
		if !f(op) {
			t.Errorf("%s recorded as %+v", id, op)
		}
	}
	check(id1, func(op history.Op) bool {
		return strings.HasPrefix(id1, a.Name()+"-") && op.Kind == history.Put && op.Outcome == history.OK &&
			op.Site == a.Name() && op.API == "s3" && op.Bucket == "rec" && op.Key == "k1" && op.Size == 1500 &&
			op.SHA256 == sum(body1) && op.Seed == 11 && op.Meta["op"] == "first" && op.VersionID == p1.VersionID &&
			op.VersionID != "" && op.ETag == p1.ETag && op.SSE == ""
	})
	check("custom-1", func(op history.Op) bool {
		return op.Kind == history.Overwrite && op.Outcome == history.OK && op.SHA256 == sum(body2) && op.Size == 2500 &&
			op.SSE == client.SSES3 && op.VersionID == p2.VersionID && op.VersionID != p1.VersionID
	})
	check("mp", func(op history.Op) bool {
		return op.Kind == history.Multipart && op.Outcome == history.OK && op.SHA256 == sum(big) && op.Size == 11<<20 &&
			op.ETag == mp.ETag && strings.HasSuffix(op.ETag, "-3")
	})
	check("declared", func(op history.Op) bool { return op.Outcome == history.OK && op.SHA256 == sum(body1) })
	check("undeclared", func(op history.Op) bool { return op.Outcome == history.OK && op.SHA256 == "" && op.Size == 1500 })
	check("wrong", func(op history.Op) bool {
		return op.Outcome == history.OK && op.SHA256 == sum(body2) && strings.Contains(op.Error, sum(body1))
	})
	check("g-whole", func(op history.Op) bool {
		return op.Kind == history.Get && op.Outcome == history.OK && op.Size == 2500 && op.SHA256 == sum(body2) &&
			op.VersionID == p2.VersionID && op.Error == ""
	})
	check("g-early", func(op history.Op) bool {
		return op.Kind == history.Get && op.Outcome == history.Unknown && op.Size == 1000 && op.SHA256 == sum(big[:1000]) &&
			op.Error == "closed after 1000 of 11534336 bytes"
	})
	check("g-missing", func(op history.Op) bool {
		return op.Outcome == history.Failed && op.SHA256 == "" && strings.Contains(op.Error, "does not exist")
	})
	check("g-range", func(op history.Op) bool {
		return op.Outcome == history.OK && op.Size == 10 && op.SHA256 == sum(body2[5:15]) && op.Range == "bytes=5-14"
	})
	check("h", func(op history.Op) bool {
		return op.Kind == history.Get && op.Outcome == history.OK && op.Size == 2500 && op.SHA256 == "" && op.VersionID == p2.VersionID
	})
	check("c", func(op history.Op) bool {
		return op.Kind == history.Copy && op.Outcome == history.OK && op.Source == "k1" && op.Key == "k2" &&
			op.Meta["copy"] == "yes" && op.VersionID == cp.VersionID && op.VersionID != ""
	})
	check("m", func(op history.Op) bool {
		return op.Kind == history.Meta && op.Outcome == history.OK && op.Meta["op"] == "meta" && op.VersionID != "" &&
			op.VersionID != p2.VersionID
	})
	check("d", func(op history.Op) bool {
		return op.Kind == history.Delete && op.Outcome == history.OK && op.Key == "k2" && op.VersionID == del.VersionID && op.VersionID != ""
	})
	var swiftOps []history.Op
	for _, op := range ops {
		if op.API == "swift" {
			swiftOps = append(swiftOps, op)
		}
	}
	if len(swiftOps) != 2 {
		t.Fatalf("swift ops: %+v", swiftOps)
	}
	for _, op := range swiftOps {
		if !strings.HasPrefix(op.ID, a.Name()+"-") || op.ID == id1 {
			t.Errorf("swift op id %s", op.ID)
		}
		switch op.Key {
		case "k3":
			if op.Outcome != history.OK || op.SHA256 != sum(body1) || op.Meta["op"] != "first" || op.ETag != md5hex(body1) {
				t.Errorf("swift put %+v", op)
			}
		case "k4":
			if op.Outcome != history.Failed || op.SSE != client.SSEKMS || !strings.Contains(op.Error, "Swift cannot") {
				t.Errorf("swift SSE put %+v", op)
			}
		}
	}
	if _, ok := ops["bad-kind"]; ok {
		t.Error("a refused kind was recorded")
	}
}

// TestRecordingHistoryFailure: an operation whose invocation cannot be
// recorded is not performed.
func TestRecordingHistoryFailure(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	w, _ := newHistory(t)
	c := newS3(t, a)
	mkbucket(t, c, "nohist", client.BucketOptions{})
	r := client.NewRecording(c, w)
	w.Close()
	_, err := r.Put(ctx, "nohist", "k", strings.NewReader("x"), 1, client.PutOptions{})
	if err == nil || client.Classify(err) != history.Failed {
		t.Errorf("put with a closed history: %v", err)
	}
	if _, err := c.Head(ctx, "nohist", "k", client.GetOptions{}); !client.IsNotFound(err) {
		t.Errorf("the unrecorded put was performed: %v", err)
	}
}

// stub is a Client whose Put reads its body and whose Get returns a
// given body; other methods are not called.
type stub struct {
	client.Client
	body io.ReadCloser
}

func (s *stub) Site() string { return "s" }
func (s *stub) API() string  { return client.APIS3 }
func (s *stub) Put(_ context.Context, _, _ string, body io.Reader, _ int64, _ client.PutOptions) (client.WriteResult, error) {
	_, err := io.Copy(io.Discard, body)
	return client.WriteResult{ETag: "e"}, err
}
func (s *stub) Get(context.Context, string, string, client.GetOptions) (io.ReadCloser, client.ObjectInfo, error) {
	return s.body, client.ObjectInfo{Size: 100}, nil
}

type failingBody struct{ n int }

func (f *failingBody) Read(p []byte) (int, error) {
	if f.n >= 40 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), 40-f.n)
	f.n += n
	return n, nil
}
func (f *failingBody) Close() error { return nil }

// changing is a body that yields different bytes on each pass.
type changing struct {
	pass byte
	r    *bytes.Reader
}

func (c *changing) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *changing) Seek(off int64, whence int) (int64, error) {
	c.pass++
	c.r = bytes.NewReader(bytes.Repeat([]byte{c.pass}, 10))
	return c.r.Seek(off, whence)
}

func TestRecordingStub(t *testing.T) {
	ctx := context.Background()
	w, path := newHistory(t)
	r := client.NewRecording(&stub{body: &failingBody{}}, w)
	rc, _, err := r.Get(client.WithID(ctx, "get"), "b", "k", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 40 {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	rc.Close()
	_, err = r.Put(client.WithID(ctx, "put"), "b", "k", &changing{r: bytes.NewReader(nil)}, 10, client.PutOptions{})
	if !errors.Is(err, client.ErrHashMismatch) {
		t.Errorf("a body that changed between passes: %v", err)
	}
	ops := readHistory(t, w, path)
	get, put := ops["get"], ops["put"]
	if get.Outcome != history.Unknown || get.Size != 40 || get.SHA256 != sum(make([]byte, 40)) ||
		!strings.Contains(get.Error, "unexpected EOF") {
		t.Errorf("get failing midway: %+v", get)
	}
	if put.SHA256 != sum(bytes.Repeat([]byte{1}, 10)) || !strings.Contains(put.Error, sum(bytes.Repeat([]byte{2}, 10))) {
		t.Errorf("put of a changing body: %+v", put)
	}
}

func TestSequence(t *testing.T) {
	a, b := client.Sequence("seq-test"), client.Sequence("seq-test")
	seen := map[string]bool{}
	for range 3 {
		for _, id := range []string{a(), b()} {
			if seen[id] || !strings.HasPrefix(id, "seq-test-") || len(id) != len("seq-test-000001") {
				t.Errorf("id %s (seen %v)", id, seen)
			}
			seen[id] = true
		}
	}
}
