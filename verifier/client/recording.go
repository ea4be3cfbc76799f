package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/replcheck/replcheck/verifier/history"
	"github.com/replcheck/replcheck/verifier/workload/payload"
)

// ErrHashMismatch is returned (wrapped, with the write's result) when the
// bytes a Put sent do not hash to the SHA-256 its invoke line recorded:
// the caller's declared hash was wrong, or the body changed between the
// pass that hashed it and the one that sent it. The history is then
// wrong about that write: it is a bug of the caller, noted in the
// operation's error. The completion records the server's outcome;
// Classify, which does not know this error, makes it Unknown.
var ErrHashMismatch = errors.New("body does not match the SHA-256 recorded for it")

// ErrNotRecorded is returned, wrapped, when an operation was not performed
// because its invocation could not be written to the history: a run must
// stop rather than make operations the checker cannot see.
var ErrNotRecorded = errors.New("not performed: history")

// Annotation is what the caller knows about the next recorded operation
// and the client cannot. It travels in the call's context (Annotate,
// WithKind, WithID) so that Recording keeps Client's signatures. An
// annotated context is for one call: ids must not repeat in a history.
type Annotation struct {
	// ID is the operation id; "" takes the next one from the Recording's
	// generator. The workload needs it first when it writes the id into
	// the payload and metadata: see Recording.NextID.
	ID string
	// Kind of a Put: history.Put (the default), history.Overwrite (a key
	// the workload wrote before) or history.Multipart. With no kind given,
	// a Put that uploads in parts is recorded as Multipart. Other calls
	// have one kind each (Delete, Copy, Meta, Get) and refuse any other.
	Kind history.Kind
	// Seed is the payload's seed, recorded with a write.
	Seed uint64
	// SHA256 is the hex SHA-256 of the body a Put is about to send, when
	// the caller knows it; "" has Recording hash the body itself.
	SHA256 string
}

type annotationKey struct{}

// Annotate returns ctx carrying a for the next recorded call.
func Annotate(ctx context.Context, a Annotation) context.Context {
	return context.WithValue(ctx, annotationKey{}, a)
}

// AnnotationFrom returns the annotation ctx carries (zero if none).
func AnnotationFrom(ctx context.Context) Annotation {
	a, _ := ctx.Value(annotationKey{}).(Annotation)
	return a
}

// WithKind returns ctx with the annotation's kind set to k, e.g.
// WithKind(ctx, history.Overwrite) for a Put of a key written before.
func WithKind(ctx context.Context, k history.Kind) context.Context {
	a := AnnotationFrom(ctx)
	a.Kind = k
	return Annotate(ctx, a)
}

// WithID returns ctx with the annotation's operation id set to id.
func WithID(ctx context.Context, id string) context.Context {
	a := AnnotationFrom(ctx)
	a.ID = id
	return Annotate(ctx, a)
}

var sequences sync.Map // prefix → *atomic.Uint64

// Sequence returns an id generator "<prefix>-000001", "<prefix>-000002", …
// whose counter is shared by every Sequence of the same prefix in this
// process, so that two Recordings of one site writing to one history
// never hand out the same id.
func Sequence(prefix string) func() string {
	v, _ := sequences.LoadOrStore(prefix, new(atomic.Uint64))
	n := v.(*atomic.Uint64)
	return func() string { return fmt.Sprintf("%s-%06d", prefix, n.Add(1)) }
}

