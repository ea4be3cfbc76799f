package checker_test

import (
	"fmt"
	"math/rand/v2"
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
	return checkWith(checker.Options{}, ops, obs...)
}

func checkWith(o checker.Options, ops []history.Op, obs ...checker.Observation) string {
	h := &history.History{Ops: ops}
	fs := checker.FinalState{Sites: []string{"a", "b"}, Keys: map[checker.Key][]checker.Observation{{Bucket: "b", Key: "k"}: obs}}
	res := checker.Check(h, fs, o)
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

// on returns o moved to key.
func on(key string, o history.Op) history.Op {
	o.Key = key
	return o
}

// cp builds a copy of key src onto key "k" with destination SSE mode sse.
func cp(id, src string, invoke, complete int64, out history.Outcome, sse string) history.Op {
	o := op(id, history.Copy, invoke, complete, out)
	o.Source, o.SSE = src, sse
	return o
}

// encrypted builds an observation of a site serving write id with SSE mode sse.
func encrypted(site, id, sse string) checker.Observation {
	ob := serves(site, id)
	ob.SSE = sse
	return ob
}

// TestCopyAndMeta: copies and metadata updates set values too, possibly
// from a stale replica of their source.
func TestCopyAndMeta(t *testing.T) {
	ws := on("s", op("ws", history.Put, 0, 10, history.OK))
	ws2 := on("s", op("ws2", history.Overwrite, 20, 30, history.OK))
	wsLate := on("s", op("ws2", history.Overwrite, 40, 50, history.OK)) // after the copy below completed
	wsEnc := ws
	wsEnc.SSE = "SSE-S3"
	c := cp("c", "s", 20, 30, history.OK, "")
	cEnc := cp("c", "s", 20, 30, history.OK, "SSE-S3")
	cAfter := cp("c", "s", 31, 40, history.OK, "") // just after ws2 completed
	cUnknown := cp("c", "s", 20, 30, history.Unknown, "")
	w1 := op("w1", history.Put, 0, 10, history.OK)
	w2 := op("w2", history.Overwrite, 20, 30, history.OK)
	w3 := op("w3", history.Overwrite, 40, 50, history.OK)
	m := op("m", history.Meta, 40, 50, history.OK)
	mFailed := op("m", history.Meta, 40, 50, history.Failed)
	mAfterCopy := op("m", history.Meta, 60, 70, history.OK)
	d := op("d", history.Delete, 40, 50, history.OK)
	// Chains: a -> b, then b -> k; and the same copies in the wrong order.
	wa := on("a", op("wa", history.Put, 0, 10, history.OK))
	ab := on("b", cp("ab", "a", 20, 30, history.OK, ""))
	bk := cp("bk", "b", 40, 50, history.OK, "")
	abLate := on("b", cp("ab", "a", 40, 50, history.OK, ""))
	bkEarly := cp("bk", "b", 20, 30, history.OK, "")
	for _, tc := range []struct {
		name string
		ops  []history.Op
		obs  []checker.Observation
		want string
	}{
		{"copy serves the source's write", []history.Op{ws, c}, []checker.Observation{serves("a", "ws"), serves("b", "ws")}, ""},
		{"copy then overwrite lost", []history.Op{ws, c, w3}, []checker.Observation{serves("a", "ws"), serves("b", "w3")},
			"divergence@a,b: lost-write@a:w3,ws,c"},
		{"copy from a stale source", []history.Op{ws, ws2, cAfter}, []checker.Observation{serves("a", "ws"), serves("b", "ws")}, ""},
		{"copy of the latest source", []history.Op{ws, ws2, cAfter}, []checker.Observation{serves("a", "ws2"), serves("b", "ws2")}, ""},
		{"source written after the copy", []history.Op{ws, c, wsLate}, []checker.Observation{serves("a", "ws2"), serves("b", "ws2")},
			"corrupt-read@a:ws2 corrupt-read@b:ws2"},
		{"copy leaves no value absent", []history.Op{ws, c}, []checker.Observation{serves("a", ""), serves("b", "")},
			"lost-write@a:c lost-write@b:c"},
		{"unknown copy may copy later writes", []history.Op{w1, ws, cUnknown, wsLate}, []checker.Observation{serves("a", "ws2"), serves("b", "ws2")}, ""},
		{"unknown copy may not have happened", []history.Op{w1, ws, cUnknown, wsLate}, []checker.Observation{serves("a", "w1"), serves("b", "w1")}, ""},
		{"meta from a stale replica", []history.Op{w1, w2, m}, []checker.Observation{serves("a", "w1"), serves("b", "w1")}, ""},
		{"meta of the latest", []history.Op{w1, w2, m}, []checker.Observation{serves("a", "w2"), serves("b", "w2")}, ""},
		{"failed meta legalises nothing", []history.Op{w1, w2, mFailed}, []checker.Observation{serves("a", "w1"), serves("b", "w1")},
			"lost-write@a:w2,w1 lost-write@b:w2,w1"},
		{"meta then overwrite lost", []history.Op{w1, m, op("w3", history.Overwrite, 60, 70, history.OK)},
			[]checker.Observation{serves("a", "w1"), serves("b", "w3")}, "divergence@a,b: lost-write@a:w3,w1,m"},
		{"meta brings no other key's write", []history.Op{w1, ws, m}, []checker.Observation{serves("a", "ws"), serves("b", "ws")},
			"corrupt-read@a:ws corrupt-read@b:ws"},
		{"meta of a copied value", []history.Op{w1, ws, c, mAfterCopy}, []checker.Observation{serves("a", "ws"), serves("b", "ws")}, ""},
		{"meta of a value overwritten by the copy", []history.Op{w1, ws, c, mAfterCopy}, []checker.Observation{serves("a", "w1"), serves("b", "w1")}, ""},
		{"deleted after copy", []history.Op{ws, c, d}, []checker.Observation{serves("a", ""), serves("b", "ws")},
			"missing-replica@a,b: resurrection@b:ws,d,c"},
		{"copy stores unencrypted", []history.Op{wsEnc, c}, []checker.Observation{serves("a", "ws"), serves("b", "ws")}, ""},
		{"copy stores encrypted", []history.Op{wsEnc, cEnc}, []checker.Observation{encrypted("a", "ws", "SSE-S3"), serves("b", "ws")},
			"encryption-downgrade@b:ws,c"},
		{"copy encrypts a plain write", []history.Op{ws, cEnc}, []checker.Observation{encrypted("a", "ws", "SSE-S3"), serves("b", "ws")},
			"encryption-downgrade@b:ws,c"},
		{"meta keeps a copy's plain storage", []history.Op{wsEnc, c, mAfterCopy}, []checker.Observation{serves("a", "ws"), serves("b", "ws")}, ""},
		{"meta keeps a copy's encryption", []history.Op{wsEnc, cEnc, mAfterCopy}, []checker.Observation{encrypted("a", "ws", "SSE-S3"), serves("b", "ws")},
			"encryption-downgrade@b:ws,m"},
		{"chained copies", []history.Op{wa, ab, bk}, []checker.Observation{serves("a", "wa"), serves("b", "wa")}, ""},
		{"chained copies in the wrong order", []history.Op{wa, bkEarly, abLate}, []checker.Observation{serves("a", "wa"), serves("b", "wa")},
			"corrupt-read@a:wa corrupt-read@b:wa"},
		{"another key's failed write", []history.Op{w1, on("s", op("wf", history.Put, 20, 30, history.Failed)), cp("c", "s", 40, 50, history.OK, "")},
			[]checker.Observation{serves("a", "wf"), serves("b", "wf")}, "corrupt-read@a:wf corrupt-read@b:wf"},
	} {
		if got := check(tc.ops, tc.obs...); got != tc.want {
			t.Errorf("%s:\n got  %q\n want %q", tc.name, got, tc.want)
		}
	}
}

// TestCopyEvidence: the details say why a value is wrong.
func TestCopyEvidence(t *testing.T) {
	ws := on("s", op("ws", history.Put, 0, 10, history.OK))
	for _, tc := range []struct {
		name string
		ops  []history.Op
		want string
	}{
		{"superseded copy", []history.Op{ws, cp("c", "s", 20, 30, history.OK, ""), op("w3", history.Overwrite, 40, 50, history.OK)},
			"a serves ws (left by copy c), but acknowledged overwrite w3 began after that completed"},
		{"no copy brought it", []history.Op{ws, op("w1", history.Put, 0, 10, history.OK)},
			"a serves ws, a write of b/s (ok) that no copy onto this key could have brought"},
	} {
		h := &history.History{Ops: tc.ops}
		fs := checker.FinalState{Keys: map[checker.Key][]checker.Observation{{Bucket: "b", Key: "k"}: {serves("a", "ws")}}}
		res := checker.Check(h, fs, checker.Options{})
		if len(res.Anomalies) != 1 || res.Anomalies[0].Detail != tc.want {
			t.Errorf("%s: %+v\n want detail %q", tc.name, res.Anomalies, tc.want)
		}
	}
}

// TestCopySearchRemembered: a value found unreachable at one key is still
// found where a later copy could have brought it.
func TestCopySearchRemembered(t *testing.T) {
	ops := []history.Op{
		on("s", op("ws", history.Put, 0, 10, history.OK)),
		on("k1", cp("c1", "t", 50, 60, history.OK, "")), // t has no value yet
		on("t", cp("st", "s", 100, 110, history.OK, "")),
		on("k2", cp("c2", "t", 200, 210, history.OK, "")),
	}
	fs := checker.FinalState{Keys: map[checker.Key][]checker.Observation{
		{Bucket: "b", Key: "k1"}: {serves("a", "ws")},
		{Bucket: "b", Key: "k2"}: {serves("a", "ws")},
		{Bucket: "b", Key: "k3"}: {serves("a", "ws")},
	}}
	res := checker.Check(&history.History{Ops: ops}, fs, checker.Options{})
	var got []string
	for _, a := range res.Anomalies {
		got = append(got, a.Name+"@"+a.Key)
	}
	if want := "corrupt-read@k1 corrupt-read@k3"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

// TestCopyChainBounded: a value copied along a chain longer than the
// search follows is accepted, and the search stays fast.
func TestCopyChainBounded(t *testing.T) {
	const n = 10_000
	ops := []history.Op{on("k0", op("w0", history.Put, 0, 1, history.OK))}
	for i := 1; i <= n; i++ {
		ops = append(ops, on(fmt.Sprint("k", i), cp(fmt.Sprint("c", i), fmt.Sprint("k", i-1), int64(2*i), int64(2*i+1), history.OK, "")))
	}
	h := &history.History{Ops: ops}
	fs := checker.FinalState{Keys: map[checker.Key][]checker.Observation{{Bucket: "b", Key: fmt.Sprint("k", n)}: {serves("a", "w0")}}}
	if res := checker.Check(h, fs, checker.Options{}); len(res.Anomalies) != 0 {
		t.Fatalf("anomalies %+v", res.Anomalies)
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

// at returns o made at site.
func at(site string, o history.Op) history.Op {
	o.Site = site
	return o
}

// get builds a read at site that returned write readOf.
func get(id, site string, invoke, complete int64, readOf string) history.Op {
	o := at(site, op(id, history.Get, invoke, complete, history.OK))
	o.ReadOf = readOf
	return o
}

// TestStaleLocalRead: a site serves its own acknowledged writes at once;
// the other site's, and writes in doubt, may take their time.
func TestStaleLocalRead(t *testing.T) {
	w1 := op("w1", history.Put, 0, 10, history.OK)
	w2 := op("w2", history.Overwrite, 20, 30, history.OK)
	w2u := op("w2", history.Overwrite, 20, 30, history.Unknown)
	w2near := op("w2", history.Overwrite, 12, 20, history.OK)     // invoked 2ms after w1 completed
	xc := at("b", op("x", history.Overwrite, 25, 35, history.OK)) // concurrent with w2
	xb := at("b", op("x", history.Overwrite, 12, 15, history.OK)) // done before w2 began
	d := op("d", history.Delete, 20, 30, history.OK)
	ws := on("s", op("ws", history.Put, 0, 10, history.OK))
	c := at("b", cp("c", "s", 50, 60, history.OK, ""))
	m := at("b", op("m", history.Meta, 50, 60, history.OK))
	ranged := get("g", "a", 40, 45, "w1")
	ranged.Range = "bytes=0-9"
	corrupt := get("g", "a", 40, 45, "w1")
	corrupt.Corrupt = true
	otherBytes := get("g", "a", 40, 45, "w1") // header of w1, body not w1's
	otherBytes.SHA256 = "0f"
	notFound := at("a", op("g", history.Get, 40, 45, history.Failed))
	notFound.Error = "s3 get b/k: The specified key does not exist."
	head := at("a", op("g", history.Get, 40, 45, history.OK)) // a HEAD: no bytes, no attribution
	both := func(id string) []checker.Observation { return []checker.Observation{serves("a", id), serves("b", id)} }
	ms := checker.Options{ClockUncertainty: 5e6}
	for _, tc := range []struct {
		name string
		o    checker.Options
		ops  []history.Op
		obs  []checker.Observation
		want string
	}{
		{"fresh local write read back", checker.Options{}, []history.Op{w1, get("g", "a", 20, 25, "w1")}, both("w1"), ""},
		{"latest local write read back", checker.Options{}, []history.Op{w1, w2, get("g", "a", 40, 45, "w2")}, both("w2"), ""},
		{"older local write read", checker.Options{}, []history.Op{w1, w2, get("g", "a", 40, 45, "w1")}, both("w2"),
			"stale-local-read@a:g,w2,w1"},
		{"other site still has the older write", checker.Options{}, []history.Op{w1, w2, get("g", "b", 40, 45, "w1")}, both("w2"), ""},
		{"concurrent write from the other site", checker.Options{}, []history.Op{w1, w2, xc, get("g", "a", 40, 45, "x")}, both("x"), ""},
		{"older write from the other site", checker.Options{}, []history.Op{w1, xb, w2, get("g", "a", 40, 45, "x")}, both("w2"),
			"stale-local-read@a:g,w2,x"},
		{"read begins within the uncertainty", ms, []history.Op{w1, w2, get("g", "a", 32, 40, "w1")}, both("w2"), ""},
		{"read begins after the uncertainty", ms, []history.Op{w1, w2, get("g", "a", 36, 40, "w1")}, both("w2"),
			"stale-local-read@a:g,w2,w1"},
		{"writes within the uncertainty", ms, []history.Op{w1, w2near, get("g", "a", 40, 45, "w1")}, both("w2"), ""},
		{"writes beyond strict order", checker.Options{}, []history.Op{w1, w2near, get("g", "a", 40, 45, "w1")}, both("w2"),
			"stale-local-read@a:g,w2,w1"},
		{"write in doubt", checker.Options{}, []history.Op{w1, w2u, get("g", "a", 40, 45, "w1")}, both("w1"), ""},
		{"read of the write in doubt", checker.Options{}, []history.Op{w1, w2u, get("g", "a", 40, 45, "w2")}, both("w2"), ""},
		{"local delete then old value", checker.Options{}, []history.Op{w1, d, get("g", "a", 40, 45, "w1")}, both(""),
			"stale-local-read@a:g,d,w1"},
		{"delete at the other site", checker.Options{}, []history.Op{w1, at("b", d), get("g", "a", 40, 45, "w1")}, both(""), ""},
		{"key written by a copy", checker.Options{}, []history.Op{w1, w2, ws, get("g", "a", 40, 45, "w1"), c}, both("ws"), ""},
		{"key with a metadata update", checker.Options{}, []history.Op{w1, w2, get("g", "a", 40, 45, "w1"), m}, both("w2"), ""},
		{"ranged read", checker.Options{}, []history.Op{w1, w2, ranged}, both("w2"), ""},
		{"corrupt read", checker.Options{}, []history.Op{w1, w2, corrupt}, both("w2"), ""},
		{"bytes not the write's", checker.Options{}, []history.Op{w1, w2, otherBytes}, both("w2"), ""},
		{"not-found read", checker.Options{}, []history.Op{w1, notFound}, both("w1"), ""},
		{"head", checker.Options{}, []history.Op{w1, w2, head}, both("w2"), ""},
		{"reads out of order", checker.Options{}, []history.Op{get("g2", "a", 40, 45, "w1"), w1, w2, get("g1", "a", 15, 18, "w1")}, both("w2"),
			"stale-local-read@a:g2,w2,w1"},
	} {
		if got := checkWith(tc.o, tc.ops, tc.obs...); got != tc.want {
			t.Errorf("%s:\n got  %q\n want %q", tc.name, got, tc.want)
		}
	}
}

// TestStaleLocalReadEvidence: the detail gives the times that make the
// read stale.
func TestStaleLocalReadEvidence(t *testing.T) {
	h := &history.History{Ops: []history.Op{
		op("w1", history.Put, 0, 10, history.OK),
		op("d", history.Delete, 20, 30, history.OK),
		get("g", "a", 40, 45, "w1"),
	}}
	res := checker.Check(h, checker.FinalState{Keys: map[checker.Key][]checker.Observation{{Bucket: "b", Key: "k"}: {serves("a", "")}}}, checker.Options{})
	want := "get g at a (invoked 40ms) returned w1, completed 10ms, but delete d, invoked 20ms, was acknowledged there at 30ms"
	if len(res.Anomalies) != 1 || res.Anomalies[0].Detail != want {
		t.Fatalf("%+v\n want detail %q", res.Anomalies, want)
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

// benchCheck times checking ops against a final state in which both sites
// serve final[key], which must raise no anomaly.
func benchCheck(b *testing.B, ops []history.Op, final map[string]string) {
	keys := map[checker.Key][]checker.Observation{}
	for k, id := range final {
		keys[checker.Key{Bucket: "b", Key: k}] = []checker.Observation{serves("a", id), serves("b", id)}
	}
	h := &history.History{Ops: ops}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if res := checker.Check(h, checker.FinalState{Keys: keys}, checker.Options{}); len(res.Anomalies) != 0 {
			b.Fatalf("%d anomalies: %+v", len(res.Anomalies), res.Anomalies[0])
		}
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
	benchCheck(b, ops, last)
}

// BenchmarkCheckReads is BenchmarkCheck with every fourth round over the
// keys reads, each returning the key's latest write, at one site or the
// other.
func BenchmarkCheckReads(b *testing.B) {
	const n, nkeys = 1_000_000, 10_000
	ops := make([]history.Op, n)
	last := map[string]string{}
	for i := range ops {
		k := fmt.Sprint("k", i%nkeys)
		o := history.Op{ID: fmt.Sprint("w", i), Kind: history.Overwrite, Bucket: "b", Key: k, Site: "a",
			Invoke: history.Time(i * 10), Complete: history.Time(i*10 + 5), Outcome: history.OK}
		if round := i / nkeys; round%4 == 3 {
			o.Kind, o.ReadOf = history.Get, last[k]
			if round%8 == 7 {
				o.Site = "b"
			}
		} else {
			last[k] = o.ID
		}
		ops[i] = o
	}
	benchCheck(b, ops, last)
}

// BenchmarkCheckCopies is BenchmarkCheck with 10% of the operations
// copies from another key and 5% metadata updates.
func BenchmarkCheckCopies(b *testing.B) {
	const n, nkeys = 1_000_000, 10_000
	ops := make([]history.Op, n)
	rng := rand.New(rand.NewPCG(1, 2))
	cur := map[string]string{} // what each key holds
	for i := range ops {
		k := fmt.Sprint("k", i%nkeys)
		o := history.Op{ID: fmt.Sprint("w", i), Kind: history.Overwrite, Bucket: "b", Key: k, Site: "a",
			Invoke: history.Time(i * 10), Complete: history.Time(i*10 + 5), Outcome: history.OK}
		switch r := rng.IntN(100); {
		case r < 10:
			if src := fmt.Sprint("k", rng.IntN(nkeys)); src != k && cur[src] != "" {
				o.Kind, o.Source = history.Copy, src
				cur[k] = cur[src]
			}
		case r < 15:
			if cur[k] != "" {
				o.Kind = history.Meta
			}
		}
		if o.Kind == history.Overwrite {
			cur[k] = o.ID
		}
		ops[i] = o
	}
	benchCheck(b, ops, cur)
}

// TestAlikeBytes: bytes several writes share (an empty object) are
// attributed to one a correct store may hold. The case is the copy of an
// empty source whose later empty rewrite the bytes match first.
func TestAlikeBytes(t *testing.T) {
	ops := []history.Op{
		on("s", op("ws1", history.Put, 0, 10, history.OK)),
		cp("c", "s", 20, 30, history.OK, ""),
		on("s", op("ws2", history.Overwrite, 40, 50, history.OK)), // after the copy completed
	}
	alike := func(site string) checker.Observation {
		ob := serves(site, "ws2")
		ob.Alike = []string{"ws1"}
		return ob
	}
	if got := check(ops, alike("a"), alike("b")); got != "" {
		t.Errorf("bytes ws1 shares with ws2: %q, want no anomaly", got)
	}
	// Without the alternative the same observation is a corrupt read: the
	// check still sees what only ws2 could be.
	if got := check(ops, serves("a", "ws2"), serves("b", "ws2")); !strings.Contains(got, checker.CorruptRead) {
		t.Errorf("ws2 alone: %q, want corrupt-read", got)
	}
	// An alternative that is no more legal changes nothing.
	ob := serves("a", "ws2")
	ob.Alike = []string{"nope"}
	if got := check(ops, ob, serves("b", "ws1")); !strings.Contains(got, checker.CorruptRead) {
		t.Errorf("illegal alternative: %q, want corrupt-read", got)
	}
}
