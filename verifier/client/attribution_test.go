package client_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	pl "github.com/replcheck/replcheck/verifier/workload/payload"
)

// TestRecordingAttributesReads: a whole read of a payload object names the
// write its header names, through either API; a ranged read, an object too
// short for its header, bytes of another kind and a body cut short do not.
func TestRecordingAttributesReads(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	w, path := newHistory(t)
	s3 := client.NewRecording(newS3(t, a), w)
	sw := client.NewRecording(newSwift(t, a), w)
	if err := s3.CreateBucket(ctx, "attr", client.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, s pl.Spec) {
		t.Helper()
		if _, err := s3.Put(client.Annotate(ctx, client.Annotation{ID: s.OpID, Seed: s.Seed}), "attr", key,
			pl.NewReader(s), s.Size, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("whole", pl.Spec{OpID: "w-whole", Seed: 1, Size: 5000})
	exact := pl.Spec{OpID: "w-exact", Seed: 2} // as long as its header: the shortest object it names
	for exact.Size != int64(len(exact.Header())) {
		exact.Size = int64(len(exact.Header()))
	}
	put("exact", exact)
	put("short", pl.Spec{OpID: "w-short", Seed: 3, Size: 10})
	if _, err := s3.Put(client.WithID(ctx, "w-raw"), "attr", "raw", bytes.NewReader(payload(4, 300)), 300, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A header that claims another length than the object has.
	lie := []byte(pl.Spec{OpID: "w-whole", Seed: 1, Size: 5000}.Header() + "tail")
	if _, err := s3.Put(client.WithID(ctx, "w-lie"), "attr", "lie", bytes.NewReader(lie), int64(len(lie)), client.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	read := func(c *client.Recording, id, key string, o client.GetOptions, n int) {
		t.Helper()
		rc, _, err := c.Get(client.WithID(ctx, id), "attr", key, o)
		if err != nil {
			t.Fatal(err)
		}
		if n < 0 {
			_, err = io.Copy(io.Discard, rc)
		} else {
			_, err = io.ReadFull(rc, make([]byte, n))
		}
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	read(s3, "g-s3", "whole", client.GetOptions{}, -1)
	read(sw, "g-swift", "whole", client.GetOptions{}, -1)
	read(s3, "g-exact", "exact", client.GetOptions{}, -1)
	read(s3, "g-range", "whole", client.GetOptions{Offset: 0, Length: 200}, -1)
	read(s3, "g-short", "short", client.GetOptions{}, -1)
	read(s3, "g-raw", "raw", client.GetOptions{}, -1)
	read(s3, "g-lie", "lie", client.GetOptions{}, -1)
	read(s3, "g-cut", "whole", client.GetOptions{}, 200)

	ops := readHistory(t, w, path)
	for id, want := range map[string]string{"g-s3": "w-whole", "g-swift": "w-whole", "g-exact": "w-exact",
		"g-range": "", "g-short": "", "g-raw": "", "g-lie": "", "g-cut": ""} {
		op := ops[id]
		if op.Kind != history.Get {
			t.Errorf("%s: not recorded (%+v)", id, op)
			continue
		}
		if op.ReadOf != want {
			t.Errorf("%s: readOf %q, want %q", id, op.ReadOf, want)
		}
	}
	if g, wr := ops["g-swift"], ops["w-whole"]; g.SHA256 != wr.SHA256 || g.Size != wr.Size {
		t.Errorf("whole read %s/%d, write %s/%d", g.SHA256, g.Size, wr.SHA256, wr.Size)
	}
}
