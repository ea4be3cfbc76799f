// Package engines starts the two-site topology of a real engine (MinIO,
// Ceph RGW, Swift) by name, and cleans up engine topologies whose owner
// died. It is what the CLI and the suites share, so that both start an
// engine the same way.
package engines

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/engines/ceph"
	"github.com/replcheck/replcheck/harness/engines/minio"
	"github.com/replcheck/replcheck/harness/engines/proc"
	"github.com/replcheck/replcheck/harness/engines/swift"
)

// Names of the real engines, as targets.
const (
	MinIO = minio.Target
	Ceph  = ceph.Target
	Swift = swift.Target
)

// Names lists the real engines.
var Names = []string{MinIO, Ceph, Swift}

// Is reports whether target names a real engine.
func Is(target string) bool { return slices.Contains(Names, target) }

// Start starts a real engine's two-site topology on this host, its sites
// named sites (nil: the engine's defaults); log gets the engine's own log
// lines (nil: none). The engine's programs must be installed (`make
// engines`); when they are not, the error says what is missing and how to
// install it. A topology that fails half way is closed before Start
// returns.
func Start(ctx context.Context, target string, sites []string, log *slog.Logger) (harness.Topology, error) {
	switch target {
	case MinIO:
		if err := minio.Check(); err != nil {
			return nil, err
		}
		t, err := minio.Start(ctx, minio.Options{Sites: sites, Logger: log})
		return harness.Started(ctx, t, err)
	case Ceph:
		if err := ceph.Check(); err != nil {
			return nil, err
		}
		// A crashed gateway's sync lease must expire before its successor
		// syncs again: 20 s instead of RGW's 120 s keeps crash scenarios
		// within their observation windows.
		t, err := ceph.Start(ctx, ceph.Options{Sites: sites, SyncLeasePeriod: 20 * time.Second, Logger: log})
		return harness.Started(ctx, t, err)
	case Swift:
		if _, err := swift.Check(); err != nil {
			return nil, err
		}
		t, err := swift.Start(ctx, swift.Options{Sites: sites, Logger: log})
		return harness.Started(ctx, t, err)
	}
	return nil, fmt.Errorf("target %q is not a real engine", target)
}

// Down stops the processes of engine topologies whose harness is gone
// and removes their state, printing to w what it did. Topologies whose
// owner still runs are kept.
func Down(w io.Writer) error {
	left, err := proc.Leftovers("")
	if err != nil {
		return err
	}
	n := 0
	for _, l := range left {
		if l.OwnerAlive {
			fmt.Fprintf(w, "kept %s: the replcheck process that started it (pid %d) still runs\n", l.Dir, l.Record.Owner)
			continue
		}
		if err := proc.Cleanup(l, 5*time.Second); err != nil {
			return err
		}
		n++
	}
	fmt.Fprintf(w, "removed %d engine topologies\n", n)
	return nil
}
