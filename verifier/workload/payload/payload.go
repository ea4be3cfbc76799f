// Package payload makes object content that names the write that produced
// it. Every object written by the workload is
//
//	replcheck/1 <op id> <seed, 16 hex digits> <size>\n
//
// followed by pseudo-random bytes that depend only on the op id, the seed and
// the offset, up to size bytes in all. An object shorter than its header is
// the header's prefix, so even a 1-byte object has known content; a 0-byte
// object is empty.
//
// Content is never held in memory: NewReader streams it for a PUT body,
// Range gives any slice of it for ranged reads, and Identify reads an object
// back and says which write it is and whether every byte is that write's.
// Reads that match no write (ciphertext, mixing of two writes, truncation)
// are told apart from a good read by Result.Valid and Result.FirstMismatch.
// Objects too short to carry a whole header are checked against candidate
// writes, for instance the one the user metadata names, with Matches or
// IdentifyCandidates.
//
// The format is stable, so a checker in any language can regenerate it.
// With key the first 8 bytes, little-endian, of
//
//	SHA-256("replcheck/1 key\x00" ‖ op id ‖ "\x00" ‖ seed as 8 bytes little-endian)
//
// the 8 bytes at offset 8i of the object (header included) are the
// SplitMix64 output mix(key + i·0x9e3779b97f4a7c15), little-endian, where
// mix(z) is z ^= z>>30; z *= 0xbf58476d1ce4e5b9; z ^= z>>27;
// z *= 0x94d049bb133111eb; z ^ z>>31 (mod 2⁶⁴); the header then overwrites
// the first bytes. Any offset is computed directly, so seeking costs
// nothing, and mix being a bijection, two writes with different keys never
// share an 8-byte word at the same offset past their headers.
package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Magic begins every header; the digit is the format version.
const Magic = "replcheck/1 "

// MaxOpIDLen is the longest operation id, in bytes.
const MaxOpIDLen = 64

// MaxHeaderLen is the longest header, in bytes: magic, an id of MaxOpIDLen,
// 16 hex digits of seed, 19 decimal digits of size, three separators and the
// newline.
const MaxHeaderLen = len(Magic) + MaxOpIDLen + 1 + 16 + 1 + 19 + 1

// Spec is what a write wrote. Its content is a function of Spec alone.
type Spec struct {
	OpID string // operation id: 1..MaxOpIDLen bytes of [A-Za-z0-9._:-]
	Seed uint64 // seeds the pseudo-random body
	Size int64  // content length in bytes, ≥ 0
}

// ErrInvalidSpec is returned (wrapped) for a Spec that Validate rejects.
var ErrInvalidSpec = errors.New("payload: invalid spec")

// Validate reports whether s can be written: an op id that fits the header
// and a size that is not negative.
func (s Spec) Validate() error {
	if !validOpID(s.OpID) {
		return fmt.Errorf("%w: op id %q: want 1..%d of [A-Za-z0-9._:-]", ErrInvalidSpec, s.OpID, MaxOpIDLen)
	}
	if s.Size < 0 {
		return fmt.Errorf("%w: op %s: negative size %d", ErrInvalidSpec, s.OpID, s.Size)
	}
	return nil
}

