// Package store holds one site's buckets (Swift containers) and objects with
// their versions, delete markers, metadata and encryption envelopes. It is
// the single namespace behind both the S3 and the Swift front ends.
//
// Data is written in two steps: WriteBlob streams bytes to the backend, then
// CommitObject (or PutPart) makes them visible. That lets a front end hash or
// encrypt a stream on its way in without the store knowing about either.
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/btree"

	"github.com/replcheck/replcheck/engine/hlc"
	"github.com/replcheck/replcheck/engine/sse"
)

// Errors returned by the store. Front ends map them to protocol errors.
var (
	ErrNoSuchBucket      = errors.New("no such bucket")
	ErrBucketExists      = errors.New("bucket already exists")
	ErrBucketNotEmpty    = errors.New("bucket not empty")
	ErrInvalidBucketName = errors.New("invalid bucket name")
	ErrNoSuchKey         = errors.New("no such key")
	ErrNoSuchVersion     = errors.New("no such version")
	ErrInvalidKey        = errors.New("invalid object key")
	ErrKeyTooLong        = errors.New("object key too long")
	ErrNoSuchUpload      = errors.New("no such upload")
	ErrInvalidPart       = errors.New("invalid part")
	ErrInvalidPartOrder  = errors.New("parts not in ascending order")
	ErrEntityTooSmall    = errors.New("part smaller than the minimum allowed size")
	ErrMetadataTooLarge  = errors.New("metadata too large")
	// ErrDeleteMarker is returned by operations that need an object
	// version when the version named by id is a delete marker.
	ErrDeleteMarker = errors.New("the version is a delete marker")
)

// MaxKeyLength is the longest object key in bytes, as in S3 and Swift.
const MaxKeyLength = 1024

// NullVersion is the version id of objects written while versioning is off or suspended.
const NullVersion = "null"

// Versioning is a bucket's versioning state.
type Versioning string

// Versioning states, as S3 names them. The zero value means never enabled.
const (
	VersioningOff       Versioning = ""
	VersioningEnabled   Versioning = "Enabled"
	VersioningSuspended Versioning = "Suspended"
)

// Bucket describes a bucket (a Swift container).
type Bucket struct {
	Name       string            `json:"name"`
	Created    time.Time         `json:"created"`
	Policy     string            `json:"policy"`
	Replicated bool              `json:"replicated"`
	Versioning Versioning        `json:"versioning,omitempty"`
	Meta       map[string]string `json:"meta,omitempty"` // Swift container metadata, lower-case names without prefix
	// Encryption is the default encryption of new objects that do not ask
	// for one, whichever API writes them (S3's PutBucketEncryption).
	Encryption *BucketEncryption `json:"encryption,omitempty"`
	// Stamp and Origin order changes to the bucket's configuration across
	// sites (last writer wins by stamp, then origin).
	Stamp  hlc.Timestamp `json:"stamp,omitempty"`
	Origin string        `json:"origin,omitempty"`
	// Objects and Bytes count the latest non-deleted versions (filled on read).
	Objects int64 `json:"-"`
	Bytes   int64 `json:"-"`
}

// BucketEncryption is a bucket's default server-side encryption.
type BucketEncryption struct {
	Mode     sse.Mode `json:"mode"` // SSE-S3 or SSE-KMS
	KMSKeyID string   `json:"kmsKeyId,omitempty"`
}

// Part is one stored piece of an object's data. A single-part object has
// one part numbered 1; a multipart object keeps its upload's part layout.
type Part struct {
	Number    int    `json:"n"`
	Blob      string `json:"blob"`
	Size      int64  `json:"size"`      // stored bytes (ciphertext when encrypted)
	PlainSize int64  `json:"plainSize"` // bytes a client reads
	ETag      string `json:"etag"`      // hex, without quotes
	// Salt, for encrypted multipart parts, derives this part's key from the
	// upload's data key (sse.DataKey.PartKey), so re-uploads never reuse one.
	Salt []byte `json:"salt,omitempty"`
}

