package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/reports"
)

// savedRun copies a saved run folder of reports/testdata (gzipped) into
// a temporary directory.
func savedRun(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join("../../reports/testdata/runs", name, "*.gz"))
	if len(files) == 0 {
		t.Fatalf("no saved run %s", name)
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
		data, err := io.ReadAll(zr)
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".gz")), data, 0o644)
	}
	return dir
}

func TestReportRendersRunFolders(t *testing.T) {
	a, b := savedRun(t, "flaw-volatile-queue"), savedRun(t, "flaw-no-retry-correct")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"report", a, b}, &stdout, &stderr); code != exitPass {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	want := filepath.Join(a, reports.ReportFile) + "\n" + filepath.Join(b, reports.ReportFile) + "\n"
	if stdout.String() != want {
		t.Errorf("stdout %q, want the reports' paths %q", stdout.String(), want)
	}
	for _, dir := range []string{a, b} {
		res, err := reports.ReadResult(dir)
		if err != nil {
			t.Fatal(err)
		}
		page, err := os.ReadFile(filepath.Join(dir, reports.ReportFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(page, []byte(`id="verdict-badge">`+strings.ToUpper(res.Verdict)+"<")) || !bytes.Contains(page, []byte(res.Run)) {
			t.Errorf("%s: report.html lacks the verdict %s or the run id", dir, res.Verdict)
		}
		var doc struct {
			Suites []struct {
				Name  string `xml:"name,attr"`
				Tests int    `xml:"tests,attr"`
			} `xml:"testsuite"`
		}
		data, err := os.ReadFile(filepath.Join(dir, reports.JUnitFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(data, &doc); err != nil || len(doc.Suites) != 1 || doc.Suites[0].Name != res.Run || doc.Suites[0].Tests < len(reports.AnomalyKinds) {
			t.Errorf("%s: junit.xml %+v, %v", dir, doc, err)
		}
	}
}

func TestReportBadFolders(t *testing.T) {
	empty := t.TempDir()
	badJSON := t.TempDir()
	os.WriteFile(filepath.Join(badJSON, reports.ResultFile), []byte(`{"schema": 1, "verdict": `), 0o644)
	newer := t.TempDir()
	os.WriteFile(filepath.Join(newer, reports.ResultFile), []byte(`{"schema": 99}`), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report"}, exitUsage, "requires at least 1 arg"},
		{[]string{"report", empty}, exitUsage, "result.json: no such file: is this a run folder?"},
		{[]string{"report", filepath.Join(empty, "missing")}, exitUsage, "result.json: no such file"},
		{[]string{"report", badJSON}, exitUsage, filepath.Join(badJSON, "result.json") + ": unexpected end of JSON input"},
		{[]string{"report", newer}, exitUsage, "schema 99; this replcheck reads up to 1"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}

// TestReportCannotWrite: a run folder where junit.xml cannot be written
// is not bad input but a failure to write, exit 3.
func TestReportCannotWrite(t *testing.T) {
	dir := savedRun(t, "flaw-no-retry-correct")
	// A directory where the temporary file would go.
	os.Mkdir(filepath.Join(dir, reports.JUnitFile+".tmp"), 0o755)
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"report", dir}, io.Discard, &stderr); code != exitInfra || !strings.Contains(stderr.String(), "junit.xml") {
		t.Errorf("exit %d, stderr %q; want 3 naming junit.xml", code, stderr.String())
	}
}

// TestRunWritesReports: every run leaves junit.xml and report.html in its
// folder, with its verdict.
func TestRunWritesReports(t *testing.T) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "tiny-report.yaml")
	os.WriteFile(sc, []byte(`name: tiny-report
description: test
workload:
  duration: 1s
  rate: 30
  keys: 10
  mix: {put: 60, overwrite: 30, delete: 10}
  sizes: [{size: 100}, {size: 20KiB}]
checks:
  observe: 5s
`), 0o644)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", sc, "--out", filepath.Join(dir, "runs")}, &stdout, &stderr)
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	folders, _ := filepath.Glob(filepath.Join(dir, "runs", "tiny-report-*"))
	if len(folders) != 1 {
		t.Fatalf("run folders %v", folders)
	}
	page, err := os.ReadFile(filepath.Join(folders[0], reports.ReportFile))
	if err != nil || !bytes.Contains(page, []byte(`id="verdict-badge">PASS<`)) {
		t.Errorf("report.html: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(folders[0], reports.JUnitFile))
	if err != nil || !bytes.Contains(data, []byte(`failures="0" errors="0"`)) {
		t.Errorf("junit.xml of a passing run: %v\n%s", err, data)
	}
}
