package scenario_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/nemesis"
	"github.com/replcheck/replcheck/scenarios"
	"github.com/replcheck/replcheck/verifier/checker"
)

// TestLibrary: every file of the library loads and validates, from disk
// and embedded alike, and its timeline is one nemesis accepts.
func TestLibrary(t *testing.T) {
	lib, err := scenario.Library()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := scenario.List(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(lib) != len(files) || len(listed) != len(files) {
		t.Fatalf("%d files, %d embedded, %d listed", len(files), len(lib), len(listed))
	}
	for i, s := range lib {
		t.Run(s.Name, func(t *testing.T) {
			if want := strings.TrimSuffix(files[i], ".yaml"); s.Name != want {
				t.Fatalf("library[%d] is %q, file %s", i, s.Name, files[i])
			}
			if listed[i].Name != s.Name || listed[i].Description != s.Description {
				t.Errorf("on disk: %q, embedded: %q", listed[i].Name, s.Name)
			}
			if strings.Count(strings.TrimSpace(s.Description), "\n") > 0 {
				t.Errorf("description is not one paragraph: %q", s.Description)
			}
			if len(s.Description) < 80 {
				t.Errorf("description too short to say what the scenario shows and why: %q", s.Description)
			}
			if s.RunLength() == 0 {
				t.Error("library scenarios have a workload duration")
			}
			tl, err := s.Timeline()
			if err != nil {
				t.Fatal(err)
			}
			if err := tl.Validate(newFakeTopo(s.Topology.Sites)); err != nil {
				t.Errorf("nemesis refuses the timeline: %v", err)
			}
			if d := tl.Duration(); d > s.RunLength() {
				t.Errorf("timeline lasts %v, the run %v", d, s.RunLength())
			}
			before := *s
			if err := s.Validate(); err != nil {
				t.Errorf("a loaded scenario does not validate again: %v", err)
			}
			if !equalScenario(before, *s) {
				t.Error("Validate changed the scenario")
			}
		})
	}
}

func TestLibraryScenarios(t *testing.T) {
	lib, err := scenario.Library()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*scenario.Scenario{}
	for _, s := range lib {
		byName[s.Name] = s
	}
	for _, name := range []string{"quickstart", "baseline", "partition-heal", "site-crash", "encryption-bidirectional",
		"wan-latency", "one-way-partition", "site-outage", "flapping-link", "large-objects", "clock-skew",
		"delete-while-peer-down", "cross-api", "versioning", "pre-maintenance", "hard-partition"} {
		s := byName[name]
		if s == nil {
			t.Errorf("no %s scenario", name)
			continue
		}
		if len(s.Topology.Flaws) > 0 || len(s.Checks.Expect) > 0 {
			t.Errorf("%s: flaws %v, expect %v; want a correct engine and no anomaly", name, s.Topology.Flaws, s.Checks.Expect)
		}
		if !slices.Equal(s.Topology.Sites, scenario.DefaultSites) {
			t.Errorf("%s: sites %v, want %v", name, s.Topology.Sites, scenario.DefaultSites)
		}
		if want := scenario.TargetEmbedded; name != "hard-partition" && s.Topology.Target != want {
			t.Errorf("%s: target %s, want %s", name, s.Topology.Target, want)
		}
		// Long enough to show something, short enough to run by hand.
		longest := time.Minute
		if name == "large-objects" {
			longest = 2 * time.Minute
		}
		if d := s.Workload.Duration; d < 10*time.Second || d > longest {
			t.Errorf("%s: workload %v; want 10s to %v", name, d, longest)
		}
	}
	if q := byName["quickstart"]; q != nil {
		if q.RunLength() > 20*time.Second || len(q.Faults) > 0 || q.WAN != nil {
			t.Errorf("quickstart: runs %v with %d faults, wan %v; want at most 20s, no faults", q.RunLength(), len(q.Faults), q.WAN)
		}
	}
	if c := byName["site-crash"]; c != nil {
		tl, err := c.Timeline()
		if err != nil {
			t.Fatal(err)
		}
		crashes := 0
		for _, st := range tl {
			if _, ok := st.Fault.(*nemesis.SiteCrash); ok && st.At > 0 && st.At+st.For < c.Workload.Duration {
				crashes++
			}
		}
		if c.Topology.Data != scenario.DataDisk || crashes != 1 {
			t.Errorf("site-crash: data %s, %d crashes within the workload", c.Topology.Data, crashes)
		}
	}
}

// TestLibraryFaultScenarios: each scenario has what it exists to show.
func TestLibraryFaultScenarios(t *testing.T) {
	need := func(name, what string, ok func(s *scenario.Scenario) bool) {
		t.Helper()
		s, err := scenario.Find(name)
		if err != nil {
			t.Error(err)
			return
		}
		if !ok(s) {
			t.Errorf("%s: %s", name, what)
		}
	}
	// steps returns the scenario's steps of one kind.
	steps := func(s *scenario.Scenario, kind string) []scenario.FaultStep {
		var out []scenario.FaultStep
		for _, st := range s.Faults {
			if slices.Contains(st.Kinds(), kind) {
				out = append(out, st)
			}
		}
		return out
	}
	long := func(s *scenario.Scenario, st scenario.FaultStep) bool {
		d := st.For
		if d == 0 {
			d = s.Workload.Duration - st.At
		}
		return d >= 15*time.Second
	}
	bothWrite := func(s *scenario.Scenario) bool {
		return s.Workload.Sites["europe-se-1a"] > 0 && s.Workload.Sites["europe-se-1b"] > 0
	}
	need("wan-latency", "want a long-haul WAN (≥ 100 ms, jitter, a bandwidth limit), no faults, a spread of sizes", func(s *scenario.Scenario) bool {
		return s.WAN != nil && s.WAN.Latency >= 100*time.Millisecond && s.WAN.Jitter > 0 && s.WAN.Bandwidth > 0 &&
			len(s.Faults) == 0 && slices.ContainsFunc(s.Workload.Sizes, scenario.SizeClass.IsRange)
	})
	need("one-way-partition", "want one direction blackholed for a long stretch while both sites write", func(s *scenario.Scenario) bool {
		p := steps(s, "partition")
		return len(p) == 1 && !p[0].Partition.Both && p[0].Partition.Mode == scenario.ModeBlackhole && long(s, p[0]) && bothWrite(s)
	})
	need("site-outage", "want a long crash on disk data of the site taking fewer writes", func(s *scenario.Scenario) bool {
		c := steps(s, "crash")
		return len(c) == 1 && long(s, c[0]) && s.Topology.Data == scenario.DataDisk && bothWrite(s) &&
			s.Workload.Sites[c[0].Crash.Site] < s.Workload.Sites[otherSite(c[0].Crash.Site)] && c[0].For > 0
	})
	need("flapping-link", "want the WAN flapping for a long stretch", func(s *scenario.Scenario) bool {
		f := steps(s, "flap")
		return len(f) == 1 && long(s, f[0]) && bothWrite(s)
	})
	need("large-objects", "want sizes spread up to 256 MiB or more, multipart, a bandwidth-limited WAN and disk data", func(s *scenario.Scenario) bool {
		top := slices.ContainsFunc(s.Workload.Sizes, func(c scenario.SizeClass) bool { return c.IsRange() && c.Max >= 256*scenario.MiB })
		return top && s.Workload.Mix.Multipart > 0 && s.WAN != nil && s.WAN.Bandwidth > 0 && s.Topology.Data == scenario.DataDisk
	})
	need("clock-skew", "want one site's clock behind while both sites write the same keys", func(s *scenario.Scenario) bool {
		c := steps(s, "clock_skew")
		return len(c) == 1 && c[0].ClockSkew.Skew < 0 && bothWrite(s) && s.Workload.BothSites.Sequential+s.Workload.BothSites.Concurrent > 0 &&
			// Writes apart by more than the uncertainty and less than the skew
			// are what a wall-clock engine gets wrong.
			s.Checks.ClockUncertainty*10 <= -c[0].ClockSkew.Skew
	})
	need("delete-while-peer-down", "want deletes and overwrites at one site while the other is cut off, then down", func(s *scenario.Scenario) bool {
		w := s.Workload
		return w.Mix.Delete > 0 && w.Mix.Overwrite > 0 && len(steps(s, "partition")) > 0 && len(steps(s, "crash")) > 0 &&
			w.Sites["europe-se-1b"] == 0 && steps(s, "crash")[0].Crash.Site == "europe-se-1b"
	})
	need("cross-api", "want S3 and Swift about equally at both sites, with writes to keys just written at the other", func(s *scenario.Scenario) bool {
		a := s.Workload.APIs
		return a.S3 > 0 && a.Swift > 0 && a.S3 <= 2*a.Swift && a.Swift <= 2*a.S3 && bothWrite(s) && s.Workload.BothSites.Sequential > 0
	})
	need("versioning", "want a versioned bucket with overwrites and deletes at both sites", func(s *scenario.Scenario) bool {
		m := s.Workload.Mix
		return s.Workload.Versioning && m.Overwrite > 0 && m.Delete > 0 && bothWrite(s)
	})
	need("pre-maintenance", "want a light, non-destructive S3 load of small objects at both sites, nothing injected, run with --sites", func(s *scenario.Scenario) bool {
		small := !slices.ContainsFunc(s.Workload.Sizes, func(c scenario.SizeClass) bool { return c.Size > 64*scenario.KiB || c.Max > 64*scenario.KiB })
		return len(s.Faults) == 0 && s.WAN == nil && len(s.Topology.Flaws) == 0 && small && bothWrite(s) &&
			s.Workload.Rate > 0 && s.Workload.Rate <= 20 && s.Workload.APIs.Swift == 0 && s.Workload.SSE.Encrypted() == 0 &&
			s.Workload.Buckets == 1 && s.Checks.SLO == 15*time.Minute && s.Checks.Observe >= time.Minute &&
			strings.Contains(s.Description, "--sites FILE")
	})
}

func otherSite(name string) string {
	if name == scenario.DefaultSites[0] {
		return scenario.DefaultSites[1]
	}
	return scenario.DefaultSites[0]
}

// TestFlawScenarios: one calibration scenario per flaw, which turns that
// flaw on and expects the anomaly it causes.
func TestFlawScenarios(t *testing.T) {
	want := map[replication.Flaw][]string{
		replication.FlawSSEMultipartFlatten:     {checker.Unreadable},
		replication.FlawSSEReencryptEcho:        {checker.LostWrite},
		replication.FlawSSEPlaintextReplica:     {checker.EncryptionDowngrade},
		replication.FlawSkipEncrypted:           {checker.MissingReplica, scenario.StatusMismatch},
		replication.FlawWallclockLWW:            {checker.LostWrite},
		replication.FlawDropDeleteWhilePeerDown: {checker.Resurrection},
		replication.FlawVolatileQueue:           {checker.MissingReplica},
		replication.FlawNoRetry:                 {checker.MissingReplica},
		replication.FlawSerialLargeObjects:      {scenario.SLOBreach},
	}
	if got := slices.Sorted(maps.Keys(want)); !slices.Equal(got, slices.Sorted(slices.Values(replication.AllFlaws))) {
		t.Fatalf("this test covers %v; the engine has %v", got, replication.AllFlaws)
	}
	for _, f := range replication.AllFlaws {
		name := "flaw-" + string(f)
		t.Run(name, func(t *testing.T) {
			s, err := scenario.Find(name)
			if err != nil {
				t.Fatal(err)
			}
			if fl := s.Flaws(); len(fl) != 1 || !fl.Has(f) {
				t.Errorf("flaws %v, want %s only", fl, f)
			}
			if !slices.Equal(s.Checks.Expect, want[f]) {
				t.Errorf("expect %v, want %v", s.Checks.Expect, want[f])
			}
			if !strings.Contains(s.Description, string(f)) {
				t.Errorf("description does not name the flaw: %q", s.Description)
			}
		})
	}
	// What each flaw needs to show at all.
	need := func(name string, ok func(s *scenario.Scenario) bool, what string) {
		t.Helper()
		s, err := scenario.Find(name)
		if err != nil {
			t.Fatal(err)
		}
		if !ok(s) {
			t.Errorf("%s: %s", name, what)
		}
	}
	hasFault := func(s *scenario.Scenario, kind string) bool {
		return slices.ContainsFunc(s.Faults, func(st scenario.FaultStep) bool { return slices.Contains(st.Kinds(), kind) })
	}
	encrypted := func(s *scenario.Scenario) bool { return s.Workload.SSE.Encrypted() > 0 }
	need("flaw-sse-multipart-flatten", func(s *scenario.Scenario) bool {
		return encrypted(s) && s.Workload.Mix.Multipart > 0 && s.Workload.Sizes[0].Size > 10*scenario.MiB
	}, "want encrypted multipart uploads of several parts")
	need("flaw-sse-reencrypt-echo", func(s *scenario.Scenario) bool {
		return encrypted(s) && s.Workload.Versioning && s.Workload.Mix.Overwrite > 0 && hasFault(s, "partition")
	}, "want encrypted overwrites in a versioned bucket across a partition")
	need("flaw-sse-plaintext-replica", encrypted, "want encrypted writes")
	need("flaw-skip-encrypted", func(s *scenario.Scenario) bool { return encrypted(s) && s.Workload.SSE.None > 0 },
		"want encrypted and plain writes")
	need("flaw-wallclock-lww", func(s *scenario.Scenario) bool {
		return hasFault(s, "clock_skew") && s.Workload.BothSites.Sequential > 0
	}, "want a skewed clock and writes to a key just written at the other site")
	need("flaw-drop-delete-while-peer-down", func(s *scenario.Scenario) bool {
		return s.Workload.Mix.Delete > 0 && hasFault(s, "partition")
	}, "want deletes across a partition")
	need("flaw-volatile-queue", func(s *scenario.Scenario) bool {
		return hasFault(s, "partition") && hasFault(s, "crash")
	}, "want a queue built up during a partition and a crash")
	need("flaw-no-retry", func(s *scenario.Scenario) bool { return hasFault(s, "partition") }, "want a partition")
	need("flaw-serial-large-objects", func(s *scenario.Scenario) bool {
		return s.WAN != nil && s.WAN.Bandwidth > 0 && s.Checks.SLO < time.Minute
	}, "want a bandwidth limit and a small SLO")
}

func TestDefaultSitesMatchEmbedded(t *testing.T) {
	if !slices.Equal(scenario.DefaultSites, embedded.DefaultSites) {
		t.Errorf("scenario.DefaultSites %v, embedded.DefaultSites %v", scenario.DefaultSites, embedded.DefaultSites)
	}
}

// TestAnomalies: every anomaly the checker reports is a name a scenario
// may expect.
func TestAnomalies(t *testing.T) {
	for _, a := range []string{checker.LostWrite, checker.Divergence, checker.MissingReplica, checker.CorruptRead,
		checker.Unreadable, checker.Resurrection, checker.MetadataMismatch, checker.EncryptionDowngrade,
		scenario.StaleLocalRead, scenario.SLOBreach, scenario.StatusMismatch} {
		if !slices.Contains(scenario.Anomalies, a) {
			t.Errorf("%s is not among scenario.Anomalies", a)
		}
	}
	if len(scenario.Anomalies) != 11 {
		t.Errorf("%d anomalies: %v", len(scenario.Anomalies), scenario.Anomalies)
	}
}

func TestFind(t *testing.T) {
	s, err := scenario.Find("quickstart.yaml")
	if err != nil || s.Name != "quickstart" || s.File != "quickstart.yaml" {
		t.Fatalf("Find(quickstart.yaml) = %+v, %v", s, err)
	}
	_, err = scenario.Find("nope")
	if err == nil || !strings.Contains(err.Error(), `no scenario "nope" in the library (known: baseline, `) {
		t.Errorf("Find(nope): %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("t.yaml", minimal)
	s, err := scenario.Load(good)
	if err != nil || s.File != good {
		t.Fatalf("Load: %+v, %v", s, err)
	}
	// The name must match the file's, in Load (not in Parse).
	other := write("other.yaml", minimal)
	_, err = scenario.Load(other)
	if want := other + `:1:7: name: "t" does not match the file name: want "other", or rename the file t.yaml`; err == nil || err.Error() != want {
		t.Errorf("Load(other.yaml):\n got %v\nwant %s", err, want)
	}
	broken := write("broken.yaml", "name: broken\n")
	write("notes.txt", "not a scenario")
	got, err := scenario.List(dir)
	if len(got) != 1 || got[0].Name != "t" {
		t.Errorf("List: %d scenarios", len(got))
	}
	for _, want := range []string{other + ":1:7: name:", broken + ":1:1: description: required", broken + ":1:1: workload: neither"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("List error %v\ndoes not contain %q", err, want)
		}
	}
	if _, err := scenario.Load(filepath.Join(dir, "missing.yaml")); !os.IsNotExist(err) {
		t.Errorf("Load(missing): %v", err)
	}
}
