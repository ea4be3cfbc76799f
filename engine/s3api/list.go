package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/replcheck/replcheck/engine/store"
)

// maxListKeys is the most entries S3 returns in one listing page.
const maxListKeys = 1000

type listObject struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        *owner `xml:"Owner,omitempty"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listBucketResultV2 struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	NS                    string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	KeyCount              int            `xml:"KeyCount"`
	IsTruncated           bool           `xml:"IsTruncated"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	Contents              []listObject   `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type listBucketResultV1 struct {
	XMLName        xml.Name       `xml:"ListBucketResult"`
	NS             string         `xml:"xmlns,attr"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	Contents       []listObject   `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

// listParams are the parameters the object listings share.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

func (q *request) listParams(maxName string) (listParams, error) {
	p := listParams{prefix: q.query.Get("prefix"), delimiter: q.query.Get("delimiter"), maxKeys: maxListKeys}
	if s, ok := q.query[maxName]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(s[0]))
		if err != nil || n < 0 {
			return p, newErr(http.StatusBadRequest, "InvalidArgument",
				"%s must be an integer between 0 and 2147483647, got %q.", maxName, s[0])
		}
		p.maxKeys = min(n, maxListKeys)
	}
	switch et := q.query.Get("encoding-type"); et {
	case "":
	case "url", "URL":
		p.urlEncode = true
	default:
		return p, newErr(http.StatusBadRequest, "InvalidArgument", "Invalid Encoding Method specified in Request: %q (only url is supported).", et)
	}
	return p, nil
}

// enc URL-encodes s when the client asked for encoding-type=url. Every
// byte but unreserved characters and '/' is escaped, which both
// QueryUnescape (minio-go) and unquote_plus (botocore) decode back exactly,
// '+' and spaces included.
func (p listParams) enc(s string) string {
	if !p.urlEncode {
		return s
	}
	return s3URLEncode(s)
}

func s3URLEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func etagXML(etag string) string { return `"` + etag + `"` }

func (q *request) listObject(v *store.Version, p listParams, withOwner bool) listObject {
	o := listObject{Key: p.enc(v.Key), LastModified: xmlTime(v.ModTime), ETag: etagXML(v.ETag), Size: v.Size, StorageClass: "STANDARD"}
	if withOwner {
		ow := ownerOf(q.user)
		o.Owner = &ow
	}
	return o
}

func (q *request) listObjectsV2() error {
	p, err := q.listParams("max-keys")
	if err != nil {
		return err
	}
	res := listBucketResultV2{NS: s3NS, Name: q.bucket, Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delimiter),
		MaxKeys: p.maxKeys, StartAfter: p.enc(q.query.Get("start-after"))}
	if p.urlEncode {
		res.EncodingType = "url"
	}
	after := q.query.Get("start-after")
	if tok, ok := q.query["continuation-token"]; ok {
		raw, err := base64.StdEncoding.DecodeString(tok[0])
		if err != nil || tok[0] == "" {
			return newErr(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect.")
		}
		res.ContinuationToken = tok[0]
		if string(raw) > after {
			after = string(raw)
		}
	}
	withOwner := q.query.Get("fetch-owner") == "true"
	if p.maxKeys == 0 {
		if _, err := q.h.st.GetBucket(q.bucket); err != nil {
			return q.fail(err)
		}
		return q.writeXML(res)
	}
	lr, err := q.h.st.ListObjects(q.bucket, store.ListOptions{Prefix: p.prefix, Delimiter: p.delimiter, After: after, MaxKeys: p.maxKeys})
	if err != nil {
		return q.fail(err)
	}
	for _, v := range lr.Objects {
		res.Contents = append(res.Contents, q.listObject(v, p, withOwner))
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{p.enc(cp)})
	}
	res.KeyCount = len(lr.Objects) + len(lr.CommonPrefixes)
	res.IsTruncated = lr.IsTruncated
	if lr.IsTruncated {
		res.NextContinuationToken = base64.StdEncoding.EncodeToString([]byte(lr.Next))
	}
	return q.writeXML(res)
}

func (q *request) listObjectsV1() error {
	p, err := q.listParams("max-keys")
	if err != nil {
		return err
	}
	marker := q.query.Get("marker")
	res := listBucketResultV1{NS: s3NS, Name: q.bucket, Prefix: p.enc(p.prefix), Marker: p.enc(marker),
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter)}
	if p.urlEncode {
		res.EncodingType = "url"
	}
	if p.maxKeys == 0 {
		if _, err := q.h.st.GetBucket(q.bucket); err != nil {
			return q.fail(err)
		}
		return q.writeXML(res)
	}
	lr, err := q.h.st.ListObjects(q.bucket, store.ListOptions{Prefix: p.prefix, Delimiter: p.delimiter, After: marker, MaxKeys: p.maxKeys})
	if err != nil {
		return q.fail(err)
	}
	for _, v := range lr.Objects {
		res.Contents = append(res.Contents, q.listObject(v, p, true))
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{p.enc(cp)})
	}
	res.IsTruncated = lr.IsTruncated
	// As S3: NextMarker only with a delimiter; without one, clients
	// continue from the last key listed.
	if lr.IsTruncated && p.delimiter != "" {
		res.NextMarker = p.enc(lr.Next)
	}
	return q.writeXML(res)
}

// versionEntry is a Version or a DeleteMarker element; XMLName picks which,
// so the two kinds stay interleaved in listing order.
type versionEntry struct {
	XMLName      xml.Name
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag,omitempty"`
	Size         *int64 `xml:"Size,omitempty"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass,omitempty"`
}

