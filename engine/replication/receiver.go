package replication

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/replcheck/replcheck/engine/hlc"
	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// maxApplied bounds the ground-truth record of apply times.
const maxApplied = 1 << 20

// Receiver applies shipments from the peer to the local store.
type Receiver struct {
	st     *store.Store
	kr     *sse.Keyring
	secret []byte
	flaws  Flaws
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex
	applied map[appliedKey]time.Time
}

type appliedKey struct {
	bucket, key, versionID string
	stamp                  hlc.Timestamp
}

func newReceiver(cfg *Config) *Receiver {
	return &Receiver{st: cfg.Store, kr: cfg.Keyring, secret: cfg.Secret, flaws: cfg.Flaws, now: cfg.Now,
		log: cfg.Logger, applied: map[appliedKey]time.Time{}}
}

// AppliedAt returns when this site applied the given version of a key
// (the write stamped stamp, or a metadata change stamped stamp) received
// from the peer: the engine's ground truth for replication lag.
func (r *Receiver) AppliedAt(bucket, key, versionID string, stamp hlc.Timestamp) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.applied[appliedKey{bucket, key, versionID, stamp}]
	return t, ok
}

func (r *Receiver) recordApplied(v *store.Version) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.applied) >= maxApplied {
		return
	}
	now := r.now()
	r.applied[appliedKey{v.Bucket, v.Key, v.VersionID, v.Stamp}] = now
	if v.MetaStamp != v.Stamp {
		r.applied[appliedKey{v.Bucket, v.Key, v.VersionID, v.MetaStamp}] = now
	}
}

// ServeHTTP handles ApplyPath.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeAck(w, http.StatusMethodNotAllowed, ack{Error: "POST only", Code: codeBadRequest})
		return
	}
	s, err := decodeShipment(r.secret, req.Header)
	if err != nil {
		status, code := http.StatusBadRequest, codeBadRequest
		if errors.Is(err, errAuth) {
			status, code = http.StatusUnauthorized, codeAuth
		}
		writeAck(w, status, ack{Error: err.Error(), Code: code})
		return
	}
	applied, err := r.apply(s, req.Body)
	switch {
	case errors.Is(err, store.ErrNoSuchBucket):
		writeAck(w, http.StatusConflict, ack{Error: err.Error(), Code: codeNoSuchBucket})
	case errors.Is(err, errBadBody):
		writeAck(w, http.StatusBadRequest, ack{Error: err.Error(), Code: codeBadRequest})
	case err != nil:
		r.log.Error("replication: apply failed", "from", s.From, "kind", s.Kind, "err", err)
		writeAck(w, http.StatusInternalServerError, ack{Error: err.Error(), Code: codeInternal})
	default:
		writeAck(w, http.StatusOK, ack{Applied: applied})
	}
}

func writeAck(w http.ResponseWriter, status int, a ack) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}

var errBadBody = errors.New("shipment body does not match its parts")

func (r *Receiver) apply(s *shipment, body io.Reader) (bool, error) {
	switch s.Kind {
	case store.ChangeBucket:
		if s.Bucket == nil {
			return false, fmt.Errorf("%w: bucket change without configuration", errBadBody)
		}
		return r.st.ApplyBucket(*s.Bucket)
	case store.ChangeBucketDelete:
		ok, err := r.st.ApplyBucketDelete(s.Name, s.Stamp)
		if errors.Is(err, store.ErrBucketNotEmpty) {
			// The peer deleted a bucket this site still holds objects in,
			// which it had not seen: keep them rather than lose them.
			r.log.Warn("replication: bucket deleted at the peer is not empty here; kept", "bucket", s.Name)
			return false, nil
		}
		return ok, err
	case store.ChangeVersionDelete:
		return r.st.ApplyVersionDelete(s.Name, s.Key, s.VersionID)
	case store.ChangeVersion:
		if s.Version == nil {
			return false, fmt.Errorf("%w: version change without version", errBadBody)
		}
		return r.applyVersion(s.Version, body)
	}
	return false, fmt.Errorf("%w: unknown change kind %q", errBadBody, s.Kind)
}

