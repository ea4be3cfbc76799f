package s3api

import (
	"encoding/xml"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// Limits on XML request bodies; real documents are far smaller.
const (
	maxConfigXML = 64 << 10
	// maxDeleteXML fits 1000 keys of 1024 bytes each, escaped, with versions.
	maxDeleteXML = 8 << 20
	// maxCompleteXML fits 10000 parts.
	maxCompleteXML = 4 << 20
)

type listAllMyBucketsResult struct {
	XMLName xml.Name     `xml:"ListAllMyBucketsResult"`
	NS      string       `xml:"xmlns,attr"`
	Owner   owner        `xml:"Owner"`
	Buckets []bucketInfo `xml:"Buckets>Bucket"`
}

type bucketInfo struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
	BucketRegion string `xml:"BucketRegion,omitempty"`
}

func (q *request) listBuckets() error {
	res := listAllMyBucketsResult{NS: s3NS, Owner: ownerOf(q.user), Buckets: []bucketInfo{}}
	for _, b := range q.h.st.ListBuckets() {
		res.Buckets = append(res.Buckets, bucketInfo{Name: b.Name, CreationDate: xmlTime(b.Created), BucketRegion: q.h.cfg.Region})
	}
	return q.writeXML(res)
}

// bucketNameError says why name breaks S3's bucket naming rules, or "".
func bucketNameError(name string) string {
	if len(name) < 3 || len(name) > 63 {
		return "must be between 3 and 63 characters long"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return "may contain only lower-case letters, digits, dots and hyphens"
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return "must begin and end with a letter or digit"
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return "must not contain two adjacent periods or a period next to a hyphen"
	}
	if ip := net.ParseIP(name); ip != nil {
		return "must not be formatted as an IP address"
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return "must not start with " + strconv.Quote(p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return "must not end with " + strconv.Quote(s)
		}
	}
	return ""
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

func (q *request) createBucket() error {
	if msg := bucketNameError(q.bucket); msg != "" {
		return newErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid: %q %s.", q.bucket, msg)
	}
	if err := checkCannedACL(q.r.Header); err != nil {
		return err
	}
	if q.r.Header.Get("X-Amz-Tagging") != "" {
		return errNotImplemented("bucket tagging (x-amz-tagging)")
	}
	if strings.EqualFold(q.r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled"), "true") {
		return errNotImplemented("S3 Object Lock (x-amz-bucket-object-lock-enabled)")
	}
	data, err := q.readBody(maxConfigXML)
	if err != nil {
		return err
	}
	var constraint string
	if len(strings.TrimSpace(string(data))) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(data, &cfg); err != nil {
			return errMalformedXML(err.Error())
		}
		constraint = strings.TrimSpace(cfg.LocationConstraint)
	}
	policy := q.h.cfg.DefaultPolicy
	if constraint != "" {
		region, p, hasPolicy := strings.Cut(constraint, ":")
		if region != q.h.cfg.Region {
			return newErr(http.StatusBadRequest, "InvalidLocationConstraint",
				"The specified location-constraint is not valid: region %q; this endpoint serves region %q (optionally as %q).",
				region, q.h.cfg.Region, q.h.cfg.Region+":<storage policy>")
		}
		if hasPolicy {
			policy = p
		}
	}
	if !q.h.cfg.PolicyAllowed(policy) {
		return newErr(http.StatusBadRequest, "InvalidLocationConstraint", "The specified location-constraint is not valid: %s.",
			q.h.cfg.PolicyError(policy))
	}
	if _, err := q.h.st.CreateBucket(q.bucket, store.BucketOptions{Policy: policy, Replicated: q.h.cfg.Replicated}); err != nil {
		return q.fail(err)
	}
	q.w.Header().Set("Location", "/"+q.bucket)
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) headBucket() error {
	b, err := q.h.st.GetBucket(q.bucket)
	if err != nil {
		return q.fail(err)
	}
	h := q.w.Header()
	h.Set("X-Amz-Bucket-Region", q.h.cfg.Region)
	h.Set("X-Storage-Policy", b.Policy)
	h.Set("X-Replcheck-Replicated", strconv.FormatBool(b.Replicated))
	h.Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) deleteBucket() error {
	if err := q.h.st.DeleteBucket(q.bucket); err != nil {
		return q.fail(err)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	NS      string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

func (q *request) getBucketLocation() error {
	if _, err := q.h.st.GetBucket(q.bucket); err != nil {
		return q.fail(err)
	}
	// The region only: clients parse this as a region, not as a placement.
	return q.writeXML(locationConstraint{NS: s3NS, Region: q.h.cfg.Region})
}

type versioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	NS        string   `xml:"xmlns,attr,omitempty"`
	Status    string   `xml:"Status,omitempty"`
	MfaDelete string   `xml:"MfaDelete,omitempty"`
}

func (q *request) getBucketVersioning() error {
	b, err := q.h.st.GetBucket(q.bucket)
	if err != nil {
		return q.fail(err)
	}
	return q.writeXML(versioningConfiguration{NS: s3NS, Status: string(b.Versioning)})
}

func (q *request) putBucketVersioning() error {
	var cfg versioningConfiguration
	if err := q.readXML(maxConfigXML, &cfg); err != nil {
		return err
	}
	if cfg.MfaDelete == "Enabled" {
		return errNotImplemented("MFA delete")
	}
	if cfg.MfaDelete != "" && cfg.MfaDelete != "Disabled" {
		return errMalformedXML("MfaDelete must be Enabled or Disabled")
	}
	switch store.Versioning(cfg.Status) {
	case store.VersioningEnabled, store.VersioningSuspended:
	default:
		return errMalformedXML("Status must be Enabled or Suspended, got " + strconv.Quote(cfg.Status))
	}
	if err := q.h.st.SetVersioning(q.bucket, store.Versioning(cfg.Status)); err != nil {
		return q.fail(err)
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

type serverSideEncryptionConfiguration struct {
	XMLName xml.Name         `xml:"ServerSideEncryptionConfiguration"`
	NS      string           `xml:"xmlns,attr,omitempty"`
	Rules   []encryptionRule `xml:"Rule"`
}

type encryptionRule struct {
	Default *struct {
		SSEAlgorithm   string `xml:"SSEAlgorithm"`
		KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
	} `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled *bool `xml:"BucketKeyEnabled"`
}

func (q *request) getBucketEncryption() error {
	b, err := q.h.st.GetBucket(q.bucket)
	if err != nil {
		return q.fail(err)
	}
	if b.Encryption == nil {
		return newErr(http.StatusNotFound, "ServerSideEncryptionConfigurationNotFoundError",
			"The server side encryption configuration was not found for bucket %q.", q.bucket)
	}
	rule := encryptionRule{}
	rule.Default = &struct {
		SSEAlgorithm   string `xml:"SSEAlgorithm"`
		KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
	}{SSEAlgorithm: "AES256"}
	if b.Encryption.Mode == sse.SSEKMS {
		rule.Default.SSEAlgorithm = "aws:kms"
		rule.Default.KMSMasterKeyID = b.Encryption.KMSKeyID
	}
	f := false
	rule.BucketKeyEnabled = &f
	return q.writeXML(serverSideEncryptionConfiguration{NS: s3NS, Rules: []encryptionRule{rule}})
}

func (q *request) putBucketEncryption() error {
	var cfg serverSideEncryptionConfiguration
	if err := q.readXML(maxConfigXML, &cfg); err != nil {
		return err
	}
	if len(cfg.Rules) != 1 || cfg.Rules[0].Default == nil {
		return errMalformedXML("exactly one Rule with ApplyServerSideEncryptionByDefault is required")
	}
	d := cfg.Rules[0].Default
	enc := &store.BucketEncryption{}
	switch strings.TrimSpace(d.SSEAlgorithm) {
	case "AES256":
		if d.KMSMasterKeyID != "" {
			return newErr(http.StatusBadRequest, "InvalidArgument", "a KMSMasterKeyID is allowed only with SSEAlgorithm aws:kms.")
		}
		enc.Mode = sse.SSES3
	case "aws:kms":
		enc.Mode = sse.SSEKMS
		id := strings.TrimSpace(d.KMSMasterKeyID)
		if id != "" {
			// The header parser knows the ARN forms; reuse it.
			p, err := sse.ParseS3Headers(http.Header{sse.HeaderSSE: {"aws:kms"}, sse.HeaderSSEKMSKeyID: {id}})
			if err == nil {
				id = p.KMSKeyID
			}
		} else {
			id = q.h.kr.DefaultKMSKeyID()
		}
		if !q.h.hasKMSKey(id) {
			return newErr(http.StatusBadRequest, "KMS.NotFoundException",
				"Invalid keyId %q: the KMS key does not exist in this site's keyring.", id)
		}
		enc.KMSKeyID = id
	default:
		return errMalformedXML("SSEAlgorithm must be AES256 or aws:kms, got " + strconv.Quote(d.SSEAlgorithm))
	}
	if err := q.h.st.SetBucketEncryption(q.bucket, enc); err != nil {
		return q.fail(err)
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *handler) hasKMSKey(id string) bool {
	if id == "" {
		return false
	}
	for _, k := range h.kr.KMSKeyIDs() {
		if k == id {
			return true
		}
	}
	return false
}

func (q *request) deleteBucketEncryption() error {
	if err := q.h.st.SetBucketEncryption(q.bucket, nil); err != nil {
		return q.fail(err)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// accessControlPolicy is S3's ACL document, as a PutBucketAcl body. Only
// the owner's FULL_CONTROL exists here: every bucket and object is private
// to its account.
type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Grants  []struct {
		Grantee struct {
			URI string `xml:"URI"` // group grantees (AllUsers, …)
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// writeACL sends the canned private ACL. The grantee's xsi:type attribute
// is written by hand: encoding/xml would invent a namespace prefix for it.
func (q *request) writeACL() error {
	o := ownerOf(q.user)
	doc := xml.Header + `<AccessControlPolicy xmlns="` + s3NS + `"><Owner><ID>` + o.ID + `</ID><DisplayName>` +
		xmlEscape(o.DisplayName) + `</DisplayName></Owner><AccessControlList><Grant>` +
		`<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>` + o.ID +
		`</ID><DisplayName>` + xmlEscape(o.DisplayName) + `</DisplayName></Grantee><Permission>FULL_CONTROL</Permission>` +
		`</Grant></AccessControlList></AccessControlPolicy>`
	h := q.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	q.w.WriteHeader(http.StatusOK)
	q.w.Write([]byte(doc))
	return nil
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (q *request) getBucketACL() error {
	if _, err := q.h.st.GetBucket(q.bucket); err != nil {
		return q.fail(err)
	}
	return q.writeACL()
}

func (q *request) putBucketACL() error {
	if _, err := q.h.st.GetBucket(q.bucket); err != nil {
		return q.fail(err)
	}
	return q.putACL()
}

// checkCannedACL accepts no ACL headers or the canned "private" ACL. Object
// Lock settings, which this server cannot keep, are refused here too rather
// than dropped without a word.
func checkCannedACL(h http.Header) error {
	for _, name := range []string{"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date", "X-Amz-Object-Lock-Legal-Hold"} {
		if h.Get(name) != "" {
			return errNotImplemented("S3 Object Lock (" + strings.ToLower(name) + ")")
		}
	}
	for name := range h {
		if strings.HasPrefix(name, "X-Amz-Grant-") {
			return errNotImplemented("ACL grant headers (" + strings.ToLower(name) + "); only the canned ACL private is supported")
		}
	}
	if acl := h.Get("X-Amz-Acl"); acl != "" && acl != "private" {
		return errNotImplemented("the canned ACL " + strconv.Quote(acl) + "; only private is supported")
	}
	return nil
}

// putACL accepts the canned ACL private, or an ACL document that grants
// FULL_CONTROL to canonical users only (what "private" reads back as).
func (q *request) putACL() error {
	if err := checkCannedACL(q.r.Header); err != nil {
		return err
	}
	data, err := q.readBody(maxConfigXML)
	if err != nil {
		return err
	}
	if q.r.Header.Get("X-Amz-Acl") == "" {
		if len(strings.TrimSpace(string(data))) == 0 {
			return newErr(http.StatusBadRequest, "MissingSecurityHeader", "Your request was missing a required header: x-amz-acl or an ACL document.")
		}
		var acl accessControlPolicy
		if err := xml.Unmarshal(data, &acl); err != nil {
			return newErr(http.StatusBadRequest, "MalformedACLError",
				"The XML you provided was not well-formed or did not validate against our published schema (%s).", err.Error())
		}
		for _, g := range acl.Grants {
			if g.Permission != "FULL_CONTROL" || g.Grantee.URI != "" {
				return errNotImplemented("ACL grants other than FULL_CONTROL to the owner; only private is supported")
			}
		}
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) getObjectACL() error {
	if _, err := q.lookupVersion(q.bucket, q.key, q.query.Get("versionId")); err != nil {
		return err
	}
	return q.writeACL()
}

func (q *request) putObjectACL() error {
	if _, err := q.lookupVersion(q.bucket, q.key, q.query.Get("versionId")); err != nil {
		return err
	}
	return q.putACL()
}
