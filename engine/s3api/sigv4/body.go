package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// hashingReader passes the body through and checks its SHA-256 at EOF.
type hashingReader struct {
	src  io.ReadCloser
	h    hash.Hash
	want [sha256.Size]byte
	err  error
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	n, err := h.src.Read(p)
	h.h.Write(p[:n])
	switch {
	case err == io.EOF:
		var got [sha256.Size]byte
		if !bytes.Equal(h.h.Sum(got[:0]), h.want[:]) {
			err = newError("XAmzContentSHA256Mismatch", http.StatusBadRequest,
				"The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		h.err = err
	case err != nil:
		err = bodyReadError(err, "")
		h.err = err
	}
	return n, err
}

func (h *hashingReader) Close() error { return h.src.Close() }

// Limits on the aws-chunked framing, so that a hostile body cannot make the
// reader buffer or loop without bound.
const (
	maxChunkLine     = 4096
	maxTrailerLines  = 64
	chunkBufSize     = 16 << 10
	chunkSigLen      = 2 * sha256.Size
	chunkSigPrefix   = "chunk-signature="
	trailerSigHeader = "x-amz-trailer-signature"
	maxChunkSize     = 5 << 30 // S3's largest single PUT
)

var bufioPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, chunkBufSize) }}

type chunkState uint8

const (
	stateHeader chunkState = iota
	stateData
	stateTrailer
	stateDone
)

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n trailers \r\n
//
// verifying every chunk signature against the previous one (the first against
// the seed signature of the request) for the signed variants.
type chunkedReader struct {
	src io.ReadCloser
	br  *bufio.Reader
	res *Result

	signed        bool // chunk signatures present
	trailer       bool // a trailer section follows the last chunk
	signedTrailer bool
	declared      bool // x-amz-trailer names trailers to expect

	mac     hash.Hash // HMAC with the signing key, reset per chunk
	amzDate string
	scope   string
	prevSig [chunkSigLen]byte
	wantSig [chunkSigLen]byte

	h       hash.Hash // SHA-256 of the current chunk's data
	left    int64     // data bytes left in the current chunk
	total   int64     // decoded bytes so far
	chunkNo int

	state chunkState
	err   error
}

func newChunkedReader(src io.ReadCloser, res *Result, a *authInfo, key []byte, declared bool) *chunkedReader {
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(src)
	c := &chunkedReader{
		src:      src,
		br:       br,
		res:      res,
		signed:   a.payloadHash != StreamingUnsignedPayloadTrailer,
		trailer:  a.payloadHash != StreamingSignedPayload,
		declared: declared,
		amzDate:  a.amzDate,
		scope:    a.scope(),
		h:        sha256.New(),
	}
	c.signedTrailer = c.signed && c.trailer
	if c.signed {
		c.mac = hmac.New(sha256.New, key)
		copy(c.prevSig[:], a.signature)
	}
	return c
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.err == nil {
		switch c.state {
		case stateHeader:
			c.err = c.readHeader()
		case stateData:
			if c.left == 0 {
				c.err = c.endChunk()
				continue
			}
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			c.h.Write(p[:n])
			c.left -= int64(n)
			c.total += int64(n)
			if err != nil {
				c.err = bodyReadError(err, "aws-chunked body ends inside a chunk")
			}
			if n > 0 || c.err == nil {
				return n, nil // an empty read is the caller's to retry, not ours to spin on
			}
		case stateTrailer:
			c.err = c.readTrailer()
			if c.err == nil {
				c.state = stateDone
				c.release()
			}
		case stateDone:
			return 0, io.EOF
		}
	}
	c.release()
	return 0, c.err
}

// Close closes the request body; later reads fail unless the body was
// already read to the end.
func (c *chunkedReader) Close() error {
	c.release()
	if c.err == nil && c.state != stateDone {
		c.err = io.ErrClosedPipe
	}
	return c.src.Close()
}

// release returns the bufio.Reader to the pool once it is no longer needed.
func (c *chunkedReader) release() {
	if c.br != nil {
		c.br.Reset(nil)
		bufioPool.Put(c.br)
		c.br = nil
	}
}

