package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Mode is the S3 server-side encryption mode of an object.
type Mode string

// Encryption modes. None means the object is stored in clear.
const (
	None   Mode = ""
	SSEC   Mode = "SSE-C"
	SSES3  Mode = "SSE-S3"
	SSEKMS Mode = "SSE-KMS"
)

// Errors of sealing, unsealing and decryption. They are wrapped with
// details, so test them with errors.Is.
var (
	// ErrMissingCustomerKey: an SSE-C object was read (or SSE-C requested)
	// without a customer key.
	ErrMissingCustomerKey = errors.New("sse: SSE-C customer key required")
	// ErrCustomerKeyMismatch: the customer key's MD5 differs from the one
	// recorded for the object (or from the one the client sent).
	ErrCustomerKeyMismatch = errors.New("sse: SSE-C customer key does not match")
	// ErrDecrypt: authentication failed — wrong key, or tampered, reordered
	// or truncated ciphertext or envelope.
	ErrDecrypt = errors.New("sse: decryption failed")
	// ErrKMSKeyNotFound: the SSE-KMS key id is not in the keyring.
	ErrKMSKeyNotFound = errors.New("sse: KMS key not found")
	// ErrMasterKeyNotFound: an SSE-S3 envelope names a master key id other
	// than the keyring's.
	ErrMasterKeyNotFound = errors.New("sse: SSE-S3 master key not found")
)

// Params is what a request asks for, parsed from its headers. Secrets live
// here only in memory; every way of printing or marshalling Params redacts
// CustomerKey.
type Params struct {
	Mode           Mode
	CustomerKey    []byte // SSE-C: 32 bytes
	CustomerKeyMD5 string // SSE-C: base64 MD5 of CustomerKey, as sent by the client
	KMSKeyID       string // SSE-KMS: key id; empty = keyring default
	KMSContext     string // SSE-KMS: base64 JSON encryption context as sent (x-amz-server-side-encryption-context), may be empty
}

// String describes p with the customer key redacted.
func (p Params) String() string {
	var b strings.Builder
	b.WriteString("sse.Params{Mode:")
	if p.Mode == None {
		b.WriteString("none")
	} else {
		b.WriteString(string(p.Mode))
	}
	if p.CustomerKey != nil {
		fmt.Fprintf(&b, " CustomerKey:[REDACTED %d bytes]", len(p.CustomerKey))
	}
	if p.CustomerKeyMD5 != "" {
		fmt.Fprintf(&b, " CustomerKeyMD5:%s", p.CustomerKeyMD5)
	}
	if p.KMSKeyID != "" {
		fmt.Fprintf(&b, " KMSKeyID:%q", p.KMSKeyID)
	}
	if p.KMSContext != "" {
		fmt.Fprintf(&b, " KMSContext:%s", p.KMSContext)
	}
	b.WriteString("}")
	return b.String()
}

// Format makes every fmt verb, %#v and %d included, print [Params.String].
func (p Params) Format(f fmt.State, _ rune) {
	io.WriteString(f, p.String())
}

// MarshalJSON marshals p with the customer key redacted, for structured
// loggers; Params is never meant to be stored.
func (p Params) MarshalJSON() ([]byte, error) {
	var redacted string
	if p.CustomerKey != nil {
		redacted = fmt.Sprintf("[REDACTED %d bytes]", len(p.CustomerKey))
	}
	return json.Marshal(struct {
		Mode           Mode   `json:"mode"`
		CustomerKey    string `json:"customerKey,omitempty"`
		CustomerKeyMD5 string `json:"customerKeyMd5,omitempty"`
		KMSKeyID       string `json:"kmsKeyId,omitempty"`
		KMSContext     string `json:"kmsContext,omitempty"`
	}{p.Mode, redacted, p.CustomerKeyMD5, p.KMSKeyID, p.KMSContext})
}

