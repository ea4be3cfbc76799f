// Package objio moves object data between a front end and the store:
// hashing, optional server-side encryption and part layout on the way in,
// decryption of byte ranges on the way out. The S3 and Swift front ends
// both use it, so an object written through one reads the same through the
// other.
package objio

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// Errors about a request body.
var (
	ErrBadDigest      = errors.New("the Content-MD5 or ETag you specified did not match what was received")
	ErrIncompleteBody = errors.New("the body is shorter or longer than its declared length")
	ErrCorrupt        = errors.New("stored data does not match its metadata")
)

// PutInput is a new object (or part) to write.
type PutInput struct {
	Body       io.Reader
	Size       int64            // declared plaintext size; -1 when unknown
	ContentMD5 []byte           // raw MD5 the client declared, if any
	Meta       store.ObjectMeta // content type, headers, user metadata
	Encryption sse.Params       // Mode None stores plaintext
}

// countingHash hashes and counts what passes through it.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// writePart streams in.Body to a new blob, encrypted under dk when dk is
// not nil, and returns the stored part. ETags follow S3: MD5 of the
// plaintext, except for modes whose ETag is the MD5 of the stored bytes.
func writePart(st *store.Store, dk *sse.DataKey, salt []byte, mode sse.Mode, number int, in PutInput) (store.Part, error) {
	plain := &countingHash{h: md5.New()}
	var r io.Reader = io.TeeReader(in.Body, plain)
	stored := &countingHash{h: md5.New()}
	if dk != nil {
		r = sse.EncryptReader(dk.PartKey(salt), number, r)
	}
	r = io.TeeReader(r, stored)
	id, size, err := st.WriteBlob(r)
	if err != nil {
		return store.Part{}, err
	}
	sum := plain.h.Sum(nil)
	switch {
	case in.Size >= 0 && plain.n != in.Size:
		err = fmt.Errorf("%w: declared %d bytes, received %d", ErrIncompleteBody, in.Size, plain.n)
	case in.ContentMD5 != nil && !bytes.Equal(in.ContentMD5, sum):
		err = ErrBadDigest
	}
	if err != nil {
		st.RemoveBlob(id)
		return store.Part{}, err
	}
	etag := hex.EncodeToString(sum)
	if !sse.ETagIsPlainMD5(mode) {
		etag = hex.EncodeToString(stored.h.Sum(nil))
	}
	return store.Part{Number: number, Blob: id, Size: size, PlainSize: plain.n, ETag: etag, Salt: salt}, nil
}

// Put writes a single-part object and makes it the latest version of key.
func Put(st *store.Store, kr *sse.Keyring, bucket, key string, in PutInput) (*store.Version, error) {
	meta := in.Meta
	meta.SSE, meta.Parts, meta.Multipart = nil, nil, false
	var dk *sse.DataKey
	if in.Encryption.Mode != sse.None {
		env, key, err := kr.Seal(in.Encryption)
		if err != nil {
			return nil, err
		}
		meta.SSE, dk = env, &key
	}
	// A single-part object has a fresh data key of its own: no salt needed.
	p, err := writePart(st, dk, nil, in.Encryption.Mode, 1, in)
	if err != nil {
		return nil, err
	}
	meta.Parts = []store.Part{p}
	meta.Size = p.PlainSize
	meta.ETag = p.ETag
	return st.CommitObject(bucket, key, meta)
}

// CreateUpload starts a multipart upload; with encryption its data key is
// sealed once here and every part is encrypted under it.
func CreateUpload(st *store.Store, kr *sse.Keyring, bucket, key string, meta store.ObjectMeta, enc sse.Params) (*store.Upload, error) {
	meta.SSE = nil
	if enc.Mode != sse.None {
		env, _, err := kr.Seal(enc)
		if err != nil {
			return nil, err
		}
		meta.SSE = env
	}
	return st.CreateUpload(bucket, key, meta)
}

// PutPart writes part number n of an upload. For SSE-C uploads enc must
// carry the same customer key as the upload was created with.
func PutPart(st *store.Store, kr *sse.Keyring, bucket, key, uploadID string, n int, in PutInput) (store.Part, error) {
	u, err := st.GetUpload(bucket, key, uploadID)
	if err != nil {
		return store.Part{}, err
	}
	var dk *sse.DataKey
	var salt []byte
	mode := sse.None
	if u.Meta.SSE != nil {
		k, err := kr.Unseal(u.Meta.SSE, in.Encryption)
		if err != nil {
			return store.Part{}, err
		}
		dk, mode, salt = &k, u.Meta.SSE.Mode, sse.NewSalt()
	}
	p, err := writePart(st, dk, salt, mode, n, in)
	if err != nil {
		return store.Part{}, err
	}
	if err := st.PutPart(bucket, key, uploadID, p); err != nil {
		return store.Part{}, err
	}
	return p, nil
}

// Open returns the plaintext bytes [off, off+length) of v. enc carries the
// customer key for SSE-C objects; SSE-S3 and SSE-KMS need nothing. Key
// problems (missing or wrong SSE-C key) are reported here, before any data.
func Open(st *store.Store, kr *sse.Keyring, v *store.Version, enc sse.Params, off, length int64) (io.ReadCloser, error) {
	if off < 0 || length < 0 || off+length > v.Size {
		return nil, fmt.Errorf("range %d+%d outside object of %d bytes", off, length, v.Size)
	}
	var dk sse.DataKey
	if v.SSE != nil {
		k, err := kr.Unseal(v.SSE, enc)
		if err != nil {
			return nil, err
		}
		dk = k
	}
	data, err := st.Open(v)
	if err != nil {
		return nil, err
	}
	if v.SSE == nil {
		if data.Size() != v.Size {
			data.Close()
			return nil, fmt.Errorf("%w: %s/%s holds %d bytes, metadata says %d", ErrCorrupt, v.Bucket, v.Key, data.Size(), v.Size)
		}
		return readCloser{io.NewSectionReader(data, off, length), data}, nil
	}
	// Each part is its own encrypted stream; read the ones the range covers.
	var readers []io.Reader
	var start int64
	for i, p := range v.Parts {
		plainSize, err := sse.PlaintextSize(data.PartSize(i))
		if err != nil || plainSize != p.PlainSize {
			data.Close()
			return nil, fmt.Errorf("%w: %s/%s part %d holds %d stored bytes for %d plaintext bytes",
				ErrCorrupt, v.Bucket, v.Key, p.Number, data.PartSize(i), p.PlainSize)
		}
		end := start + p.PlainSize
		if off < end && off+length > start || length == 0 && i == 0 {
			from := max(off, start) - start
			to := min(off+length, end) - start
			readers = append(readers, &lazyPart{dk: dk.PartKey(p.Salt), number: p.Number, src: data.Part(i),
				size: data.PartSize(i), off: from, length: to - from})
		}
		start = end
	}
	return readCloser{io.MultiReader(readers...), data}, nil
}

// lazyPart opens a part's decrypting reader on first read, so a ranged
// read across many parts does no work for parts it has not reached yet.
type lazyPart struct {
	dk          sse.DataKey
	number      int
	src         io.ReaderAt
	size        int64
	off, length int64
	r           io.Reader
}

func (l *lazyPart) Read(p []byte) (int, error) {
	if l.r == nil {
		r, err := sse.NewDecryptReader(l.dk, l.number, l.src, l.size, l.off, l.length)
		if err != nil {
			return 0, err
		}
		l.r = r
	}
	return l.r.Read(p)
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }
