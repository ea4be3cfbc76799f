package reports_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/reports"
)

// unpack copies a gzipped fixture run folder into a temporary directory.
func unpack(t *testing.T, fixture string) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(fixture, "*.gz"))
	if len(files) != 3 {
		t.Fatalf("%s: %d files, want result, history and final state", fixture, len(files))
	}
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".gz")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, zr); err != nil {
			t.Fatal(err)
		}
		out.Close()
		in.Close()
	}
	return dir
}

// TestRecheckFixtures re-checks saved runs: one per flaw of the reference
// engine (and the encryption scenario under each SSE flaw), where the
// expected anomalies must be found again, and runs of the correct engine,
// where nothing may be. A change of the checker that alters any verdict
// or finding fails here.
func TestRecheckFixtures(t *testing.T) {
	fixtures, _ := filepath.Glob("testdata/runs/*")
	if len(fixtures) < 10 {
		t.Fatalf("%d fixtures, want the saved runs under testdata/runs", len(fixtures))
	}
	for _, fx := range fixtures {
		t.Run(filepath.Base(fx), func(t *testing.T) {
			res, changed, err := reports.Recheck(unpack(t, fx))
			if err != nil {
				t.Fatal(err)
			}
			if changed != "" {
				t.Errorf("re-check differs from the recorded run: %s", changed)
			}
			if strings.HasSuffix(fx, "-correct") {
				if res.Verdict != reports.Pass || len(res.Found) > 0 {
					t.Errorf("correct engine: verdict %s, found %v", res.Verdict, res.Found)
				}
				return
			}
			if len(res.Checks.Expect) == 0 || len(res.Flaws) == 0 {
				t.Fatalf("flawed run with no flaw or expectation: %v %v", res.Flaws, res.Checks.Expect)
			}
			for _, e := range res.Checks.Expect {
				if !slices.Contains(res.Found, e) {
					t.Errorf("%v: expected %s, found %v", res.Flaws, e, res.Found)
				}
			}
			if res.Verdict != reports.Pass {
				t.Errorf("verdict %s: %v", res.Verdict, res.Reasons)
			}
		})
	}
}

// TestRecheckReadsTheState damages a correct run's final state: the
// re-check must find the damage and say it differs from the record.
func TestRecheckReadsTheState(t *testing.T) {
	dir := unpack(t, "testdata/runs/flaw-no-retry-correct")
	path := filepath.Join(dir, reports.FinalStateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fs map[string]any
	if err := json.Unmarshal(data, &fs); err != nil {
		t.Fatal(err)
	}
	keys := fs["keys"].([]any)
	var damaged string
	for _, k := range keys {
		obs := k.(map[string]any)["sites"].([]any)[1].(map[string]any)
		if obs["Present"] == true {
			obs["Valid"] = false // the second site serves altered bytes
			damaged = k.(map[string]any)["key"].(string)
			break
		}
	}
	data, _ = json.Marshal(fs)
	os.WriteFile(path, data, 0o644)
	res, changed, err := reports.Recheck(dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != reports.Fail || !slices.Contains(res.Found, "corrupt-read") || changed == "" {
		t.Fatalf("damaged %s: verdict %s, found %v, changed %q; want a corrupt-read failure that differs from the record",
			damaged, res.Verdict, res.Found, changed)
	}
}

func TestReadResultRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, reports.ResultFile), []byte(`{"schema": 99}`), 0o644)
	if _, err := reports.ReadResult(dir); err == nil || !strings.Contains(err.Error(), "schema 99") {
		t.Fatalf("err %v, want a refusal naming schema 99", err)
	}
}
