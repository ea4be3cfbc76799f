package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestEngineTargetsWithoutBinaries: a real-engine target whose programs
// are not installed exits 3 naming what is missing and how to install it;
// flaws are refused on them as bad input.
func TestEngineTargetsWithoutBinaries(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // no engines directory
	t.Setenv("REPLCHECK_ENGINES_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	for target, want := range map[string]string{
		"minio": "go install github.com/minio/minio@",
		"ceph":  "apt-get install",
		"swift": "apt-get install",
	} {
		var errb bytes.Buffer
		code := run(context.Background(), []string{"run", "quickstart", "--target", target, "-q", "--out", t.TempDir()}, &bytes.Buffer{}, &errb)
		if code != exitInfra || !strings.Contains(errb.String(), "not found") || !strings.Contains(errb.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 3 naming what is missing and %q", target, code, errb.String(), want)
		}
	}
	var errb bytes.Buffer
	code := run(context.Background(), []string{"topology", "up", "--target", "ceph", "--flaw", "no-retry"}, &bytes.Buffer{}, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "runs a real engine") {
		t.Errorf("topology up --target ceph --flaw: exit %d, stderr %q", code, errb.String())
	}
}