func validOpID(id string) bool {
	if len(id) == 0 || len(id) > MaxOpIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// Header returns s's complete header line, newline included. The content
// begins with it, or is a prefix of it when s.Size is smaller.
func (s Spec) Header() string {
	var b [MaxHeaderLen]byte
	return string(appendHeader(b[:0], s))
}

// Identifiable reports whether s's content carries its whole header, so
// that Identify can name s from the content alone. Shorter content is a
// prefix of the header and has to be checked against candidates; content of
// at most len(Magic)+len(s.OpID) bytes does not even hold the whole op id
// and is the same for many writes (all 5-byte objects read "replc").
func (s Spec) Identifiable() bool {
	var b [MaxHeaderLen]byte
	return s.Size >= int64(len(appendHeader(b[:0], s)))
}

// String returns the header fields, for messages.
func (s Spec) String() string {
	return fmt.Sprintf("%s/%016x/%d", s.OpID, s.Seed, s.Size)
}

func appendHeader(b []byte, s Spec) []byte {
	b = append(b, Magic...)
	b = append(b, s.OpID...)
	b = append(b, ' ')
	var hex [16]byte
	const digits = "0123456789abcdef"
	for i := range hex {
		hex[i] = digits[s.Seed>>(60-4*i)&0xf]
	}
	b = append(b, hex[:]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.Size, 10)
	return append(b, '\n')
}

// ParseHeader returns the write that content beginning with prefix names,
// if prefix holds the whole of a well-formed header (MaxHeaderLen bytes
// of content always do, as does content shorter than that but not shorter
// than its own header). It does not check the body: a caller that wants
// to know the content is exactly that write's compares its hash with the
// write's, or uses Identify.
func ParseHeader(prefix []byte) (Spec, bool) {
	n := bytes.IndexByte(prefix[:min(len(prefix), MaxHeaderLen)], '\n')
	if n < 0 {
		return Spec{}, false
	}
	return parseHeader(prefix[:n+1])
}

// parseHeader returns the spec named by a header line (newline included)
// and whether the line is exactly the canonical header of that spec, so
// that every content has at most one reading.
func parseHeader(line []byte) (Spec, bool) {
	if len(line) > MaxHeaderLen || len(line) < len(Magic) || string(line[:len(Magic)]) != Magic || line[len(line)-1] != '\n' {
		return Spec{}, false
	}
	rest := line[len(Magic) : len(line)-1]
	var f [3][]byte
	for i := range 2 {
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			return Spec{}, false
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	f[2] = rest
	if len(f[1]) != 16 {
		return Spec{}, false
	}
	seed, err := strconv.ParseUint(string(f[1]), 16, 64)
	if err != nil {
		return Spec{}, false
	}
	size, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil {
		return Spec{}, false
	}
	s := Spec{OpID: string(f[0]), Seed: seed, Size: size}
	if s.Validate() != nil {
		return Spec{}, false
	}
	var b [MaxHeaderLen]byte
	if string(appendHeader(b[:0], s)) != string(line) {
		return Spec{}, false // upper-case hex, leading zeros, a sign…
	}
	return s, true
}

// keyOf is the generator key of s: the first 8 bytes, little-endian, of
// SHA-256("replcheck/1 key\x00" ‖ op id ‖ "\x00" ‖ seed as 8 bytes
// little-endian). The op id is part of it so that two writes given the same
// seed by mistake still differ in every body word.
func keyOf(s Spec) uint64 {
	var b [16 + MaxOpIDLen + 1 + 8]byte
	p := append(b[:0], "replcheck/1 key\x00"...)
	p = append(p, s.OpID...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint64(p, s.Seed)
	sum := sha256.Sum256(p)
	return binary.LittleEndian.Uint64(sum[:8])
}

// content is a spec ready to generate or check bytes at any offset.
type content struct {
	size int64
	key  uint64
	hlen int // bytes of header in the content: min(len(header), size)
	hdr  [MaxHeaderLen]byte
}

func newContent(s Spec) content {
	c := content{size: s.Size, key: keyOf(s)}
	c.hlen = len(appendHeader(c.hdr[:0], s))
	if int64(c.hlen) > s.Size {
		c.hlen = int(s.Size)
	}
	return c
}

// fill writes the content at [off, off+len(p)) to p; the range must lie
// within [0, size].
func (c *content) fill(p []byte, off int64) {
	if off < int64(c.hlen) {
		n := copy(p, c.hdr[off:c.hlen])
		p, off = p[n:], off+int64(n)
	}
	if len(p) > 0 {
		fillBody(p, c.key, off)
	}
}

// diff returns the index of the first byte of p that is not the content at
// its offset, p[0] being at off ≥ 0; bytes at or past size never are. It
// returns -1 if all match.
func (c *content) diff(p []byte, off int64) int {
	n := 0
	if off < int64(c.hlen) {
		h := c.hdr[off:c.hlen]
		for ; n < len(p) && n < len(h); n++ {
			if p[n] != h[n] {
				return n
			}
		}
	}
	if n == len(p) {
		return -1
	}
	if over := off + int64(len(p)) - c.size; over > 0 {
		// Bytes past the end: check what precedes them, then the first is
		// the mismatch.
		end := len(p) - int(over)
		if end < n {
			return n
		}
		if i := diffBody(p[n:end], c.key, off+int64(n)); i >= 0 {
			return n + i
		}
		return end
	}
	if i := diffBody(p[n:], c.key, off+int64(n)); i >= 0 {
		return n + i
	}
	return -1
}