// Envelope is stored with an object or multipart upload; it never contains
// a secret in clear. All its fields are authenticated by SealedKey.
type Envelope struct {
	Mode           Mode   `json:"mode"`
	KeyID          string `json:"keyId,omitempty"`          // SSE-S3: master key id; SSE-KMS: KMS key id
	SealedKey      []byte `json:"sealedKey"`                // the per-object data key, sealed (AES-256-GCM) with the key-encryption key
	CustomerKeyMD5 string `json:"customerKeyMd5,omitempty"` // SSE-C: lets the server say "wrong key" before decrypting
	KMSContext     string `json:"kmsContext,omitempty"`
}

// DataKey is a per-object (per-upload) random 32-byte data key.
type DataKey [KeySize]byte

// Format redacts the key for every fmt verb; use dk[:] for the bytes.
func (DataKey) Format(f fmt.State, _ rune) {
	io.WriteString(f, "sse.DataKey[REDACTED]")
}

// KeyMD5 returns the base64 MD5 of key, as S3 clients send it in
// x-amz-server-side-encryption-customer-key-MD5.
func KeyMD5(key []byte) string {
	sum := md5.Sum(key)
	return base64.StdEncoding.EncodeToString(sum[:])
}

const (
	keyNonceSize  = 12
	sealedKeySize = keyNonceSize + KeySize + tagSize
)

// Seal makes a fresh random data key and seals it: SSE-C with the customer
// key, SSE-S3 with the master key, SSE-KMS with the named KMS key (empty
// id = [Keyring.DefaultKMSKeyID]; unknown id → [ErrKMSKeyNotFound]). For
// SSE-C a non-empty p.CustomerKeyMD5 must match the key
// ([ErrCustomerKeyMismatch]). Mode None is an error.
func (k *Keyring) Seal(p Params) (*Envelope, DataKey, error) {
	env := &Envelope{Mode: p.Mode}
	var kek []byte
	switch p.Mode {
	case SSEC:
		if len(p.CustomerKey) == 0 {
			return nil, DataKey{}, ErrMissingCustomerKey
		}
		if len(p.CustomerKey) != KeySize {
			return nil, DataKey{}, fmt.Errorf("sse: SSE-C customer key is %d bytes, want %d", len(p.CustomerKey), KeySize)
		}
		env.CustomerKeyMD5 = KeyMD5(p.CustomerKey)
		if p.CustomerKeyMD5 != "" && p.CustomerKeyMD5 != env.CustomerKeyMD5 {
			return nil, DataKey{}, fmt.Errorf("%w: key MD5 sent by the client differs from the key's", ErrCustomerKeyMismatch)
		}
		kek = p.CustomerKey
	case SSES3:
		env.KeyID = k.MasterKeyID()
		key, ok := k.masterKey(env.KeyID)
		if !ok {
			return nil, DataKey{}, fmt.Errorf("%w: keyring has no master key", ErrMasterKeyNotFound)
		}
		kek = key[:]
	case SSEKMS:
		id, key, ok := k.kmsKey(p.KMSKeyID)
		if !ok {
			return nil, DataKey{}, fmt.Errorf("%w: %q", ErrKMSKeyNotFound, id)
		}
		env.KeyID, env.KMSContext = id, p.KMSContext
		kek = key[:]
	case None:
		return nil, DataKey{}, errors.New("sse: cannot seal a data key for mode None")
	default:
		return nil, DataKey{}, fmt.Errorf("sse: unknown mode %q", p.Mode)
	}
	var dk DataKey
	rand.Read(dk[:])
	aead := keyAEAD(kek, env.Mode)
	sealed := make([]byte, keyNonceSize, sealedKeySize)
	rand.Read(sealed)
	env.SealedKey = aead.Seal(sealed, sealed, dk[:], envelopeAD(env))
	return env, dk, nil
}

