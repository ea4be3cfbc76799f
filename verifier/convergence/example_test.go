package convergence_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
)

// A run wires the tracker to its history: every completed operation is
// observed, probes go through unrecorded clients, and the verdict comes
// within the observation window.
func Example() {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{})
	if err != nil {
		panic(err)
	}
	defer topo.Close(ctx)
	dir, _ := os.MkdirTemp("", "replcheck")
	defer os.RemoveAll(dir)
	hist, err := history.Create(filepath.Join(dir, "history.jsonl"), "example")
	if err != nil {
		panic(err)
	}
	defer hist.Close()

	rt := client.NewTransport()
	defer rt.CloseIdleConnections()
	cfg := convergence.Config{Probes: map[string]client.Client{}, Clock: hist.Now}
	for _, s := range topo.Sites() {
		c, err := client.NewS3(s, true, client.WithTransport(rt))
		if err != nil {
			panic(err)
		}
		cfg.Sites = append(cfg.Sites, s.Name())
		cfg.Probes[s.Name()] = c
	}
	tr, err := convergence.New(cfg)
	if err != nil {
		panic(err)
	}
	hist.OnComplete(tr.Observe)
	tr.Start(ctx)

	// The workload writes through a recording client, with its op id in
	// the object's metadata.
	a := client.NewRecording(cfg.Probes[cfg.Sites[0]], hist, client.WithIDs(client.Sequence("example")))
	if err := a.CreateBucket(ctx, "demo", client.BucketOptions{}); err != nil {
		panic(err)
	}
	for range 100 { // the bucket replicates first
		if _, err := cfg.Probes[cfg.Sites[1]].List(ctx, "demo", ""); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	id := a.NextID()
	body := []byte("hello")
	if _, err := a.Put(client.WithID(ctx, id), "demo", "greeting", bytes.NewReader(body), int64(len(body)),
		client.PutOptions{Meta: map[string]string{state.MetaOpID: id}}); err != nil {
		panic(err)
	}

	window, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = tr.Wait(window)
	res := tr.Stop()
	fmt.Println(res.Verdict.Outcome, res.Writes[0].State, res.Writes[0].Origin, "→", res.Writes[0].Peer)
	// Output: pass converged europe-se-1a → europe-se-1b
}
