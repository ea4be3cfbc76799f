package store

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// MaxParts is the highest part number, as in S3.
const MaxParts = 10000

// Upload is a multipart upload in progress. Meta carries what the completed
// object will have besides its data (content type, metadata, SSE envelope:
// every part is encrypted under the upload's data key).
type Upload struct {
	ID        string       `json:"id"`
	Bucket    string       `json:"bucket"`
	Key       string       `json:"key"`
	Initiated time.Time    `json:"initiated"`
	Meta      ObjectMeta   `json:"meta"`
	Parts     map[int]Part `json:"parts"`
}

// CompletePart names a part in a CompleteMultipartUpload request.
type CompletePart struct {
	Number int
	ETag   string // with or without quotes
}

func (s *Store) saveUpload(u *Upload) error {
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return s.be.PutRecord(kindUpload, u.ID, data)
}

func (s *Store) dropUpload(u *Upload) {
	for _, p := range u.Parts {
		_ = s.be.RemoveBlob(p.Blob)
	}
	_ = s.be.DeleteRecord(kindUpload, u.ID)
}

// CreateUpload starts a multipart upload of key.
func (s *Store) CreateUpload(bucket, key string, meta ObjectMeta) (*Upload, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[bucket]; !ok {
		return nil, ErrNoSuchBucket
	}
	meta.Parts = nil
	u := &Upload{ID: newID(), Bucket: bucket, Key: key, Initiated: s.opts.Now().UTC(), Meta: meta, Parts: map[int]Part{}}
	if err := s.saveUpload(u); err != nil {
		return nil, err
	}
	s.uploads[u.ID] = u
	return u.clone(), nil
}

func (u *Upload) clone() *Upload {
	c := *u
	c.Parts = make(map[int]Part, len(u.Parts))
	for n, p := range u.Parts {
		c.Parts[n] = p
	}
	return &c
}

func (s *Store) upload(bucket, key, id string) (*Upload, error) {
	u, ok := s.uploads[id]
	if !ok || u.Bucket != bucket || u.Key != key {
		if _, ok := s.buckets[bucket]; !ok {
			return nil, ErrNoSuchBucket
		}
		return nil, ErrNoSuchUpload
	}
	return u, nil
}

// GetUpload returns an upload in progress.
func (s *Store) GetUpload(bucket, key, id string) (*Upload, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, err := s.upload(bucket, key, id)
	if err != nil {
		return nil, err
	}
	return u.clone(), nil
}

// PutPart records a written blob as part p.Number of an upload, replacing
// an earlier upload of the same part number. On error the blob is removed.
func (s *Store) PutPart(bucket, key, id string, p Part) error {
	if p.Number < 1 || p.Number > MaxParts {
		s.RemoveBlob(p.Blob)
		return fmt.Errorf("%w: part number %d is outside 1..%d", ErrInvalidPart, p.Number, MaxParts)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.upload(bucket, key, id)
	if err != nil {
		s.RemoveBlob(p.Blob)
		return err
	}
	old, had := u.Parts[p.Number]
	u.Parts[p.Number] = p
	if err := s.saveUpload(u); err != nil {
		if had {
			u.Parts[p.Number] = old
		} else {
			delete(u.Parts, p.Number)
		}
		s.RemoveBlob(p.Blob)
		return err
	}
	if had {
		_ = s.be.RemoveBlob(old.Blob)
	}
	return nil
}

// AbortUpload discards an upload and its parts.
func (s *Store) AbortUpload(bucket, key, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.upload(bucket, key, id)
	if err != nil {
		return err
	}
	s.dropUpload(u)
	delete(s.uploads, id)
	return nil
}

// CompleteUpload assembles the listed parts into the new latest version of
// the key. Parts keep their numbers and boundaries; parts uploaded but not
// listed are discarded. The ETag is S3's multipart form: the MD5 of the
// parts' binary MD5s, a dash and the part count.
func (s *Store) CompleteUpload(bucket, key, id string, parts []CompletePart) (*Version, error) {
	s.mu.Lock()
	u, err := s.upload(bucket, key, id)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if len(parts) == 0 {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: the request lists no parts", ErrInvalidPart)
	}
	meta := u.Meta
	meta.Multipart = true
	meta.Size = 0
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			s.mu.Unlock()
			return nil, ErrInvalidPartOrder
		}
	}
	h := md5.New()
	for i, cp := range parts {
		p, ok := u.Parts[cp.Number]
		if !ok || strings.Trim(cp.ETag, `"`) != p.ETag {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: part %d was not uploaded or its ETag does not match", ErrInvalidPart, cp.Number)
		}
		if i < len(parts)-1 && p.PlainSize < s.opts.MinPartSize {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: part %d is %d bytes, the minimum is %d", ErrEntityTooSmall, cp.Number, p.PlainSize, s.opts.MinPartSize)
		}
		raw, err := hex.DecodeString(p.ETag)
		if err != nil {
			raw = []byte(p.ETag)
		}
		h.Write(raw)
		meta.Parts = append(meta.Parts, p)
		meta.Size += p.PlainSize
	}
	meta.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(parts))
	// Unlisted parts are dropped; listed ones now belong to the object.
	used := map[int]bool{}
	for _, cp := range parts {
		used[cp.Number] = true
	}
	for n, p := range u.Parts {
		if !used[n] {
			_ = s.be.RemoveBlob(p.Blob)
		}
	}
	delete(s.uploads, id)
	_ = s.be.DeleteRecord(kindUpload, id)
	s.mu.Unlock()
	v, err := s.commit(bucket, key, meta, false)
	if err != nil {
		for _, p := range meta.Parts {
			s.RemoveBlob(p.Blob)
		}
		return nil, err
	}
	return v, nil
}

