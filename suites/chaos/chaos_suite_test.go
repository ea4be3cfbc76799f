// Package chaos_test is the chaos suite: faults of the WAN (partitions
// both ways and one way, latency and bandwidth, a flapping link) and of
// the sites (crash, pause, hard partition, clock skew) while both sites
// take writes; every spec is judged by the verifier once the fault is
// healed, and heals what it broke even when it fails.
package chaos_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
)

// env is the target of this run, shared by every spec.
var env *suite.Env

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Chaos")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	env = suite.SetUp(ctx)
}, NodeTimeout(3*time.Minute))