type listVersionsResult struct {
	XMLName             xml.Name       `xml:"ListVersionsResult"`
	NS                  string         `xml:"xmlns,attr"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	Entries             []versionEntry // Version and DeleteMarker elements
	CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
}

func (q *request) listObjectVersions() error {
	p, err := q.listParams("max-keys")
	if err != nil {
		return err
	}
	keyMarker, vidMarker := q.query.Get("key-marker"), q.query.Get("version-id-marker")
	if vidMarker != "" && keyMarker == "" {
		return newErr(http.StatusBadRequest, "InvalidArgument", "A version-id marker cannot be specified without a key marker.")
	}
	res := listVersionsResult{NS: s3NS, Name: q.bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker),
		VersionIDMarker: vidMarker, MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter)}
	if p.urlEncode {
		res.EncodingType = "url"
	}
	if p.maxKeys == 0 {
		if _, err := q.h.st.GetBucket(q.bucket); err != nil {
			return q.fail(err)
		}
		return q.writeXML(res)
	}
	lr, err := q.h.st.ListVersions(q.bucket, store.ListVersionsOptions{Prefix: p.prefix, Delimiter: p.delimiter,
		KeyMarker: keyMarker, VersionIDMarker: vidMarker, MaxKeys: p.maxKeys})
	if err != nil {
		return q.fail(err)
	}
	ow := ownerOf(q.user)
	for _, v := range lr.Versions {
		e := versionEntry{Key: p.enc(v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest, LastModified: xmlTime(v.ModTime), Owner: ow}
		if v.DeleteMarker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			size := v.Size
			e.XMLName.Local, e.ETag, e.Size, e.StorageClass = "Version", etagXML(v.ETag), &size, "STANDARD"
		}
		res.Entries = append(res.Entries, e)
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{p.enc(cp)})
	}
	res.IsTruncated = lr.IsTruncated
	if lr.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = p.enc(lr.NextKeyMarker), lr.NextVersionIDMarker
	}
	return q.writeXML(res)
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
	NS                 string         `xml:"xmlns,attr"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	Prefix             string         `xml:"Prefix"`
	MaxUploads         int            `xml:"MaxUploads"`
	IsTruncated        bool           `xml:"IsTruncated"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
	Uploads            []uploadInfo   `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
}

type uploadInfo struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	Initiator    owner  `xml:"Initiator"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

// maxUploadsScan bounds how many uploads one listing with a delimiter
// looks at to roll them into common prefixes.
const maxUploadsScan = 100000

func (q *request) listMultipartUploads() error {
	p, err := q.listParams("max-uploads")
	if err != nil {
		return err
	}
	keyMarker, idMarker := q.query.Get("key-marker"), q.query.Get("upload-id-marker")
	res := listMultipartUploadsResult{NS: s3NS, Bucket: q.bucket, KeyMarker: p.enc(keyMarker), UploadIDMarker: idMarker,
		Delimiter: p.enc(p.delimiter), Prefix: p.enc(p.prefix), MaxUploads: p.maxKeys}
	if p.urlEncode {
		res.EncodingType = "url"
	}
	if p.maxKeys == 0 {
		if _, err := q.h.st.GetBucket(q.bucket); err != nil {
			return q.fail(err)
		}
		return q.writeXML(res)
	}
	ow := ownerOf(q.user)
	count, lastCP, scanned := 0, "", 0
	opts := store.ListUploadsOptions{Prefix: p.prefix, KeyMarker: keyMarker, UploadIDMarker: idMarker, MaxUploads: maxListKeys}
	if p.delimiter == "" {
		opts.MaxUploads = p.maxKeys
	}
	for {
		lr, err := q.h.st.ListUploads(q.bucket, opts)
		if err != nil {
			return q.fail(err)
		}
		for _, u := range lr.Uploads {
			scanned++
			if p.delimiter != "" {
				if i := strings.Index(u.Key[len(p.prefix):], p.delimiter); i >= 0 {
					cp := u.Key[:len(p.prefix)+i+len(p.delimiter)]
					if cp == lastCP || cp <= keyMarker {
						continue
					}
					if count == p.maxKeys {
						res.IsTruncated = true
						break
					}
					lastCP = cp
					res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{p.enc(cp)})
					res.NextKeyMarker, res.NextUploadIDMarker = p.enc(cp), ""
					count++
					continue
				}
			}
			if count == p.maxKeys {
				res.IsTruncated = true
				break
			}
			res.Uploads = append(res.Uploads, uploadInfo{Key: p.enc(u.Key), UploadID: u.ID, Initiator: ow, Owner: ow,
				StorageClass: "STANDARD", Initiated: xmlTime(u.Initiated)})
			res.NextKeyMarker, res.NextUploadIDMarker = p.enc(u.Key), u.ID
			count++
		}
		if res.IsTruncated || !lr.IsTruncated || scanned >= maxUploadsScan {
			res.IsTruncated = res.IsTruncated || lr.IsTruncated
			break
		}
		opts.KeyMarker, opts.UploadIDMarker = lr.NextKeyMarker, lr.NextUploadIDMarker
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return q.writeXML(res)
}
