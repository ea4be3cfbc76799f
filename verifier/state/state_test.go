package state_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// TestReadIdentifiesWrites writes payload objects (plain, SSE-C, tiny) and
// one foreign object at site a, lets them replicate, and checks what the
// final state says each site serves — then runs the checker over it.
func TestReadIdentifiesWrites(t *testing.T) {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{})
	if topo != nil {
		defer topo.Close(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	var clients []client.Client
	for _, s := range topo.Sites() {
		c, err := client.NewS3(s, true)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	a := clients[0]
	if err := a.CreateBucket(ctx, "stb", client.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	ssec := client.SSE{Mode: client.SSEC, Key: bytes.Repeat([]byte{1}, 32)}
	path := filepath.Join(t.TempDir(), "h.jsonl")
	hw, _ := history.Create(path, "t")
	write := func(id, key string, size int64, sse client.SSE) {
		spec := payload.Spec{OpID: id, Seed: 42, Size: size}
		op, _ := hw.Invoke(history.Op{ID: id, Kind: history.Put, Bucket: "stb", Key: key, Size: size, Seed: 42, SSE: sse.Mode})
		if _, err := a.Put(ctx, "stb", key, payload.NewReader(spec), size,
			client.PutOptions{SSE: sse, Meta: map[string]string{state.MetaOpID: id}}); err != nil {
			t.Fatal(err)
		}
		op.Outcome = history.OK
		hw.Complete(op)
	}
	write("w1", "plain", 5000, client.SSE{})
	write("w2", "secret", 3000, ssec)
	write("w3", "tiny", 3, client.SSE{})
	if _, err := a.Put(ctx, "stb", "foreign", strings.NewReader(strings.Repeat("not a payload ", 10)), 140, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	hw.Close()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until b lists all four.
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, _ := clients[1].List(ctx, "stb", "")
		if len(l) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b lists %d keys", len(l))
		}
		time.Sleep(20 * time.Millisecond)
	}
	fs, err := state.Read(ctx, clients, []string{"stb"}, h, state.Options{SSEC: ssec})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, obs := range fs.Keys {
		for _, ob := range obs {
			got[k.Key+"@"+ob.Site[len(ob.Site)-1:]] = fmt.Sprintf("%v/%s/%v/%s", ob.Present, ob.ReadOf, ob.Valid, ob.Error)
		}
	}
	for _, site := range []string{"a", "b"} {
		for key, want := range map[string]string{"plain": "true/w1/true/", "secret": "true/w2/true/", "tiny": "true/w3/true/", "foreign": "true//false/"} {
			if g := got[key+"@"+site]; g != want {
				t.Errorf("%s at %s: %s, want %s", key, site, g, want)
			}
		}
	}
	res := checker.Check(h, fs, checker.Options{})
	if c := res.Counts(); len(c) != 1 || c[checker.CorruptRead] != 2 {
		t.Fatalf("anomalies %+v", res.Anomalies)
	}
}
