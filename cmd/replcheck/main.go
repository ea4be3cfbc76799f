// Command replcheck is a conformance and chaos test harness for two-site
// replicated object storage. This file only wires commands together; the
// work lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, as documented in the README.
const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
	exitInfra = 3
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, a...)}
}

func infraErr(err error) error { return &exitError{exitInfra, err} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "replcheck",
		Short: "Conformance and chaos tests for two-site replicated object storage",
		Long: `replcheck checks two-site replicated object storage (S3 and Swift over one
namespace, asynchronous replication both ways): it runs the reference engine
or points at real endpoints, injects WAN and site faults, and verifies that
every acknowledged write converged, intact, within the replication target.

Each run plays a scenario (a workload, faults, the checks it must pass)
against a target: embedded (two sites in this process, the default),
containers (each site in a Docker container) or external (your own two
sites, described by a sites file). It leaves a run folder with result.json,
history.jsonl and a report.

Start here:
  replcheck run quickstart       two sites in this process, ten seconds of
                                 writes at both, a verdict (about 20 s)
  replcheck scenarios            the scenario library, one line each
  replcheck report RUN_DIR       a run folder's report.html, rendered again
  replcheck probe --sites FILE   a replication canary for your own two sites
  replcheck calibrate            proof that the verifier finds every flaw

Exit codes: 0 pass, 1 a verdict failed or was undecided, 2 bad input, 3 the
target could not be started or reached.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{exitUsage, fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	root.AddCommand(newSiteCmd(), newTopologyCmd(), newRunCmd(), newVerifyCmd(), newCalibrateCmd(), newWANProxyCmd(), newProbeCmd(), newReportCmd(), newScenariosCmd())
	return root
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns its exit code. Cancelling ctx
// stops long-running commands as SIGINT would.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitPass
	}
	if !errors.Is(err, errSilent) {
		fmt.Fprintln(stderr, "replcheck:", err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Cobra's own argument errors (unknown command, wrong arg count).
	return exitUsage
}
