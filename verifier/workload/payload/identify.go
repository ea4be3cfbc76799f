package payload

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Result is what Identify found in some content.
type Result struct {
	// Spec is the write the header names; zero unless HeaderOK.
	Spec Spec
	// Valid reports that the content is exactly Spec's: every byte, and
	// Spec.Size of them.
	Valid bool
	// HeaderOK reports that the content starts with a well-formed header.
	// It is false for anything the workload did not write (ciphertext served
	// by mistake, an error page), for content shorter than its header and
	// for empty content; such content can still be checked against
	// candidate writes with Matches or IdentifyCandidates.
	HeaderOK bool
	// FirstMismatch is the offset of the first byte that is not Spec's
	// content: a flipped byte, the start of another write's bytes, the end
	// of truncated content (Size < Spec.Size) or Spec.Size for content that
	// runs on past its end. It is -1 when Valid, and 0 when !HeaderOK.
	FirstMismatch int64
	// Size is the number of bytes read.
	Size int64
	// SHA256 is the hash of the bytes read, for the history.
	SHA256 [32]byte
}

// pipeChunk is the size of the chunks Identify hands to its hashing
// goroutine once content proves longer than bufSize, in bytes. At 64 KiB
// the wake-ups ate the overlap (1.05 GB/s, as without the goroutine); from
// 256 KiB hashing bounds the rate (≈1.5 GB/s).
const pipeChunk = 256 << 10

// ErrLimit is returned by Identify for content longer than its limit.
var ErrLimit = errors.New("payload: content longer than the limit")

// Identify reads r to its end and reports which write the content names and
// whether it is exactly that write's content. If limit > 0 Identify reads
// at most limit bytes (and one more to learn whether there are more); for
// longer content it returns ErrLimit with the Result of the first limit
// bytes, which is never Valid and has FirstMismatch set only if those bytes
// already show one. If r fails, Identify returns the error, wrapped, with
// the Result of what it read. Identify never panics on any content, and
// holds at most two buffers of 256 KiB whatever the size.
func Identify(r io.Reader, limit int64) (Result, error) {
	res := Result{FirstMismatch: -1}
	var (
		c       *content
		pos     int64
		hp      = hashPipe{h: sha256.New()}
		bufs    [2][]byte
		more    bool // limit reached with content left
		readErr error
	)
	defer hp.close()
	for k := 0; ; k ^= 1 {
		hp.wait(k)
		// The first chunk is small, for the many small objects; later ones
		// large, since handing a chunk to the hasher costs a goroutine
		// wake-up that must stay small beside hashing it.
		want := int64(bufSize)
		if pos > 0 {
			want = pipeChunk
		}
		if limit > 0 {
			want = min(want, limit-pos)
		}
		if int64(len(bufs[k])) < want {
			bufs[k] = make([]byte, want)
		}
		n, eof, err := readFull(r, bufs[k][:want])
		p := bufs[k][:n]
		if pos == 0 {
			if i := bytes.IndexByte(p[:min(len(p), MaxHeaderLen)], '\n'); i >= 0 {
				if s, ok := parseHeader(p[:i+1]); ok {
					cc := newContent(s)
					c, res.Spec, res.HeaderOK = &cc, s, true
				}
			}
		}
		if eof || err != nil {
			hp.drain()
			hp.h.Write(p) // the last chunk: nothing left to overlap with
		} else {
			hp.send(k, p)
		}
		if c != nil && res.FirstMismatch < 0 {
			if i := c.diff(p, pos); i >= 0 {
				res.FirstMismatch = pos + int64(i)
			}
		}
		pos += int64(n)
		if err != nil {
			readErr = fmt.Errorf("payload: identify: read at %d: %w", pos, err)
			break
		}
		if eof {
			break
		}
		if limit > 0 && pos == limit {
			var one [1]byte
			n, _, err := readFull(r, one[:])
			if err != nil {
				readErr = fmt.Errorf("payload: identify: read at %d: %w", pos, err)
			}
			more = n > 0
			break
		}
	}
	res.Size = pos
	hp.drain()
	hp.h.Sum(res.SHA256[:0])
	switch {
	case c == nil:
		res.FirstMismatch = 0
	case res.FirstMismatch >= 0:
	case more && pos >= c.size, !more && readErr == nil && pos != c.size:
		// Bytes past the end, or content that ends early. Content longer
		// than the spec says is caught by diff unless the limit cut it
		// exactly at the spec's end.
		res.FirstMismatch = pos
	}
	res.Valid = c != nil && res.FirstMismatch < 0 && !more && readErr == nil
	if readErr != nil {
		return res, readErr
	}
	if more {
		return res, ErrLimit
	}
	return res, nil
}

