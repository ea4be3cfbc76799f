package store

import (
	"fmt"
	"maps"
	"sort"

	"github.com/replcheck/replcheck/engine/hlc"
)

// This file is the receiving side of replication: changes made at another
// site are applied here with their own identity (version id, stamps,
// origin), so both sites converge on the same versions in the same order.
// Applied changes are not told to the Journal: they are not shipped back.

// ApplyBucket creates a bucket as another site made it, or updates its
// configuration if b's stamp is newer than the local one. It reports
// whether anything changed.
func (s *Store) ApplyBucket(b Bucket) (bool, error) {
	if !ValidBucketName(b.Name) {
		return false, fmt.Errorf("%w: %q", ErrInvalidBucketName, b.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Clock.Observe(b.Stamp)
	b.Objects, b.Bytes = 0, 0
	b.Meta = maps.Clone(b.Meta)
	bs, ok := s.buckets[b.Name]
	if ok && !(b.Stamp > bs.info.Stamp || b.Stamp == bs.info.Stamp && b.Origin > bs.info.Origin) {
		return false, nil
	}
	if err := s.saveBucket(&b); err != nil {
		return false, err
	}
	if ok {
		bs.info = b
	} else {
		s.buckets[b.Name] = &bucketState{info: b, objects: newIndex()}
	}
	return true, nil
}

// ApplyBucketDelete deletes a bucket another site deleted, unless it was
// reconfigured here after that delete or still holds objects (which the
// other site had not seen yet: deleting them would lose data).
func (s *Store) ApplyBucketDelete(name string, stamp hlc.Timestamp) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[name]
	if !ok {
		return false, nil
	}
	if bs.info.Stamp > stamp {
		return false, nil
	}
	if !bs.empty() {
		return false, ErrBucketNotEmpty
	}
	bs.objects.Ascend(func(o *object) bool {
		for _, v := range o.versions {
			s.dropVersion(v)
		}
		return true
	})
	for id, u := range s.uploads {
		if u.Bucket == name {
			s.dropUpload(u)
			delete(s.uploads, id)
		}
	}
	if err := s.be.DeleteRecord(kindBucket, hashID(name)); err != nil {
		return false, err
	}
	delete(s.buckets, name)
	return true, nil
}

// ApplyVersion installs a version written at another site. Its parts must
// reference blobs already written with WriteBlob; they are removed again if
// the version is not installed. A version already present with the same id
// is replaced only by a newer write (greater Stamp, then Origin) or, for the
// same write, by newer metadata (greater MetaStamp, then MetaOrigin); applying the same
// change twice changes nothing.
func (s *Store) ApplyVersion(in *Version) (applied bool, err error) {
	if err := CheckKey(in.Key); err != nil {
		return false, err
	}
	v := in.clone(false)
	defer func() {
		if !applied {
			for _, p := range v.Parts {
				s.RemoveBlob(p.Blob)
			}
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[v.Bucket]
	if !ok {
		return false, ErrNoSuchBucket
	}
	s.opts.Clock.Observe(v.Stamp)
	s.opts.Clock.Observe(v.MetaStamp)
	o, _ := bs.objects.Get(&object{key: v.Key})
	if o == nil {
		o = &object{key: v.Key}
	}
	var old *Version
	oldAt := -1
	for i, ex := range o.versions {
		if ex.VersionID == v.VersionID {
			old, oldAt = ex, i
			break
		}
	}
	if old != nil {
		sameWrite := old.Stamp == v.Stamp && old.Origin == v.Origin
		newerMeta := v.MetaStamp > old.MetaStamp || v.MetaStamp == old.MetaStamp && v.MetaOrigin > old.MetaOrigin
		if !(v.newerWrite(old) || sameWrite && newerMeta) {
			return false, nil
		}
	}
	v.Seq = s.nextSeq()
	if err := s.saveVersion(v); err != nil {
		return false, err
	}
	before := o.latest()
	if old != nil {
		o.versions = append(o.versions[:oldAt], o.versions[oldAt+1:]...)
		for _, p := range old.Parts {
			_ = s.be.RemoveBlob(p.Blob)
		}
	}
	i := sort.Search(len(o.versions), func(i int) bool { return v.newer(o.versions[i]) })
	o.versions = append(o.versions, nil)
	copy(o.versions[i+1:], o.versions[i:])
	o.versions[i] = v
	if len(o.versions) == 1 {
		bs.objects.ReplaceOrInsert(o)
	}
	bs.replaceLatest(before, o.latest())
	return true, nil
}

// newerWrite orders writes by stamp then origin, ignoring local sequence.
func (v *Version) newerWrite(b *Version) bool {
	if v.Stamp != b.Stamp {
		return v.Stamp > b.Stamp
	}
	return v.Origin > b.Origin
}

// ApplyVersionDelete removes a version another site removed for good.
func (s *Store) ApplyVersionDelete(bucket, key, versionID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return false, ErrNoSuchBucket
	}
	o, _ := bs.objects.Get(&object{key: key})
	if o == nil {
		return false, nil
	}
	for i, v := range o.versions {
		if v.VersionID != versionID {
			continue
		}
		before := o.latest()
		o.versions = append(o.versions[:i], o.versions[i+1:]...)
		bs.replaceLatest(before, o.latest())
		if len(o.versions) == 0 {
			bs.objects.Delete(o)
		}
		s.dropVersion(v)
		return true, nil
	}
	return false, nil
}

// Version returns one version by id, delete markers and tombstones
// included: the shipper reads what a Change names through it.
func (s *Store) Version(bucket, key, versionID string) (*Version, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	o, _ := bs.objects.Get(&object{key: key})
	if o != nil {
		for i, v := range o.versions {
			if v.VersionID == versionID {
				return v.clone(i == 0), nil
			}
		}
	}
	return nil, ErrNoSuchVersion
}

// BucketConfig returns a bucket's configuration, for shipping.
func (s *Store) BucketConfig(name string) (Bucket, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bs, ok := s.buckets[name]
	if !ok {
		return Bucket{}, ErrNoSuchBucket
	}
	b := bs.info
	b.Meta = maps.Clone(b.Meta)
	return b, nil
}
