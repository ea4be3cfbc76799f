package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/scenarios"
)

// fakeSite is a site that can take every site fault and does nothing.
type fakeSite struct{ name string }

func (s fakeSite) Name() string                     { return s.name }
func (s fakeSite) Region() string                   { return "test" }
func (s fakeSite) Replicated() harness.Endpoint     { return harness.Endpoint{} }
func (s fakeSite) NonReplicated() harness.Endpoint  { return harness.Endpoint{} }
func (s fakeSite) Credentials() harness.Credentials { return harness.Credentials{} }
func (s fakeSite) Crash(context.Context) error      { return nil }
func (s fakeSite) Restart(context.Context) error    { return nil }
func (s fakeSite) Pause(context.Context) error      { return nil }
func (s fakeSite) Resume(context.Context) error     { return nil }
func (s fakeSite) Disconnect(context.Context) error { return nil }
func (s fakeSite) Reconnect(context.Context) error  { return nil }
func (s fakeSite) SetClockSkew(time.Duration) error { return nil }

type fakeLink struct{ from, to string }

func (l fakeLink) From() string { return l.from }
func (l fakeLink) To() string   { return l.to }

// WAN is a link value that is never used: Validate only asks whether a
// direction has a proxy.
func (l fakeLink) WAN() *wan.Link { return &wan.Link{} }

// fakeTopo is a topology of two fake sites with a WAN proxy each way and
// every capability (or caps, if set), for nemesis.Timeline.Validate.
type fakeTopo struct {
	sites []harness.Site
	caps  harness.Capabilities
}

func newFakeTopo(names []string) *fakeTopo {
	t := &fakeTopo{}
	for _, n := range names {
		t.sites = append(t.sites, fakeSite{n})
	}
	return t
}

func (t *fakeTopo) Target() string                         { return "embedded" }
func (t *fakeTopo) Sites() []harness.Site                  { return t.sites }
func (t *fakeTopo) Site(name string) (harness.Site, error) { return harness.FindSite(t.sites, name) }
func (t *fakeTopo) Close(context.Context) error            { return nil }

func (t *fakeTopo) Capabilities() harness.Capabilities {
	if t.caps != nil {
		return t.caps
	}
	return harness.Capabilities{harness.CapPartition: true, harness.CapWANShape: true, harness.CapCrash: true,
		harness.CapPause: true, harness.CapDisconnect: true, harness.CapClockSkew: true, harness.CapFlaws: true}
}

func (t *fakeTopo) Link(from, to string) (harness.Link, error) {
	_, errFrom := t.Site(from)
	_, errTo := t.Site(to)
	if err := errors.Join(errFrom, errTo); err != nil || from == to {
		return nil, fmt.Errorf("no link %s→%s", from, to)
	}
	return fakeLink{from, to}, nil
}

func (t *fakeTopo) Links() []harness.Link {
	var out []harness.Link
	for _, a := range t.sites {
		for _, b := range t.sites {
			if a.Name() != b.Name() {
				out = append(out, fakeLink{a.Name(), b.Name()})
			}
		}
	}
	return out
}

// minimal is the smallest valid scenario: everything else is defaults.
const minimal = `name: t
description: d
workload:
  duration: 20s
`

// parse parses src as file t.yaml and fails the test on error.
func parse(t *testing.T, src string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%v\nsource:\n%s", err, numbered(src))
	}
	return s
}

// errorLines parses src, which must fail, and returns its error's lines.
func errorLines(t *testing.T, src string) []string {
	t.Helper()
	_, err := scenario.Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatalf("no error; source:\n%s", numbered(src))
	}
	return strings.Split(err.Error(), "\n")
}

// numbered shows src with line numbers, for failure messages.
func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(strings.TrimSuffix(src, "\n"), "\n") {
		fmt.Fprintf(&b, "%3d | %s\n", i+1, l)
	}
	return b.String()
}
