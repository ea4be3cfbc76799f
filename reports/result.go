// Package reports holds what a run leaves behind in its folder, and how it
// is read back: result.json (the verdict and everything it rests on, in a
// versioned schema documented in docs/result-schema.md) and the final
// state of every site (final-state.json), which with history.jsonl lets
// `replcheck verify` re-check a run offline.
package reports

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

// SchemaVersion is the version of result.json; readers refuse newer ones.
// Additions that old readers can ignore keep the version.
const SchemaVersion = 1

// Files of a run folder.
const (
	ResultFile     = "result.json"
	HistoryFile    = "history.jsonl"
	FinalStateFile = "final-state.json"
	EngineLogFile  = "engine.log"
	JUnitFile      = "junit.xml"
	ReportFile     = "report.html"
)

// Verdicts.
const (
	Pass      = "pass"      // every check held
	Fail      = "fail"      // a check failed: anomalies found, or expected ones missed
	Undecided = "undecided" // the observation window ended before the checks could decide
)

// Result is result.json.
type Result struct {
	Schema   int    `json:"schema"`
	Run      string `json:"run"` // the run id, also in history.jsonl's header
	Scenario string `json:"scenario"`
	// ScenarioFile is where the scenario came from ("library:NAME" for
	// the built-in library).
	ScenarioFile string   `json:"scenarioFile"`
	Target       string   `json:"target"`
	Sites        []string `json:"sites"`
	Flaws        []string `json:"flaws,omitempty"`
	// Adapted lists how the scenario's workload was fitted to what the
	// target offers (replcheck run --adapt), one change a line.
	Adapted  []string  `json:"adapted,omitempty"`
	Seed     uint64    `json:"seed"`
	Buckets  []string  `json:"buckets"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`

	Checks Checks `json:"checks"`

	// Verdict is Pass, Fail or Undecided; Reasons say why, one line each.
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
	// Found lists the anomaly names found, sorted; Missed the expected
	// ones that were not.
	Found  []string `json:"found"`
	Missed []string `json:"missed,omitempty"`

	Workload  Workload          `json:"workload"`
	Faults    []Fault           `json:"faults"`
	Anomalies []checker.Anomaly `json:"anomalies"`
	// Keys is how many keys the final state covered.
	Keys        int                `json:"keys"`
	Convergence convergence.Result `json:"convergence"`
	// EngineStatus is each site's own replication status at the end, when
	// the target reports one.
	EngineStatus map[string]harness.ReplicationStatus `json:"engineStatus,omitempty"`
}

// Checks are the scenario's checks as the run applied them.
type Checks struct {
	SLOSeconds              float64  `json:"sloSeconds"`
	ObserveSeconds          float64  `json:"observeSeconds"`
	ClockUncertaintySeconds float64  `json:"clockUncertaintySeconds"`
	Expect                  []string `json:"expect"`
	// GoNoGo: the verdict is read as go (pass) or no-go (anything else).
	GoNoGo bool `json:"goNoGo,omitempty"`
}

// Decision is "go" or "no-go" for a go / no-go run, "" otherwise.
func (r *Result) Decision() string {
	switch {
	case !r.Checks.GoNoGo:
		return ""
	case r.Verdict == Pass:
		return "go"
	}
	return "no-go"
}

// ClockUncertainty is the bound as a duration.
func (c Checks) ClockUncertainty() time.Duration {
	return time.Duration(c.ClockUncertaintySeconds * float64(time.Second))
}

// Workload counts what the clients did.
type Workload struct {
	Ops     int            `json:"ops"`
	OK      int            `json:"ok"`
	Failed  int            `json:"failed"`
	Unknown int            `json:"unknown"`
	ByKind  map[string]int `json:"byKind"`
	Bytes   int64          `json:"bytes"`
	// ElapsedSeconds is how long the workload ran.
	ElapsedSeconds float64 `json:"elapsedSeconds"`
}

