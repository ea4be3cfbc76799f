package s3api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/replcheck/replcheck/engine/endpoint"
)

// s3NS is the namespace of every S3 XML document.
const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// xmlTime formats t as S3 does in XML bodies (ISO 8601, milliseconds, UTC).
func xmlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type errorDoc struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	UploadID   string   `xml:"UploadId,omitempty"`
	Resource   string   `xml:"Resource"`
	RequestID  string   `xml:"RequestId"`
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

// ownerOf returns the canonical owner S3 shows for u: a stable 64-hex id
// derived from the account, and the account as display name.
func ownerOf(u endpoint.User) owner {
	sum := sha256.Sum256([]byte("replcheck owner\x00" + u.Account))
	name := u.Account
	if name == "" {
		name = u.Name
	}
	return owner{ID: hex.EncodeToString(sum[:]), DisplayName: name}
}

// writeXML sends v as a 200 XML document.
func (q *request) writeXML(v any) error {
	q.writeXMLStatus(http.StatusOK, v)
	return nil
}

func (q *request) writeXMLStatus(status int, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		// Only a bug in a response type gets here.
		q.h.log.Error("s3: encoding XML response", "request_id", q.id, "error", err.Error())
		buf.Reset()
		buf.WriteString(xml.Header + "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>")
		status = http.StatusInternalServerError
	}
	h := q.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	q.w.WriteHeader(status)
	if q.r.Method != http.MethodHead {
		q.w.Write(buf.Bytes())
	}
}

// readXML reads a request body of at most limit bytes and decodes it into
// v. Body read errors (signature, length) come back as they are; anything
// the decoder refuses is MalformedXML.
func (q *request) readXML(limit int64, v any) error {
	data, err := q.readBody(limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errMalformedXML("empty request body")
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return errMalformedXML(err.Error())
	}
	return nil
}

// readBody reads the whole (verified) request body, refusing bodies longer
// than limit. A client-declared Content-MD5 is checked.
func (q *request) readBody(limit int64) ([]byte, error) {
	if q.auth.DecodedLength > limit {
		return nil, errMalformedXML("request body too large")
	}
	data, err := io.ReadAll(io.LimitReader(q.auth.Body, limit+1))
	if err != nil {
		return nil, q.bodyError(err)
	}
	if int64(len(data)) > limit {
		return nil, errMalformedXML("request body too large")
	}
	if want, err := q.contentMD5(); err != nil {
		return nil, err
	} else if want != nil && !bytes.Equal(want, md5Sum(data)) {
		return nil, newErr(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
	}
	return data, nil
}

// bodyError maps a failure to read the request body.
func (q *request) bodyError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return newErr(http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	return err
}
