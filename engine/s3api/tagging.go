package s3api

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/replcheck/replcheck/engine/store"
)

// S3's limits on object tags. Lengths count UTF-16 code units, as AWS does.
const (
	maxObjectTags  = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	// maxTaggingXML bounds a PutObjectTagging body: ten tags of the
	// longest keys and values, escaped, fit easily.
	maxTaggingXML = 64 << 10
)

// tagging is the document of GetObjectTagging and PutObjectTagging.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	TagSet  *tagSet  `xml:"TagSet"`
}

type tagSet struct {
	Tags []tagXML `xml:"Tag"`
}

// tagXML is one tag; the pointers tell a missing element from an empty one.
type tagXML struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

func errInvalidTag(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, "InvalidTag", format, args...)
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// tagBuilder collects tags in order and checks them against S3's rules.
type tagBuilder struct {
	tags map[string]string
}

func (b *tagBuilder) add(k, v string) error {
	switch {
	case !utf8.ValidString(k) || !utf8.ValidString(v):
		return errInvalidTag("The tag %q=%q is not valid UTF-8.", k, v)
	case k == "":
		return errInvalidTag("The TagKey you have provided is invalid: a tag key must be between 1 and %d characters long, this one is empty.", maxTagKeyLen)
	case utf16Len(k) > maxTagKeyLen:
		return errInvalidTag("The TagKey you have provided is too long: tag key %q is %d characters, the limit is %d.", k, utf16Len(k), maxTagKeyLen)
	case utf16Len(v) > maxTagValueLen:
		return errInvalidTag("The TagValue you have provided is too long: the value of tag %q is %d characters, the limit is %d.", k, utf16Len(v), maxTagValueLen)
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return errInvalidTag("Your TagKey cannot be prefixed with aws: (tag key %q); the aws: prefix is reserved for AWS use.", k)
	}
	if _, dup := b.tags[k]; dup {
		return errInvalidTag("Cannot provide multiple Tags with the same key: %q.", k)
	}
	if b.tags == nil {
		b.tags = map[string]string{}
	}
	b.tags[k] = v
	if len(b.tags) > maxObjectTags {
		return errInvalidTag("Object tags cannot be greater than %d: the request has more.", maxObjectTags)
	}
	return nil
}

// headerTags parses the x-amz-tagging header ("k1=v1&k2=v2", URL-query
// encoded) of a PutObject, CreateMultipartUpload or CopyObject. No header
// (or an empty one) means no tags.
func (q *request) headerTags() (map[string]string, error) {
	raw := strings.Join(q.r.Header.Values("X-Amz-Tagging"), "&")
	if raw == "" {
		return nil, nil
	}
	var b tagBuilder
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		rk, rv, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(rk)
		v, err2 := url.QueryUnescape(rv)
		if err1 != nil || err2 != nil {
			return nil, errTaggingHeader("cannot decode %q", pair)
		}
		if _, dup := b.tags[k]; dup {
			return nil, errTaggingHeader("tag key %q appears twice", k)
		}
		if err := b.add(k, v); err != nil {
			return nil, err
		}
	}
	return b.tags, nil
}

// errTaggingHeader is S3's error for an x-amz-tagging header it cannot
// decode or that repeats a key.
func errTaggingHeader(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, "InvalidArgument",
		"The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates: %s.",
		fmt.Sprintf(format, args...))
}

// setTagCount sets x-amz-tagging-count on a GET or HEAD of v.
func setTagCount(h http.Header, v *store.Version) {
	if len(v.Tags) > 0 {
		h.Set("X-Amz-Tagging-Count", strconv.Itoa(len(v.Tags)))
	}
}

// setTaggingVersionHeader sets x-amz-version-id on a tagging response as
// on a GET: for versions of versioned buckets, and when asked for by id.
func (q *request) setTaggingVersionHeader(v *store.Version) {
	if v.VersionID != store.NullVersion || q.query.Get("versionId") != "" {
		q.w.Header().Set("X-Amz-Version-Id", v.VersionID)
	}
}

func (q *request) getObjectTagging() error {
	v, err := q.lookupVersion(q.bucket, q.key, q.query.Get("versionId"))
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(v.Tags))
	for k := range v.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	res := tagging{NS: s3NS, TagSet: &tagSet{Tags: []tagXML{}}}
	for _, k := range keys {
		val := v.Tags[k]
		res.TagSet.Tags = append(res.TagSet.Tags, tagXML{Key: &k, Value: &val})
	}
	q.setTaggingVersionHeader(v)
	return q.writeXML(res)
}

func (q *request) putObjectTagging() error {
	vid := q.query.Get("versionId")
	if err := checkVersionID(vid); err != nil {
		return err
	}
	var doc tagging
	if err := q.readXML(maxTaggingXML, &doc); err != nil {
		return err
	}
	if doc.TagSet == nil {
		return errMalformedXML("the Tagging document has no TagSet")
	}
	var b tagBuilder
	for _, t := range doc.TagSet.Tags {
		if t.Key == nil || t.Value == nil {
			return errMalformedXML("every Tag needs a Key and a Value")
		}
		if err := b.add(*t.Key, *t.Value); err != nil {
			return err
		}
	}
	v, err := q.h.st.SetObjectTags(q.bucket, q.key, vid, b.tags)
	if err != nil {
		return q.fail(err)
	}
	q.setTaggingVersionHeader(v)
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) deleteObjectTagging() error {
	vid := q.query.Get("versionId")
	if err := checkVersionID(vid); err != nil {
		return err
	}
	v, err := q.h.st.SetObjectTags(q.bucket, q.key, vid, nil)
	if err != nil {
		return q.fail(err)
	}
	q.setTaggingVersionHeader(v)
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
