package suite

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// SetUp is the body of each suite's BeforeSuite: it sets up the target,
// registers its teardown (which runs even when the set-up failed half
// way, to remove what it made) and fails the suite on a set-up error.
func SetUp(ctx context.Context) *Env {
	env, err := Setup(ctx)
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) {
		gomega.Expect(env.Teardown(ctx)).To(gomega.Succeed())
	}, ginkgo.NodeTimeout(2*time.Minute))
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return env
}
