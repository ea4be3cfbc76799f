package s3api

import (
	"errors"
	"hash/fnv"
	"sync"

	"github.com/replcheck/replcheck/engine/store"
)

// keyLocks serialise conditional writes to one key, so that of two
// "If-None-Match: *" PUTs racing for a new key exactly one wins. Writes
// without conditions do not take them.
type keyLocks [64]sync.Mutex

func (l *keyLocks) lock(bucket, key string) func() {
	h := fnv.New32a()
	h.Write([]byte(bucket))
	h.Write([]byte{0})
	h.Write([]byte(key))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}

// writeConditions applies If-None-Match: * and If-Match to a PUT or a
// CompleteMultipartUpload (S3's conditional writes). The returned unlock
// must be called once the write is committed or has failed.
func (q *request) writeConditions() (unlock func(), err error) {
	inm, im := q.r.Header.Get("If-None-Match"), q.r.Header.Get("If-Match")
	if inm == "" && im == "" {
		return func() {}, nil
	}
	if inm != "" && inm != "*" {
		return nil, errNotImplemented("If-None-Match on a write with a value other than *")
	}
	unlock = q.h.keyLocks.lock(q.bucket, q.key)
	v, err := q.h.st.GetObject(q.bucket, q.key, "")
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, store.ErrNoSuchKey):
		unlock()
		return nil, q.fail(err)
	case inm == "*" && exists:
		unlock()
		return nil, errPreconditionFailed("If-None-Match: * and the key exists")
	case im != "" && !exists:
		unlock()
		return nil, errNoSuchKey(q.bucket, q.key)
	case im != "" && !etagMatch(im, v.ETag):
		unlock()
		return nil, errPreconditionFailed("If-Match and the ETag differs")
	}
	return unlock, nil
}
