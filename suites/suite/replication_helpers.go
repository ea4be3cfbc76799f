package suite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

// DeleteObjects deletes keys of bucket at site with ONE S3 multi-object
// delete request (POST ?delete), recorded as one delete operation per key:
// each key's invocation is written before the request leaves and its
// completion after the response names it, by the same client.Recording
// that records every other operation, so the history stays the recorder's
// own. It returns the operation ids (in keys' order) and, per key, the
// error the response gave it (nil: deleted). The error is for the request
// as a whole: nothing was sent when it is not nil and ids is empty.
func (s *Session) DeleteObjects(ctx context.Context, site harness.Site, bucket string, keys []string) ([]string, []error, error) {
	if len(keys) == 0 || len(keys) > 1000 {
		return nil, nil, fmt.Errorf("delete objects: %d keys, want 1 to 1000 (one request)", len(keys))
	}
	if slices.Contains(keys, "") || len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
		return nil, nil, errors.New("delete objects: keys must be distinct and not empty")
	}
	rec, err := s.Client(site, client.APIS3)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.env.Client(site, client.APIS3, true)
	if err != nil {
		return nil, nil, err
	}
	b := &batchDeleter{Client: c, mc: c.(*client.S3).Minio(), bucket: bucket, want: len(keys),
		waiting: map[string]chan error{}, results: map[string]client.WriteResult{}}
	// The batch's Recording takes its ids from the session's own S3
	// Recording of that site, so they never repeat in the history.
	batch := client.NewRecording(b, s.hist, client.WithIDs(rec.NextID))
	ids := make([]string, len(keys))
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		ids[i] = rec.NextID()
		wg.Go(func() {
			_, errs[i] = batch.Delete(client.Annotate(ctx, client.Annotation{ID: ids[i], Kind: history.Delete}), bucket, k, "")
		})
	}
	wg.Wait()
	return ids, errs, nil
}

// batchDeleter is a client whose Delete calls wait until want of them
// have arrived and are then sent together as one multi-object delete;
// each returns what the response said of its key.
type batchDeleter struct {
	client.Client
	mc     *minio.Client
	bucket string
	want   int

	mu      sync.Mutex
	keys    []string
	waiting map[string]chan error
	results map[string]client.WriteResult
}

func (b *batchDeleter) Delete(ctx context.Context, bucket, key, versionID string) (client.WriteResult, error) {
	if bucket != b.bucket || versionID != "" {
		return client.WriteResult{}, fmt.Errorf("%w: batch delete of %s/%s (version %q)", client.ErrInvalid, bucket, key, versionID)
	}
	done := make(chan error, 1)
	b.mu.Lock()
	b.keys = append(b.keys, key)
	b.waiting[key] = done
	last := len(b.keys) == b.want
	b.mu.Unlock()
	if last {
		b.send(ctx)
	}
	select {
	case err := <-done:
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.results[key], err
	case <-ctx.Done():
		// Unknown: the batch may still be sent.
		return client.WriteResult{}, ctx.Err()
	}
}

// send sends the batch and hands each waiting call its key's result.
func (b *batchDeleter) send(ctx context.Context) {
	b.mu.Lock()
	keys := slices.Clone(b.keys)
	b.mu.Unlock()
	objs := func(yield func(minio.ObjectInfo) bool) {
		for _, k := range keys {
			if !yield(minio.ObjectInfo{Key: k}) {
				return
			}
		}
	}
	got := map[string]error{}
	res, err := b.mc.RemoveObjectsWithIter(ctx, b.bucket, objs, minio.RemoveObjectsOptions{})
	if err == nil {
		for r := range res {
			if r.ObjectName == "" && r.Err != nil {
				err = r.Err // the response could not be read
				break
			}
			got[r.ObjectName] = r.Err
			if r.Err == nil {
				b.mu.Lock()
				b.results[r.ObjectName] = client.WriteResult{VersionID: r.DeleteMarkerVersionID}
				b.mu.Unlock()
			}
		}
	}
	for _, k := range keys {
		e, ok := got[k]
		switch {
		case !ok && err != nil:
			e = fmt.Errorf("multi-object delete of %s/%s: %w", b.bucket, k, err)
		case !ok:
			e = fmt.Errorf("multi-object delete of %s/%s: the response does not name the key", b.bucket, k)
		case e != nil:
			e = fmt.Errorf("multi-object delete of %s/%s: %w", b.bucket, k, e)
		}
		b.waiting[k] <- e
	}
}

// UseBucket makes the session judge bucket, which the spec created
// itself (through Swift, say, or at a chosen endpoint, where Bucket
// creates through S3): it waits until every site lists it and reads it at
// Verify. The bucket's name must come from Env.BucketName, so that
// Teardown removes it.
func (s *Session) UseBucket(ctx context.Context, bucket string, limit time.Duration) error {
	if !s.env.Owns(bucket) {
		return fmt.Errorf("use bucket %s: not a bucket of this run (name it with Env.BucketName)", bucket)
	}
	if err := s.WaitBucket(ctx, bucket, limit); err != nil {
		return err
	}
	if !slices.Contains(s.buckets, bucket) {
		s.buckets = append(s.buckets, bucket)
	}
	return nil
}
