package replication_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
)

// env is the target of this run, shared by every spec.
var env *suite.Env

func TestReplication(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Replication")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	env = suite.SetUp(ctx)
}, NodeTimeout(3*time.Minute))