// Fault is one inject or heal event, at an offset from the run's start
// in nanoseconds (the time base of history.jsonl and of the convergence
// times).
type Fault struct {
	Name  string       `json:"name"`
	Kind  string       `json:"kind"` // inject or heal
	At    history.Time `json:"at"`
	Error string       `json:"error,omitempty"`
}

// Judge sets the verdict, reasons, found and missed from the anomalies,
// the convergence verdict and the expectation. A run that expects
// nothing passes when nothing is found and every write converged within
// the SLO. A calibration run (Expect not empty) passes when every
// expected anomaly is found; others found alongside are reported, since
// one flaw often does more than one kind of damage.
func (r *Result) Judge() {
	names := foundCounts(r)
	conv := r.Convergence.Verdict.Outcome
	r.Found = r.Found[:0]
	for n := range names {
		r.Found = append(r.Found, n)
	}
	sort.Strings(r.Found)
	r.Missed, r.Reasons = nil, nil
	for _, n := range r.Found {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%s ×%d", n, names[n]))
	}
	if len(r.Checks.Expect) > 0 {
		for _, e := range r.Checks.Expect {
			if names[e] == 0 {
				r.Missed = append(r.Missed, e)
			}
		}
		switch {
		case len(r.Missed) == 0:
			r.Verdict = Pass
			r.Reasons = append([]string{"found every expected anomaly"}, r.Reasons...)
		default:
			r.Verdict = Fail
			for _, m := range r.Missed {
				r.Reasons = append(r.Reasons, "expected "+m+": not found")
			}
		}
		return
	}
	switch {
	case len(names) > 0:
		r.Verdict = Fail
	case conv == convergence.Undecided:
		r.Verdict = Undecided
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d writes had not reached the peer when the observation window ended, none yet past the SLO",
			r.Convergence.Overall.Pending))
	default:
		r.Verdict = Pass
		r.Reasons = append(r.Reasons, "no anomaly; every write converged within the SLO")
	}
}

// Check sets the anomalies from the history and the final state, adds
// the status mismatches and judges. The run and `replcheck verify` both
// come to their verdict through it.
func (r *Result) Check(h *history.History, fs checker.FinalState) {
	res := checker.Check(h, fs, checker.Options{ClockUncertainty: r.Checks.ClockUncertainty()})
	r.Anomalies, r.Keys = res.Anomalies, res.Keys
	r.Anomalies = append(r.Anomalies, r.statusMismatches()...)
	r.Judge()
}

// statusMismatches compares each site's own claim to be in sync with what
// the probes saw: a site in sync while writes acknowledged there never
// reached the peer contradicts the verifier.
func (r *Result) statusMismatches() []checker.Anomaly {
	var out []checker.Anomaly
	for _, site := range r.Sites {
		st, ok := r.EngineStatus[site]
		if !ok || !st.InSync {
			continue
		}
		var ops []string
		for _, w := range r.Convergence.Writes {
			if w.Origin == site && w.State == convergence.Pending {
				ops = append(ops, w.Op)
			}
		}
		if len(ops) == 0 {
			continue
		}
		n := len(ops)
		out = append(out, checker.Anomaly{Name: StatusMismatch, Sites: []string{site}, Ops: ops[:min(n, 20)],
			Detail: fmt.Sprintf("%s reports itself in sync (%d operations pending), but %d writes acknowledged there never reached the peer",
				site, st.PendingOperations, n)})
	}
	return out
}

// foundCounts counts the findings by name: the anomalies, and the SLO
// breaches when the convergence verdict failed. Judge and junit.xml both
// count by it, so they agree.
func foundCounts(r *Result) map[string]int {
	names := map[string]int{}
	for _, a := range r.Anomalies {
		names[a.Name]++
	}
	if r.Convergence.Verdict.Outcome == convergence.Fail {
		names[SLOBreach] += max(1, r.Convergence.Verdict.BreachCount)
	}
	return names
}

