// Package hlc is a hybrid logical clock: timestamps that follow wall-clock
// time closely, never go backwards, and move past every timestamp the
// clock has seen from other sites. Replication orders writes to the same
// key by (timestamp, site) so both sites pick the same winner, and a write
// made after seeing another is always ordered after it, even when the
// writer's wall clock lags.
package hlc

import (
	"fmt"
	"sync"
	"time"
)

// Timestamp packs milliseconds since the Unix epoch in the high 48 bits
// and a logical counter in the low 16 bits, so timestamps compare as
// integers.
type Timestamp uint64

const logicalBits = 16

// New builds a timestamp from wall time in milliseconds and a counter.
func New(ms int64, logical uint16) Timestamp {
	return Timestamp(uint64(ms)<<logicalBits | uint64(logical))
}

// Millis returns the wall-clock part, in milliseconds since the epoch.
func (t Timestamp) Millis() int64 { return int64(t >> logicalBits) }

// Logical returns the counter part.
func (t Timestamp) Logical() uint16 { return uint16(t) }

// Time returns the wall-clock part as a time.
func (t Timestamp) Time() time.Time { return time.UnixMilli(t.Millis()).UTC() }

// String shows the wall time and counter.
func (t Timestamp) String() string {
	return fmt.Sprintf("%s+%d", t.Time().Format("2006-01-02T15:04:05.000Z"), t.Logical())
}

// Clock issues timestamps. Its zero value is not usable: use NewClock.
type Clock struct {
	mu   sync.Mutex
	now  func() time.Time
	last Timestamp
	// wall makes Observe a no-op: stamps follow the local wall clock only.
	wall bool
}

// NewClock returns a clock reading wall time from now (nil: time.Now).
// Tests and clock-skew faults pass a skewed source.
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now}
}

// Now returns a timestamp greater than every one issued or observed before.
func (c *Clock) Now() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	wall := New(c.now().UnixMilli(), 0)
	if wall > c.last {
		c.last = wall
	} else {
		// Same millisecond (or the wall clock went back): count on. A
		// counter overflow carries into the milliseconds, still monotonic.
		c.last++
	}
	return c.last
}

// NewWallClock returns a clock that ignores what it observes: its stamps
// follow the local wall clock alone, so a site whose clock lags stamps its
// later writes as older. It models last-writer-wins on wall clocks
// (the reference engine's wallclock-lww flaw).
func NewWallClock(now func() time.Time) *Clock {
	c := NewClock(now)
	c.wall = true
	return c
}

// Observe moves the clock past a timestamp received from another site.
func (c *Clock) Observe(t Timestamp) {
	c.mu.Lock()
	if t > c.last && !c.wall {
		c.last = t
	}
	c.mu.Unlock()
}

// Last returns the latest timestamp issued or observed.
func (c *Clock) Last() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
