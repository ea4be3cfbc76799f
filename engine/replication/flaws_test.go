package replication_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/engine/replication"
)

func TestFlawsAreDistinct(t *testing.T) {
	seen := map[replication.Flaw]bool{}
	for _, f := range replication.AllFlaws {
		if f == "" || f == "none" || strings.ContainsAny(string(f), ", ") {
			t.Errorf("flaw %q: not a usable name", f)
		}
		if seen[f] {
			t.Errorf("flaw %q listed twice", f)
		}
		seen[f] = true
	}
	if len(seen) != 9 {
		t.Errorf("%d flaws, want the nine of the design", len(seen))
	}
}

func TestParseFlaws(t *testing.T) {
	names := make([]string, len(replication.AllFlaws))
	for i, f := range replication.AllFlaws {
		names[i] = string(f)
	}
	fs, err := replication.ParseFlaws(append([]string{"", " none ", " " + names[0] + " "}, names...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range replication.AllFlaws {
		if !fs.Has(f) {
			t.Errorf("%s not on", f)
		}
	}
	if len(fs) != len(replication.AllFlaws) {
		t.Errorf("parsed %v", fs)
	}
	if got, want := fs.String(), strings.Join(slices.Sorted(slices.Values(names)), ","); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	none, err := replication.ParseFlaws("none")
	if err != nil || len(none) != 0 || none.String() != "none" {
		t.Errorf("ParseFlaws(none) = %v, %v", none, err)
	}

	fs, err = replication.ParseFlaws(names[0], "sse-multipart-flaten")
	if err == nil {
		t.Fatalf("a misspelt flaw parsed: %v", fs)
	}
	if !strings.Contains(err.Error(), `"sse-multipart-flaten"`) {
		t.Errorf("error does not name the unknown flaw: %v", err)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error does not list %s: %v", n, err)
		}
	}
}

func TestStreams(t *testing.T) {
	if n := replication.Streams(nil); n != replication.DefaultStreams || n < 2 {
		t.Errorf("Streams(none) = %d", n)
	}
	if n := replication.Streams(replication.Flaws{replication.FlawSerialLargeObjects: true}); n != 1 {
		t.Errorf("Streams(serial-large-objects) = %d, want 1", n)
	}
}
