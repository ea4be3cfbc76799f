// Package conformance_test holds the conformance suite: per site, the S3
// and Swift behaviours a replicated endpoint must have (and what sets it
// apart from the site's non-replicated endpoint), so that a vendor can
// point it at their own endpoints with --target external --sites FILE.
//
// Every spec talks to the endpoints with unrecorded clients (minio-go, or
// plain signed HTTP for S3; plain HTTP with a TempAuth token for Swift) and
// checks what the protocols promise, not how the reference engine happens
// to answer: headers such as X-Replcheck-Replicated are never asserted.
package conformance_test

import (
	"flag"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/replcheck/replcheck/suites/suite"
	"github.com/replcheck/replcheck/verifier/client"
)

var (
	// flagReplicationWait bounds how long a spec waits for something to
	// reach the peer site (a bucket, an object).
	flagReplicationWait = flag.Duration("replication-wait", 30*time.Second,
		"how long a conformance spec waits for a bucket or object to reach the peer site")
	// flagAbsenceWait is how long a spec keeps waiting, after replication
	// was seen to flow, before it calls something's absence at the peer final.
	flagAbsenceWait = flag.Duration("absence-wait", 3*time.Second,
		"how long, after replication was seen to flow, a spec waits before asserting that something never reached the peer")
)

// env is the target of this run, shared by every spec.
var env *suite.Env

// hc sends the suite's plain HTTP requests (signed S3, Swift).
var hc *http.Client

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Conformance")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	tr := client.NewTransport()
	hc = &http.Client{Transport: tr, Timeout: time.Minute}
	DeferCleanup(tr.CloseIdleConnections)
	env = suite.SetUp(ctx)
}, NodeTimeout(3*time.Minute))
