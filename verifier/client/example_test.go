package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

// A workload writes through a Recording and the checker reads the history.
func ExampleRecording() {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{})
	if topo != nil {
		defer topo.Close(ctx)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "replcheck-example")
	defer os.RemoveAll(dir)
	w, _ := history.Create(filepath.Join(dir, "history.jsonl"), "example")

	s3, _ := client.NewS3(topo.Sites()[0], true)
	n := 0 // the example's own ids; client.Sequence shares a counter per prefix in the process
	rec := client.NewRecording(s3, w, client.WithIDs(func() string { n++; return fmt.Sprintf("a-%06d", n) }))
	_ = rec.CreateBucket(ctx, "example", client.BucketOptions{})

	body := []byte("hello")
	_, _ = rec.Put(ctx, "example", "k", bytes.NewReader(body), int64(len(body)), client.PutOptions{})
	_, _ = rec.Put(client.WithKind(ctx, history.Overwrite), "example", "k", bytes.NewReader(body), int64(len(body)), client.PutOptions{})
	rc, _, _ := rec.Get(ctx, "example", "k", client.GetOptions{})
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	_, _, err = rec.Get(ctx, "example", "missing", client.GetOptions{})
	fmt.Println("missing:", client.Classify(err), client.IsNotFound(err))
	w.Close()

	h, _ := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	for _, op := range h.Ops {
		fmt.Println(op.ID, op.Kind, op.Key, op.Outcome, op.Size, op.SHA256[:min(8, len(op.SHA256))])
	}
	// Output:
	// missing: failed true
	// a-000001 put k ok 5 2cf24dba
	// a-000002 overwrite k ok 5 2cf24dba
	// a-000003 get k ok 5 2cf24dba
	// a-000004 get missing failed 0
}
