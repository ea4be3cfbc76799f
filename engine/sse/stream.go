package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// ChunkSize is the plaintext size of every chunk of a part but the last.
const ChunkSize = 64 << 10

const (
	tagSize         = 16 // AES-GCM tag appended to every chunk
	sealedChunkSize = ChunkSize + tagSize
	streamNonceSize = 12
	streamADSize    = 4 + 8 + 1
)

// CiphertextSize returns the stored size of a part with plainSize bytes of
// plaintext. It panics if plainSize is negative.
func CiphertextSize(plainSize int64) int64 {
	if plainSize < 0 {
		panic("sse: negative plaintext size")
	}
	return plainSize + numChunks(plainSize)*tagSize
}

// PlaintextSize is the inverse of [CiphertextSize]. It fails for sizes that
// CiphertextSize never returns (such as anything below 16 bytes), which
// signals a truncated or padded ciphertext.
func PlaintextSize(cipherSize int64) (int64, error) {
	full, rem := cipherSize/sealedChunkSize, cipherSize%sealedChunkSize
	switch {
	case cipherSize < tagSize:
		return 0, fmt.Errorf("sse: impossible ciphertext size %d: below one tag", cipherSize)
	case rem == 0:
		return full * ChunkSize, nil
	case rem < tagSize || (rem == tagSize && full > 0):
		// An empty final chunk only exists for an empty part.
		return 0, fmt.Errorf("sse: impossible ciphertext size %d: partial last chunk", cipherSize)
	}
	return full*ChunkSize + rem - tagSize, nil
}

// numChunks is the number of chunks of a part: at least one, for the empty
// final chunk of an empty part.
func numChunks(plainSize int64) int64 {
	if plainSize == 0 {
		return 1
	}
	return (plainSize + ChunkSize - 1) / ChunkSize
}

func checkPart(part int) (uint32, error) {
	if part < 1 || int64(part) > math.MaxUint32 {
		return 0, fmt.Errorf("sse: invalid part number %d", part)
	}
	return uint32(part), nil
}

// chunkCipher holds what sealing or opening one chunk needs, so that the hot
// path allocates nothing.
type chunkCipher struct {
	aead  cipher.AEAD
	part  uint32
	nonce [streamNonceSize]byte
	ad    [streamADSize]byte
}

