package scenario

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/replcheck/replcheck/engine/replication"
)

// Defaults for what a scenario leaves out.
const (
	DefaultConcurrency = 4
	DefaultKeys        = 100
	DefaultBuckets     = 1
	DefaultSeed        = 1
	DefaultSLO         = 15 * time.Minute
	DefaultObserve     = 30 * time.Second
	// DefaultClockUncertainty covers the reference engine's millisecond
	// timestamps: two writes less than a tick apart may be stamped in
	// either order, and neither may be called lost.
	DefaultClockUncertainty = 5 * time.Millisecond
)

// DefaultMix is the operation mix of a workload that gives none.
var DefaultMix = Mix{Put: 50, Overwrite: 30, Delete: 10, Get: 10}

// DefaultSizes are the object sizes of a workload that gives none.
var DefaultSizes = []SizeClass{{Size: 4 * KiB, Weight: 1}}

var nameRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// validation fills defaults in a decoded scenario and checks it.
type validation struct {
	s        *Scenario
	src      *decoder // nil for a scenario built in code
	file     string
	wantName string // the name the file's name asks for; "" for none
	errs     []*Error
}

// has reports whether the file sets path; without a file, never.
func (c *validation) has(path string) bool { return c.src != nil && c.src.has(path) }

// errf records an error about path's value, unless path (or what holds
// it) could not be decoded: that has its own error already.
func (c *validation) errf(path, format string, args ...any) {
	c.add(path, false, format, args...)
}

// errKey records an error about path's key: a site name used as a key.
func (c *validation) errKey(path, format string, args ...any) {
	c.add(path, true, format, args...)
}

func (c *validation) add(path string, key bool, format string, args ...any) {
	e := &Error{File: c.file, Field: path, Msg: fmt.Sprintf(format, args...)}
	if c.src != nil {
		for p := path; ; p = parentPath(p) {
			if c.src.bad[p] {
				return
			}
			if p == "" {
				break
			}
		}
		if key {
			e.Line, e.Column = c.src.keyWhere(path)
		} else {
			e.Line, e.Column = c.src.where(path)
		}
	}
	c.errs = append(c.errs, e)
}

// line is " (line 14)", where path is in the file, for a message that
// points elsewhere; "" without a file.
func (c *validation) line(path string) string {
	if c.src == nil {
		return ""
	}
	line, _ := c.src.where(path)
	return fmt.Sprintf(" (line %d)", line)
}

// check runs every check.
func (c *validation) check() {
	c.name()
	c.topology()
	c.wan()
	c.workload()
	c.faults()
	c.checks()
}

// defaults fills what the scenario leaves out. A field the file sets keeps
// its value, zero or not, for the checks to judge.
func (c *validation) defaults() {
	s := c.s
	t := &s.Topology
	if t.Target == "" && !c.has("topology.target") {
		t.Target = TargetEmbedded
	}
	if t.Sites == nil && !c.has("topology.sites") {
		t.Sites = slices.Clone(DefaultSites)
	}
	if t.Data == "" && !c.has("topology.data") {
		t.Data = DataMemory
	}
	w := &s.Workload
	setInt := func(v *int, path string, def int) {
		if *v == 0 && !c.has(path) {
			*v = def
		}
	}
	setInt(&w.Concurrency, "workload.concurrency", DefaultConcurrency)
	setInt(&w.Keys, "workload.keys", DefaultKeys)
	setInt(&w.Buckets, "workload.buckets", DefaultBuckets)
	if w.Seed == 0 && !c.has("workload.seed") {
		w.Seed = DefaultSeed
	}
	if w.Mix == (Mix{}) && !c.has("workload.mix") {
		w.Mix = DefaultMix
	}
	if w.Sizes == nil && !c.has("workload.sizes") {
		w.Sizes = slices.Clone(DefaultSizes)
	}
	for i := range w.Sizes {
		if w.Sizes[i].Weight == 0 && !c.has(fmt.Sprintf("workload.sizes[%d].weight", i)) {
			w.Sizes[i].Weight = 1
		}
	}
	if w.APIs == (APIs{}) && !c.has("workload.apis") {
		w.APIs = APIs{S3: 1}
	}
	if len(w.Sites) == 0 && !c.has("workload.sites") {
		w.Sites = map[string]int{}
		for _, site := range t.Sites {
			w.Sites[site] = 1
		}
	}
	if w.SSE == (SSEMix{}) && !c.has("workload.sse") {
		w.SSE = SSEMix{None: 1}
	}
	k := &s.Checks
	if k.SLO == 0 && !c.has("checks.slo") {
		k.SLO = DefaultSLO
	}
	if k.Observe == 0 && !c.has("checks.observe") {
		k.Observe = DefaultObserve
	}
	if k.ClockUncertainty == 0 && !c.has("checks.clock_uncertainty") {
		k.ClockUncertainty = DefaultClockUncertainty
	}
}

