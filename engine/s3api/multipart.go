package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

func (q *request) now() time.Time { return time.Now().UTC() }

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

func (q *request) createMultipartUpload() error {
	if err := checkCannedACL(q.r.Header); err != nil {
		return err
	}
	meta, err := q.objectMeta()
	if err != nil {
		return err
	}
	if meta.Tags, err = q.headerTags(); err != nil {
		return err
	}
	b, err := q.h.st.GetBucket(q.bucket)
	if err != nil {
		return q.fail(err)
	}
	enc, err := q.writeEncryption(b)
	if err != nil {
		return q.fail(err)
	}
	u, err := objio.CreateUpload(q.h.st, q.h.kr, q.bucket, q.key, meta, enc)
	if err != nil {
		return q.fail(err)
	}
	sse.SetS3ResponseHeaders(q.w.Header(), u.Meta.SSE)
	return q.writeXML(initiateMultipartUploadResult{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: u.ID})
}

// partEncryption checks the SSE headers of an UploadPart (or UploadPartCopy)
// against its upload: SSE-C uploads need the same key on every part, other
// uploads take no SSE-C headers. SSE-S3 and SSE-KMS headers are ignored, as
// the upload fixed its encryption when it began.
func partEncryption(h http.Header, u *store.Upload) (sse.Params, error) {
	p, err := sse.ParseS3Headers(h)
	if err != nil {
		return p, err
	}
	ssec := u.Meta.SSE != nil && u.Meta.SSE.Mode == sse.SSEC
	switch {
	case ssec && p.Mode != sse.SSEC:
		return p, newErr(http.StatusBadRequest, "InvalidRequest",
			"The multipart upload initiate requested encryption with a customer-provided key (SSE-C). "+
				"Subsequent part requests must include the appropriate encryption parameters.")
	case !ssec && p.Mode == sse.SSEC:
		return p, newErr(http.StatusBadRequest, "InvalidRequest",
			"The multipart upload initiate did not request encryption with a customer-provided key (SSE-C); "+
				"its part requests must not carry SSE-C headers.")
	case ssec && u.Meta.SSE.CustomerKeyMD5 != "" && p.CustomerKeyMD5 != u.Meta.SSE.CustomerKeyMD5:
		return p, newErr(http.StatusForbidden, "AccessDenied",
			"Access Denied: the SSE-C key provided does not match the key the multipart upload was initiated with.")
	}
	if p.Mode != sse.SSEC {
		p = sse.Params{}
	}
	return p, nil
}

func (q *request) uploadPart() error {
	n, uploadID, err := q.partParams()
	if err != nil {
		return err
	}
	body, size, sum, err := q.putBody()
	if err != nil {
		return err
	}
	u, err := q.h.st.GetUpload(q.bucket, q.key, uploadID)
	if err != nil {
		return q.fail(err)
	}
	enc, err := partEncryption(q.r.Header, u)
	if err != nil {
		return err
	}
	p, err := objio.PutPart(q.h.st, q.h.kr, q.bucket, q.key, uploadID, n, objio.PutInput{Body: body, Size: size, ContentMD5: sum, Encryption: enc})
	if err != nil {
		return q.fail(err)
	}
	h := q.w.Header()
	h.Set("ETag", etagXML(p.ETag))
	sse.SetS3ResponseHeaders(h, u.Meta.SSE)
	h.Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber *int   `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func (q *request) completeMultipartUpload() error {
	uploadID := q.query.Get("uploadId")
	var req completeMultipartUpload
	if err := q.readXML(maxCompleteXML, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 {
		return errMalformedXML("CompleteMultipartUpload must list at least one part")
	}
	if len(req.Parts) > store.MaxParts {
		return errMalformedXML("CompleteMultipartUpload lists more than 10000 parts")
	}
	parts := make([]store.CompletePart, len(req.Parts))
	for i, p := range req.Parts {
		if p.PartNumber == nil || p.ETag == "" {
			return errMalformedXML("every Part needs a PartNumber and an ETag")
		}
		parts[i] = store.CompletePart{Number: *p.PartNumber, ETag: p.ETag}
	}
	b, err := q.h.st.GetBucket(q.bucket)
	if err != nil {
		return q.fail(err)
	}
	unlock, err := q.writeConditions()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := q.h.st.CompleteUpload(q.bucket, q.key, uploadID, parts)
	if err != nil {
		return q.fail(err)
	}
	h := q.w.Header()
	if b.Versioning != store.VersioningOff {
		h.Set("X-Amz-Version-Id", v.VersionID)
	}
	sse.SetS3ResponseHeaders(h, v.SSE)
	return q.writeXML(completeMultipartUploadResult{NS: s3NS, Location: q.location(), Bucket: q.bucket, Key: q.key, ETag: etagXML(v.ETag)})
}

// location is the URL of the request's object, as S3 reports it.
func (q *request) location() string {
	scheme := "http"
	if q.r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: q.r.Host, Path: "/" + q.bucket + "/" + q.key}
	if q.h.hostBucket(q.r.Host) != "" {
		u.Path = "/" + q.key
	}
	return u.String()
}

func (q *request) abortMultipartUpload() error {
	if err := q.h.st.AbortUpload(q.bucket, q.key, q.query.Get("uploadId")); err != nil {
		return q.fail(err)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

type listPartsResult struct {
	XMLName              xml.Name   `xml:"ListPartsResult"`
	NS                   string     `xml:"xmlns,attr"`
	Bucket               string     `xml:"Bucket"`
	Key                  string     `xml:"Key"`
	UploadID             string     `xml:"UploadId"`
	Initiator            owner      `xml:"Initiator"`
	Owner                owner      `xml:"Owner"`
	StorageClass         string     `xml:"StorageClass"`
	PartNumberMarker     int        `xml:"PartNumberMarker"`
	NextPartNumberMarker int        `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	Parts                []partInfo `xml:"Part"`
}

type partInfo struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

func (q *request) listParts() error {
	uploadID := q.query.Get("uploadId")
	marker, maxParts := 0, maxListKeys
	if s, ok := q.query["part-number-marker"]; ok && s[0] != "" {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 0 {
			return newErr(http.StatusBadRequest, "InvalidArgument", "part-number-marker must be a non-negative integer, got %q.", s[0])
		}
		marker = n
	}
	if s, ok := q.query["max-parts"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 0 {
			return newErr(http.StatusBadRequest, "InvalidArgument", "max-parts must be a non-negative integer, got %q.", s[0])
		}
		maxParts = min(n, maxListKeys)
	}
	ow := ownerOf(q.user)
	res := listPartsResult{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: uploadID, Initiator: ow, Owner: ow,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts}
	if maxParts == 0 {
		if _, err := q.h.st.GetUpload(q.bucket, q.key, uploadID); err != nil {
			return q.fail(err)
		}
		return q.writeXML(res)
	}
	lr, err := q.h.st.ListParts(q.bucket, q.key, uploadID, marker, maxParts)
	if err != nil {
		return q.fail(err)
	}
	for _, p := range lr.Parts {
		res.Parts = append(res.Parts, partInfo{PartNumber: p.Number, LastModified: xmlTime(lr.Upload.Initiated),
			ETag: etagXML(p.ETag), Size: p.PlainSize})
	}
	res.IsTruncated = lr.IsTruncated
	res.NextPartNumberMarker = lr.Next
	return q.writeXML(res)
}
