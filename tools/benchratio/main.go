// Command benchratio reads `go test -bench` output and prints, for every
// benchmark run against several targets (sub-benchmarks named …/<target>),
// each target's figures as a ratio to the subject's: replcheck's figures
// only mean something next to a peer measured in the same run on the same
// machine.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"
)

func main() {
	subject := flag.String("subject", "replcheck", "target name the others are compared with")
	flag.Parse()
	if err := report(os.Stdin, os.Stdout, *subject); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// row is one benchmark's value of one unit for one target.
type key struct{ group, unit string }

// report prints the comparison table; benchmarks without a peer are listed
// with their own figures only.
func report(in io.Reader, out io.Writer, subject string) error {
	vals := map[key]map[string]float64{} // target → mean value
	counts := map[key]map[string]int{}
	var order []key
	r := benchfmt.NewReader(in, "stdin")
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		base, parts := res.Name.Parts()
		name := string(base)
		for _, p := range parts {
			name += string(p)
		}
		name = stripProcs(name)
		group, target := name, subject
		if i := strings.LastIndex(name, "/"); i >= 0 {
			group, target = name[:i], name[i+1:]
		}
		for _, v := range res.Values {
			if v.Unit == "B/op" || v.Unit == "allocs/op" {
				continue
			}
			k := key{group, v.Unit}
			if vals[k] == nil {
				vals[k], counts[k] = map[string]float64{}, map[string]int{}
				order = append(order, k)
			}
			vals[k][target] += v.Value
			counts[k][target]++
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "benchmark\tunit\t%s\tpeer\tpeer value\tratio\t\n", subject)
	for _, k := range order {
		for t := range vals[k] {
			vals[k][t] /= float64(counts[k][t])
		}
		sv, ok := vals[k][subject]
		if !ok {
			continue
		}
		peers := make([]string, 0, len(vals[k]))
		for t := range vals[k] {
			if t != subject {
				peers = append(peers, t)
			}
		}
		sort.Strings(peers)
		if len(peers) == 0 {
			fmt.Fprintf(w, "%s\t%s\t%.4g\t-\t-\t-\t\n", k.group, k.unit, sv)
			continue
		}
		for _, p := range peers {
			fmt.Fprintf(w, "%s\t%s\t%.4g\t%s\t%.4g\t%s\t\n", k.group, k.unit, sv, p, vals[k][p], ratio(k.unit, sv, vals[k][p]))
		}
	}
	return w.Flush()
}

// ratio says how many times better the subject is than the peer: for
// time-per-operation units lower is better, for rates higher is better.
func ratio(unit string, subject, peer float64) string {
	if subject == 0 || peer == 0 {
		return "n/a"
	}
	if strings.HasSuffix(unit, "/op") {
		return fmt.Sprintf("%.2fx", peer/subject)
	}
	return fmt.Sprintf("%.2fx", subject/peer)
}

// stripProcs removes the -GOMAXPROCS suffix go test appends to names.
func stripProcs(name string) string {
	i := strings.LastIndex(name, "-")
	if i < 0 {
		return name
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return name
		}
	}
	return name[:i]
}