// ObjectMeta is what a writer supplies for a new object version.
type ObjectMeta struct {
	Size        int64             `json:"size"` // plaintext size
	ETag        string            `json:"etag"` // hex (or hex-N for multipart), without quotes
	ContentType string            `json:"contentType,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`  // Content-Encoding, Cache-Control, …; canonical names
	UserMeta    map[string]string `json:"userMeta,omitempty"` // lower-case names without x-amz-meta- / x-object-meta-
	Tags        map[string]string `json:"tags,omitempty"`     // S3 object tags, case-sensitive keys
	SSE         *sse.Envelope     `json:"sse,omitempty"`
	Parts       []Part            `json:"parts,omitempty"`
	Multipart   bool              `json:"multipart,omitempty"`
}

// Version is one version of an object, or a delete marker.
type Version struct {
	ObjectMeta
	Bucket       string    `json:"bucket"`
	Key          string    `json:"key"`
	VersionID    string    `json:"versionId"`
	DeleteMarker bool      `json:"deleteMarker,omitempty"`
	ModTime      time.Time `json:"modTime"`
	Seq          uint64    `json:"seq"` // store-local order of writes
	// Stamp and Origin order versions of a key on every site alike: newest
	// is the greatest stamp, ties broken by origin site name. They never
	// change once the version is written.
	Stamp  hlc.Timestamp `json:"stamp,omitempty"`
	Origin string        `json:"origin,omitempty"`
	// MetaStamp is the stamp of the last change to the version's metadata
	// or tags (Stamp when there was none): of two copies of one version,
	// the one with the greater MetaStamp has the current metadata.
	MetaStamp  hlc.Timestamp `json:"metaStamp,omitempty"`
	MetaOrigin string        `json:"metaOrigin,omitempty"` // site of the last metadata change; breaks MetaStamp ties
	IsLatest   bool          `json:"-"`                    // filled on read
}

// newer reports whether a is ordered after b.
func (v *Version) newer(b *Version) bool {
	if v.Stamp != b.Stamp {
		return v.Stamp > b.Stamp
	}
	if v.Origin != b.Origin {
		return v.Origin > b.Origin
	}
	return v.Seq > b.Seq // records written before stamps existed
}

// Options configure a Store.
type Options struct {
	// MinPartSize is the smallest allowed size of a multipart part other
	// than the last; 0 means S3's 5 MiB.
	MinPartSize int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Clock stamps changes; nil means a hybrid logical clock on Now.
	Clock *hlc.Clock
	// Site names this store's site; it is the Origin of local changes.
	Site string
	// Journal, if set, is told of every local change to a replicated
	// bucket before the change is made durable.
	Journal Journal
}

// ChangeKind says what a Change did.
type ChangeKind string

// Kinds of change.
const (
	ChangeVersion       ChangeKind = "version"        // a version or delete marker was written, or its metadata changed
	ChangeVersionDelete ChangeKind = "version-delete" // a version was removed for good
	ChangeBucket        ChangeKind = "bucket"         // a bucket was created or its configuration changed
	ChangeBucketDelete  ChangeKind = "bucket-delete"  // a bucket was deleted
)

// Change is a local change to a replicated bucket, as told to the Journal.
// It names what changed, not its content: the shipper reads the current
// state when it ships.
type Change struct {
	Kind      ChangeKind    `json:"kind"`
	Bucket    string        `json:"bucket"`
	Key       string        `json:"key,omitempty"`
	VersionID string        `json:"versionId,omitempty"`
	Stamp     hlc.Timestamp `json:"stamp"`
	Size      int64         `json:"size,omitempty"` // stored bytes to ship
}

// Journal records changes for replication. Record is called with the
// store locked, before the change is saved: an error aborts the change,
// so nothing durable is ever missing from a durable journal.
type Journal interface {
	Record(Change) error
}

// Store is one site's object namespace. It is safe for concurrent use.
type Store struct {
	be   Backend
	opts Options

	mu      sync.RWMutex
	seq     uint64
	buckets map[string]*bucketState
	uploads map[string]*Upload
}

type bucketState struct {
	info    Bucket
	objects *btree.BTreeG[*object]
	// count and bytes track the latest non-deleted versions as they change,
	// so bucket stats never walk the objects.
	count, bytes int64
}

// replaceLatest accounts for key's latest version changing from old to now
// (either may be nil or a delete marker).
func (bs *bucketState) replaceLatest(old, now *Version) {
	if old != nil && !old.DeleteMarker {
		bs.count--
		bs.bytes -= old.Size
	}
	if now != nil && !now.DeleteMarker {
		bs.count++
		bs.bytes += now.Size
	}
}

