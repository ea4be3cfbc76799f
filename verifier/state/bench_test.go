package state_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/store"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/state"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if big.topo != nil {
		big.topo.Close(context.Background())
	}
	os.Exit(code)
}

const (
	bigObjects = 100_000
	bigSize    = 64
	bigBucket  = "big"
)

// big is the topology BenchmarkRead100k reads, loaded once per process:
// the benchmark function runs again for every b.N it tries.
var big struct {
	once    sync.Once
	topo    *embedded.Topology
	clients []client.Client
	h       *history.History
	err     error
}

// loadBig leaves at both sites what a run of 100,000 acknowledged puts
// leaves once replicated: each object's payload bytes, its op id in user
// metadata, written through the engine's own write path. Writing to the
// stores directly skips 100,000 requests and their shipment; the bucket
// does not replicate, so nothing ships behind the benchmark's back.
func loadBig() error {
	ctx := context.Background()
	topo, err := embedded.Start(ctx, embedded.Options{})
	big.topo = topo
	if err != nil {
		return err
	}
	h := &history.History{Ops: make([]history.Op, 0, bigObjects)}
	for i := range bigObjects {
		id := fmt.Sprintf("w-%06d", i)
		h.Ops = append(h.Ops, history.Op{ID: id, Site: topo.Sites()[i%2].Name(), API: client.APIS3, Kind: history.Put,
			Bucket: bigBucket, Key: fmt.Sprintf("obj/%06d", i), Size: bigSize, Seed: uint64(i) + 1,
			Invoke: history.Time(i * 1000), Complete: history.Time(i*1000 + 500), Outcome: history.OK})
	}
	h.End = h.Ops[len(h.Ops)-1].Complete
	for _, s := range topo.Sites() {
		es, err := topo.EngineSite(s.Name())
		if err != nil {
			return err
		}
		st := es.Store()
		if _, err := st.CreateBucket(bigBucket, store.BucketOptions{Policy: "standard"}); err != nil {
			return err
		}
		for _, op := range h.Ops {
			spec := payload.Spec{OpID: op.ID, Seed: op.Seed, Size: op.Size}
			if _, err := objio.Put(st, es.Keyring(), op.Bucket, op.Key, objio.PutInput{Body: payload.NewReader(spec), Size: op.Size,
				Meta: store.ObjectMeta{ContentType: "application/octet-stream", UserMeta: map[string]string{state.MetaOpID: op.ID}}}); err != nil {
				return err
			}
		}
		c, err := client.NewS3(s, true)
		if err != nil {
			return err
		}
		big.clients = append(big.clients, c)
	}
	big.h = h
	return nil
}

// BenchmarkRead100k reads the final state of two sites holding the same
// 100,000 objects and checks it. An object is one key at one site, so an
// iteration reads 200,000.
func BenchmarkRead100k(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 200,000 objects")
	}
	big.once.Do(func() { big.err = loadBig() })
	if big.err != nil {
		b.Fatal(big.err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		fs, err := state.Read(ctx, big.clients, []string{bigBucket}, big.h, state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res := checker.Check(big.h, fs, checker.Options{}); res.Keys != bigObjects || len(res.Anomalies) != 0 {
			b.Fatalf("%d keys, %d anomalies", res.Keys, len(res.Anomalies))
		}
	}
	objects := float64(b.N) * bigObjects * float64(len(big.clients))
	b.ReportMetric(objects/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/objects, "ns/object")
}
