package scenario_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/scenarios"
)

const (
	knownFlaws     = "sse-multipart-flatten, sse-reencrypt-echo, sse-plaintext-replica, skip-encrypted, wallclock-lww, drop-delete-while-peer-down, volatile-queue, no-retry, serial-large-objects"
	knownAnomalies = "lost-write, divergence, missing-replica, corrupt-read, unreadable, resurrection, metadata-mismatch, stale-local-read, encryption-downgrade, slo-breach, status-mismatch"
	topoSites      = "(europe-se-1a, europe-se-1b)"
)

// TestBrokenScenarios: each broken file gets its error, at the right line
// and column, naming the field and what is allowed.
func TestBrokenScenarios(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // every error line, in order
	}{
		{"unknown top-level field", minimal + "wokload: {}\n",
			[]string{"t.yaml:5:1: wokload: unknown field (known: name, description, topology, wan, workload, faults, checks)"}},
		{"unknown mix field", `name: t
description: d
workload:
  duration: 20s
  mix:
    put: 50
    puts: 3
`, []string{"t.yaml:7:5: workload.mix.puts: unknown field (known: put, overwrite, delete, multipart, copy, meta, get)"}},
		{"unknown field in a flow mapping", minimal + "faults:\n  - {at: 1s, crash: {site: europe-se-1b, hard: true}}\n",
			[]string{"t.yaml:6:42: faults[0].crash.hard: unknown field (known: site)"}},
		{"crash site not in topology", minimal + `faults:
  - at: 1s
    crash: {site: europe-se-1a}
  - at: 2s
    crash:
      site: europe-se-1c
`, []string{`t.yaml:10:13: faults[1].crash.site: "europe-se-1c" is not a topology site ` + topoSites}},
		{"disconnect site not in topology", minimal + `faults:
  - at: 1s
    for: 2s
    disconnect: {site: europe-se-1a}
  - at: 4s
    disconnect:
      site: europe-se-1c
`, []string{`t.yaml:11:13: faults[1].disconnect.site: "europe-se-1c" is not a topology site ` + topoSites}},
		{"disconnect site missing", minimal + "faults:\n  - at: 1s\n    disconnect: {}\n",
			[]string{"t.yaml:7:5: faults[0].disconnect.site: required: a topology site " + topoSites}},
		{"unknown disconnect field", minimal + "faults:\n  - {at: 1s, disconnect: {site: europe-se-1b, both: true}}\n",
			[]string{"t.yaml:6:47: faults[0].disconnect.both: unknown field (known: site)"}},
		{"disconnect and crash in one step", minimal + "faults:\n  - at: 1s\n    crash: {site: europe-se-1a}\n    disconnect: {site: europe-se-1a}\n",
			[]string{"t.yaml:8:5: faults[0].disconnect: a second fault in one step (crash and disconnect); want one fault per step"}},
		{"fault site missing", minimal + "faults:\n  - at: 1s\n    pause:\n",
			[]string{"t.yaml:7:5: faults[0].pause.site: required: a topology site " + topoSites}},
		{"custom topology sites", `name: t
description: d
topology:
  sites: [east, west]
workload:
  duration: 20s
faults:
  - at: 1s
    partition: {from: east, to: europe-se-1b}
`, []string{`t.yaml:9:33: faults[0].partition.to: "europe-se-1b" is not a topology site (east, west)`}},
		{"unknown flaw", `name: t
description: d
topology:
  flaws: [no-retry, foo]
workload:
  duration: 20s
`, []string{`t.yaml:4:21: topology.flaws[1]: unknown flaw "foo" (known: ` + knownFlaws + ")"}},
		{"flaw twice", "name: t\ndescription: d\ntopology:\n  flaws:\n    - no-retry\n    - no-retry\nworkload: {duration: 1s}\n",
			[]string{`t.yaml:6:7: topology.flaws[1]: flaw "no-retry" is listed twice`}},
		{"flaws with target external", "name: t\ndescription: d\ntopology:\n  target: external\n  flaws: [no-retry]\nworkload: {duration: 1s}\n",
			[]string{"t.yaml:5:3: topology.flaws: flaws are options of the reference engine; target external runs your own endpoints"}},
		{"flaws and data with a real engine", "name: t\ndescription: d\ntopology:\n  target: minio\n  data: disk\n  flaws: [no-retry]\nworkload: {duration: 1s}\n",
			[]string{
				"t.yaml:5:9: topology.data: data applies to the reference engine (targets embedded and containers), not to target minio",
				"t.yaml:6:3: topology.flaws: flaws are options of the reference engine; target minio runs a real engine",
			}},
		{"unknown anomaly", minimal + "checks:\n  expect: [lost-writes]\n",
			[]string{`t.yaml:6:12: checks.expect[0]: unknown anomaly "lost-writes" (known: ` + knownAnomalies + ")"}},
		{"unknown target and data", "name: t\ndescription: d\ntopology: {target: docker, data: ssd}\nworkload: {duration: 1s}\n",
			[]string{
				`t.yaml:3:20: topology.target: unknown target "docker" (known: embedded, containers, external, minio, ceph, swift)`,
				`t.yaml:3:34: topology.data: unknown data backend "ssd" (known: memory, disk)`,
			}},
		{"three sites", "name: t\ndescription: d\ntopology: {sites: [a, b, c]}\nworkload: {duration: 1s}\n",
			[]string{"t.yaml:3:12: topology.sites: want exactly two sites, have 3"}},
		{"same site twice", "name: t\ndescription: d\ntopology: {sites: [a, a]}\nworkload: {duration: 1s}\n",
			[]string{`t.yaml:3:23: topology.sites[1]: "a" is listed twice; want two distinct sites`}},
		{"duration without unit", "name: t\ndescription: d\nworkload:\n  duration: 20\n",
			[]string{`t.yaml:4:13: workload.duration: malformed duration "20": want a Go duration such as "250ms", "15s", "15m" or "1h30m" (a unit is required)`}},
		{"duration with a bad unit", "name: t\ndescription: d\nworkload:\n  duration: 2d\n",
			[]string{`t.yaml:4:13: workload.duration: malformed duration "2d": want a Go duration such as "250ms", "15s", "15m" or "1h30m" (units: ns, us, ms, s, m, h)`}},
		{"duration as a list", "name: t\ndescription: d\nworkload:\n  duration: [1s]\n",
			[]string{`t.yaml:4:13: workload.duration: want a duration such as "15s", got a list`}},
		{"malformed size", minimal + "  sizes: [{size: 4 KiBs}]\n",
			[]string{`t.yaml:5:18: workload.sizes[0].size: malformed size "4 KiBs": unknown unit "KiBs" (known: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`}},
		{"fractional bytes", minimal + "  sizes: [{size: 0.5KB}, {size: 1.1B}]\n",
			[]string{`t.yaml:5:33: workload.sizes[1].size: size "1.1B" is not a whole number of bytes`}},
		{"negative size", minimal + "  sizes: [{size: -1}]\n",
			[]string{`t.yaml:5:18: workload.sizes[0].size: negative size "-1"`}},
		{"size and range", minimal + "  sizes: [{size: 1KiB, min: 1, max: 2}, {min: 2MiB, max: 1MiB}, {weight: 1}]\n",
			[]string{
				"t.yaml:5:11: workload.sizes[0]: give either size or min and max, not both",
				"t.yaml:5:58: workload.sizes[1].max: 1MiB is below min 2MiB",
				"t.yaml:5:65: workload.sizes[2]: want size, or min and max",
			}},
		{"duration and ops both", "name: t\ndescription: d\nworkload:\n  duration: 20s\n  ops: 100\n",
			[]string{"t.yaml:5:8: workload.ops: duration and ops are both set; want exactly one"}},
		{"neither duration nor ops", "name: t\ndescription: d\nworkload:\n  keys: 10\n",
			[]string{"t.yaml:3:1: workload: neither duration nor ops is set; want exactly one (e.g. duration: 20s)"}},
		{"no workload", "name: t\ndescription: d\n",
			[]string{"t.yaml:1:1: workload: neither duration nor ops is set; want exactly one (e.g. duration: 20s)"}},
		{"zero duration", "name: t\ndescription: d\nworkload: {duration: 0s}\n",
			[]string{"t.yaml:3:22: workload.duration: want a positive duration, got 0s"}},
		{"negative weight", minimal + "  mix: {put: 10, delete: -1}\n",
			[]string{"t.yaml:5:26: workload.mix.delete: negative weight -1"}},
		{"all weights zero", minimal + "  mix: {put: 0}\n  apis: {s3: 0, swift: 0}\n  sizes: [{size: 1KiB, weight: 0}]\n",
			[]string{
				"t.yaml:5:3: workload.mix: all weights are zero; want at least one above zero (of put, overwrite, delete, multipart, copy, meta, get)",
				"t.yaml:6:3: workload.apis: all weights are zero; want at least one above zero (of s3, swift)",
				"t.yaml:7:3: workload.sizes: all weights are zero; want at least one above zero",
			}},
		{"sse with swift only", minimal + "  apis: {swift: 1}\n  sse: {none: 50, sse-kms: 50}\n",
			[]string{"t.yaml:6:3: workload.sse: SSE modes other than none need S3 (Swift cannot ask for encryption), but apis.s3 is 0"}},
		{"multipart with swift only", minimal + "  apis: {swift: 1}\n  mix: {put: 1, multipart: 1}\n",
			[]string{"t.yaml:6:28: workload.mix.multipart: multipart uploads need S3, but apis.s3 is 0"}},
		{"unknown workload site", minimal + "  sites: {europe-se-1a: 1, europe-se-1c: 1}\n",
			[]string{`t.yaml:5:28: workload.sites.europe-se-1c: "europe-se-1c" is not a topology site ` + topoSites}},
		{"both sites without writes at both", minimal + "  sites: {europe-se-1a: 1}\n  both_sites: {sequential: 20}\n",
			[]string{"t.yaml:6:3: workload.both_sites: writes to a key just written at the other site need writes at both sites, but workload.sites gives europe-se-1b none"}},
		{"both sites over 100%", minimal + "  both_sites: {concurrent: 60, sequential: 50}\n",
			[]string{"t.yaml:5:3: workload.both_sites: concurrent + sequential is 110%; want at most 100"}},
		{"type errors", minimal + "  keys: many\n  versioning: maybe\n  mix: [put]\n  rate: fast\n  seed: -1\n",
			[]string{
				`t.yaml:5:9: workload.keys: want a whole number, got the string "many"`,
				`t.yaml:6:15: workload.versioning: want true or false, got the string "maybe"`,
				"t.yaml:7:8: workload.mix: want a mapping (fields: put, overwrite, delete, multipart, copy, meta, get), got a list",
				`t.yaml:8:9: workload.rate: want a number, got the string "fast"`,
				"t.yaml:9:9: workload.seed: want a number ≥ 0, got -1",
			}},
		{"number too large", minimal + "  keys: 99999999999999999999\n",
			[]string{"t.yaml:5:9: workload.keys: number 99999999999999999999 is too large"}},
		{"counts below one", minimal + "  concurrency: 0\n  keys: -5\n  buckets: 0\n",
			[]string{
				"t.yaml:5:16: workload.concurrency: want at least 1, got 0",
				"t.yaml:6:9: workload.keys: want at least 1, got -5",
				"t.yaml:7:12: workload.buckets: want at least 1, got 0",
			}},
		{"step without a fault", minimal + "faults:\n  - at: 1s\n    for: 2s\n",
			[]string{"t.yaml:6:5: faults[0]: no fault; want exactly one of partition, shape, flap, reset, crash, pause, disconnect, clock_skew"}},
		{"step with two faults", minimal + "faults:\n  - at: 1s\n    crash: {site: europe-se-1a}\n    pause: {site: europe-se-1b}\n",
			[]string{"t.yaml:8:5: faults[0].pause: a second fault in one step (crash and pause); want one fault per step"}},
		{"at the end of the workload", minimal + "faults:\n  - at: 20s\n    crash: {site: europe-se-1a}\n",
			[]string{"t.yaml:6:9: faults[0].at: 20s is not before the end of the workload (duration 20s)"}},
		{"fault outlasting the run", minimal + "faults:\n  - at: 10s\n    for: 1m\n    crash: {site: europe-se-1a}\n",
			[]string{"t.yaml:7:10: faults[0].for: the fault would end at 1m10s, after the run (workload 20s, then observe 30s)"}},
		{"negative at", minimal + "faults:\n  - at: -1s\n    crash: {site: europe-se-1a}\n",
			[]string{"t.yaml:6:9: faults[0].at: negative duration -1s"}},
		{"ops workload fault without for", "name: t\ndescription: d\nworkload: {ops: 100}\nfaults:\n  - at: 1s\n    crash: {site: europe-se-1a}\n",
			[]string{"t.yaml:5:5: faults[0].for: required: with an ops workload there is no known end for the fault to last until"}},
		{"ops workload with wan", "name: t\ndescription: d\nworkload: {ops: 100}\nwan: {latency: 1ms}\n",
			[]string{"t.yaml:4:1: wan: a baseline shape lasts the whole run, which needs workload.duration: an ops workload has no known length"}},
		{"empty wan", minimal + "wan: {}\n",
			[]string{"t.yaml:5:1: wan: sets nothing: give latency, jitter or bandwidth, or leave wan out"}},
		{"link faults", minimal + `faults:
  - at: 1s
    for: 1s
    partition: {from: europe-se-1a, to: europe-se-1a, mode: cut}
  - at: 3s
    for: 1s
    shape: {from: europe-se-1a, to: europe-se-1b}
  - at: 5s
    for: 1s
    flap: {to: europe-se-1b, from: europe-se-1a, up: 1s}
  - at: 7s
    for: 1s
    clock_skew: {site: europe-se-1b}
`, []string{
			"t.yaml:8:41: faults[0].partition.to: same site as from; want the other site",
			`t.yaml:8:61: faults[0].partition.mode: unknown partition mode "cut" (known: refuse, blackhole)`,
			"t.yaml:11:5: faults[1].shape: sets nothing: give latency, jitter or bandwidth",
			"t.yaml:14:5: faults[2].flap.down: want a positive duration, got 0s",
			"t.yaml:17:5: faults[3].clock_skew.skew: required: a non-zero skew, e.g. -1m (behind) or 30s (ahead)",
		}},
		{"overlapping faults", minimal + `faults:
  - at: 1s
    for: 5s
    partition: {from: europe-se-1a, to: europe-se-1b}
  - at: 2s
    for: 5s
    partition: {from: europe-se-1b, to: europe-se-1a, both: true}
  - at: 2s
    for: 4s
    pause: {site: europe-se-1a}
  - at: 3s
    crash: {site: europe-se-1a}
`, []string{
			"t.yaml:9:5: faults[1]: overlaps faults[0] (line 6) on link europe-se-1a→europe-se-1b (partition) and they end at different times: the first heal would end both; end them together or keep them apart",
			"t.yaml:15:5: faults[3]: overlaps faults[2] (line 12) on site europe-se-1a (process) and they end at different times: the first heal would end both; end them together or keep them apart",
		}},
		{"overlapping disconnects", minimal + `faults:
  - at: 1s
    for: 5s
    disconnect: {site: europe-se-1b}
  - at: 2s
    for: 2s
    disconnect: {site: europe-se-1b}
`, []string{
			"t.yaml:9:5: faults[1]: overlaps faults[0] (line 6) on site europe-se-1b (network) and they end at different times: the first heal would end both; end them together or keep them apart",
		}},
		{"fault against the wan baseline", minimal + `wan: {latency: 10ms}
faults:
  - at: 1s
    for: 5s
    shape: {from: europe-se-1a, to: europe-se-1b, latency: 1s}
  - at: 1s
    for: 5s
    shape: {from: europe-se-1a, to: europe-se-1b, bandwidth: 1MiB}
  - at: 7s
    reset: {from: europe-se-1b, to: europe-se-1a}
`, []string{
			"t.yaml:7:5: faults[0]: changes what the wan baseline (line 5) also sets, on link europe-se-1a→europe-se-1b (latency), and ends before the run does: its heal would remove the baseline's too",
			"t.yaml:13:5: faults[2]: changes what the wan baseline (line 5) also sets, on link europe-se-1b→europe-se-1a (connection resets, whose heal clears every fault), and ends before the run does: its heal would remove the baseline's too",
		}},
		{"bad name and description", "name: Partition_Heal\ndescription: |\n  one\n\n  two\nworkload: {duration: 1s}\n",
			[]string{
				`t.yaml:1:7: name: "Partition_Heal" is not a valid name: want lower-case letters, digits and dashes ([a-z0-9-]+)`,
				"t.yaml:2:14: description: want one paragraph, not several",
			}},
		{"folded description of two paragraphs", "name: t\ndescription: >\n  one\n  line\n\n  two\nworkload: {duration: 1s}\n",
			[]string{"t.yaml:2:14: description: want one paragraph, not several"}},
		{"plain description of two paragraphs", "name: t\ndescription: one\n  line\n\n  two\nworkload: {duration: 1s}\n",
			[]string{"t.yaml:2:14: description: want one paragraph, not several"}},
		{"missing name and description", "workload: {duration: 1s}\n",
			[]string{
				"t.yaml:1:1: name: required: the scenario's name, [a-z0-9-]+",
				"t.yaml:1:1: description: required: one paragraph saying what the scenario shows and why",
			}},
		{"negative checks", minimal + "checks: {slo: 0s, observe: -1s, clock_uncertainty: -1ms, expect: [unreadable, unreadable]}\n",
			[]string{
				"t.yaml:5:15: checks.slo: want a positive duration, got 0s",
				"t.yaml:5:28: checks.observe: negative duration -1s",
				"t.yaml:5:52: checks.clock_uncertainty: negative duration -1ms",
				`t.yaml:5:79: checks.expect[1]: anomaly "unreadable" is listed twice`,
			}},
		{"go / no-go expecting anomalies", minimal + "checks: {expect: [lost-write], go_no_go: true}\n",
			[]string{"t.yaml:5:42: checks.go_no_go: a go / no-go scenario must find no anomaly, and this one expects lost-write"}},
		{"not a mapping", "- name: t\n",
			[]string{"t.yaml:1:1: want a mapping (fields: name, description, topology, wan, workload, faults, checks), got a list"}},
		{"syntax error", "name: t\nworkload: {duration: 1s\n",
			[]string{"t.yaml:2:11: malformed YAML: could not find flow mapping end token '}'"}},
		{"duplicate key", "name: t\nname: u\n",
			[]string{`t.yaml:2:1: malformed YAML: mapping key "name" already defined at [1:1]`}},
		{"empty file", "# nothing\n",
			[]string{"t.yaml:1:1: empty file: want a scenario (name, description, workload, …)"}},
		{"two documents", minimal + "---\nname: u\n",
			[]string{"t.yaml:6:1: a second YAML document: want one scenario per file"}},
		{"merge key", minimal + "checks:\n  <<: {slo: 1m}\n",
			[]string{"t.yaml:6:3: checks: merge keys (<<) and keys that are not plain names are not supported"}},
		{"alias to nothing", minimal + "checks:\n  slo: *nope\n",
			[]string{"t.yaml:6:8: checks.slo: alias *nope names no anchor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorLines(t, tc.src)
			if !slices.Equal(got, tc.want) {
				t.Errorf("source:\n%s\ngot:\n  %s\nwant:\n  %s", numbered(tc.src), strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestManyErrors: every problem is reported at once, ordered by line,
// whichever stage found it; each is an *Error.
func TestManyErrors(t *testing.T) {
	src := `name: t
description: d
topology:
  flaws: [foo]
workload:
  duration: 20s
  ops: 5
  mix: {puts: 1}
  sites: {europe-se-1c: 1}
faults:
  - at: 1m
    crash: {site: europe-se-1c}
checks:
  expect: [lost-writes]
`
	_, err := scenario.Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	var lines []int
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var se *scenario.Error
		if !errors.As(e, &se) {
			t.Fatalf("%T is not a *scenario.Error: %v", e, e)
		}
		lines = append(lines, se.Line)
		fields = append(fields, se.Field)
	}
	wantFields := []string{"topology.flaws[0]", "workload.ops", "workload.mix.puts", "workload.sites.europe-se-1c",
		"faults[0].at", "faults[0].crash.site", "checks.expect[0]"}
	if !slices.Equal(fields, wantFields) {
		t.Errorf("fields %q\nwant   %q\nerror:\n%v", fields, wantFields, err)
	}
	if !slices.IsSorted(lines) {
		t.Errorf("lines %v not in order", lines)
	}
	var first *scenario.Error
	if !errors.As(err, &first) || first.File != "t.yaml" || first.Line != 4 || first.Column != 11 {
		t.Errorf("first error %+v", first)
	}
}

// TestValidAndEdgeCases: what is allowed, though unusual.
func TestValidAndEdgeCases(t *testing.T) {
	s := parse(t, `name: t
description: >
  Anchors and aliases work,
  and a fault kind given with an alias too.
topology:
  sites: [a, b]
  flaws: []
workload:
  ops: 500
  rate: 12.5
  sizes:
    - &small {size: 0}
    - {min: 1, max: 5MB, weight: 0}
    - size: 1024
  sites: {a: 1}
faults:
  - at: 0s
    for: 1s
    crash: &siteA {site: a}
  - at: 1s
    for: 1s
    pause: *siteA
  - at: 0
    for: 1h
    clock_skew: {site: b, skew: !!str -90s}
checks:
  slo: 1h30m
  observe: 0s
`)
	if s.Description != "Anchors and aliases work, and a fault kind given with an alias too.\n" {
		t.Errorf("description %q", s.Description)
	}
	w := s.Workload
	if w.Ops != 500 || w.Duration != 0 || w.Rate != 12.5 || s.RunLength() != 0 {
		t.Errorf("workload %+v", w)
	}
	wantSizes := []scenario.SizeClass{{Size: 0, Weight: 1}, {Min: 1, Max: 5_000_000, Weight: 0}, {Size: scenario.KiB, Weight: 1}}
	if !slices.Equal(w.Sizes, wantSizes) {
		t.Errorf("sizes %v, want %v", w.Sizes, wantSizes)
	}
	if s.Faults[1].Pause == nil || s.Faults[1].Pause.Site != "a" || s.Faults[2].ClockSkew.Skew.String() != "-1m30s" {
		t.Errorf("faults %+v", s.Faults)
	}
	if s.Checks.SLO.String() != "1h30m0s" || s.Checks.Observe != 0 {
		t.Errorf("checks %+v", s.Checks)
	}
	tl, err := s.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Validate(newFakeTopo(s.Topology.Sites)); err != nil {
		t.Error(err)
	}
}

// TestLiteralDescription: a literal block keeps its line breaks; only a
// blank line makes a second paragraph.
func TestLiteralDescription(t *testing.T) {
	s := parse(t, "name: t\ndescription: |\n  line one\n  line two\nworkload: {duration: 1s}\n")
	if s.Description != "line one\nline two\n" {
		t.Errorf("description %q", s.Description)
	}
}

// TestDefaults: what a minimal file gets.
func TestDefaults(t *testing.T) {
	s := parse(t, minimal)
	want := scenario.Scenario{
		Name: "t", Description: "d", File: "t.yaml",
		Topology: scenario.Topology{Target: "embedded", Sites: []string{"europe-se-1a", "europe-se-1b"}, Data: "memory"},
		Workload: scenario.Workload{
			Duration: s.Workload.Duration, Concurrency: 4, Keys: 100, Buckets: 1, Seed: 1,
			Mix:   scenario.Mix{Put: 50, Overwrite: 30, Delete: 10, Get: 10},
			Sizes: []scenario.SizeClass{{Size: 4 * scenario.KiB, Weight: 1}},
			APIs:  scenario.APIs{S3: 1},
			Sites: map[string]int{"europe-se-1a": 1, "europe-se-1b": 1},
			SSE:   scenario.SSEMix{None: 1},
		},
		Checks: scenario.Checks{SLO: scenario.DefaultSLO, Observe: scenario.DefaultObserve},
	}
	if got := *s; !equalScenario(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if s.Workload.Duration.String() != "20s" || s.RunLength().String() != "50s" {
		t.Errorf("duration %v, run %v", s.Workload.Duration, s.RunLength())
	}
	if len(s.Flaws()) != 0 {
		t.Errorf("flaws %v", s.Flaws())
	}
	tl, err := s.Timeline()
	if err != nil || len(tl) != 0 {
		t.Errorf("timeline %v, %v", tl, err)
	}

	// Explicit zeros are kept, for the checks to judge.
	s = parse(t, minimal+"  seed: 0\n  rate: 0\nchecks: {observe: 0s}\n")
	if s.Workload.Seed != 0 || s.Checks.Observe != 0 {
		t.Errorf("seed %d, observe %v", s.Workload.Seed, s.Checks.Observe)
	}
}

func equalScenario(a, b scenario.Scenario) bool {
	return a.Name == b.Name && a.Description == b.Description && a.File == b.File &&
		a.Topology.Target == b.Topology.Target && slices.Equal(a.Topology.Sites, b.Topology.Sites) &&
		slices.Equal(a.Topology.Flaws, b.Topology.Flaws) && a.Topology.Data == b.Topology.Data &&
		a.WAN == b.WAN && len(a.Faults) == len(b.Faults) && a.Checks.SLO == b.Checks.SLO &&
		a.Checks.Observe == b.Checks.Observe && slices.Equal(a.Checks.Expect, b.Checks.Expect) &&
		equalWorkload(a.Workload, b.Workload)
}

func equalWorkload(a, b scenario.Workload) bool {
	if len(a.Sites) != len(b.Sites) {
		return false
	}
	for k, v := range a.Sites {
		if b.Sites[k] != v {
			return false
		}
	}
	a.Sites, b.Sites = nil, nil
	sa, sb := a.Sizes, b.Sizes
	a.Sizes, b.Sizes = nil, nil
	return slices.Equal(sa, sb) && a.Duration == b.Duration && a.Ops == b.Ops && a.Concurrency == b.Concurrency &&
		a.Rate == b.Rate && a.Keys == b.Keys && a.Buckets == b.Buckets && a.Versioning == b.Versioning &&
		a.Mix == b.Mix && a.APIs == b.APIs && a.SSE == b.SSE && a.BothSites == b.BothSites && a.Seed == b.Seed
}

// TestValidateInCode: a scenario built in code gets the defaults it asks
// for and the checks, without lines.
func TestValidateInCode(t *testing.T) {
	s := &scenario.Scenario{Name: "code", Description: "built in code",
		Workload: scenario.Workload{Ops: 10, Mix: scenario.Mix{Put: -1}},
		Faults:   []scenario.FaultStep{{At: 0, Crash: &scenario.SiteFault{Site: "nowhere"}}}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "workload.concurrency: want at least 1, got 0") {
		t.Errorf("without defaults: %v", err)
	}
	s.SetDefaults()
	err := s.Validate()
	want := []string{
		"workload.mix.put: negative weight -1",
		"faults[0].for: required: with an ops workload there is no known end for the fault to last until",
		`faults[0].crash.site: "nowhere" is not a topology site (europe-se-1a, europe-se-1b)`,
	}
	if err == nil || !slices.Equal(strings.Split(err.Error(), "\n"), want) {
		t.Errorf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if s.Workload.Concurrency != 4 || len(s.Topology.Sites) != 2 {
		t.Errorf("defaults not filled: %+v", s)
	}
	if _, err := s.Timeline(); err == nil {
		t.Error("Timeline of a step without an end: no error")
	}
}