func (c *validation) name() {
	s := c.s
	switch {
	case s.Name == "":
		c.errf("name", "required: the scenario's name, [a-z0-9-]+")
	case !nameRE.MatchString(s.Name):
		c.errf("name", "%q is not a valid name: want lower-case letters, digits and dashes ([a-z0-9-]+)", s.Name)
	case c.wantName != "" && s.Name != c.wantName:
		c.errf("name", "%q does not match the file name: want %q, or rename the file %s.yaml", s.Name, c.wantName, s.Name)
	}
	d := strings.TrimSpace(s.Description)
	// A blank line in the file ends a paragraph: in a literal block
	// (|) it is a blank line in the text; in a folded block (>) or a
	// plain or quoted string, folding leaves it as a single line break.
	breaks := "\n"
	if c.src == nil || c.src.literalBlock("description") {
		breaks = "\n\n"
	}
	switch {
	case d == "":
		c.errf("description", "required: one paragraph saying what the scenario shows and why")
	case strings.Contains(d, breaks):
		c.errf("description", "want one paragraph, not several")
	}
}

// sites is the topology's site list for messages: "europe-se-1a, europe-se-1b".
func (c *validation) sites() string { return strings.Join(c.s.Topology.Sites, ", ") }

func (c *validation) isSite(name string) bool { return slices.Contains(c.s.Topology.Sites, name) }

// site checks that path names a topology site.
func (c *validation) site(path, name string) {
	switch {
	case name == "":
		c.errf(path, "required: a topology site (%s)", c.sites())
	case !c.isSite(name):
		c.errf(path, "%q is not a topology site (%s)", name, c.sites())
	}
}

func (c *validation) topology() {
	t := &c.s.Topology
	if !slices.Contains(Targets, t.Target) {
		c.errf("topology.target", "unknown target %q (known: %s)", t.Target, strings.Join(Targets, ", "))
	}
	if len(t.Sites) != 2 {
		c.errf("topology.sites", "want exactly two sites, have %d", len(t.Sites))
	}
	for i, site := range t.Sites {
		p := fmt.Sprintf("topology.sites[%d]", i)
		switch {
		case !nameRE.MatchString(site):
			c.errf(p, "%q is not a valid site name: want lower-case letters, digits and dashes", site)
		case slices.Index(t.Sites, site) < i:
			c.errf(p, "%q is listed twice; want two distinct sites", site)
		}
	}
	known := make([]string, len(replication.AllFlaws))
	for i, f := range replication.AllFlaws {
		known[i] = string(f)
	}
	for i, f := range t.Flaws {
		p := fmt.Sprintf("topology.flaws[%d]", i)
		switch {
		case !slices.Contains(known, f):
			c.errf(p, "unknown flaw %q (known: %s)", f, strings.Join(known, ", "))
		case slices.Index(t.Flaws, f) < i:
			c.errf(p, "flaw %q is listed twice", f)
		}
	}
	if len(t.Flaws) > 0 && t.Target == TargetExternal {
		c.errf("topology.flaws", "flaws are options of the reference engine; target %s runs your own endpoints", TargetExternal)
	}
	if len(t.Flaws) > 0 && IsEngine(t.Target) {
		c.errf("topology.flaws", "flaws are options of the reference engine; target %s runs a real engine", t.Target)
	}
	switch t.Data {
	case DataMemory:
	case DataDisk:
		if t.Target == TargetExternal || IsEngine(t.Target) {
			c.errf("topology.data", "data applies to the reference engine (targets %s and %s), not to target %s",
				TargetEmbedded, TargetContainers, t.Target)
		}
	default:
		c.errf("topology.data", "unknown data backend %q (known: %s, %s)", t.Data, DataMemory, DataDisk)
	}
}

