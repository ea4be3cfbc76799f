package replication

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/replcheck/replcheck/engine/store"
)

// kindQueue is the backend record kind of queued changes.
const kindQueue = "replq"

// entry is a queued change.
type entry struct {
	Seq      uint64       `json:"seq"`
	Change   store.Change `json:"change"`
	Recorded time.Time    `json:"recorded"` // when the change was made, on this site's clock
}

// Journal is the per-site change log: a store.Journal whose entries are
// kept as backend records until the peer has acknowledged them, so they
// survive a crash and a restart. Entries are split into streams by key (by
// bucket for bucket changes), so changes to one key ship in order while
// other keys ship in parallel.
type Journal struct {
	be      store.Backend // nil: volatile (FlawVolatileQueue)
	now     func() time.Time
	mu      sync.Mutex
	seq     uint64
	streams [][]*entry
	bytes   int64
	count   int
	wakes   []chan struct{} // one per stream: a new entry to ship
}

// OpenJournal loads the queued changes kept in be. With volatile true the
// journal keeps nothing in be (and finds nothing there).
func OpenJournal(be store.Backend, streams int, volatile bool, now func() time.Time) (*Journal, error) {
	if streams < 1 {
		streams = 1
	}
	if now == nil {
		now = time.Now
	}
	j := &Journal{be: be, now: now, streams: make([][]*entry, streams), wakes: make([]chan struct{}, streams)}
	for i := range j.wakes {
		j.wakes[i] = make(chan struct{}, 1)
	}
	if volatile {
		j.be = nil
		return j, nil
	}
	recs, err := be.Records(kindQueue)
	if err != nil {
		return nil, fmt.Errorf("open replication journal: %w", err)
	}
	var loaded []*entry
	for id, data := range recs {
		e := new(entry)
		if err := json.Unmarshal(data, e); err != nil {
			return nil, fmt.Errorf("replication journal record %s: %w", id, err)
		}
		loaded = append(loaded, e)
	}
	sort.Slice(loaded, func(a, b int) bool { return loaded[a].Seq < loaded[b].Seq })
	for _, e := range loaded {
		j.seq = max(j.seq, e.Seq)
		j.push(e)
	}
	return j, nil
}

func recordID(seq uint64) string { return fmt.Sprintf("%016x", seq) }

// stream picks the stream of a change: one per key, so a key's changes
// keep their order.
func (j *Journal) stream(c store.Change) int {
	h := fnv.New32a()
	h.Write([]byte(c.Bucket))
	if c.Kind == store.ChangeVersion || c.Kind == store.ChangeVersionDelete {
		h.Write([]byte{0})
		h.Write([]byte(c.Key))
	}
	return int(h.Sum32() % uint32(len(j.streams)))
}

func (j *Journal) push(e *entry) int {
	i := j.stream(e.Change)
	j.streams[i] = append(j.streams[i], e)
	j.count++
	j.bytes += e.Change.Size
	return i
}

// Record implements store.Journal: the change is durable in the journal
// before the store makes it durable itself.
func (j *Journal) Record(c store.Change) error {
	j.mu.Lock()
	j.seq++
	e := &entry{Seq: j.seq, Change: c, Recorded: j.now()}
	if j.be != nil {
		data, err := json.Marshal(e)
		if err == nil {
			err = j.be.PutRecord(kindQueue, recordID(e.Seq), data)
		}
		if err != nil {
			j.mu.Unlock()
			return err
		}
	}
	i := j.push(e)
	j.mu.Unlock()
	select {
	case j.wakes[i] <- struct{}{}:
	default:
	}
	return nil
}

// head returns the oldest entry of stream i, or nil.
func (j *Journal) head(i int) *entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.streams[i]) == 0 {
		return nil
	}
	return j.streams[i][0]
}

// done removes the head of stream i once it is shipped (or dropped).
func (j *Journal) done(i int, e *entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.streams[i]) == 0 || j.streams[i][0] != e {
		return
	}
	j.streams[i][0] = nil
	j.streams[i] = j.streams[i][1:]
	j.count--
	j.bytes -= e.Change.Size
	if j.be != nil {
		_ = j.be.DeleteRecord(kindQueue, recordID(e.Seq))
	}
}

// Pending returns the number of queued changes and their stored bytes.
func (j *Journal) Pending() (ops int, bytes int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.count, j.bytes
}

// Oldest returns when the oldest queued change was made (zero if none).
func (j *Journal) Oldest() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	var t time.Time
	for _, s := range j.streams {
		if len(s) > 0 && (t.IsZero() || s[0].Recorded.Before(t)) {
			t = s[0].Recorded
		}
	}
	return t
}

// Streams returns the number of shipping streams.
func (j *Journal) Streams() int { return len(j.streams) }

func (e *entry) String() string {
	c := e.Change
	s := string(c.Kind) + " " + c.Bucket
	if c.Key != "" {
		s += "/" + c.Key
	}
	if c.VersionID != "" {
		s += "@" + c.VersionID
	}
	return s + " #" + strconv.FormatUint(e.Seq, 10)
}
