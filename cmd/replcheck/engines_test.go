package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/external"
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

type noSwiftSite struct{ harness.Site }

func (s noSwiftSite) Replicated() harness.Endpoint {
	return harness.Endpoint{S3: s.Site.Replicated().S3}
}
func (s noSwiftSite) NonReplicated() harness.Endpoint { return harness.Endpoint{} }

// noSwiftTopo is a topology like MinIO's: S3 only, no non-replicated
// endpoint, its links on one toxiproxy server.
type noSwiftTopo struct{ harness.Topology }

func (t noSwiftTopo) Sites() []harness.Site {
	var out []harness.Site
	for _, s := range t.Topology.Sites() {
		out = append(out, noSwiftSite{s})
	}
	return out
}

// TestSitesFileWithoutSwift: the sites file of a topology without Swift
// names no Swift credentials, and loads; its links carry the toxiproxy
// control address.
func TestSitesFileWithoutSwift(t *testing.T) {
	topo, err := embedded.Start(context.Background(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close(context.Background())
	path := filepath.Join(t.TempDir(), "sites.yaml")
	export, err := writeSitesFile(path, noSwiftTopo{topo})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(export, "SWIFT") {
		t.Errorf("export line names Swift credentials: %s", export)
	}
	c := topo.Sites()[0].Credentials()
	t.Setenv(envAccessKey, c.AccessKey)
	t.Setenv(envSecretKey, c.SecretKey)
	f, err := external.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "swift") || len(f.Links) != 2 || f.Links[0].Toxiproxy != topo.WANControl() {
		t.Errorf("sites file:\n%s", data)
	}
}
