package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/embedded"
)

// ownSwiftKeySite has a Swift key of its own, as Ceph's sites do.
type ownSwiftKeySite struct{ harness.Site }

func (s ownSwiftKeySite) Credentials() harness.Credentials {
	c := s.Site.Credentials()
	c.SwiftKey = "swift-key-of-its-own"
	return c
}

type ownSwiftKeyTopo struct{ harness.Topology }

func (t ownSwiftKeyTopo) Sites() []harness.Site {
	var out []harness.Site
	for _, s := range t.Topology.Sites() {
		out = append(out, ownSwiftKeySite{s})
	}
	return out
}

// TestPrintTopologySwiftKey: the Swift key is printed where it is not the
// S3 secret key, and said to be that key where it is.
func TestPrintTopologySwiftKey(t *testing.T) {
	topo, err := embedded.Start(context.Background(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close(context.Background())
	var same, own bytes.Buffer
	printTopology(&same, topo, replication.Flaws{}, false, "", "")
	printTopology(&own, ownSwiftKeyTopo{topo}, replication.Flaws{}, false, "", "")
	if !strings.Contains(same.String(), "(key: the S3 secret key)") || strings.Contains(same.String(), "Swift key:") {
		t.Errorf("Swift key equal to the S3 secret:\n%s", same.String())
	}
	if !strings.Contains(own.String(), "Swift key:      swift-key-of-its-own") || strings.Contains(own.String(), "the S3 secret key") {
		t.Errorf("Swift key of its own:\n%s", own.String())
	}
}
