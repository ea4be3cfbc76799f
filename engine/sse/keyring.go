package sse

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
)

// KeySize is the size of every key this package handles: SSE-C customer
// keys, the SSE-S3 master key, SSE-KMS keys and data keys (AES-256).
const KeySize = 32

// Names given to the keys of [GenerateKeyring].
const (
	GeneratedMasterKeyID = "master-1"
	GeneratedKMSKeyID    = "replcheck-default"
)

// keyringVersion is the version of the JSON form written by MarshalJSON.
const keyringVersion = 1

// Keyring holds a site's key-encryption keys: one SSE-S3 master key (with an
// id) and any number of SSE-KMS keys by id. Sites of one topology share a
// keyring (like a shared KMS), so an envelope sealed at one site can be
// unsealed at the other. A Keyring is safe for concurrent use.
type Keyring struct {
	mu         sync.RWMutex
	masterID   string
	master     [KeySize]byte
	kms        map[string][KeySize]byte
	defaultKMS string // first KMS key added unless changed
}

// NewKeyring returns a keyring with the given SSE-S3 master key and no
// SSE-KMS keys.
func NewKeyring(masterKeyID string, masterKey []byte) (*Keyring, error) {
	if masterKeyID == "" {
		return nil, fmt.Errorf("sse: empty master key id")
	}
	if len(masterKey) != KeySize {
		return nil, fmt.Errorf("sse: master key %q is %d bytes, want %d", masterKeyID, len(masterKey), KeySize)
	}
	k := &Keyring{masterID: masterKeyID, kms: make(map[string][KeySize]byte)}
	copy(k.master[:], masterKey)
	return k, nil
}

// GenerateKeyring returns a keyring with a random master key named
// [GeneratedMasterKeyID] and one random SSE-KMS key named [GeneratedKMSKeyID],
// which is the default KMS key.
func GenerateKeyring() *Keyring {
	k := &Keyring{masterID: GeneratedMasterKeyID, kms: make(map[string][KeySize]byte)}
	rand.Read(k.master[:])
	var kmsKey [KeySize]byte
	rand.Read(kmsKey[:])
	k.kms[GeneratedKMSKeyID] = kmsKey
	k.defaultKMS = GeneratedKMSKeyID
	return k
}

// AddKMSKey adds an SSE-KMS key. The first key added becomes the default.
// Adding an id again with the same key is a no-op; with a different key it
// is an error, since envelopes sealed under the old key would become
// unreadable.
func (k *Keyring) AddKMSKey(id string, key []byte) error {
	if id == "" {
		return fmt.Errorf("sse: empty KMS key id")
	}
	if len(key) != KeySize {
		return fmt.Errorf("sse: KMS key %q is %d bytes, want %d", id, len(key), KeySize)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.kms[id]; ok {
		if !bytes.Equal(old[:], key) {
			return fmt.Errorf("sse: KMS key %q already exists with different key material", id)
		}
		return nil
	}
	var kk [KeySize]byte
	copy(kk[:], key)
	if k.kms == nil {
		k.kms = make(map[string][KeySize]byte)
	}
	k.kms[id] = kk
	if k.defaultKMS == "" {
		k.defaultKMS = id
	}
	return nil
}

// SetDefaultKMSKey makes id, which must be in the keyring, the key used when
// SSE-KMS is requested without a key id.
func (k *Keyring) SetDefaultKMSKey(id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.kms[id]; !ok {
		return fmt.Errorf("%w: %q", ErrKMSKeyNotFound, id)
	}
	k.defaultKMS = id
	return nil
}

// DefaultKMSKeyID returns the id of the SSE-KMS key used when SSE-KMS is
// requested without a key id, or "" if the keyring has no KMS keys.
func (k *Keyring) DefaultKMSKeyID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.defaultKMS
}

// KMSKeyIDs returns the ids of the SSE-KMS keys, sorted.
func (k *Keyring) KMSKeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, 0, len(k.kms))
	for id := range k.kms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// MasterKeyID returns the id of the SSE-S3 master key.
func (k *Keyring) MasterKeyID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.masterID
}

// masterKey returns the SSE-S3 master key if its id is id. A zero Keyring
// has no master key, rather than an all-zero one.
func (k *Keyring) masterKey(id string) ([KeySize]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.master, k.masterID != "" && id == k.masterID
}

// kmsKey resolves id ("" = default) and returns the resolved id and key.
func (k *Keyring) kmsKey(id string) (string, [KeySize]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if id == "" {
		id = k.defaultKMS
	}
	key, ok := k.kms[id]
	return id, key, ok
}

// keyringJSON is the file form of a Keyring. []byte fields are base64.
type keyringJSON struct {
	Version         int               `json:"version"`
	MasterKeyID     string            `json:"masterKeyId"`
	MasterKey       []byte            `json:"masterKey"`
	DefaultKMSKeyID string            `json:"defaultKmsKeyId,omitempty"`
	KMSKeys         map[string][]byte `json:"kmsKeys,omitempty"`
}

// MarshalJSON returns the keyring, key material included (base64), in the
// form [ParseKeyring] reads. The result is a secret: write it to a file
// only readable by the processes that share the keyring.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	j := keyringJSON{
		Version:         keyringVersion,
		MasterKeyID:     k.masterID,
		MasterKey:       slices.Clone(k.master[:]),
		DefaultKMSKeyID: k.defaultKMS,
		KMSKeys:         make(map[string][]byte, len(k.kms)),
	}
	for id, key := range k.kms {
		j.KMSKeys[id] = slices.Clone(key[:])
	}
	return json.Marshal(j)
}

// ParseKeyring reads a keyring written by [Keyring.MarshalJSON]. Unknown
// fields are rejected so that a misspelt field is not silently ignored.
func ParseKeyring(data []byte) (*Keyring, error) {
	var j keyringJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("sse: parsing keyring: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("sse: parsing keyring: trailing data after the JSON object")
	}
	if j.Version != keyringVersion {
		return nil, fmt.Errorf("sse: parsing keyring: unsupported version %d, want %d", j.Version, keyringVersion)
	}
	k, err := NewKeyring(j.MasterKeyID, j.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("sse: parsing keyring: %w", err)
	}
	ids := make([]string, 0, len(j.KMSKeys))
	for id := range j.KMSKeys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := k.AddKMSKey(id, j.KMSKeys[id]); err != nil {
			return nil, fmt.Errorf("sse: parsing keyring: %w", err)
		}
	}
	if j.DefaultKMSKeyID != "" {
		if err := k.SetDefaultKMSKey(j.DefaultKMSKeyID); err != nil {
			return nil, fmt.Errorf("sse: parsing keyring: default KMS key: %w", err)
		}
	} else if len(ids) > 0 {
		return nil, fmt.Errorf("sse: parsing keyring: defaultKmsKeyId missing")
	}
	return k, nil
}

// String describes the keyring without its key material.
func (k *Keyring) String() string {
	return fmt.Sprintf("sse.Keyring{master:%q kms:%q default:%q}", k.MasterKeyID(), k.KMSKeyIDs(), k.DefaultKMSKeyID())
}

// Format makes every fmt verb print [Keyring.String], so that no verb can
// print key material.
func (k *Keyring) Format(f fmt.State, _ rune) {
	io.WriteString(f, k.String())
}