// nonNegative checks a duration that may be zero.
func (c *validation) nonNegative(path string, d time.Duration) {
	if d < 0 {
		c.errf(path, "negative duration %v", d)
	}
}

// positive checks a duration that must be above zero.
func (c *validation) positive(path string, d time.Duration) {
	if d <= 0 {
		c.errf(path, "want a positive duration, got %v", d)
	}
}

func (c *validation) wan() {
	w := c.s.WAN
	if w == nil {
		return
	}
	c.nonNegative("wan.latency", w.Latency)
	c.nonNegative("wan.jitter", w.Jitter)
	if w.Latency == 0 && w.Jitter == 0 && w.Bandwidth == 0 {
		c.errf("wan", "sets nothing: give latency, jitter or bandwidth, or leave wan out")
	}
	if c.s.Workload.Duration == 0 && c.s.Workload.Ops > 0 {
		c.errf("wan", "a baseline shape lasts the whole run, which needs workload.duration: an ops workload has no known length")
	}
}

// weights checks named weights at path: none negative, not all zero.
func (c *validation) weights(path string, names []string, values []int) {
	total, negative := 0, false
	for i, v := range values {
		if v < 0 {
			c.errf(path+"."+names[i], "negative weight %d", v)
			negative = true
		}
		total += v
	}
	// A mapping with a misspelt field has its own error.
	if !negative && total == 0 && (c.src == nil || !c.src.unknown[path]) {
		c.errf(path, "all weights are zero; want at least one above zero (of %s)", strings.Join(names, ", "))
	}
}

func (c *validation) workload() {
	w := &c.s.Workload
	hasDuration := w.Duration != 0 || c.has("workload.duration")
	hasOps := w.Ops != 0 || c.has("workload.ops")
	switch {
	case hasDuration && hasOps:
		c.errf("workload.ops", "duration and ops are both set; want exactly one")
	case !hasDuration && !hasOps:
		c.errf("workload", "neither duration nor ops is set; want exactly one (e.g. duration: 20s)")
	case hasDuration:
		c.positive("workload.duration", w.Duration)
	case w.Ops <= 0:
		c.errf("workload.ops", "want a positive number of operations, got %d", w.Ops)
	}
	atLeast := func(path string, v, min int) {
		if v < min {
			c.errf(path, "want at least %d, got %d", min, v)
		}
	}
	atLeast("workload.concurrency", w.Concurrency, 1)
	atLeast("workload.keys", w.Keys, 1)
	atLeast("workload.buckets", w.Buckets, 1)
	if w.Rate < 0 || math.IsNaN(w.Rate) || math.IsInf(w.Rate, 0) {
		c.errf("workload.rate", "want operations per second ≥ 0 (0 = no cap), got %v", w.Rate)
	}

	m := w.Mix
	c.weights("workload.mix", []string{"put", "overwrite", "delete", "multipart", "copy", "meta", "get"},
		[]int{m.Put, m.Overwrite, m.Delete, m.Multipart, m.Copy, m.Meta, m.Get})
	if m.Multipart > 0 && w.APIs.S3 == 0 {
		c.errf("workload.mix.multipart", "multipart uploads need S3, but apis.s3 is 0")
	}
	c.sizes()
	c.weights("workload.apis", []string{"s3", "swift"}, []int{w.APIs.S3, w.APIs.Swift})

	// Sites: by name, so the names are the topology's.
	names := make([]string, 0, len(w.Sites))
	for name := range w.Sites {
		names = append(names, name)
	}
	sort.Strings(names)
	values := make([]int, len(names))
	for i, name := range names {
		values[i] = w.Sites[name]
		if !c.isSite(name) {
			c.errKey("workload.sites."+name, "%q is not a topology site (%s)", name, c.sites())
		}
	}
	if len(names) == 0 {
		c.errf("workload.sites", "no site named; want a weight for one or both topology sites (%s)", c.sites())
	} else {
		c.weights("workload.sites", names, values)
	}

	e := w.SSE
	c.weights("workload.sse", []string{"none", "sse-s3", "sse-kms", "sse-c"}, []int{e.None, e.S3, e.KMS, e.C})
	if e.Encrypted() > 0 && w.APIs.S3 == 0 {
		c.errf("workload.sse", "SSE modes other than none need S3 (Swift cannot ask for encryption), but apis.s3 is 0")
	}

	b := w.BothSites
	for _, p := range []struct {
		name string
		v    int
	}{{"concurrent", b.Concurrent}, {"sequential", b.Sequential}} {
		if p.v < 0 || p.v > 100 {
			c.errf("workload.both_sites."+p.name, "want a percentage of writes, 0 to 100, got %d", p.v)
		}
	}
	if b.Concurrent+b.Sequential > 100 && b.Concurrent <= 100 && b.Sequential <= 100 {
		c.errf("workload.both_sites", "concurrent + sequential is %d%%; want at most 100", b.Concurrent+b.Sequential)
	}
	if b.Concurrent > 0 || b.Sequential > 0 {
		for _, site := range c.s.Topology.Sites {
			if w.Sites[site] <= 0 {
				c.errf("workload.both_sites", "writes to a key just written at the other site need writes at both sites, but workload.sites gives %s none", site)
				break
			}
		}
	}
}

