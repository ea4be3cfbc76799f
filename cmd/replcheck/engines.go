package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/engines/ceph"
	"github.com/replcheck/replcheck/harness/engines/minio"
	engproc "github.com/replcheck/replcheck/harness/engines/proc"
	"github.com/replcheck/replcheck/harness/engines/swift"
	scenario "github.com/replcheck/replcheck/scenarios"
)

// startEngine starts a real engine's two-site topology on this host: the
// engine's programs must be installed (`make engines`); when they are not,
// the error says what is missing and how to install it.
func startEngine(ctx context.Context, target string, sites []string, log *slog.Logger) (harness.Topology, error) {
	switch target {
	case scenario.TargetMinIO:
		if err := minio.Check(); err != nil {
			return nil, err
		}
		t, err := minio.Start(ctx, minio.Options{Sites: sites, Logger: log})
		return started(ctx, t, err)
	case scenario.TargetCeph:
		if err := ceph.Check(); err != nil {
			return nil, err
		}
		// A crashed gateway's sync lease must expire before its successor
		// syncs again: 20 s instead of RGW's 120 s keeps crash scenarios
		// within their observation windows.
		t, err := ceph.Start(ctx, ceph.Options{Sites: sites, SyncLeasePeriod: 20 * time.Second, Logger: log})
		return started(ctx, t, err)
	case scenario.TargetSwift:
		if _, err := swift.Check(); err != nil {
			return nil, err
		}
		t, err := swift.Start(ctx, swift.Options{Sites: sites, Logger: log})
		return started(ctx, t, err)
	}
	return nil, fmt.Errorf("target %q is not a real engine", target)
}

// downEngines stops the processes of engine topologies whose harness is
// gone and removes their state, printing what it did.
func downEngines(w io.Writer) error {
	left, err := engproc.Leftovers("")
	if err != nil {
		return err
	}
	n := 0
	for _, l := range left {
		if l.OwnerAlive {
			fmt.Fprintf(w, "kept %s: the replcheck process that started it (pid %d) still runs\n", l.Dir, l.Record.Owner)
			continue
		}
		if err := engproc.Cleanup(l, 5*time.Second); err != nil {
			return err
		}
		n++
	}
	fmt.Fprintf(w, "removed %d engine topologies\n", n)
	return nil
}