// Recording is a Client that records every object operation in a history:
// an invoke line before the request and a completion line after it, with
// the outcome Classify gives the error. It is safe for concurrent use.
//
// What it records:
//
//   - Put: kind (see Annotation), bucket, key, size, SHA-256, seed, SSE
//     mode, metadata; version id and ETag. The history takes a write's
//     SHA-256 from its invoke line only, so it must be known before the
//     request: the caller's Annotation.SHA256, else a first pass over a
//     body that can seek (io.Seeker: read, hashed, then rewound; nothing
//     is buffered). A body that cannot seek, with no declared hash, is
//     recorded without one. Either way the body is hashed again as it
//     streams, and a difference is ErrHashMismatch.
//   - Get: kind Get, the SSE mode of the key presented; on completion the
//     size and SHA-256 of the bytes actually read, version id and ETag
//     served. The completion is recorded when the body reaches its end
//     (EOF, or Close after all its bytes): OK; when reading fails midway:
//     the error's outcome (Unknown for a broken connection); when the
//     body is closed before its end: Unknown, with the bytes read so far
//     and the error "closed after N of M bytes". A ranged Get records its
//     range in Op.Range ("bytes=first-last", the HTTP form), since
//     its hash is of the range, not of the object.
//   - Head: kind Get with the object's size and no SHA-256 (no bytes
//     were read; a Get of an empty object has the SHA-256 of nothing).
//   - Delete: kind Delete; version id (of the delete marker, or the
//     version deleted) on completion.
//   - Copy: kind Copy, Source = srcKey, Key = dstKey, the copy's SSE mode
//     and metadata; version id and ETag. Its size and hash are the
//     source's, which the client does not know: left empty.
//   - UpdateMeta: kind Meta with the new metadata; version id and ETag
//     when the client is a MetaWriter (S3: the copy onto itself).
//
// Lists and bucket operations are passed through unrecorded: they change
// no object and are not attributed to writes.
//
// If the invoke line cannot be written (the history's file failed), the
// operation is not performed: its error wraps the history's and
// classifies as Failed. A completion line that cannot be written is
// dropped: the reader makes such an operation Unknown, which is sound.
type Recording struct {
	c   Client
	w   *history.Writer
	ids func() string
}

var _ Client = (*Recording)(nil)

// RecordingOption configures NewRecording.
type RecordingOption func(*Recording)

// WithIDs makes the Recording take operation ids from gen (which must be
// safe for concurrent use and never repeat within a history).
func WithIDs(gen func() string) RecordingOption { return func(r *Recording) { r.ids = gen } }

// NewRecording returns c recording into w. Ids default to
// Sequence(c.Site()).
func NewRecording(c Client, w *history.Writer, opts ...RecordingOption) *Recording {
	r := &Recording{c: c, w: w}
	for _, o := range opts {
		o(r)
	}
	if r.ids == nil {
		r.ids = Sequence(c.Site())
	}
	return r
}

// NextID returns a fresh operation id from the Recording's generator, for
// a caller that must know it before the call (to put it in the payload);
// pass it back with WithID.
func (r *Recording) NextID() string { return r.ids() }

// Unwrap returns the recorded client.
func (r *Recording) Unwrap() Client { return r.c }

// Site implements Client.
func (r *Recording) Site() string { return r.c.Site() }

// API implements Client.
func (r *Recording) API() string { return r.c.API() }

// op starts the record of an operation of the given kind from ctx's
// annotation; allowed are the kinds the call may be annotated with, the
// first being its default.
func (r *Recording) op(ctx context.Context, call, bucket, key string, allowed ...history.Kind) (history.Op, Annotation, error) {
	a := AnnotationFrom(ctx)
	kind := allowed[0]
	if a.Kind != "" {
		ok := false
		for _, k := range allowed {
			ok = ok || k == a.Kind
		}
		if !ok {
			return history.Op{}, a, fmt.Errorf("record %s %s/%s: %w: kind %q for a %s (want one of %v)",
				call, bucket, key, ErrInvalid, a.Kind, call, allowed)
		}
		kind = a.Kind
	}
	id := a.ID
	if id == "" {
		id = r.ids()
	}
	return history.Op{ID: id, Site: r.c.Site(), API: r.c.API(), Kind: kind, Bucket: bucket, Key: key, Seed: a.Seed}, a, nil
}

func (r *Recording) invoke(op history.Op) (history.Op, error) {
	op, err := r.w.Invoke(op)
	if err != nil {
		return op, &notSent{fmt.Errorf("record %s %s %s/%s: %w: %w", op.ID, op.Kind, op.Bucket, op.Key, ErrNotRecorded, err)}
	}
	return op, nil
}

func (r *Recording) complete(op history.Op, err error) {
	op.Outcome = Classify(err)
	if err != nil && op.Error == "" {
		op.Error = err.Error()
	}
	// An error here is the history's own and sticks: the next invoke
	// reports it. A lost completion reads back as Unknown.
	_, _ = r.w.Complete(op)
}