func (o *object) latest() *Version {
	if o == nil || len(o.versions) == 0 {
		return nil
	}
	return o.versions[0]
}

// object holds the versions of one key, newest first.
type object struct {
	key      string
	versions []*Version
}

func objectLess(a, b *object) bool { return a.key < b.key }

// Open loads a store from its backend.
func Open(be Backend, opts Options) (*Store, error) {
	if opts.MinPartSize == 0 {
		opts.MinPartSize = 5 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Clock == nil {
		opts.Clock = hlc.NewClock(opts.Now)
	}
	s := &Store{be: be, opts: opts, buckets: map[string]*bucketState{}, uploads: map[string]*Upload{}}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// NewMemoryStore returns an empty store on a memory backend.
func NewMemoryStore(opts Options) *Store {
	s, err := Open(NewMemory(), opts)
	if err != nil {
		panic(err) // an empty memory backend cannot fail to load
	}
	return s
}

// Close closes the backend.
func (s *Store) Close() error { return s.be.Close() }

func (s *Store) load() error {
	recs, err := s.be.Records(kindBucket)
	if err != nil {
		return err
	}
	for id, data := range recs {
		var b Bucket
		if err := json.Unmarshal(data, &b); err != nil {
			return fmt.Errorf("bucket record %s: %w", id, err)
		}
		s.buckets[b.Name] = &bucketState{info: b, objects: newIndex()}
	}
	recs, err = s.be.Records(kindVersion)
	if err != nil {
		return err
	}
	for id, data := range recs {
		v := new(Version)
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("version record %s: %w", id, err)
		}
		bs := s.buckets[v.Bucket]
		if bs == nil {
			// The bucket record went first when it was deleted.
			_ = s.be.DeleteRecord(kindVersion, id)
			continue
		}
		o, _ := bs.objects.Get(&object{key: v.Key})
		if o == nil {
			o = &object{key: v.Key}
			bs.objects.ReplaceOrInsert(o)
		}
		o.versions = append(o.versions, v)
		s.seq = max(s.seq, v.Seq)
		s.opts.Clock.Observe(v.Stamp)
	}
	for _, bs := range s.buckets {
		bs.objects.Ascend(func(o *object) bool {
			sort.Slice(o.versions, func(i, j int) bool { return o.versions[i].newer(o.versions[j]) })
			bs.replaceLatest(nil, o.latest())
			return true
		})
	}
	recs, err = s.be.Records(kindUpload)
	if err != nil {
		return err
	}
	for id, data := range recs {
		u := new(Upload)
		if err := json.Unmarshal(data, u); err != nil {
			return fmt.Errorf("upload record %s: %w", id, err)
		}
		if s.buckets[u.Bucket] == nil {
			_ = s.be.DeleteRecord(kindUpload, id)
			continue
		}
		s.uploads[u.ID] = u
	}
	return nil
}

const (
	kindBucket  = "bucket"
	kindVersion = "version"
	kindUpload  = "upload"
)

func hashID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:20])
}

func (s *Store) saveBucket(b *Bucket) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return s.be.PutRecord(kindBucket, hashID(b.Name), data)
}

func (s *Store) saveVersion(v *Version) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.be.PutRecord(kindVersion, hashID(v.Bucket, v.Key, v.VersionID), data)
}

func (s *Store) dropVersion(v *Version) {
	_ = s.be.DeleteRecord(kindVersion, hashID(v.Bucket, v.Key, v.VersionID))
	for _, p := range v.Parts {
		_ = s.be.RemoveBlob(p.Blob)
	}
}

// ValidBucketName reports whether name may name a bucket or container in
// the shared namespace: 1 to 255 bytes of UTF-8, no '/', no NUL, not "." or
// "..". The S3 front end applies S3's stricter rules on creation.
func ValidBucketName(name string) bool {
	return name != "" && len(name) <= 255 && utf8.ValidString(name) &&
		!strings.ContainsAny(name, "/\x00") && name != "." && name != ".."
}

// CheckKey validates an object key: UTF-8, no NUL, at most MaxKeyLength
// bytes. Keys such as "a/../b" are legal object names; the store never uses
// keys as file names.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrKeyTooLong, len(key), MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("%w: contains a NUL byte", ErrInvalidKey)
	}
	return nil
}

