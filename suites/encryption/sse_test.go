package encryption_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
)

// patterns are every way the specs update a key.
var patterns = []pattern{oneWay, inTurn, concurrent, swiftInTurn, swiftConcurrent, heldBack}

// flawLabels are the reference engine's flaws that playing c through p
// on the suite's target catches, as "flaw:<name>" labels; the flaw
// matrix checks them.
func flawLabels(p pattern, c encCase) []string {
	l := []replication.Flaw{
		// Every pattern replicates an encrypted write, which never arrives.
		replication.FlawSkipEncrypted,
	}
	if c.mode != client.SSEC {
		// The replica of an SSE-S3 or SSE-KMS write is stored in clear
		// (SSE-C replicas cannot be decrypted by the engine: untouched).
		l = append(l, replication.FlawSSEPlaintextReplica)
	}
	if c.multipart {
		// The replica loses its part layout and cannot be decrypted.
		l = append(l, replication.FlawSSEMultipartFlatten)
	}
	if p.versioned && c.mode != client.SSEC {
		// An old version arriving after later ones were acknowledged is
		// re-encrypted as a new write and echoes back over them. The
		// other patterns let each write arrive before the next one of its
		// key (or race it at both sites, where either may win): no echo
		// can overtake an acknowledged later write there.
		l = append(l, replication.FlawSSEReencryptEcho)
	}
	if p.versioned {
		// The shipment that hangs in the blackhole fails when the link
		// heals; dropped instead of retried, its key never arrives.
		l = append(l, replication.FlawNoRetry)
	}
	out := make([]string, len(l))
	for i, f := range l {
		out[i] = "flaw:" + string(f)
	}
	return out
}

// skipIf skips the spec, with why, unless why is "".
func skipIf(why string) {
	if why != "" {
		Skip(why)
	}
}

// skipUnless skips the spec, saying why, when the target lacks caps.
func skipUnless(caps ...harness.Capability) {
	if why := env.Missing(caps...); why != "" {
		Skip(why)
	}
}

var _ = Describe("encrypted objects", Label("encryption"), func() {
	for _, mode := range modes {
		Describe(mode, func() {
			for _, mp := range []bool{false, true} {
				c := encCase{mode: mode, multipart: mp}
				for _, p := range patterns {
					if mp && (p.swift || p.versioned) {
						continue // Swift writes single parts; held-back is about versions, not parts
					}
					size := "single-part"
					if mp {
						size = "multipart"
					}
					It(fmt.Sprintf("%s objects %s replicate without loss", size, p.what), Label(flawLabels(p, c)...), func(ctx SpecContext) {
						skipUnless(p.needs...)
						skipIf(env.MissingSSE(c.mode))
						if p.swift {
							skipIf(env.MissingSwift()) // what Swift does with encrypted objects
						}
						if p.versioned {
							skipIf(env.MissingVersioning(ctx))
						}
						r := newRun(env, true, within)
						Expect(r.play(ctx, item{p, c})).To(BeTrue())
					}, SpecTimeout(2*time.Minute))
				}
			}
		})
	}
})
