package replication

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/replcheck/replcheck/engine/hlc"
	"github.com/replcheck/replcheck/engine/store"
)

// The internal API between sites. One POST per change to ApplyPath: the
// shipment (JSON, base64) and its HMAC in headers, the version's stored
// bytes, part after part, as the body. Authentication is a secret shared by
// the sites of a topology; shipments are idempotent, so a retry after a
// lost acknowledgement is harmless.
const (
	ApplyPath   = "/replication/v1/apply"
	StatusPath  = "/replication/v1/status"
	MetricsPath = "/metrics"

	headerShipment  = "X-Replcheck-Shipment"
	headerSignature = "X-Replcheck-Signature"
)

// shipment describes one change on the wire.
type shipment struct {
	Kind    store.ChangeKind `json:"kind"`
	From    string           `json:"from"` // sending site
	Bucket  *store.Bucket    `json:"bucketConfig,omitempty"`
	Version *store.Version   `json:"version,omitempty"` // parts carry sizes; blob ids are the sender's and ignored
	// For deletes:
	Name      string        `json:"bucket,omitempty"`
	Key       string        `json:"key,omitempty"`
	VersionID string        `json:"versionId,omitempty"`
	Stamp     hlc.Timestamp `json:"stamp,omitempty"`
}

// ack is the receiver's answer.
type ack struct {
	Applied bool   `json:"applied"`
	Error   string `json:"error,omitempty"`
	Code    string `json:"code,omitempty"`
}

// Codes in an ack's Code.
const (
	codeNoSuchBucket = "NoSuchBucket" // retry later: the bucket's own change has not arrived yet
	codeBadRequest   = "BadRequest"
	codeAuth         = "AuthFailed"
	codeInternal     = "Internal"
)

func sign(secret, data []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

func encodeShipment(secret []byte, s *shipment, h http.Header) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	h.Set(headerShipment, base64.StdEncoding.EncodeToString(data))
	h.Set(headerSignature, sign(secret, data))
	return nil
}

var errAuth = errors.New("shipment signature does not match: the sites do not share a replication secret")

func decodeShipment(secret []byte, h http.Header) (*shipment, error) {
	data, err := base64.StdEncoding.DecodeString(h.Get(headerShipment))
	if err != nil || len(data) == 0 {
		return nil, fmt.Errorf("missing or malformed %s header", headerShipment)
	}
	if !hmac.Equal([]byte(sign(secret, data)), []byte(h.Get(headerSignature))) {
		return nil, errAuth
	}
	s := new(shipment)
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("shipment: %w", err)
	}
	return s, nil
}