// BucketOptions are the properties a bucket is created with.
type BucketOptions struct {
	Policy     string
	Replicated bool
	Meta       map[string]string
}

// CreateBucket creates a bucket.
func (s *Store) CreateBucket(name string, o BucketOptions) (Bucket, error) {
	if !ValidBucketName(name) {
		return Bucket{}, fmt.Errorf("%w: %q", ErrInvalidBucketName, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bs, ok := s.buckets[name]; ok {
		return bs.info, ErrBucketExists
	}
	b := Bucket{Name: name, Created: s.opts.Now().UTC(), Policy: o.Policy, Replicated: o.Replicated, Meta: maps.Clone(o.Meta),
		Stamp: s.opts.Clock.Now(), Origin: s.opts.Site}
	bs := &bucketState{info: b, objects: newIndex()}
	if err := s.record(bs, Change{Kind: ChangeBucket, Bucket: name, Stamp: b.Stamp}); err != nil {
		return Bucket{}, err
	}
	if err := s.saveBucket(&b); err != nil {
		return Bucket{}, err
	}
	s.buckets[name] = bs
	return b, nil
}

// record tells the journal of a local change to a replicated bucket.
func (s *Store) record(bs *bucketState, c Change) error {
	if s.opts.Journal == nil || !bs.info.Replicated {
		return nil
	}
	if err := s.opts.Journal.Record(c); err != nil {
		return fmt.Errorf("replication journal: %w", err)
	}
	return nil
}

// storedSize is the number of stored bytes of a version.
func storedSize(v *Version) int64 {
	var n int64
	for _, p := range v.Parts {
		n += p.Size
	}
	return n
}

// isTombstone reports whether v is the hidden record of a delete in an
// unversioned replicated bucket: it keeps a late-arriving older write from
// bringing the object back.
func isTombstone(v *Version) bool { return v.DeleteMarker && v.VersionID == NullVersion }

// empty reports whether a bucket holds nothing but tombstones.
func (bs *bucketState) empty() bool {
	empty := true
	bs.objects.Ascend(func(o *object) bool {
		for _, v := range o.versions {
			if !(isTombstone(v) && bs.info.Versioning == VersioningOff) {
				empty = false
				return false
			}
		}
		return true
	})
	return empty
}

// DeleteBucket deletes an empty bucket (no versions, no delete markers) and
// aborts its multipart uploads.
func (s *Store) DeleteBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[name]
	if !ok {
		return ErrNoSuchBucket
	}
	if !bs.empty() {
		return ErrBucketNotEmpty
	}
	if err := s.record(bs, Change{Kind: ChangeBucketDelete, Bucket: name, Stamp: s.opts.Clock.Now()}); err != nil {
		return err
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
		return err
	}
	delete(s.buckets, name)
	return nil
}

func (bs *bucketState) stats() Bucket {
	b := bs.info
	b.Meta = maps.Clone(b.Meta)
	b.Objects, b.Bytes = bs.count, bs.bytes
	return b
}

// GetBucket returns a bucket with its object count and bytes.
func (s *Store) GetBucket(name string) (Bucket, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bs, ok := s.buckets[name]
	if !ok {
		return Bucket{}, ErrNoSuchBucket
	}
	return bs.stats(), nil
}

// ListBuckets returns all buckets sorted by name, with counts.
func (s *Store) ListBuckets() []Bucket {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Bucket, 0, len(s.buckets))
	for _, bs := range s.buckets {
		out = append(out, bs.stats())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetVersioning changes a bucket's versioning state. Versioning cannot
// return to off once enabled, as in S3.
func (s *Store) SetVersioning(name string, v Versioning) error {
	if v != VersioningEnabled && v != VersioningSuspended {
		return fmt.Errorf("versioning state %q: must be Enabled or Suspended", v)
	}
	return s.updateBucket(name, func(b *Bucket) { b.Versioning = v })
}

// SetBucketEncryption sets (or, with nil, removes) a bucket's default encryption.
func (s *Store) SetBucketEncryption(name string, e *BucketEncryption) error {
	if e != nil && e.Mode != sse.SSES3 && e.Mode != sse.SSEKMS {
		return fmt.Errorf("default encryption %q: must be SSE-S3 or SSE-KMS", e.Mode)
	}
	return s.updateBucket(name, func(b *Bucket) { b.Encryption = e })
}

// UpdateBucketMeta sets and removes container metadata entries.
func (s *Store) UpdateBucketMeta(name string, set map[string]string, remove []string) error {
	return s.updateBucket(name, func(b *Bucket) {
		if b.Meta == nil {
			b.Meta = map[string]string{}
		}
		maps.Copy(b.Meta, set)
		for _, k := range remove {
			delete(b.Meta, k)
		}
	})
}

func (s *Store) updateBucket(name string, f func(*Bucket)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[name]
	if !ok {
		return ErrNoSuchBucket
	}
	b := bs.info
	b.Meta = maps.Clone(b.Meta)
	f(&b)
	b.Stamp, b.Origin = s.opts.Clock.Now(), s.opts.Site
	if err := s.record(bs, Change{Kind: ChangeBucket, Bucket: name, Stamp: b.Stamp}); err != nil {
		return err
	}
	if err := s.saveBucket(&b); err != nil {
		return err
	}
	bs.info = b
	return nil
}

// WriteBlob streams r to the backend. The blob is invisible until a
// CommitObject or PutPart references it; RemoveBlob discards it otherwise.
func (s *Store) WriteBlob(r io.Reader) (id string, size int64, err error) {
	return s.be.WriteBlob(r)
}

// RemoveBlob discards a blob that was written but not committed.
func (s *Store) RemoveBlob(id string) { _ = s.be.RemoveBlob(id) }

func (s *Store) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// CommitObject makes meta (whose Parts reference written blobs) the new
// latest version of key. In a bucket with versioning enabled it gets a new
// version id; otherwise it replaces the "null" version. If the commit fails,
// the blobs are removed.
func (s *Store) CommitObject(bucket, key string, meta ObjectMeta) (*Version, error) {
	v, err := s.commit(bucket, key, meta, false)
	if err != nil {
		for _, p := range meta.Parts {
			s.RemoveBlob(p.Blob)
		}
	}
	return v, err
}

func (s *Store) commit(bucket, key string, meta ObjectMeta, marker bool) (*Version, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	v := &Version{ObjectMeta: meta, Bucket: bucket, Key: key, DeleteMarker: marker,
		ModTime: s.opts.Now().UTC(), VersionID: NullVersion, Stamp: s.opts.Clock.Now(), Origin: s.opts.Site}
	v.MetaStamp, v.MetaOrigin = v.Stamp, v.Origin
	if bs.info.Versioning == VersioningEnabled {
		v.VersionID = newID()
	}
	v.Seq = s.nextSeq()
	o, _ := bs.objects.Get(&object{key: key})
	if o == nil {
		o = &object{key: key}
	}
	oldNull := -1
	if v.VersionID == NullVersion {
		oldNull = slices.IndexFunc(o.versions, func(x *Version) bool { return x.VersionID == NullVersion })
		if oldNull >= 0 && o.versions[oldNull].newer(v) {
			// Last writer wins on stamps, and the stored write is stamped
			// later: this one is acknowledged but loses at once. Only a
			// wall clock behind the peer's (the wallclock-lww flaw) gets
			// here; a hybrid logical clock stamps past everything seen.
			for _, p := range v.Parts {
				_ = s.be.RemoveBlob(p.Blob)
			}
			return v.clone(false), nil
		}
	}
	if err := s.record(bs, Change{Kind: ChangeVersion, Bucket: bucket, Key: key, VersionID: v.VersionID,
		Stamp: v.Stamp, Size: storedSize(v)}); err != nil {
		return nil, err
	}
	if err := s.saveVersion(v); err != nil {
		return nil, err
	}
	if len(o.versions) == 0 {
		bs.objects.ReplaceOrInsert(o)
	}
	before := o.latest()
	if oldNull >= 0 {
		old := o.versions[oldNull]
		o.versions = append(o.versions[:oldNull], o.versions[oldNull+1:]...)
		// The new record overwrote the old one; only blobs go.
		for _, p := range old.Parts {
			_ = s.be.RemoveBlob(p.Blob)
		}
	}
	// Versions stay ordered by stamp: a local write is newest unless its
	// stamps come from a lagging wall clock.
	i := sort.Search(len(o.versions), func(i int) bool { return v.newer(o.versions[i]) })
	o.versions = slices.Insert(o.versions, i, v)
	bs.replaceLatest(before, o.latest())
	return v.clone(i == 0), nil
}

func (v *Version) clone(latest bool) *Version {
	c := *v
	c.UserMeta = maps.Clone(v.UserMeta)
	c.Tags = maps.Clone(v.Tags)
	c.Headers = maps.Clone(v.Headers)
	c.Parts = append([]Part(nil), v.Parts...)
	c.IsLatest = latest
	return &c
}

// GetObject returns a version of key: the latest when versionID is empty.
// When the latest version is a delete marker it returns that marker and
// ErrNoSuchKey. A delete marker asked for by id is returned without error.
func (s *Store) GetObject(bucket, key, versionID string) (*Version, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	o, _ := bs.objects.Get(&object{key: key})
	if o == nil {
		if versionID != "" {
			return nil, ErrNoSuchVersion
		}
		return nil, ErrNoSuchKey
	}
	hideTombstone := bs.info.Versioning == VersioningOff && isTombstone(o.versions[0])
	if versionID == "" {
		v := o.versions[0].clone(true)
		if hideTombstone {
			return nil, ErrNoSuchKey
		}
		if v.DeleteMarker {
			return v, ErrNoSuchKey
		}
		return v, nil
	}
	for i, v := range o.versions {
		if v.VersionID == versionID && !(i == 0 && hideTombstone) {
			return v.clone(i == 0), nil
		}
	}
	return nil, ErrNoSuchVersion
}

// DeleteResult says what a delete did.
type DeleteResult struct {
	VersionID    string // the version removed, or the delete marker created
	DeleteMarker bool   // a delete marker was created, or the removed version was one
}

// DeleteObject deletes key. Without a version id it removes the object in an
// unversioned bucket and adds a delete marker in a versioned one (a "null"
// marker when suspended). With a version id it removes that version for
// good. Deleting what does not exist succeeds, as in S3.
func (s *Store) DeleteObject(bucket, key, versionID string) (DeleteResult, error) {
	s.mu.Lock()
	bs, ok := s.buckets[bucket]
	if !ok {
		s.mu.Unlock()
		return DeleteResult{}, ErrNoSuchBucket
	}
	versioning := bs.info.Versioning
	if versionID == "" && (versioning != VersioningOff || bs.info.Replicated) {
		s.mu.Unlock()
		v, err := s.commit(bucket, key, ObjectMeta{}, true)
		if err != nil {
			return DeleteResult{}, err
		}
		if versioning == VersioningOff {
			// A tombstone: to the client, the object is simply gone.
			return DeleteResult{}, nil
		}
		return DeleteResult{VersionID: v.VersionID, DeleteMarker: true}, nil
	}
	defer s.mu.Unlock()
	if versionID == "" {
		versionID = NullVersion
	}
	o, _ := bs.objects.Get(&object{key: key})
	if o == nil {
		return DeleteResult{VersionID: versionIDOut(versionID, versioning)}, nil
	}
	for i, v := range o.versions {
		if v.VersionID != versionID {
			continue
		}
		if err := s.record(bs, Change{Kind: ChangeVersionDelete, Bucket: bucket, Key: key, VersionID: versionID,
			Stamp: s.opts.Clock.Now()}); err != nil {
			return DeleteResult{}, err
		}
		before := o.latest()
		o.versions = append(o.versions[:i], o.versions[i+1:]...)
		bs.replaceLatest(before, o.latest())
		if len(o.versions) == 0 {
			bs.objects.Delete(o)
		}
		s.dropVersion(v)
		return DeleteResult{VersionID: versionIDOut(versionID, versioning), DeleteMarker: v.DeleteMarker}, nil
	}
	return DeleteResult{VersionID: versionIDOut(versionID, versioning)}, nil
}

// versionIDOut hides the "null" id of unversioned buckets, which S3 never shows.
func versionIDOut(id string, v Versioning) string {
	if v == VersioningOff && id == NullVersion {
		return ""
	}
	return id
}

// UpdateObjectMeta replaces the user metadata (and, when contentType is not
// nil, the content type) of the latest version in place, as a Swift POST
// does. The data and version id stay; the modification time advances.
func (s *Store) UpdateObjectMeta(bucket, key string, userMeta map[string]string, contentType *string) (*Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	o, _ := bs.objects.Get(&object{key: key})
	if o == nil || o.versions[0].DeleteMarker {
		return nil, ErrNoSuchKey
	}
	v := o.versions[0].clone(true)
	v.UserMeta = maps.Clone(userMeta)
	if contentType != nil {
		v.ContentType = *contentType
	}
	v.ModTime = s.opts.Now().UTC()
	v.Seq = s.nextSeq()
	v.MetaStamp, v.MetaOrigin = s.opts.Clock.Now(), s.opts.Site
	if err := s.record(bs, Change{Kind: ChangeVersion, Bucket: bucket, Key: key, VersionID: v.VersionID,
		Stamp: v.MetaStamp, Size: storedSize(v)}); err != nil {
		return nil, err
	}
	if err := s.saveVersion(v); err != nil {
		return nil, err
	}
	o.versions[0] = v
	return v.clone(true), nil
}

// SetObjectTags replaces the tags of one version in place (the latest when
// versionID is empty); nil or empty tags remove them. As in S3, tagging is
// not a write of the object: the version id, modification time and write
// order stay. The latest version being a delete marker is ErrNoSuchKey; a
// delete marker named by id is ErrDeleteMarker.
func (s *Store) SetObjectTags(bucket, key, versionID string, tags map[string]string) (*Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	o, _ := bs.objects.Get(&object{key: key})
	if o == nil {
		if versionID != "" {
			return nil, ErrNoSuchVersion
		}
		return nil, ErrNoSuchKey
	}
	i := 0
	if versionID != "" {
		for i = 0; i < len(o.versions) && o.versions[i].VersionID != versionID; i++ {
		}
		if i == len(o.versions) {
			return nil, ErrNoSuchVersion
		}
	}
	if o.versions[i].DeleteMarker {
		if versionID == "" {
			return nil, ErrNoSuchKey
		}
		return nil, ErrDeleteMarker
	}
	v := o.versions[i].clone(false)
	v.Tags = nil
	if len(tags) > 0 {
		v.Tags = maps.Clone(tags)
	}
	// Tags replicate as a metadata change of the version; its place among
	// the key's versions and its modification time stay.
	v.MetaStamp, v.MetaOrigin = s.opts.Clock.Now(), s.opts.Site
	if err := s.record(bs, Change{Kind: ChangeVersion, Bucket: bucket, Key: key, VersionID: v.VersionID,
		Stamp: v.MetaStamp, Size: storedSize(v)}); err != nil {
		return nil, err
	}
	if err := s.saveVersion(v); err != nil {
		return nil, err
	}
	o.versions[i] = v
	return v.clone(i == 0), nil
}

// Data reads an object version's stored bytes across its parts.
type Data struct {
	blobs   []BlobReader
	offsets []int64 // start of each part
	size    int64
}

// Open opens a version's stored data (ciphertext when encrypted).
func (s *Store) Open(v *Version) (*Data, error) {
	d := &Data{}
	for _, p := range v.Parts {
		b, err := s.be.OpenBlob(p.Blob)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("open %s/%s part %d: %w", v.Bucket, v.Key, p.Number, err)
		}
		d.blobs = append(d.blobs, b)
		d.offsets = append(d.offsets, d.size)
		d.size += b.Size()
	}
	return d, nil
}

// Size is the total stored size.
func (d *Data) Size() int64 { return d.size }

// Part returns the stored bytes of the i-th part (index, not part number).
func (d *Data) Part(i int) io.ReaderAt { return d.blobs[i] }

// PartSize returns the stored size of the i-th part.
func (d *Data) PartSize(i int) int64 { return d.blobs[i].Size() }

// ReadAt implements io.ReaderAt across parts.
func (d *Data) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for len(p) > 0 {
		if off >= d.size {
			return n, io.EOF
		}
		i := sort.Search(len(d.offsets), func(i int) bool { return d.offsets[i] > off }) - 1
		b := d.blobs[i]
		rel := off - d.offsets[i]
		want := min(int64(len(p)), b.Size()-rel)
		m, err := b.ReadAt(p[:want], rel)
		n += m
		off += int64(m)
		p = p[m:]
		if err != nil && !(errors.Is(err, io.EOF) && int64(m) == want) {
			return n, err
		}
	}
	return n, nil
}

// Close closes every part.
func (d *Data) Close() error {
	for _, b := range d.blobs {
		b.Close()
	}
	return nil
}

func newIndex() *btree.BTreeG[*object] { return btree.NewG(32, objectLess) }