func (c *validation) sizes() {
	w := &c.s.Workload
	if len(w.Sizes) == 0 {
		c.errf("workload.sizes", "want at least one size class, e.g. [{size: 4KiB, weight: 1}]")
		return
	}
	total, negative := 0, false
	for i, z := range w.Sizes {
		p := fmt.Sprintf("workload.sizes[%d]", i)
		single := z.Size != 0 || c.has(p+".size")
		hasMin, hasMax := z.Min != 0 || c.has(p+".min"), z.Max != 0 || c.has(p+".max")
		switch {
		case single && (hasMin || hasMax):
			c.errf(p, "give either size or min and max, not both")
		case !single && !hasMin && !hasMax:
			c.errf(p, "want size, or min and max")
		case hasMin && !hasMax:
			c.errf(p+".max", "required with min")
		case hasMax && z.Max <= 0:
			c.errf(p+".max", "want a positive size, got %v", z.Max)
		case hasMax && z.Max < z.Min:
			c.errf(p+".max", "%v is below min %v", z.Max, z.Min)
		}
		if z.Weight < 0 {
			c.errf(p+".weight", "negative weight %d", z.Weight)
			negative = true
		}
		total += z.Weight
	}
	if !negative && total == 0 {
		c.errf("workload.sizes", "all weights are zero; want at least one above zero")
	}
}

// link checks a link fault's from and to.
func (c *validation) link(path, from, to string) {
	c.site(path+".from", from)
	c.site(path+".to", to)
	if from != "" && from == to {
		c.errf(path+".to", "same site as from; want the other site")
	}
}

