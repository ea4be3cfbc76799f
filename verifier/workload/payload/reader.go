package payload

import (
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// writeBuf is the buffer WriteTo uses, in bytes: io.Copy's size, enough for
// per-call costs to vanish.
const writeBuf = 32 << 10

// bufSize is the first buffer Identify and IdentifyCandidates read into, in
// bytes: most objects fit, and it stays in L2.
const bufSize = 64 << 10

// Reader streams a spec's content. It implements io.Reader, io.Seeker,
// io.ReaderAt and io.WriterTo, and holds no buffer proportional to the
// content: Read and ReadAt generate straight into the caller's slice.
// ReadAt may be called concurrently; the other methods may not.
type Reader struct {
	c   content
	off int64 // next Read offset; may be past the end after a Seek
}

var _ interface {
	io.ReadSeeker
	io.ReaderAt
	io.WriterTo
} = (*Reader)(nil)

// NewReader returns a *Reader over s's content, positioned at the start.
// It panics if s is invalid (see Spec.Validate): specs come from the
// workload, never from the wire.
func NewReader(s Spec) io.ReadSeeker { return newReader(s) }

func newReader(s Spec) *Reader {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return &Reader{c: newContent(s)}
}

// Size returns the content length in bytes, whatever the position.
func (r *Reader) Size() int64 { return r.c.size }

// Len returns the number of bytes left to Read.
func (r *Reader) Len() int64 { return max(r.c.size-r.off, 0) }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.c.size {
		return 0, io.EOF
	}
	if left := r.c.size - r.off; int64(len(p)) > left {
		p = p[:left]
	}
	r.c.fill(p, r.off)
	r.off += int64(len(p))
	return len(p), nil
}

// ReadAt implements io.ReaderAt.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("payload: ReadAt: negative offset")
	}
	if off >= r.c.size {
		return 0, io.EOF
	}
	var err error
	if left := r.c.size - off; int64(len(p)) > left {
		p, err = p[:left], io.EOF
	}
	r.c.fill(p, off)
	return len(p), err
}

// Seek implements io.Seeker. Seeking past the end is allowed; Read then
// returns io.EOF.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.c.size + offset
	default:
		return 0, fmt.Errorf("payload: Seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, errors.New("payload: Seek: negative position")
	}
	r.off = abs
	return abs, nil
}

// WriteTo implements io.WriterTo, writing the rest of the content to w
// through one buffer of 32 KiB.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if r.off >= r.c.size {
		return 0, nil
	}
	buf := make([]byte, min(writeBuf, r.c.size-r.off))
	var total int64
	for r.off < r.c.size {
		p := buf[:min(int64(len(buf)), r.c.size-r.off)]
		r.c.fill(p, r.off)
		n, err := w.Write(p)
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n != len(p) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// Range returns the content of s from offset off for n bytes, clipped to
// the content as an HTTP range is: off is clamped to [0, s.Size], and a
// negative n or one reaching past the end means up to the end. The result
// is an *io.SectionReader. Range panics if s is invalid.
func Range(s Spec, off, n int64) io.Reader {
	r := newReader(s)
	off = min(max(off, 0), s.Size)
	if n < 0 || n > s.Size-off {
		n = s.Size - off
	}
	return io.NewSectionReader(r, off, n)
}

// SHA256 returns the SHA-256 of s's content, which the history records as
// the plaintext hash. It generates the content, so it costs O(s.Size) time
// and O(1) memory. It panics if s is invalid.
func SHA256(s Spec) [32]byte {
	h := sha256.New()
	newReader(s).WriteTo(h)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// MD5 returns the MD5 of s's content: the ETag an S3 server gives an
// unencrypted single-part write of it. It panics if s is invalid.
func MD5(s Spec) [16]byte {
	h := md5.New()
	newReader(s).WriteTo(h)
	var sum [16]byte
	h.Sum(sum[:0])
	return sum
}