// Unseal recovers the data key of e. For SSE-C, p must carry the customer
// key: missing → [ErrMissingCustomerKey]; MD5 of the given key differing
// from the envelope's → [ErrCustomerKeyMismatch], checked before any
// decryption. SSE-S3 and SSE-KMS ignore p, so reading them needs no request
// headers (a caller wanting S3's refusal of SSE-C headers on such objects
// must check p itself). A wrong key or tampered envelope → [ErrDecrypt].
func (k *Keyring) Unseal(e *Envelope, p Params) (DataKey, error) {
	if e == nil {
		return DataKey{}, errors.New("sse: nil envelope")
	}
	var kek []byte
	switch e.Mode {
	case SSEC:
		if len(p.CustomerKey) == 0 {
			return DataKey{}, ErrMissingCustomerKey
		}
		if e.CustomerKeyMD5 != "" && KeyMD5(p.CustomerKey) != e.CustomerKeyMD5 {
			return DataKey{}, ErrCustomerKeyMismatch
		}
		kek = p.CustomerKey
	case SSES3:
		key, ok := k.masterKey(e.KeyID)
		if !ok {
			return DataKey{}, fmt.Errorf("%w: %q", ErrMasterKeyNotFound, e.KeyID)
		}
		kek = key[:]
	case SSEKMS:
		if e.KeyID == "" {
			return DataKey{}, fmt.Errorf("%w: SSE-KMS envelope without key id", ErrDecrypt)
		}
		_, key, ok := k.kmsKey(e.KeyID)
		if !ok {
			return DataKey{}, fmt.Errorf("%w: %q", ErrKMSKeyNotFound, e.KeyID)
		}
		kek = key[:]
	case None:
		return DataKey{}, errors.New("sse: envelope of mode None has no data key")
	default:
		return DataKey{}, fmt.Errorf("sse: unknown envelope mode %q", e.Mode)
	}
	if len(e.SealedKey) != sealedKeySize {
		return DataKey{}, fmt.Errorf("%w: sealed key is %d bytes, want %d", ErrDecrypt, len(e.SealedKey), sealedKeySize)
	}
	var dk DataKey
	nonce, sealed := e.SealedKey[:keyNonceSize], e.SealedKey[keyNonceSize:]
	if _, err := keyAEAD(kek, e.Mode).Open(dk[:0], nonce, sealed, envelopeAD(e)); err != nil {
		return DataKey{}, fmt.Errorf("%w: %s envelope does not open with key %q", ErrDecrypt, e.Mode, e.KeyID)
	}
	return dk, nil
}

// keyAEAD returns AES-256-GCM under a key-encryption key derived from key
// and mode, so that the same bytes used as, say, an SSE-C key and a KMS key
// never yield the same sealing key.
func keyAEAD(key []byte, mode Mode) cipher.AEAD {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("replcheck/sse/v1 key-encryption-key\x00"))
	mac.Write([]byte(mode))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		panic(err) // unreachable: the key is 32 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err) // unreachable: standard nonce and tag sizes
	}
	return aead
}

// envelopeAD binds the envelope's clear fields to its sealed key. Fields are
// length-prefixed so that no two envelopes share an encoding.
func envelopeAD(e *Envelope) []byte {
	ad := []byte("replcheck/sse/v1 envelope")
	for _, f := range []string{string(e.Mode), e.KeyID, e.CustomerKeyMD5, e.KMSContext} {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(f)))
		ad = append(ad, f...)
	}
	return ad
}

// SaltSize is the length of a part salt.
const SaltSize = 16

// NewSalt returns a random part salt.
func NewSalt() []byte {
	s := make([]byte, SaltSize)
	if _, err := rand.Read(s); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return s
}

// PartKey derives the key of one upload of a multipart part from the
// upload's data key and a salt stored with the part. Nonces depend only on
// part number and chunk index, so a client that uploads the same part number
// twice must get a different key the second time; the salt gives it one.
func (dk DataKey) PartKey(salt []byte) DataKey {
	if len(salt) == 0 {
		return dk
	}
	m := hmac.New(sha256.New, dk[:])
	m.Write([]byte("replcheck part key\x00"))
	m.Write(salt)
	var out DataKey
	copy(out[:], m.Sum(nil))
	return out
}
