package store_test

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replcheck/replcheck/engine/hlc"
	"github.com/replcheck/replcheck/engine/store"
)

// journal collects the changes a store reports.
type journal struct {
	mu      sync.Mutex
	changes []store.Change
	fail    error
}

func (j *journal) Record(c store.Change) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	j.changes = append(j.changes, c)
	return nil
}

func (j *journal) take() []store.Change {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.changes
	j.changes = nil
	return c
}

type siteStore struct {
	*store.Store
	j *journal
}

func newSite(t *testing.T, name string, skew time.Duration) siteStore {
	j := &journal{}
	now := func() time.Time { return time.Now().Add(skew) }
	s := store.NewMemoryStore(store.Options{Site: name, Journal: j, Now: now, Clock: hlc.NewClock(now)})
	return siteStore{s, j}
}

// ship applies every change src has journalled to dst, as a replication
// shipper would: reading the current state of what each change names.
func ship(t *testing.T, src, dst siteStore) {
	t.Helper()
	for _, c := range src.j.take() {
		switch c.Kind {
		case store.ChangeBucket:
			b, err := src.BucketConfig(c.Bucket)
			if err == nil {
				_, err = dst.ApplyBucket(b)
			}
			if err != nil && !errors.Is(err, store.ErrNoSuchBucket) {
				t.Fatal(err)
			}
		case store.ChangeBucketDelete:
			dst.ApplyBucketDelete(c.Bucket, c.Stamp)
		case store.ChangeVersionDelete:
			dst.ApplyVersionDelete(c.Bucket, c.Key, c.VersionID)
		case store.ChangeVersion:
			v, err := src.Version(c.Bucket, c.Key, c.VersionID)
			if errors.Is(err, store.ErrNoSuchVersion) {
				continue // superseded; a later change carries it
			}
			if err != nil {
				t.Fatal(err)
			}
			d, err := src.Open(v)
			if err != nil {
				t.Fatal(err)
			}
			for i := range v.Parts {
				id, _, err := dst.WriteBlob(io.NewSectionReader(d.Part(i), 0, d.PartSize(i)))
				if err != nil {
					t.Fatal(err)
				}
				v.Parts[i].Blob = id
			}
			d.Close()
			if _, err := dst.ApplyVersion(v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func content(t *testing.T, s siteStore, bucket, key string) string {
	t.Helper()
	v, err := s.GetObject(bucket, key, "")
	if errors.Is(err, store.ErrNoSuchKey) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return read(t, s.Store, v)
}

func TestReplicaConcurrentWritesConverge(t *testing.T) {
	a, b := newSite(t, "a", 0), newSite(t, "b", 0)
	a.CreateBucket("r", store.BucketOptions{Replicated: true})
	ship(t, a, b)
	put(t, a.Store, "r", "k", "from a")
	put(t, b.Store, "r", "k", "from b") // concurrent: neither saw the other
	ship(t, a, b)
	ship(t, b, a)
	ca, cb := content(t, a, "r", "k"), content(t, b, "r", "k")
	if ca != cb {
		t.Fatalf("diverged: a=%q b=%q", ca, cb)
	}
	// Applying the same changes again changes nothing.
	va, _ := a.GetObject("r", "k", "")
	if ok, err := a.ApplyVersion(va); ok || err != nil {
		t.Fatalf("re-apply: %v %v", ok, err)
	}
}

// TestReplicaCausalOverwriteWinsDespiteSkew: b's clock lags by a minute,
// yet an overwrite b makes after receiving a's write must win everywhere.
func TestReplicaCausalOverwriteWinsDespiteSkew(t *testing.T) {
	a, b := newSite(t, "a", 0), newSite(t, "b", -time.Minute)
	a.CreateBucket("r", store.BucketOptions{Replicated: true})
	ship(t, a, b)
	put(t, a.Store, "r", "k", "first")
	ship(t, a, b)
	put(t, b.Store, "r", "k", "second")
	ship(t, b, a)
	for _, s := range []siteStore{a, b} {
		if got := content(t, s, "r", "k"); got != "second" {
			t.Fatalf("site %v has %q, want the later write", s, got)
		}
	}
}

// TestReplicaDeleteBeatsLateOlderWrite: in an unversioned replicated bucket
// a delete leaves a tombstone, so an older write arriving after it does not
// bring the object back.
func TestReplicaDeleteBeatsLateOlderWrite(t *testing.T) {
	a, b := newSite(t, "a", 0), newSite(t, "b", 0)
	a.CreateBucket("r", store.BucketOptions{Replicated: true})
	ship(t, a, b)
	put(t, a.Store, "r", "k", "old")
	pending := a.j.take() // held back, as by a partition
	ship(t, a, b)
	put(t, b.Store, "r", "k", "b-write")
	ship(t, b, a)
	if _, err := b.DeleteObject("r", "k", ""); err != nil {
		t.Fatal(err)
	}
	ship(t, b, a)
	a.j.changes = append(pending, a.j.changes...)
	ship(t, a, b) // a's old write arrives after the delete
	for _, s := range []siteStore{a, b} {
		if got := content(t, s, "r", "k"); got != "<none>" {
			t.Fatalf("deleted object back as %q", got)
		}
	}
	if v, err := b.GetObject("r", "k", ""); v != nil || !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("tombstone shown as %+v, %v", v, err)
	}
	lv, _ := b.ListVersions("r", store.ListVersionsOptions{})
	lo, _ := b.ListObjects("r", store.ListOptions{})
	if len(lv.Versions) != 0 || len(lo.Objects) != 0 {
		t.Fatalf("tombstone visible: %d versions, %d objects", len(lv.Versions), len(lo.Objects))
	}
	if err := b.DeleteBucket("r"); err != nil {
		t.Fatalf("a bucket holding only tombstones is empty: %v", err)
	}
}

func TestReplicaVersionsKeepIdentity(t *testing.T) {
	a, b := newSite(t, "a", 0), newSite(t, "b", 0)
	a.CreateBucket("v", store.BucketOptions{Replicated: true})
	a.SetVersioning("v", store.VersioningEnabled)
	ship(t, a, b)
	if bk, _ := b.GetBucket("v"); bk.Versioning != store.VersioningEnabled {
		t.Fatalf("versioning not replicated: %+v", bk)
	}
	v1 := put(t, a.Store, "v", "k", "one")
	v2 := put(t, b.Store, "v", "k", "two")
	ship(t, a, b)
	ship(t, b, a)
	a.DeleteObject("v", "k", v1.VersionID)
	ship(t, a, b)
	la, _ := a.ListVersions("v", store.ListVersionsOptions{})
	lb, _ := b.ListVersions("v", store.ListVersionsOptions{})
	if len(la.Versions) != 1 || len(lb.Versions) != 1 || la.Versions[0].VersionID != v2.VersionID || lb.Versions[0].VersionID != v2.VersionID {
		t.Fatalf("versions a=%v b=%v", ids(la), ids(lb))
	}
}

func ids(l store.ListVersionsResult) []string {
	var out []string
	for _, v := range l.Versions {
		out = append(out, v.VersionID)
	}
	return out
}

func TestReplicaMetadataAndTags(t *testing.T) {
	a, b := newSite(t, "a", 0), newSite(t, "b", 0)
	a.CreateBucket("r", store.BucketOptions{Replicated: true})
	ship(t, a, b)
	put(t, a.Store, "r", "k", "data")
	ship(t, a, b)
	if _, err := b.UpdateObjectMeta("r", "k", map[string]string{"color": "red"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetObjectTags("r", "k", "", map[string]string{"t": "1"}); err != nil {
		t.Fatal(err)
	}
	ship(t, b, a)
	ship(t, a, b)
	va, _ := a.GetObject("r", "k", "")
	vb, _ := b.GetObject("r", "k", "")
	// Concurrent metadata changes: one wins whole on both sites (the later
	// stamp, then the greater site name), never a mix.
	if va.MetaStamp != vb.MetaStamp || va.Tags["t"] != vb.Tags["t"] || va.UserMeta["color"] != vb.UserMeta["color"] {
		t.Fatalf("metadata diverged: a=%v/%v b=%v/%v", va.UserMeta, va.Tags, vb.UserMeta, vb.Tags)
	}
	if content(t, a, "r", "k") != "data" || content(t, b, "r", "k") != "data" {
		t.Fatal("data changed by a metadata update")
	}
}

func TestJournalScope(t *testing.T) {
	a := newSite(t, "a", 0)
	a.CreateBucket("local", store.BucketOptions{})
	put(t, a.Store, "local", "k", "x")
	if c := a.j.take(); len(c) != 0 {
		t.Fatalf("non-replicated bucket journalled: %v", c)
	}
	a.CreateBucket("r", store.BucketOptions{Replicated: true})
	put(t, a.Store, "r", "k", "x")
	a.DeleteObject("r", "k", "")
	c := a.j.take()
	kinds := []string{}
	for _, ch := range c {
		kinds = append(kinds, string(ch.Kind))
	}
	if strings.Join(kinds, ",") != "bucket,version,version" {
		t.Fatalf("changes %v", kinds)
	}
	// A journal that cannot record stops the write: nothing unjournalled
	// becomes durable.
	a.j.fail = errors.New("disk full")
	id, n, _ := a.WriteBlob(strings.NewReader("y"))
	if _, err := a.CommitObject("r", "k2", store.ObjectMeta{Size: n, Parts: []store.Part{{Number: 1, Blob: id, Size: n, PlainSize: n}}}); err == nil {
		t.Fatal("write succeeded without its journal entry")
	}
	if _, err := a.GetObject("r", "k2", ""); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("unjournalled write visible: %v", err)
	}
}