func (c *validation) faults() {
	s := c.s
	dur, observe := s.Workload.Duration, s.Checks.Observe
	for i, st := range s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		kinds := st.Kinds()
		switch len(kinds) {
		case 0:
			c.errf(p, "no fault; want exactly one of %s", strings.Join(FaultKinds, ", "))
		case 1:
		default:
			c.errf(p+"."+kinds[1], "a second fault in one step (%s and %s); want one fault per step", kinds[0], kinds[1])
		}
		c.nonNegative(p+".at", st.At)
		c.nonNegative(p+".for", st.For)
		switch {
		case dur > 0:
			if st.At >= dur {
				c.errf(p+".at", "%v is not before the end of the workload (duration %v)", st.At, dur)
			} else if end := addDurations(st.At, st.For); st.For > 0 && end > addDurations(dur, observe) {
				c.errf(p+".for", "the fault would end at %v, after the run (workload %v, then observe %v)", end, dur, observe)
			}
		case s.Workload.Ops > 0 && st.For == 0:
			c.errf(p+".for", "required: with an ops workload there is no known end for the fault to last until")
		}
		if f := st.Partition; f != nil {
			q := p + ".partition"
			c.link(q, f.From, f.To)
			if _, err := partitionMode(f.Mode); err != nil {
				c.errf(q+".mode", "%v", err)
			}
		}
		if f := st.Shape; f != nil {
			q := p + ".shape"
			c.link(q, f.From, f.To)
			c.nonNegative(q+".latency", f.Latency)
			c.nonNegative(q+".jitter", f.Jitter)
			if f.Latency == 0 && f.Jitter == 0 && f.Bandwidth == 0 {
				c.errf(q, "sets nothing: give latency, jitter or bandwidth")
			}
		}
		if f := st.Flap; f != nil {
			q := p + ".flap"
			c.link(q, f.From, f.To)
			c.positive(q+".up", f.Up)
			c.positive(q+".down", f.Down)
		}
		if f := st.Reset; f != nil {
			q := p + ".reset"
			c.link(q, f.From, f.To)
			c.nonNegative(q+".after", f.After)
		}
		if f := st.Crash; f != nil {
			c.site(p+".crash.site", f.Site)
		}
		if f := st.Pause; f != nil {
			c.site(p+".pause.site", f.Site)
		}
		if f := st.Disconnect; f != nil {
			c.site(p+".disconnect.site", f.Site)
		}
		if f := st.ClockSkew; f != nil {
			c.site(p+".clock_skew.site", f.Site)
			if f.Skew == 0 {
				c.errf(p+".clock_skew.skew", "required: a non-zero skew, e.g. -1m (behind) or 30s (ahead)")
			}
		}
	}
	c.overlaps()
}

// overlaps refuses what nemesis.Timeline.Validate would: two faults that
// change the same thing while both are active, ending at different times,
// since the first heal would end both. The WAN baseline is active for the
// whole run. It judges the timeline the scenario builds, so it runs only
// once the steps themselves are valid.
func (c *validation) overlaps() {
	if len(c.errs) > 0 {
		return
	}
	tl, err := c.s.Timeline()
	if err != nil {
		return
	}
	path := func(i int) string {
		if c.s.WAN != nil {
			if i == 0 {
				return "wan"
			}
			i--
		}
		return fmt.Sprintf("faults[%d]", i)
	}
	for _, o := range tl.Overlaps() {
		a, b := path(o.I), path(o.J)
		if a == "wan" {
			c.errf(b, "changes what the wan baseline%s also sets, on %s, and ends before the run does: its heal would remove the baseline's too",
				c.line("wan"), o.Where)
			continue
		}
		c.errf(b, "overlaps %s%s on %s and they end at different times: the first heal would end both; end them together or keep them apart",
			a, c.line(a), o.Where)
	}
}

func (c *validation) checks() {
	k := &c.s.Checks
	c.positive("checks.slo", k.SLO)
	c.nonNegative("checks.observe", k.Observe)
	c.nonNegative("checks.clock_uncertainty", k.ClockUncertainty)
	if k.GoNoGo && len(k.Expect) > 0 {
		c.errf("checks.go_no_go", "a go / no-go scenario must find no anomaly, and this one expects %s", strings.Join(k.Expect, ", "))
	}
	for i, a := range k.Expect {
		p := fmt.Sprintf("checks.expect[%d]", i)
		switch {
		case !slices.Contains(Anomalies, a):
			c.errf(p, "unknown anomaly %q (known: %s)", a, strings.Join(Anomalies, ", "))
		case slices.Index(k.Expect, a) < i:
			c.errf(p, "anomaly %q is listed twice", a)
		}
	}
}
