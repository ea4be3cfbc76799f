package reports_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/replcheck/replcheck/reports"
)

// browser finds Debian's chromium. Without it the browser tests skip,
// unless REPLCHECK_REQUIRE_BROWSER=1 (as CI sets it), which makes its
// absence a failure.
func browser(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium is not installed (apt-get install chromium): the report is not checked in a browser"
		if os.Getenv("REPLCHECK_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + ", and REPLCHECK_REQUIRE_BROWSER=1")
		}
		t.Skip(msg)
	}
	return path
}

// chromium runs headless chromium on a file with the network cut off:
// every request goes to a proxy at the discard port, and no host name
// resolves. It returns what chromium printed on stdout.
func chromium(t *testing.T, bin string, file string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(),
		"--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+abs)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// screenshot takes a screenshot of file in a window of w×h pixels.
func screenshot(t *testing.T, bin, file string, w, h int) image.Image {
	t.Helper()
	out := filepath.Join(t.TempDir(), "shot.png")
	chromium(t, bin, file, fmt.Sprintf("--window-size=%d,%d", w, h), "--screenshot="+out)
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// near counts the pixels within a small distance of c.
func near(img image.Image, c color.NRGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if absDiff(p.R, c.R)+absDiff(p.G, c.G)+absDiff(p.B, c.B) < 24 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// colours counts the distinct colours of img.
func colours(img image.Image) int {
	seen := map[color.NRGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			seen[color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)] = true
		}
	}
	return len(seen)
}

// TestReportInBrowser opens the report of a saved run (a calibration run
// with a partition and a crash, anomalies and writes left pending) in
// headless chromium, offline, as it passed and judged again as a run
// that expects nothing, where it fails: the DOM chromium built must hold
// the verdict and every plot's SVG, and the screenshot must show a page,
// with the verdict's colour.
func TestReportInBrowser(t *testing.T) {
	bin := browser(t)
	dir := unpack(t, "testdata/runs/flaw-volatile-queue")
	res, err := reports.ReadResult(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		verdict string
		badge   color.NRGBA
	}{
		{"PASS", color.NRGBA{R: 0x1a, G: 0x7f, B: 0x37}},
		{"FAIL", color.NRGBA{R: 0xc6, G: 0x28, B: 0x28}},
	} {
		t.Run(tc.verdict, func(t *testing.T) {
			if tc.verdict == "FAIL" {
				res.Checks.Expect = nil
				res.Judge()
			}
			if err := reports.WriteReports(dir, res); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, reports.ReportFile)

			dom := chromium(t, bin, file, "--dump-dom")
			doc, err := html.Parse(bytes.NewReader(dom))
			if err != nil {
				t.Fatal(err)
			}
			var badge string
			paths := map[string]int{}
			walk(doc, func(n *html.Node) {
				if attr(n, "id") == "verdict-badge" {
					badge = textOf(n)
				}
				if n.Data == "svg" {
					id := attr(n, "id")
					walk(n, func(c *html.Node) {
						if c.Data == "path" || c.Data == "text" {
							paths[id]++
						}
					})
				}
			})
			if badge != tc.verdict {
				t.Errorf("the browser shows verdict %q, want %q", badge, tc.verdict)
			}
			for _, id := range plotIDs {
				if paths[id] < 10 {
					t.Errorf("<svg id=%q> has %d paths and texts in the browser's DOM", id, paths[id])
				}
			}
			if !strings.Contains(textOf(doc), res.Reasons[0]) {
				t.Errorf("first reason %q not in the DOM", res.Reasons[0])
			}

			img := screenshot(t, bin, file, 1280, 1600)
			if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1600 {
				t.Fatalf("screenshot %v, want 1280×1600", b)
			}
			if n := colours(img); n < 64 {
				t.Errorf("screenshot has %d colours: not a rendered report", n)
			}
			// The badge alone is some 20,000 pixels of the verdict's colour.
			if n := near(img, tc.badge); n < 5000 {
				t.Errorf("%d pixels of the %s colour: the verdict is not shown", n, tc.verdict)
			}
		})
	}
}

// topColours is the palette of img's n most frequent colours.
func topColours(img image.Image, n int) color.Palette {
	counts := map[color.Color]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[img.At(x, y)]++
		}
	}
	var pal color.Palette
	for c := range counts {
		pal = append(pal, c)
	}
	slices.SortFunc(pal, func(a, b color.Color) int { return counts[b] - counts[a] })
	return pal[:min(n, len(pal))]
}

// TestReportScreenshot is the tool behind `make report-screenshot`: with
// REPLCHECK_SCREENSHOT_RUN naming a run folder and REPLCHECK_SCREENSHOT
// a PNG file, it renders the run's report and saves a screenshot of the
// whole page, 1280 pixels wide.
func TestReportScreenshot(t *testing.T) {
	dir, out := os.Getenv("REPLCHECK_SCREENSHOT_RUN"), os.Getenv("REPLCHECK_SCREENSHOT")
	switch {
	case dir == "" && out == "":
		t.Skip("REPLCHECK_SCREENSHOT_RUN and REPLCHECK_SCREENSHOT not set: `make report-screenshot` sets them")
	case dir == "" || out == "":
		t.Fatalf("REPLCHECK_SCREENSHOT_RUN=%q REPLCHECK_SCREENSHOT=%q: both are needed", dir, out)
	}
	bin := browser(t)
	if err := reports.Render(dir); err != nil {
		t.Fatal(err)
	}
	img := screenshot(t, bin, filepath.Join(dir, reports.ReportFile), 1280, 8000)
	// Cut the window's empty bottom: keep down to the last row that is
	// not all the page's background, and a margin.
	b := img.Bounds()
	bg := img.At(b.Max.X-1, b.Max.Y-1)
	last := b.Min.Y
	for y := b.Max.Y - 1; y >= b.Min.Y && last == b.Min.Y; y-- {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.At(x, y) != bg {
				last = y
				break
			}
		}
	}
	// 256 colours, the page's most frequent (flat colours, and the greys
	// of anti-aliased text), keep the file small at no visible cost.
	crop := image.NewPaletted(image.Rect(0, 0, b.Dx(), min(b.Dy(), last-b.Min.Y+24)), topColours(img, 256))
	draw.Draw(crop, crop.Bounds(), img, b.Min, draw.Src)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, crop); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d×%d, %d KiB", out, crop.Bounds().Dx(), crop.Bounds().Dy(), buf.Len()>>10)
}