// readLine returns one line without its "\n" or "\r\n"; it is valid until the
// next read. Bare "\n" is accepted because minio-go ends trailer lines so.
func (c *chunkedReader) readLine(what string) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errMalformedChunk(what + " line too long")
	case err != nil:
		return nil, bodyReadError(err, "aws-chunked body ends inside "+what)
	case len(line) > maxChunkLine:
		return nil, errMalformedChunk(what + " line too long")
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func (c *chunkedReader) readHeader() error {
	line, err := c.readLine("chunk header")
	if err != nil {
		return err
	}
	c.chunkNo++
	sizePart, ext, hasExt := bytes.Cut(line, []byte{';'})
	if len(sizePart) == 0 || len(sizePart) > 16 {
		return errMalformedChunk("bad chunk size")
	}
	size, perr := strconv.ParseInt(string(sizePart), 16, 64)
	if perr != nil || size < 0 || size > maxChunkSize {
		return errMalformedChunk("bad chunk size")
	}
	if c.signed {
		if !hasExt || !bytes.HasPrefix(ext, []byte(chunkSigPrefix)) || len(ext) != len(chunkSigPrefix)+chunkSigLen {
			return errMalformedChunk("chunk " + strconv.Itoa(c.chunkNo) + " lacks a chunk-signature")
		}
		copy(c.wantSig[:], ext[len(chunkSigPrefix):])
	}
	if size == 0 {
		c.h.Reset()
		if err := c.verifyChunk(); err != nil {
			return err
		}
		if d := c.res.DecodedLength; d >= 0 && c.total != d {
			return errIncompleteBody("aws-chunked payload has " + strconv.FormatInt(c.total, 10) +
				" bytes, x-amz-decoded-content-length says " + strconv.FormatInt(d, 10))
		}
		c.state = stateTrailer
		return nil
	}
	if d := c.res.DecodedLength; d >= 0 && c.total+size > d {
		return newError("InvalidArgument", http.StatusBadRequest,
			"aws-chunked payload is longer than x-amz-decoded-content-length ("+strconv.FormatInt(d, 10)+")")
	}
	c.h.Reset()
	c.left = size
	c.state = stateData
	return nil
}

// endChunk consumes the CRLF after a chunk's data and checks its signature.
func (c *chunkedReader) endChunk() error {
	b, err := c.br.ReadByte()
	if err == nil && b == '\r' {
		b, err = c.br.ReadByte()
	}
	if err != nil {
		return bodyReadError(err, "aws-chunked body ends after chunk data")
	}
	if b != '\n' {
		return errMalformedChunk("chunk data not followed by CRLF")
	}
	if err := c.verifyChunk(); err != nil {
		return err
	}
	c.state = stateHeader
	return nil
}

// verifyChunk checks the signature of the chunk whose data went into c.h.
func (c *chunkedReader) verifyChunk() error {
	if !c.signed {
		return nil
	}
	var sum [sha256.Size]byte
	c.h.Sum(sum[:0])
	c.writeStringToSign("AWS4-HMAC-SHA256-PAYLOAD")
	c.mac.Write([]byte(emptySHA256 + "\n"))
	return c.checkSig(sum[:], "chunk "+strconv.Itoa(c.chunkNo))
}

func (c *chunkedReader) writeStringToSign(alg string) {
	c.mac.Reset()
	c.mac.Write([]byte(alg + "\n" + c.amzDate + "\n" + c.scope + "\n"))
	c.mac.Write(c.prevSig[:])
	c.mac.Write([]byte{'\n'})
}

func (c *chunkedReader) checkSig(sum []byte, what string) error {
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum)
	c.mac.Write(hx[:])
	var got [chunkSigLen]byte
	hex.Encode(got[:], c.mac.Sum(nil))
	if !hmac.Equal(got[:], c.wantSig[:]) {
		return newError("SignatureDoesNotMatch", http.StatusForbidden,
			"The "+what+" signature of the aws-chunked body does not match what we calculated. Check your key and signing method.")
	}
	c.prevSig = got
	return nil
}

// readTrailer reads the section after the last chunk: trailing headers (for
// the trailer variants) and the empty line that ends the body. minio-go puts
// an empty line between the trailers and x-amz-trailer-signature, so signed
// trailers skip empty lines until the signature has been seen.
func (c *chunkedReader) readTrailer() error {
	var canon []byte // "name:value\n" per trailer, what the trailer signature covers
	sawSig := false
	for i := 0; ; i++ {
		if i > maxTrailerLines {
			return errMalformedChunk("too many trailer lines")
		}
		line, err := c.readLine("trailer")
		if err != nil {
			return err
		}
		if len(line) == 0 {
			switch {
			case !c.trailer, sawSig:
				return nil
			case c.signedTrailer:
				continue
			case c.declared && len(c.res.Trailer) == 0:
				continue // some clients send an empty line before the trailers
			}
			return nil
		}
		if !c.trailer || sawSig {
			return errMalformedChunk("unexpected data after the last chunk")
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		n := strings.ToLower(string(bytes.TrimSpace(name)))
		if !ok || n == "" || strings.ContainsAny(n, " \t") {
			return errMalformedChunk("bad trailer line")
		}
		value = bytes.TrimSpace(value)
		if n == trailerSigHeader {
			if !c.signedTrailer || len(value) != chunkSigLen {
				return errMalformedChunk("unexpected or malformed x-amz-trailer-signature")
			}
			copy(c.wantSig[:], value)
			c.writeStringToSign("AWS4-HMAC-SHA256-TRAILER")
			sum := sha256.Sum256(canon)
			if err := c.checkSig(sum[:], "trailer"); err != nil {
				return err
			}
			sawSig = true
			continue
		}
		canon = append(canon, n...)
		canon = append(canon, ':')
		canon = append(canon, value...)
		canon = append(canon, '\n')
		if c.res.Trailer == nil {
			c.res.Trailer = make(http.Header)
		}
		c.res.Trailer.Add(n, string(value))
	}
}