func (r *Receiver) applyVersion(v *store.Version, body io.Reader) (bool, error) {
	for i := range v.Parts {
		p := &v.Parts[i]
		id, n, err := r.st.WriteBlob(io.LimitReader(body, p.Size))
		if err == nil && n != p.Size {
			r.st.RemoveBlob(id)
			err = fmt.Errorf("%w: part %d has %d of %d bytes", errBadBody, p.Number, n, p.Size)
		}
		if err != nil {
			for _, q := range v.Parts[:i] {
				r.st.RemoveBlob(q.Blob)
			}
			return false, err
		}
		p.Blob = id
	}
	if v.SSE != nil && v.SSE.Mode != sse.SSEC {
		switch {
		case r.flaws.Has(FlawSSEReencryptEcho):
			return r.reencryptLocally(v)
		case r.flaws.Has(FlawSSEPlaintextReplica):
			pv, err := r.decryptToPlain(v)
			if err != nil {
				return false, err
			}
			v = pv
		}
	}
	ok, err := r.st.ApplyVersion(v)
	if ok {
		r.recordApplied(v)
	}
	return ok, err
}

// plaintext reads a received encrypted version's plaintext, then drops its
// received blobs.
func (r *Receiver) plaintext(v *store.Version) ([]byte, error) {
	defer r.dropBlobs(v)
	return r.read(v)
}

// read reads a version's plaintext (SSE-C excepted).
func (r *Receiver) read(v *store.Version) ([]byte, error) {
	rc, err := objio.Open(r.st, r.kr, v, sse.Params{}, 0, v.Size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// dropBlobs removes the blobs of a received version that is not installed.
func (r *Receiver) dropBlobs(v *store.Version) {
	for _, p := range v.Parts {
		r.st.RemoveBlob(p.Blob)
	}
}

// decryptToPlain is FlawSSEPlaintextReplica: the replica keeps the
// version's identity but stores its plaintext, unencrypted.
func (r *Receiver) decryptToPlain(v *store.Version) (*store.Version, error) {
	data, err := r.plaintext(v)
	if err != nil {
		return nil, err
	}
	id, n, err := r.st.WriteBlob(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	pv := *v
	pv.SSE = nil
	pv.Multipart = false
	pv.Parts = []store.Part{{Number: 1, Blob: id, Size: n, PlainSize: n, ETag: v.ETag}}
	return &pv, nil
}

// reencryptLocally is FlawSSEReencryptEcho: instead of installing the
// origin's version, the replica writes the plaintext again under a data key
// of its own, as a local write that takes a new stamp and modification
// time — and is shipped back to the origin as the newest write of the key.
// Only a copy of what the site already holds is installed as it comes:
// that is where an echo stops instead of going round forever.
func (r *Receiver) reencryptLocally(v *store.Version) (bool, error) {
	data, err := r.read(v)
	if err != nil {
		r.dropBlobs(v)
		return false, err
	}
	cur, err := r.st.GetObject(v.Bucket, v.Key, "")
	if err == nil && cur.Stamp > v.Stamp {
		r.dropBlobs(v)
		return false, nil // already superseded here
	}
	if err == nil && cur.Size == v.Size && (cur.SSE == nil || cur.SSE.Mode != sse.SSEC) {
		if held, err := r.read(cur); err == nil && bytes.Equal(held, data) {
			ok, err := r.st.ApplyVersion(v) // drops the blobs if not applied
			if ok {
				r.recordApplied(v)
			}
			return ok, err
		}
	}
	r.dropBlobs(v)
	enc := sse.Params{Mode: v.SSE.Mode}
	if v.SSE.Mode == sse.SSEKMS {
		enc.KMSKeyID, enc.KMSContext = v.SSE.KeyID, v.SSE.KMSContext
	}
	meta := v.ObjectMeta
	_, err = objio.Put(r.st, r.kr, v.Bucket, v.Key, objio.PutInput{Body: bytes.NewReader(data), Size: int64(len(data)),
		Meta:       store.ObjectMeta{ContentType: meta.ContentType, Headers: meta.Headers, UserMeta: meta.UserMeta, Tags: meta.Tags},
		Encryption: enc})
	if err != nil {
		return false, err
	}
	r.recordApplied(v)
	return true, nil
}