// Anomaly names found outside verifier/checker.
const (
	SLOBreach      = "slo-breach"
	StatusMismatch = "status-mismatch"
)

// Recheck re-checks a run folder offline: it reads the result, the
// history and the final state, and checks and judges them again. changed
// says how the new result differs from the recorded one ("" when it does
// not): the verdict, the anomaly names found, or their number.
func Recheck(dir string) (res *Result, changed string, err error) {
	if res, err = ReadResult(dir); err != nil {
		return nil, "", err
	}
	h, err := history.ReadFile(filepath.Join(dir, HistoryFile))
	if err != nil {
		return nil, "", err
	}
	fs, err := ReadState(dir)
	if err != nil {
		return nil, "", err
	}
	was := *res
	was.Found = slices.Clone(res.Found)
	res.Check(h, fs)
	switch {
	case was.Verdict != res.Verdict:
		changed = fmt.Sprintf("verdict %s, recorded %s", res.Verdict, was.Verdict)
	case !slices.Equal(was.Found, res.Found):
		changed = fmt.Sprintf("found %v, recorded %v", res.Found, was.Found)
	case len(was.Anomalies) != len(res.Anomalies):
		changed = fmt.Sprintf("%d anomalies, recorded %d", len(res.Anomalies), len(was.Anomalies))
	}
	return res, changed, nil
}

// WriteResult writes result.json into dir, atomically.
func WriteResult(dir string, r *Result) error {
	r.Schema = SchemaVersion
	return writeJSON(filepath.Join(dir, ResultFile), r)
}

// ReadResult reads dir's result.json.
func ReadResult(dir string) (*Result, error) {
	var r Result
	if err := readJSON(filepath.Join(dir, ResultFile), &r); err != nil {
		return nil, err
	}
	if r.Schema > SchemaVersion || r.Schema < 1 {
		return nil, fmt.Errorf("%s: schema %d; this replcheck reads up to %d", filepath.Join(dir, ResultFile), r.Schema, SchemaVersion)
	}
	return &r, nil
}

// stateFile is final-state.json: checker.FinalState with its map as a
// sorted list, since JSON keys must be text.
type stateFile struct {
	Schema int        `json:"schema"`
	Sites  []string   `json:"sites"`
	Keys   []stateKey `json:"keys"`
}

type stateKey struct {
	Bucket string                `json:"bucket"`
	Key    string                `json:"key"`
	Sites  []checker.Observation `json:"sites"`
}

// WriteState writes final-state.json into dir.
func WriteState(dir string, fs checker.FinalState) error {
	f := stateFile{Schema: SchemaVersion, Sites: fs.Sites}
	for k, obs := range fs.Keys {
		f.Keys = append(f.Keys, stateKey{Bucket: k.Bucket, Key: k.Key, Sites: obs})
	}
	slices.SortFunc(f.Keys, func(a, b stateKey) int {
		return cmp.Or(cmp.Compare(a.Bucket, b.Bucket), cmp.Compare(a.Key, b.Key))
	})
	return writeJSON(filepath.Join(dir, FinalStateFile), f)
}

// ReadState reads dir's final-state.json.
func ReadState(dir string) (checker.FinalState, error) {
	var f stateFile
	path := filepath.Join(dir, FinalStateFile)
	if err := readJSON(path, &f); err != nil {
		return checker.FinalState{}, err
	}
	if f.Schema > SchemaVersion || f.Schema < 1 {
		return checker.FinalState{}, fmt.Errorf("%s: schema %d; this replcheck reads up to %d", path, f.Schema, SchemaVersion)
	}
	fs := checker.FinalState{Sites: f.Sites, Keys: map[checker.Key][]checker.Observation{}}
	for _, k := range f.Keys {
		fs.Keys[checker.Key{Bucket: k.Bucket, Key: k.Key}] = k.Sites
	}
	return fs, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no such file: is this a run folder?", path)
		}
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
