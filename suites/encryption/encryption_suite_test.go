// Package encryption_test is the encryption suite: objects written with
// SSE-C, SSE-S3 and SSE-KMS, single-part and multipart, updated from one
// site and from both (in turn and at once), through S3 and, where the
// API allows, Swift, replicate without loss, corruption or downgrade.
// Calibration specs start their own embedded topology with each of the
// reference engine's encryption flaws and show that the same workload
// finds the damage.
package encryption_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
)

// env is the target of this run, shared by every spec.
var env *suite.Env

func TestEncryption(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Encryption")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	env = suite.SetUp(ctx)
}, NodeTimeout(3*time.Minute))