// ListPartsResult is one page of an upload's parts.
type ListPartsResult struct {
	Upload      *Upload
	Parts       []Part // sorted by number
	IsTruncated bool
	Next        int // part number marker for the next page
}

// ListParts lists an upload's parts numbered above after.
func (s *Store) ListParts(bucket, key, id string, after, maxParts int) (ListPartsResult, error) {
	if maxParts <= 0 {
		maxParts = 1000
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, err := s.upload(bucket, key, id)
	if err != nil {
		return ListPartsResult{}, err
	}
	res := ListPartsResult{Upload: u.clone()}
	nums := make([]int, 0, len(u.Parts))
	for n := range u.Parts {
		if n > after {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	if len(nums) > maxParts {
		nums, res.IsTruncated = nums[:maxParts], true
	}
	for _, n := range nums {
		res.Parts = append(res.Parts, u.Parts[n])
		res.Next = n
	}
	return res, nil
}

// ListUploadsOptions select uploads to list.
type ListUploadsOptions struct {
	Prefix         string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int // 0 means 1000
}

// ListUploadsResult is one page of uploads, by key then initiation time.
type ListUploadsResult struct {
	Uploads            []*Upload
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// ListUploads lists a bucket's uploads in progress.
func (s *Store) ListUploads(bucket string, o ListUploadsOptions) (ListUploadsResult, error) {
	max := o.MaxUploads
	if max <= 0 {
		max = 1000
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.buckets[bucket]; !ok {
		return ListUploadsResult{}, ErrNoSuchBucket
	}
	var all []*Upload
	for _, u := range s.uploads {
		if u.Bucket == bucket && strings.HasPrefix(u.Key, o.Prefix) {
			all = append(all, u)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Key != all[j].Key {
			return all[i].Key < all[j].Key
		}
		if !all[i].Initiated.Equal(all[j].Initiated) {
			return all[i].Initiated.Before(all[j].Initiated)
		}
		return all[i].ID < all[j].ID
	})
	var res ListUploadsResult
	skipping := o.KeyMarker != ""
	for _, u := range all {
		if skipping {
			if u.Key < o.KeyMarker {
				continue
			}
			if u.Key == o.KeyMarker {
				if o.UploadIDMarker == "" {
					continue
				}
				if u.ID == o.UploadIDMarker {
					skipping = false
				}
				continue
			}
			skipping = false
		}
		if len(res.Uploads) == max {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, u.clone())
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.ID
	}
	return res, nil
}