// Put implements Client.
func (r *Recording) Put(ctx context.Context, bucket, key string, body io.Reader, size int64, o PutOptions) (WriteResult, error) {
	def := history.Put
	if o.Multipart(r.c.API(), size) {
		def = history.Multipart
	}
	op, a, err := r.op(ctx, "put", bucket, key, def, history.Put, history.Overwrite, history.Multipart)
	if err != nil {
		return WriteResult{}, err
	}
	op.Size, op.SSE, op.Meta = size, o.SSE.Mode, maps.Clone(o.Meta)
	op.SHA256 = a.SHA256
	if op.SHA256 == "" {
		if op.SHA256, err = prehash(body); err != nil {
			return WriteResult{}, wrap(r.c.API(), "put", bucket, key, err)
		}
	}
	hr := &hashReader{r: body, h: sha256.New()}
	if op, err = r.invoke(op); err != nil {
		return WriteResult{}, err
	}
	res, err := r.c.Put(ctx, bucket, key, hr, size, o)
	op.VersionID, op.ETag = res.VersionID, res.ETag
	if sent := hr.sum(); err == nil && op.SHA256 != "" && hr.n == size && sent != op.SHA256 {
		op.Error = fmt.Sprintf("sent bytes have SHA-256 %s, not the %s recorded at invoke", sent, op.SHA256)
		r.complete(op, nil)
		return res, wrap(r.c.API(), "put", bucket, key, fmt.Errorf("%w: %s", ErrHashMismatch, op.Error))
	}
	r.complete(op, err)
	return res, err
}

// prehash returns the hex SHA-256 of what body will yield, if body can
// seek back to where it is; "" if it cannot.
func prehash(body io.Reader) (string, error) {
	s, ok := body.(io.ReadSeeker)
	if !ok {
		return "", nil
	}
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", nil // a Seeker that cannot seek (a pipe behind *os.File)
	}
	h := sha256.New()
	if _, err := io.Copy(h, s); err != nil {
		return "", fmt.Errorf("hashing the body: %w", err)
	}
	if _, err := s.Seek(start, io.SeekStart); err != nil {
		return "", fmt.Errorf("%w: rewinding the body after hashing it: %v", ErrInvalid, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashReader hashes what is read through it. It hides every other method
// of the body (Seek, ReadAt) so that the client reads it once, in order.
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashReader) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }

// Get implements Client; see Recording for when its completion is recorded.
func (r *Recording) Get(ctx context.Context, bucket, key string, o GetOptions) (io.ReadCloser, ObjectInfo, error) {
	op, _, err := r.op(ctx, "get", bucket, key, history.Get)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	op.SSE = o.SSE.Mode
	if rh := rangeHeader(o); rh != "" {
		op.Range = rh
	}
	if op, err = r.invoke(op); err != nil {
		return nil, ObjectInfo{}, err
	}
	rc, info, err := r.c.Get(ctx, bucket, key, o)
	if err != nil {
		r.complete(op, err)
		return nil, info, err
	}
	op.VersionID, op.ETag = info.VersionID, info.ETag
	want := info.Size - o.Offset
	if o.Length > 0 {
		want = min(o.Length, want)
	}
	return &recordedBody{rc: rc, r: r, op: op, h: sha256.New(), want: max(want, 0), whole: op.Range == ""}, info, nil
}

// recordedBody records a Get's completion when its body ends.
type recordedBody struct {
	rc   io.ReadCloser
	r    *Recording
	op   history.Op
	want int64 // bytes the response should have

	// whole says the read asked for the whole object, whose payload
	// header (kept in head) names the write it is.
	whole bool
	head  [payload.MaxHeaderLen]byte

	mu   sync.Mutex
	h    hash.Hash
	n    int64
	done bool
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return n, err
	}
	b.h.Write(p[:n])
	if b.n < int64(len(b.head)) {
		copy(b.head[b.n:], p[:n])
	}
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.finish(nil, "")
	case err != nil:
		b.finish(err, "")
	}
	return n, err
}

func (b *recordedBody) Close() error {
	err := b.rc.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		if b.n == b.want {
			b.finish(nil, "")
		} else {
			b.finish(nil, fmt.Sprintf("closed after %d of %d bytes", b.n, b.want))
		}
	}
	return err
}

