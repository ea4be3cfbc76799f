// Package sse implements S3 server-side encryption for the reference engine:
// SSE-C (customer-provided keys), SSE-S3 (a site master key) and SSE-KMS
// (named keys in a keyring that stands in for a KMS).
//
// # Keys
//
// Every object (or multipart upload) gets a fresh random 32-byte [DataKey].
// The data key is sealed with AES-256-GCM under a key-encryption key — the
// SSE-C customer key, the SSE-S3 master key or an SSE-KMS key, each run
// through HMAC-SHA256 for domain separation — and stored as an [Envelope]
// next to the object. The envelope's mode, key id, customer key MD5 and KMS
// context are authenticated as additional data, so editing any of them makes
// [Keyring.Unseal] fail with [ErrDecrypt]. Sites of one topology share a
// [Keyring], so an object replicated together with its envelope can be read
// at either site.
//
// # Stream format
//
// The plaintext of one part (a single-part object is part 1) is cut into
// [ChunkSize] chunks; each chunk is sealed with AES-256-GCM under the data key
// and stored as ciphertext followed by its 16-byte tag. There is no header:
//
//	nonce = uint32be(part) || uint64be(chunk index)
//	ad    = uint32be(part) || uint64be(chunk index) || final flag (1 byte)
//
// Only the last chunk carries the final flag and only it may be shorter than
// ChunkSize; an empty part is a single empty final chunk. Hence reordered
// chunks, chunks moved between parts and truncation at a chunk boundary all
// fail authentication, and a byte range can be decrypted by reading only the
// chunks that cover it.
//
// Because nonces are derived rather than random, a (data key, part number)
// pair must encrypt one plaintext only: a part number re-uploaded within one
// multipart upload reuses nonces. See [EncryptReader].
package sse