// hashPipe hashes chunks on its own goroutine, in order, so that hashing
// one chunk overlaps reading and checking the next: SHA-256 is the slowest
// stage (≈1.5 GB/s with SHA-NI against ≈4 GB/s for checking). Two buffers
// take turns; wait(k) returns once buffer k is free again.
type hashPipe struct {
	h    hash.Hash
	in   chan []byte
	done chan struct{}
	busy [2]bool
}

func (hp *hashPipe) send(k int, p []byte) {
	if hp.in == nil {
		hp.in, hp.done = make(chan []byte, 2), make(chan struct{}, 2)
		go func(in <-chan []byte, done chan<- struct{}) {
			for p := range in {
				hp.h.Write(p)
				done <- struct{}{}
			}
		}(hp.in, hp.done)
	}
	hp.busy[k] = true
	hp.in <- p
}

// wait blocks until buffer k is hashed. Chunks are hashed in order and k is
// the older of at most two outstanding, so the next token is k's.
func (hp *hashPipe) wait(k int) {
	if hp.busy[k] {
		<-hp.done
		hp.busy[k] = false
	}
}

// drain waits for every chunk sent; the hash is then complete.
func (hp *hashPipe) drain() {
	for k := range hp.busy {
		if hp.busy[k] {
			<-hp.done
			hp.busy[k] = false
		}
	}
}

// close ends the goroutine; it never blocks, done having room for every
// outstanding chunk.
func (hp *hashPipe) close() {
	if hp.in != nil {
		close(hp.in)
	}
}

// readFull reads into p until p is full, r reports io.EOF (eof is then
// true and err nil), or r fails.
func readFull(r io.Reader, p []byte) (n int, eof bool, err error) {
	for idle := 0; n < len(p); {
		m, err := r.Read(p[n:])
		n += m
		switch {
		case err == io.EOF:
			return n, true, nil
		case err != nil:
			return n, false, err
		case m > 0:
			idle = 0
		default:
			if idle++; idle > 100 {
				return n, false, io.ErrNoProgress
			}
		}
	}
	return n, false, nil
}

// Matches reports whether r's content is exactly s's, reading no further
// than s.Size+1 bytes and stopping at the first byte that differs. It is how
// content too short for a header is attributed: to the write its user
// metadata names, say. It returns an error if s is invalid or r fails.
func Matches(s Spec, r io.Reader) (bool, error) {
	_, ok, err := IdentifyCandidates(r, []Spec{s})
	return ok, err
}

// IdentifyCandidates reads r and returns the first of cands whose content
// r's is exactly, and true; or false if none is. It reads r once, checking
// all candidates together, and stops as soon as none can match (so never
// past the longest candidate's end plus one byte). It returns an error if a
// candidate is invalid or r fails.
func IdentifyCandidates(r io.Reader, cands []Spec) (Spec, bool, error) {
	all, err := MatchAll(r, cands)
	if err != nil || len(all) == 0 {
		return Spec{}, false, err
	}
	return all[0], true, nil
}

// MatchAll reads r as IdentifyCandidates does and returns every one of
// cands whose content r's is exactly, in cands' order. Content too short
// for a header can be the same for different writes (every empty write
// is), so more than one may match.
func MatchAll(r io.Reader, cands []Spec) ([]Spec, error) {
	cs := make([]content, len(cands))
	alive := make([]bool, len(cands))
	longest := int64(-1)
	for i, s := range cands {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("payload: candidate %d: %w", i, err)
		}
		cs[i], alive[i] = newContent(s), true
		longest = max(longest, s.Size)
	}
	var (
		buf []byte
		pos int64
	)
	for {
		end := int64(-1) // the largest size still possible
		for i := range cs {
			if alive[i] {
				end = max(end, cs[i].size)
			}
		}
		if end < 0 {
			return nil, nil
		}
		if buf == nil {
			n := int64(bufSize)
			if longest < n {
				n = longest + 1
			}
			buf = make([]byte, n)
		}
		// Every live candidate has size ≥ pos, so want ≥ 1. (No end+1:
		// a size may be MaxInt64.)
		want := int64(len(buf))
		if rem := end - pos; rem < want {
			want = rem + 1
		}
		n, eof, err := readFull(r, buf[:want])
		p := buf[:n]
		for i := range cs {
			if alive[i] && cs[i].diff(p, pos) >= 0 {
				alive[i] = false
			}
		}
		pos += int64(n)
		if err != nil {
			return nil, fmt.Errorf("payload: read at %d: %w", pos, err)
		}
		if eof {
			var out []Spec
			for i := range cs {
				if alive[i] && cs[i].size == pos {
					out = append(out, cands[i])
				}
			}
			return out, nil
		}
	}
}
