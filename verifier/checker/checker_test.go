package checker_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/verifier/checker"
	"github.com/replcheck/replcheck/verifier/history"
)

// op builds a history operation on bucket b, key k, running from invoke to
// complete (milliseconds).
func op(id string, kind history.Kind, invoke, complete int64, out history.Outcome) history.Op {
	return history.Op{ID: id, Kind: kind, Bucket: "b", Key: "k", Site: "a",
		Invoke: history.Time(invoke * 1e6), Complete: history.Time(complete * 1e6), Outcome: out}
}

// serves builds an observation of a site serving write id ("" = absent).
func serves(site, id string) checker.Observation {
	if id == "" {
		return checker.Observation{Site: site}
	}
	return checker.Observation{Site: site, Present: true, ReadOf: id, Valid: true}
}

func check(ops []history.Op, obs ...checker.Observation) string {
	h := &history.History{Ops: ops}
	fs := checker.FinalState{Sites: []string{"a", "b"}, Keys: map[checker.Key][]checker.Observation{{Bucket: "b", Key: "k"}: obs}}
	res := checker.Check(h, fs, checker.Options{})
	var names []string
	for _, a := range res.Anomalies {
		names = append(names, a.Name+"@"+strings.Join(a.Sites, ",")+":"+strings.Join(a.Ops, ","))
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func TestCheck(t *testing.T) {
	w1 := op("w1", history.Put, 0, 10, history.OK)
	w2 := op("w2", history.Overwrite, 20, 30, history.OK)
	w2c := op("w2", history.Overwrite, 5, 30, history.OK) // concurrent with w1
	w2u := op("w2", history.Overwrite, 20, 30, history.Unknown)
	w2f := op("w2", history.Overwrite, 20, 30, history.Failed)
	d := op("d", history.Delete, 20, 30, history.OK)
	enc := w1
	enc.SSE = "SSE-S3"
	for _, tc := range []struct {
		name string
		ops  []history.Op
		obs  []checker.Observation
		want string
	}{
		{"latest everywhere", []history.Op{w1, w2}, []checker.Observation{serves("a", "w2"), serves("b", "w2")}, ""},
		{"later write lost", []history.Op{w1, w2}, []checker.Observation{serves("a", "w1"), serves("b", "w1")},
			"lost-write@a:w2,w1 lost-write@b:w2,w1"},
		{"concurrent: either wins", []history.Op{w1, w2c}, []checker.Observation{serves("a", "w1"), serves("b", "w1")}, ""},
		{"concurrent: other wins", []history.Op{w1, w2c}, []checker.Observation{serves("a", "w2"), serves("b", "w2")}, ""},
		{"concurrent but diverged", []history.Op{w1, w2c}, []checker.Observation{serves("a", "w1"), serves("b", "w2")},
			"divergence@a,b:"},
		{"unknown may have happened", []history.Op{w1, w2u}, []checker.Observation{serves("a", "w2"), serves("b", "w2")}, ""},
		{"unknown may not have", []history.Op{w1, w2u}, []checker.Observation{serves("a", "w1"), serves("b", "w1")}, ""},
		{"failed write never wins", []history.Op{w1, w2f}, []checker.Observation{serves("a", "w2"), serves("b", "w2")},
			"lost-write@a:w1,w2 lost-write@b:w1,w2"},
		{"deleted", []history.Op{w1, d}, []checker.Observation{serves("a", ""), serves("b", "")}, ""},
		{"resurrected", []history.Op{w1, d}, []checker.Observation{serves("a", ""), serves("b", "w1")},
			"missing-replica@a,b: resurrection@b:w1,d"},
		{"vanished", []history.Op{w1}, []checker.Observation{serves("a", ""), serves("b", "")}, "lost-write@a:w1 lost-write@b:w1"},
		{"never replicated", []history.Op{w1}, []checker.Observation{serves("a", "w1"), serves("b", "")}, "missing-replica@a,b:"},
		{"corrupt", []history.Op{w1}, []checker.Observation{serves("a", "w1"), {Site: "b", Present: true, ReadOf: "w1"}},
			"corrupt-read@b:w1"},
		{"unreadable", []history.Op{w1}, []checker.Observation{serves("a", "w1"), {Site: "b", Present: true, Error: "decrypt failed"}},
			"unreadable@b:"},
		{"downgrade", []history.Op{enc}, []checker.Observation{{Site: "a", Present: true, ReadOf: "w1", Valid: true, SSE: "SSE-S3"}, serves("b", "w1")},
			"encryption-downgrade@b:w1"},
		{"metadata", []history.Op{w1}, []checker.Observation{
			{Site: "a", Present: true, ReadOf: "w1", Valid: true, Meta: map[string]string{"c": "1"}},
			{Site: "b", Present: true, ReadOf: "w1", Valid: true, Meta: map[string]string{"c": "2"}}},
			"metadata-mismatch@a,b:w1"},
	} {
		if got := check(tc.ops, tc.obs...); got != tc.want {
			t.Errorf("%s:\n got  %q\n want %q", tc.name, got, tc.want)
		}
	}
}

// TestClockUncertainty: a write invoked within the uncertainty bound of
// another's completion may be ordered either way.
func TestClockUncertainty(t *testing.T) {
	w1 := op("w1", history.Put, 0, 10, history.OK)
	w2 := op("w2", history.Overwrite, 12, 20, history.OK)
	h := &history.History{Ops: []history.Op{w1, w2}}
	fs := checker.FinalState{Keys: map[checker.Key][]checker.Observation{{Bucket: "b", Key: "k"}: {serves("a", "w1")}}}
	if n := len(checker.Check(h, fs, checker.Options{}).Anomalies); n != 1 {
		t.Fatalf("strict order: %d anomalies, want 1", n)
	}
	if r := checker.Check(h, fs, checker.Options{ClockUncertainty: 5e6}); len(r.Anomalies) != 0 {
		t.Fatalf("within uncertainty: %v", r.Anomalies)
	}
}

func TestManyKeysCounted(t *testing.T) {
	var ops []history.Op
	keys := map[checker.Key][]checker.Observation{}
	for i := range 100 {
		o := op(fmt.Sprint("w", i), history.Put, int64(i), int64(i)+1, history.OK)
		o.Key = fmt.Sprint("k", i)
		ops = append(ops, o)
		keys[checker.Key{Bucket: "b", Key: o.Key}] = []checker.Observation{serves("a", o.ID), serves("b", o.ID)}
	}
	res := checker.Check(&history.History{Ops: ops}, checker.FinalState{Keys: keys}, checker.Options{})
	if res.Keys != 100 || len(res.Anomalies) != 0 {
		t.Fatalf("keys %d anomalies %v", res.Keys, res.Anomalies)
	}
}

// BenchmarkCheck checks a history of one million writes over 10,000 keys,
// each key served by two sites.
func BenchmarkCheck(b *testing.B) {
	const n, nkeys = 1_000_000, 10_000
	ops := make([]history.Op, n)
	last := map[string]string{}
	for i := range ops {
		k := fmt.Sprint("k", i%nkeys)
		ops[i] = history.Op{ID: fmt.Sprint("w", i), Kind: history.Overwrite, Bucket: "b", Key: k, Site: "a",
			Invoke: history.Time(i * 10), Complete: history.Time(i*10 + 5), Outcome: history.OK}
		last[k] = ops[i].ID
	}
	keys := map[checker.Key][]checker.Observation{}
	for k, id := range last {
		keys[checker.Key{Bucket: "b", Key: k}] = []checker.Observation{serves("a", id), serves("b", id)}
	}
	h := &history.History{Ops: ops}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if res := checker.Check(h, checker.FinalState{Keys: keys}, checker.Options{}); len(res.Anomalies) != 0 {
			b.Fatalf("%d anomalies", len(res.Anomalies))
		}
	}
}