// finish records the completion; note, if set, makes it Unknown.
// A whole read is attributed to the write its header names when the
// length agrees; the checker trusts that only if the hash is the write's.
// Call with mu held.
func (b *recordedBody) finish(err error, note string) {
	b.done = true
	op := b.op
	op.Size, op.SHA256 = b.n, hex.EncodeToString(b.h.Sum(nil))
	if b.whole && err == nil && note == "" {
		if s, ok := payload.ParseHeader(b.head[:min(b.n, int64(len(b.head)))]); ok && s.Size == b.n {
			op.ReadOf = s.OpID
		}
	}
	if note != "" {
		op.Error = note
		op.Outcome = history.Unknown
		_, _ = b.r.w.Complete(op)
		return
	}
	b.r.complete(op, err)
}

// Head implements Client, recorded as a Get that read no bytes.
func (r *Recording) Head(ctx context.Context, bucket, key string, o GetOptions) (ObjectInfo, error) {
	op, _, err := r.op(ctx, "head", bucket, key, history.Get)
	if err != nil {
		return ObjectInfo{}, err
	}
	op.SSE = o.SSE.Mode
	if op, err = r.invoke(op); err != nil {
		return ObjectInfo{}, err
	}
	info, err := r.c.Head(ctx, bucket, key, o)
	if err == nil {
		op.Size, op.VersionID, op.ETag = info.Size, info.VersionID, info.ETag
	}
	r.complete(op, err)
	return info, err
}

// Delete implements Client.
func (r *Recording) Delete(ctx context.Context, bucket, key, versionID string) (WriteResult, error) {
	op, _, err := r.op(ctx, "delete", bucket, key, history.Delete)
	if err != nil {
		return WriteResult{}, err
	}
	if op, err = r.invoke(op); err != nil {
		return WriteResult{}, err
	}
	res, err := r.c.Delete(ctx, bucket, key, versionID)
	op.VersionID, op.ETag = res.VersionID, res.ETag
	r.complete(op, err)
	return res, err
}

// Copy implements Client.
func (r *Recording) Copy(ctx context.Context, bucket, srcKey, dstKey string, o CopyOptions) (WriteResult, error) {
	op, _, err := r.op(ctx, "copy", bucket, dstKey, history.Copy)
	if err != nil {
		return WriteResult{}, err
	}
	op.Source, op.SSE, op.Meta = srcKey, o.DstSSE.Mode, maps.Clone(o.Meta)
	if op, err = r.invoke(op); err != nil {
		return WriteResult{}, err
	}
	res, err := r.c.Copy(ctx, bucket, srcKey, dstKey, o)
	op.VersionID, op.ETag = res.VersionID, res.ETag
	r.complete(op, err)
	return res, err
}

// UpdateMeta implements Client.
func (r *Recording) UpdateMeta(ctx context.Context, bucket, key string, meta map[string]string) error {
	op, _, err := r.op(ctx, "update-meta", bucket, key, history.Meta)
	if err != nil {
		return err
	}
	op.Meta = maps.Clone(meta)
	if op, err = r.invoke(op); err != nil {
		return err
	}
	if mw, ok := r.c.(MetaWriter); ok {
		var res WriteResult
		res, err = mw.UpdateMetaResult(ctx, bucket, key, meta)
		op.VersionID, op.ETag = res.VersionID, res.ETag
	} else {
		err = r.c.UpdateMeta(ctx, bucket, key, meta)
	}
	r.complete(op, err)
	return err
}

// List implements Client, unrecorded.
func (r *Recording) List(ctx context.Context, bucket, prefix string) ([]ListEntry, error) {
	return r.c.List(ctx, bucket, prefix)
}

// CreateBucket implements Client, unrecorded.
func (r *Recording) CreateBucket(ctx context.Context, bucket string, o BucketOptions) error {
	return r.c.CreateBucket(ctx, bucket, o)
}

// DeleteBucket implements Client, unrecorded.
func (r *Recording) DeleteBucket(ctx context.Context, bucket string) error {
	return r.c.DeleteBucket(ctx, bucket)
}
