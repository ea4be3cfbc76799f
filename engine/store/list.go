package store

import "strings"

// ListOptions select objects to list. Both S3 listings and Swift container
// listings are expressed with them.
type ListOptions struct {
	Prefix    string
	Delimiter string
	// After lists only keys (and common prefixes) strictly greater than it:
	// S3's marker / start-after / decoded continuation token, Swift's marker.
	After string
	// Before, if set, lists only keys strictly less than it (Swift's end_marker).
	Before  string
	MaxKeys int // 0 means 1000
}

// ListResult is one page of a listing. Objects and CommonPrefixes are each
// sorted; together they hold at most MaxKeys entries.
type ListResult struct {
	Objects        []*Version
	CommonPrefixes []string
	IsTruncated    bool
	// Next is the last key or common prefix returned, to pass as After.
	Next string
}

// commonPrefix returns the common prefix key rolls up into, if any.
func commonPrefix(key, prefix, delim string) (string, bool) {
	if delim == "" {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delim)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delim)], true
}

// ListObjects lists the latest versions that are not delete markers.
func (s *Store) ListObjects(bucket string, o ListOptions) (ListResult, error) {
	var res ListResult
	max := o.MaxKeys
	if max <= 0 {
		max = 1000
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return res, ErrNoSuchBucket
	}
	start := o.Prefix
	if o.After > start {
		start = o.After
	}
	count, lastCP := 0, ""
	bs.objects.AscendGreaterOrEqual(&object{key: start}, func(obj *object) bool {
		k := obj.key
		if !strings.HasPrefix(k, o.Prefix) {
			return false
		}
		if o.Before != "" && k >= o.Before {
			return false
		}
		if k <= o.After || obj.versions[0].DeleteMarker {
			return true
		}
		if cp, ok := commonPrefix(k, o.Prefix, o.Delimiter); ok {
			if cp == lastCP || cp <= o.After {
				return true
			}
			if count == max {
				res.IsTruncated = true
				return false
			}
			lastCP = cp
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.Next = cp
			count++
			return true
		}
		if count == max {
			res.IsTruncated = true
			return false
		}
		res.Objects = append(res.Objects, obj.versions[0].clone(true))
		res.Next = k
		count++
		return true
	})
	return res, nil
}

// ListVersionsOptions select versions to list, as S3's ListObjectVersions.
type ListVersionsOptions struct {
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int // 0 means 1000
}

// ListVersionsResult is one page of versions, newest first within a key.
type ListVersionsResult struct {
	Versions            []*Version // delete markers included, IsLatest set
	CommonPrefixes      []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ListVersions lists every version and delete marker.
func (s *Store) ListVersions(bucket string, o ListVersionsOptions) (ListVersionsResult, error) {
	var res ListVersionsResult
	max := o.MaxKeys
	if max <= 0 {
		max = 1000
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	bs, ok := s.buckets[bucket]
	if !ok {
		return res, ErrNoSuchBucket
	}
	start := o.Prefix
	if o.KeyMarker > start {
		start = o.KeyMarker
	}
	count, lastCP := 0, ""
	bs.objects.AscendGreaterOrEqual(&object{key: start}, func(obj *object) bool {
		k := obj.key
		if !strings.HasPrefix(k, o.Prefix) {
			return false
		}
		versions := obj.versions
		switch {
		case k < o.KeyMarker:
			return true
		case k == o.KeyMarker:
			if o.VersionIDMarker == "" {
				return true
			}
			// Resume after the marker version within this key.
			i := 0
			for i < len(versions) && versions[i].VersionID != o.VersionIDMarker {
				i++
			}
			if i == len(versions) {
				return true
			}
			versions = versions[i+1:]
		}
		if cp, ok := commonPrefix(k, o.Prefix, o.Delimiter); ok {
			if cp == lastCP || cp <= o.KeyMarker {
				return true
			}
			if count == max {
				res.IsTruncated = true
				return false
			}
			lastCP = cp
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
			count++
			return true
		}
		for _, v := range versions {
			if isTombstone(v) && bs.info.Versioning == VersioningOff {
				continue
			}
			if count == max {
				res.IsTruncated = true
				return false
			}
			res.Versions = append(res.Versions, v.clone(v == obj.versions[0]))
			res.NextKeyMarker, res.NextVersionIDMarker = k, v.VersionID
			count++
		}
		return true
	})
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, nil
}
