package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncw/swift/v2"

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

// TestReadStaleMetaOpID: a metadata update records the write the workload
// believed the key held, which may be stale; objects too small for a
// header are then identified by the key's other writes of their size, and
// by writes of keys copied onto it.
func TestReadStaleMetaOpID(t *testing.T) {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{})
	if topo != nil {
		defer topo.Close(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	a, err := client.NewS3(topo.Sites()[0], true)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateBucket(ctx, "stm", client.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "h.jsonl")
	hw, _ := history.Create(path, "t")
	record := func(op history.Op, do func() error) {
		t.Helper()
		op, _ = hw.Invoke(op)
		if err := do(); err != nil {
			t.Fatal(err)
		}
		op.Outcome = history.OK
		hw.Complete(op)
	}
	write := func(id, key string, size int64, seed uint64) {
		t.Helper()
		spec := payload.Spec{OpID: id, Seed: seed, Size: size}
		record(history.Op{ID: id, Kind: history.Put, Bucket: "stm", Key: key, Size: size, Seed: seed}, func() error {
			_, err := a.Put(ctx, "stm", key, payload.NewReader(spec), size, client.PutOptions{Meta: map[string]string{state.MetaOpID: id}})
			return err
		})
	}
	meta := func(id, key, believed string) {
		t.Helper()
		record(history.Op{ID: id, Kind: history.Meta, Bucket: "stm", Key: key}, func() error {
			return a.UpdateMeta(ctx, "stm", key, map[string]string{state.MetaOpID: believed})
		})
	}
	// 20 bytes: too short for a header, long enough to tell writes apart.
	// The workload believes tiny holds w1; it holds w2.
	write("w1", "tiny", 20, 1)
	write("w2", "tiny", 20, 2)
	meta("m1", "tiny", "w1")
	// dst holds w3, copied from src; the update names dst's own older w4.
	write("w4", "dst", 20, 4)
	write("w3", "src", 20, 3)
	record(history.Op{ID: "c1", Kind: history.Copy, Bucket: "stm", Key: "dst", Source: "src"}, func() error {
		_, err := a.Copy(ctx, "stm", "src", "dst", client.CopyOptions{})
		return err
	})
	meta("m2", "dst", "w4")
	// The update names a write large enough for a header.
	write("w5", "mixed", 5000, 5)
	write("w6", "mixed", 20, 6)
	meta("m3", "mixed", "w5")
	// Bytes of no write, named as w7: still not valid.
	write("w7", "nomatch", 20, 7)
	if _, err := a.Put(ctx, "stm", "nomatch", strings.NewReader("replcheck/1 w7 xxxxx"), 20, client.PutOptions{Meta: map[string]string{state.MetaOpID: "w7"}}); err != nil {
		t.Fatal(err)
	}
	// One byte is the same for every write ("r"). dst2 holds w8, copied
	// from src2 before src2 was rewritten with w9; the update names a
	// write with a header, so the bytes are matched against src2's writes
	// newest first: w9, then w8, which the checker must be told of.
	write("w10", "dst2", 5000, 10)
	write("w8", "src2", 1, 8)
	record(history.Op{ID: "c2", Kind: history.Copy, Bucket: "stm", Key: "dst2", Source: "src2"}, func() error {
		_, err := a.Copy(ctx, "stm", "src2", "dst2", client.CopyOptions{})
		return err
	})
	write("w9", "src2", 1, 9)
	meta("m4", "dst2", "w10")
	hw.Close()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := state.Read(ctx, []client.Client{a}, []string{"stm"}, h, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tiny": "w2/true", "dst": "w3/true", "src": "w3/true", "mixed": "w6/true", "nomatch": "w7/false",
		"dst2": "w9/true [w8]", "src2": "w9/true [w8]"}
	for k, obs := range fs.Keys {
		g := fmt.Sprintf("%s/%v", obs[0].ReadOf, obs[0].Valid)
		if len(obs[0].Alike) > 0 {
			g += fmt.Sprintf(" %v", obs[0].Alike)
		}
		if g != want[k.Key] {
			t.Errorf("%s: %s, want %s", k.Key, g, want[k.Key])
		}
	}
	if len(fs.Keys) != len(want) {
		t.Errorf("%d keys, want %d", len(fs.Keys), len(want))
	}
	res := checker.Check(h, fs, checker.Options{})
	if c := res.Counts(); len(c) != 1 || c[checker.CorruptRead] != 1 {
		t.Fatalf("anomalies %+v", res.Anomalies)
	}
}

// fakeSite serves payload objects from memory, each read after a short
// random pause so that concurrent reads finish out of order.
type fakeSite struct {
	client.Client // only the methods below are called
	name          string
	objects       map[string]payload.Spec // by key
	rng           func() time.Duration
}

func (f *fakeSite) Site() string { return f.name }

func (f *fakeSite) List(_ context.Context, _, _ string) ([]client.ListEntry, error) {
	var out []client.ListEntry
	for k, s := range f.objects {
		out = append(out, client.ListEntry{Key: k, Size: s.Size})
	}
	return out, nil
}

func (f *fakeSite) Head(ctx context.Context, _, key string, _ client.GetOptions) (client.ObjectInfo, error) {
	time.Sleep(f.rng())
	if err := ctx.Err(); err != nil {
		return client.ObjectInfo{}, err
	}
	s, ok := f.objects[key]
	if !ok {
		return client.ObjectInfo{}, swift.ObjectNotFound
	}
	return client.ObjectInfo{Size: s.Size, Meta: map[string]string{state.MetaOpID: s.OpID}}, nil
}

func (f *fakeSite) Get(ctx context.Context, bucket, key string, o client.GetOptions) (io.ReadCloser, client.ObjectInfo, error) {
	info, err := f.Head(ctx, bucket, key, o)
	if err != nil {
		return nil, info, err
	}
	return io.NopCloser(payload.NewReader(f.objects[key])), info, nil
}

// TestReadConcurrentInOrder: keys read concurrently come back in the
// order of sites, the same as read one by one; a broken context is an
// error naming a key.
func TestReadConcurrentInOrder(t *testing.T) {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	pause := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return time.Duration(rng.IntN(200)) * time.Microsecond
	}
	sites := []*fakeSite{{name: "a", objects: map[string]payload.Spec{}, rng: pause}, {name: "b", objects: map[string]payload.Spec{}, rng: pause}}
	h := &history.History{}
	for i := range 300 {
		key, id := fmt.Sprintf("k%03d", i), fmt.Sprintf("w%03d", i)
		spec := payload.Spec{OpID: id, Seed: uint64(i), Size: 100}
		h.Ops = append(h.Ops, history.Op{ID: id, Kind: history.Put, Bucket: "b", Key: key, Size: spec.Size, Seed: spec.Seed, Outcome: history.OK})
		sites[0].objects[key] = spec
		if i%7 != 0 {
			sites[1].objects[key] = spec
		}
	}
	clients := []client.Client{sites[0], sites[1]}
	fs, err := state.Read(context.Background(), clients, []string{"b"}, h, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs.Keys) != 300 || !slices.Equal(fs.Sites, []string{"a", "b"}) {
		t.Fatalf("%d keys at %v", len(fs.Keys), fs.Sites)
	}
	for i := range 300 {
		obs := fs.Keys[checker.Key{Bucket: "b", Key: fmt.Sprintf("k%03d", i)}]
		want := []checker.Observation{{Site: "a", Present: true, ReadOf: fmt.Sprintf("w%03d", i), Valid: true, Meta: map[string]string{}}, {Site: "b"}}
		if i%7 != 0 {
			want[1] = want[0]
			want[1].Site = "b"
		}
		if !reflect.DeepEqual(obs, want) {
			t.Fatalf("k%03d: %+v, want %+v", i, obs, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := state.Read(ctx, clients, []string{"b"}, h, state.Options{}); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "b/k000 at a") {
		t.Fatalf("cancelled read: %v", err)
	}
}