func newChunkCipher(dk DataKey, part uint32) (*chunkCipher, error) {
	block, err := aes.NewCipher(dk[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &chunkCipher{aead: aead, part: part}, nil
}

func (c *chunkCipher) setChunk(idx uint64, final bool) {
	binary.BigEndian.PutUint32(c.nonce[0:], c.part)
	binary.BigEndian.PutUint64(c.nonce[4:], idx)
	binary.BigEndian.PutUint32(c.ad[0:], c.part)
	binary.BigEndian.PutUint64(c.ad[4:], idx)
	c.ad[12] = 0
	if final {
		c.ad[12] = 1
	}
}

// EncryptReader returns a reader of the ciphertext of part number part
// (1-based; a single-part object is part 1) of an object whose data key is
// dk. It holds one chunk in memory at a time and reads one byte ahead of the
// chunk it seals, to learn whether that chunk is the last.
//
// The ciphertext is exactly CiphertextSize(n) bytes for n bytes of plaintext.
// Errors from plaintext are returned as they are; an invalid part number is
// reported by the first Read. The reader implements [io.WriterTo], so
// io.Copy avoids an extra copy.
//
// Each (dk, part) pair must be used for one plaintext only: chunk nonces are
// derived from the part number and chunk index, so encrypting different data
// as the same part under the same data key reuses nonces.
func EncryptReader(dk DataKey, part int, plaintext io.Reader) io.Reader {
	p, err := checkPart(part)
	if err != nil {
		return &encReader{err: err}
	}
	c, err := newChunkCipher(dk, p)
	if err != nil {
		return &encReader{err: err}
	}
	return &encReader{
		c:   c,
		src: plaintext,
		buf: make([]byte, sealedChunkSize),
	}
}

type encReader struct {
	c       *chunkCipher
	src     io.Reader
	buf     []byte // one chunk: plaintext, then sealed in place
	out     []byte // sealed bytes of buf not yet returned
	idx     uint64
	peek    [1]byte // first byte of the next chunk, read to detect the end
	hasPeek bool
	done    bool  // the final chunk has been sealed
	err     error // sticky; io.EOF once out is drained after the final chunk
}

func (r *encReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// WriteTo writes the remaining ciphertext to w chunk by chunk.
func (r *encReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.out) > 0 {
			n, err := w.Write(r.out)
			total += int64(n)
			r.out = r.out[n:]
			if err != nil {
				return total, err
			}
			if len(r.out) > 0 {
				return total, io.ErrShortWrite
			}
		}
		if r.err != nil {
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		r.fill()
	}
}

// fill seals the next chunk into r.out, or sets r.err.
func (r *encReader) fill() {
	if r.done {
		r.err = io.EOF
		return
	}
	n := 0
	if r.hasPeek {
		r.buf[0] = r.peek[0]
		n, r.hasPeek = 1, false
	}
	m, err := io.ReadFull(r.src, r.buf[n:ChunkSize])
	n += m
	final := false
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		final = true
	case err != nil:
		r.err = err
		return
	default:
		// A full chunk is the last one only if nothing follows it.
		_, err := io.ReadFull(r.src, r.peek[:])
		switch {
		case err == io.EOF:
			final = true
		case err != nil:
			r.err = err
			return
		default:
			r.hasPeek = true
		}
	}
	r.c.setChunk(r.idx, final)
	r.out = r.c.aead.Seal(r.buf[:0], r.c.nonce[:], r.buf[:n], r.c.ad[:])
	r.idx++
	r.done = final
}

// NewDecryptReader returns a reader of plaintext bytes [off, off+length) of
// part number part of an object whose data key is dk. src holds the part's
// whole ciphertext, cipherSize bytes, at offsets relative to the part's start.
// Only the chunks covering the range are read and authenticated; for an
// empty part (length 0) its empty final chunk is still checked.
//
// The constructor decrypts the first chunk of the range before returning,
// so a wrong data key or part number is reported before any byte is
// served; later authentication failures come from Read. Both wrap
// [ErrDecrypt], as does a cipherSize that no plaintext size maps to or a
// src shorter than cipherSize. Other read errors from src are returned as
// they are. The reader implements [io.WriterTo].
func NewDecryptReader(dk DataKey, part int, src io.ReaderAt, cipherSize, off, length int64) (io.Reader, error) {
	p, err := checkPart(part)
	if err != nil {
		return nil, err
	}
	plainSize, err := PlaintextSize(cipherSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	if off < 0 || length < 0 || off > plainSize || length > plainSize-off {
		return nil, fmt.Errorf("sse: range [%d, +%d) outside plaintext of %d bytes", off, length, plainSize)
	}
	c, err := newChunkCipher(dk, p)
	if err != nil {
		return nil, err
	}
	r := &decReader{
		c:         c,
		src:       src,
		plainSize: plainSize,
		last:      numChunks(plainSize) - 1,
		next:      off / ChunkSize,
		skip:      int(off % ChunkSize),
		remain:    length,
	}
	if length == 0 && plainSize > 0 {
		return r, nil
	}
	// For an empty part this authenticates its empty final chunk, so that a
	// damaged or misplaced empty part is not silently accepted.
	r.buf = make([]byte, min(sealedChunkSize, cipherSize))
	r.fill()
	if r.err != nil && r.err != io.EOF {
		return nil, r.err
	}
	return r, nil
}

type decReader struct {
	c         *chunkCipher
	src       io.ReaderAt
	plainSize int64
	last      int64 // index of the final chunk
	next      int64 // index of the next chunk to decrypt
	skip      int   // bytes to drop from the start of the next chunk
	remain    int64 // plaintext bytes still to decrypt into out
	buf       []byte
	out       []byte // decrypted bytes of buf not yet returned
	err       error  // sticky; io.EOF at the end of the range
}

func (r *decReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// WriteTo writes the remaining plaintext of the range to w chunk by chunk.
func (r *decReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.out) > 0 {
			n, err := w.Write(r.out)
			total += int64(n)
			r.out = r.out[n:]
			if err != nil {
				return total, err
			}
			if len(r.out) > 0 {
				return total, io.ErrShortWrite
			}
		}
		if r.err != nil {
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		r.fill()
	}
}

// fill decrypts the next chunk of the range into r.out, or sets r.err.
func (r *decReader) fill() {
	if r.remain == 0 && (r.plainSize > 0 || r.next > 0) {
		r.err = io.EOF
		return
	}
	idx := r.next
	plainLen := min(ChunkSize, r.plainSize-idx*ChunkSize)
	sealedLen := int(plainLen) + tagSize
	pos := idx * sealedChunkSize
	sealed := r.buf[:sealedLen]
	n, err := r.src.ReadAt(sealed, pos)
	if n < sealedLen {
		if err == nil || err == io.EOF {
			r.err = fmt.Errorf("%w: part %d chunk %d: ciphertext truncated at offset %d", ErrDecrypt, r.c.part, idx, pos+int64(n))
		} else {
			r.err = fmt.Errorf("sse: reading part %d chunk %d: %w", r.c.part, idx, err)
		}
		return
	}
	r.c.setChunk(uint64(idx), idx == r.last)
	plain, err := r.c.aead.Open(sealed[:0], r.c.nonce[:], sealed, r.c.ad[:])
	if err != nil {
		r.err = fmt.Errorf("%w: part %d chunk %d (offset %d): message authentication failed", ErrDecrypt, r.c.part, idx, pos)
		return
	}
	plain = plain[r.skip:]
	if int64(len(plain)) > r.remain {
		plain = plain[:r.remain]
	}
	r.skip = 0
	r.remain -= int64(len(plain))
	r.next++
	r.out = plain
	if len(plain) == 0 {
		// Only the empty final chunk of an empty part gets here.
		r.err = io.EOF
	}
}
