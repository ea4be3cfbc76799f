package minio

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/zeebo/xxh3"
)

// replWorkers is MinIO's default number of replication workers
// (WorkerAutoDefault); a write's replication goes to worker
// xxh3(object+bucket) % replWorkers (getWorkerCh), keeping one key's
// changes in order.
const replWorkers = 100

func replWorker(bucket, object string) uint64 { return xxh3.HashString(object+bucket) % replWorkers }

// TestWedgedKeysHoldWorkers reproduces docs/engines/minio.md findings 1
// and 2: writes of one key at both sites at once wedge the key, and a key
// written at one site only does not replicate while its worker is one a
// wedged key holds; keys on the other workers replicate at once.
func TestWedgedKeysHoldWorkers(t *testing.T) {
	engineTest(t)
	top := startTopology(t)
	defer top.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, b := top.Sites()[0], top.Sites()[1]
	ca, cb := s3For(t, a, ProbeTransport(nil)), s3For(t, b, ProbeTransport(nil))
	// The baseline's WAN: a moment between the sites is what lets two
	// writes of a key cross.
	for _, l := range top.Links() {
		if err := l.WAN().SetLatency(20*time.Millisecond, 5*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	const bucket = "wedge"
	if err := ca.MakeBucket(ctx, bucket, miniogo.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, "bucket at B", func() (bool, error) { return cb.BucketExists(ctx, bucket) }); err != nil {
		t.Fatal(err)
	}
	put := func(c *miniogo.Client, key string, n int) error {
		body := make([]byte, n)
		_, _ = rand.Read(body)
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_, err := c.PutObject(pctx, bucket, key, bytes.NewReader(body), int64(n), miniogo.PutObjectOptions{DisableMultipart: true})
		return err
	}
	var wg sync.WaitGroup
	for i := range 30 {
		key := fmt.Sprintf("both/k%02d", i)
		for _, c := range []*miniogo.Client{ca, cb} {
			wg.Go(func() { _ = put(c, key, 1<<20) })
		}
	}
	wg.Wait()
	time.Sleep(5 * time.Second)
	held := map[uint64]bool{}
	for i := range 30 {
		key := fmt.Sprintf("both/k%02d", i)
		ia, _, erra := replicaAt(ctx, ca, bucket, key)
		ib, _, errb := replicaAt(ctx, cb, bucket, key)
		if erra != nil || errb != nil || ia.ETag != ib.ETag {
			held[replWorker(bucket, key)] = true
		}
	}
	if len(held) == 0 {
		t.Skip("no key wedged this time: both sites agree on all 30 keys written at both at once")
	}
	var heldList []uint64
	for w := range held {
		heldList = append(heldList, w)
	}
	sort.Slice(heldList, func(i, j int) bool { return heldList[i] < heldList[j] })
	t.Logf("keys written at both sites at once hold %d workers: %v", len(held), heldList)

	keys := make([]string, 200)
	for i := range keys {
		keys[i] = fmt.Sprintf("one/k%03d", i)
		if err := put(ca, keys[i], 1024); err != nil {
			t.Fatalf("put %s at A: %v", keys[i], err)
		}
	}
	written := time.Now()
	// Keys on free workers arrive; give them a minute under load.
	if err := waitFor(ctx, "keys on free workers at B", func() (bool, error) {
		for _, k := range keys {
			if held[replWorker(bucket, k)] {
				continue
			}
			if _, ok, err := replicaAt(ctx, cb, bucket, k); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(max(0, 30*time.Second-time.Since(written)))
	var stuck, arrived []string
	for _, k := range keys {
		if !held[replWorker(bucket, k)] {
			continue
		}
		_, ok, err := replicaAt(ctx, cb, bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			arrived = append(arrived, k)
		} else {
			stuck = append(stuck, k)
		}
	}
	t.Logf("%v after the one-site writes: every key on a free worker at B; on held workers %d missing, %d arrived",
		time.Since(written).Round(time.Second), len(stuck), len(arrived))
	if len(arrived) > 0 {
		t.Errorf("keys on held workers replicated after all: %v", arrived)
	}
	if len(stuck) == 0 {
		t.Errorf("no key fell on a held worker; 200 keys over %d of %d workers should", len(held), replWorkers)
	}
}
