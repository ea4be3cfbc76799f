package replication

import (
	"fmt"
	"sort"
	"strings"
)

// Flaw names a deliberate bug of the reference engine, modelled on one that
// real replicated stores have had. Every flaw is off unless a scenario
// turns it on; the verifier is calibrated by finding each one.
type Flaw string

// The named flaws. Each is a few lines at the place the real bug lives;
// search for the constant to find them.
const (
	// FlawSSEMultipartFlatten ships an encrypted multipart object as one
	// part: the replica loses the part boundaries each part's encryption
	// depends on and cannot decrypt it. In active-active, a "repair" at
	// the replica (delete or rewrite) replicates back and destroys the
	// original. Modelled on a long-lived multisite bug of a widely used
	// open-source store.
	FlawSSEMultipartFlatten Flaw = "sse-multipart-flatten"
	// FlawSSEReencryptEcho makes the replica re-encrypt an encrypted object
	// under a key of its own as a new local write: it takes a new stamp and
	// modification time, looks newer than the origin's copy, and echoes
	// back over a later write made at the origin meanwhile.
	FlawSSEReencryptEcho Flaw = "sse-reencrypt-echo"
	// FlawSSEPlaintextReplica stores encrypted objects unencrypted at the
	// peer (the replication path decrypts to ship and forgets to
	// re-encrypt).
	FlawSSEPlaintextReplica Flaw = "sse-plaintext-replica"
	// FlawSkipEncrypted silently does not replicate encrypted objects while
	// counting them as shipped, so the engine reports itself in sync.
	FlawSkipEncrypted Flaw = "skip-encrypted"
	// FlawWallclockLWW resolves conflicts last-writer-wins on each site's
	// wall clock: a site whose clock lags loses its later writes.
	FlawWallclockLWW Flaw = "wallclock-lww"
	// FlawDropDeleteWhilePeerDown drops a delete whose shipment fails
	// because the peer is unreachable, instead of retrying it.
	FlawDropDeleteWhilePeerDown Flaw = "drop-delete-while-peer-down"
	// FlawVolatileQueue keeps the replication queue in memory only: a
	// site crash loses every change not yet shipped.
	FlawVolatileQueue Flaw = "volatile-queue"
	// FlawNoRetry drops any shipment that fails (for example during a
	// partition) instead of retrying it.
	FlawNoRetry Flaw = "no-retry"
	// FlawSerialLargeObjects ships through a single stream, so one large
	// object holds back every change queued behind it.
	FlawSerialLargeObjects Flaw = "serial-large-objects"
)

// AllFlaws lists every named flaw.
var AllFlaws = []Flaw{
	FlawSSEMultipartFlatten, FlawSSEReencryptEcho, FlawSSEPlaintextReplica, FlawSkipEncrypted,
	FlawWallclockLWW, FlawDropDeleteWhilePeerDown, FlawVolatileQueue, FlawNoRetry, FlawSerialLargeObjects,
}

// Flaws is a set of flaws turned on.
type Flaws map[Flaw]bool

// ParseFlaws parses flaw names; an unknown name is an error that lists the
// known ones.
func ParseFlaws(names ...string) (Flaws, error) {
	f := Flaws{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || n == "none" {
			continue
		}
		known := false
		for _, k := range AllFlaws {
			if string(k) == n {
				f[k], known = true, true
			}
		}
		if !known {
			all := make([]string, len(AllFlaws))
			for i, k := range AllFlaws {
				all[i] = string(k)
			}
			return nil, fmt.Errorf("unknown flaw %q (known: %s)", n, strings.Join(all, ", "))
		}
	}
	return f, nil
}

// Has reports whether flaw f is on.
func (fs Flaws) Has(f Flaw) bool { return fs[f] }

// String lists the flaws that are on, or "none".
func (fs Flaws) String() string {
	var on []string
	for f, ok := range fs {
		if ok {
			on = append(on, string(f))
		}
	}
	if len(on) == 0 {
		return "none"
	}
	sort.Strings(on)
	return strings.Join(on, ",")
}
