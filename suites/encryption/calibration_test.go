package encryption_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
)

// calibrationWithin bounds the calibration's judgements: with its flaw
// on, the engine has done its damage within milliseconds, and a
// judgement that finds it waits this long for it to go away.
const calibrationWithin = 4 * time.Second

// cases returns the cases of the given modes and sizes.
func cases(ms []string, multipart ...bool) []encCase {
	var out []encCase
	for _, m := range ms {
		for _, mp := range multipart {
			out = append(out, encCase{mode: m, multipart: mp})
		}
	}
	return out
}

// items plays every case through every pattern.
func items(cs []encCase, ps ...pattern) []item {
	var out []item
	for _, p := range ps {
		for _, c := range cs {
			out = append(out, item{p, c})
		}
	}
	return out
}

var _ = Describe("calibration: the encryption workload finds the encryption flaws", Label("encryption", "calibration"), func() {
	serverSide := []string{client.SSES3, client.SSEKMS}
	for _, tc := range []struct {
		flaw replication.Flaw
		// expect are the anomalies the flaw's scenario expects
		// (scenarios/flaw-*.yaml).
		expect []string
		work   []item
	}{
		{replication.FlawSSEMultipartFlatten, []string{suite.Unreadable},
			items(cases(modes, true), oneWay)},
		{replication.FlawSSEReencryptEcho, []string{suite.LostWrite},
			items(cases(serverSide, false), heldBack)},
		{replication.FlawSSEPlaintextReplica, []string{suite.EncryptionDowngrade},
			items(cases(serverSide, false), oneWay, inTurn, concurrent, swiftConcurrent)},
		{replication.FlawSkipEncrypted, []string{suite.MissingReplica, suite.StatusMismatch},
			items(cases(modes, false), oneWay, inTurn, concurrent, swiftInTurn)},
	} {
		It(fmt.Sprintf("finds %v with %s on", tc.expect, tc.flaw), func(ctx SpecContext) {
			if env.Target != suite.TargetEmbedded {
				Skip(fmt.Sprintf("calibration starts its own embedded topology with %s on; this run's target is %s, whose store is the one under test", tc.flaw, env.Target))
			}
			topo, err := embedded.Start(ctx, embedded.Options{Flaws: replication.Flaws{tc.flaw: true},
				MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second})
			var flawed *suite.Env
			if topo != nil {
				flawed = suite.NewEnv(embedded.Target, topo)
				flawed.Flaws = replication.Flaws{tc.flaw: true}
				DeferCleanup(func(ctx SpecContext) { Expect(flawed.Teardown(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
			}
			Expect(err).NotTo(HaveOccurred())

			r := newRun(flawed, false, calibrationWithin)
			passed := r.play(ctx, tc.work...)
			Expect(passed).To(BeFalse(), "the encryption workload passed on an engine with %s", tc.flaw)
			Expect(r.last.Verdict).To(Equal(reports.Fail), r.last.String())
			for _, e := range tc.expect {
				Expect(r.last.Found).To(ContainElement(e), "with %s: %s", tc.flaw, r.last.String())
			}
			GinkgoWriter.Printf("%s found: %s\n", tc.flaw, r.last.String())
		}, SpecTimeout(2*time.Minute))
	}
})
