package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/replcheck/replcheck/internal/human"
	"github.com/replcheck/replcheck/verifier/convergence"
	"github.com/replcheck/replcheck/verifier/history"
)

// Plot limits. A run may track hundreds of thousands of writes; the
// report stays small by drawing a bounded sample of them (the slowest
// and the pending ones always among it).
const (
	maxScatter = 5000 // points of a scatter plot
	maxCurve   = 1000 // points of a CDF curve
	// minLag stands in for a lag of zero on a log axis.
	minLag = 1e-6
	// maxSizeAxis bounds the size axis: a fitted SLO size beyond it is
	// stated, not drawn.
	maxSizeAxis = float64(1 << 50)
)

// figure is one plot of the report: an inline SVG, or why there is none.
type figure struct {
	ID, Title string
	SVG       template.HTML
	// Legend is drawn by the page, beside the plot, where it hides no data.
	Legend  []legendItem
	Notes   []string
	Missing string
}

// legendItem is one entry of a plot's legend: a swatch and its label.
type legendItem struct {
	Color template.CSS // a colour of ours, never input
	Shape string       // dot, cross, line, dash, area
	Label string
}

func css(c color.Color) template.CSS {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return template.CSS(fmt.Sprintf("rgba(%d,%d,%d,%.2f)", n.R, n.G, n.B, float64(n.A)/255))
}

var (
	sans       = font.Font{Typeface: "Liberation", Variant: "Sans"}
	inkColor   = color.NRGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff}
	sloColor   = color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
	faultFill  = color.NRGBA{R: 0x6e, G: 0x6e, B: 0x80, A: 0x2c}
	faultInk   = color.NRGBA{R: 0x44, G: 0x44, B: 0x55, A: 0xff}
	pendingInk = color.NRGBA{R: 0xd3, G: 0x2f, B: 0x2f, A: 0xff}
	// Direction colours: colour-blind safe (Okabe–Ito).
	dirColors = []color.NRGBA{
		{R: 0x00, G: 0x72, B: 0xb2, A: 0xff},
		{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff},
		{R: 0x00, G: 0x9e, B: 0x73, A: 0xff},
		{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
		{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff},
	}
)

// figures draws the report's plots.
func figures(r *Result) []figure {
	v := newPlotView(r)
	return []figure{v.cdf(), v.lagOverTime(), v.lagBySize(), v.pending()}
}

// plotView is what the plots share: writes by direction, the time axis,
// the fault windows.
type plotView struct {
	r      *Result
	dirs   []dirWrites
	end    float64 // seconds: the right edge of time axes
	faults []faultWindow
	slo    float64
}

type dirWrites struct {
	name   string
	color  color.Color
	writes []*convergence.Write
}

func newPlotView(r *Result) *plotView {
	v := &plotView{r: r, slo: r.Convergence.SLOSeconds}
	if v.slo <= 0 {
		v.slo = r.Checks.SLOSeconds
	}
	index := map[[2]string]int{}
	for _, d := range r.Convergence.Directions {
		index[[2]string{d.From, d.To}] = len(v.dirs)
		v.dirs = append(v.dirs, dirWrites{name: d.From + "→" + d.To})
	}
	end := secs(r.Convergence.At)
	for i := range r.Convergence.Writes {
		w := &r.Convergence.Writes[i]
		k := [2]string{w.Origin, w.Peer}
		j, ok := index[k]
		if !ok {
			j = len(v.dirs)
			index[k] = j
			v.dirs = append(v.dirs, dirWrites{name: w.Origin + "→" + w.Peer})
		}
		v.dirs[j].writes = append(v.dirs[j].writes, w)
		end = max(end, secs(w.Ack)+max(w.LagSeconds, w.PendingSeconds))
	}
	for i := range v.dirs {
		v.dirs[i].color = dirColors[i%len(dirColors)]
	}
	for _, s := range r.Convergence.Series {
		end = max(end, secs(s.T))
	}
	for _, f := range r.Faults {
		end = max(end, secs(f.At))
	}
	v.end = end
	if v.end <= 0 {
		v.end = 1
	}
	v.faults = faultWindows(r.Faults, v.end)
	return v
}

func secs(t history.Time) float64 { return t.Duration().Seconds() }

// faultWindow is a fault from its injection to its heal.
type faultWindow struct {
	N        int // 1-based, as the faults table numbers them
	Name     string
	From, To float64 // seconds
	Healed   bool
	Error    string
}

// faultWindows pairs each inject event with the next heal of the same
// name; a fault never healed lasts to end.
func faultWindows(fs []Fault, end float64) []faultWindow {
	var out []faultWindow
	open := map[string][]int{}
	for _, f := range fs {
		switch f.Kind {
		case "inject":
			open[f.Name] = append(open[f.Name], len(out))
			out = append(out, faultWindow{N: len(out) + 1, Name: f.Name, From: secs(f.At), To: end, Error: f.Error})
		case "heal":
			if q := open[f.Name]; len(q) > 0 {
				w := &out[q[0]]
				w.To, w.Healed = max(w.From, secs(f.At)), true
				if f.Error != "" {
					w.Error = strings.TrimPrefix(w.Error+"; heal: "+f.Error, "; ")
				}
				open[f.Name] = q[1:]
			}
		}
	}
	return out
}

// cdf is the share of each direction's writes that had arrived, against
// lag. Pending writes count in the total, so a curve that ends below 1
// shows them.
func (v *plotView) cdf() figure {
	fig := figure{ID: "plot-lag-cdf", Title: "Replication lag, cumulative"}
	p := newPlot("lag", "share of writes arrived")
	lo, hi := math.Inf(1), 0.0
	var clamped, curves int
	for _, d := range v.dirs {
		var lags []float64
		for _, w := range d.writes {
			if w.State == convergence.Pending {
				continue
			}
			l := w.LagSeconds
			if l < minLag {
				l, clamped = minLag, clamped+1
			}
			lags = append(lags, l)
		}
		if len(lags) == 0 {
			continue
		}
		slices.Sort(lags)
		n := float64(len(d.writes))
		pts := plotter.XYs{}
		for _, i := range spread(len(lags), maxCurve) {
			pts = append(pts, plotter.XY{X: lags[i], Y: float64(i+1) / n})
		}
		if len(pts) == 1 {
			// A single arrival: a step from zero, so there is a line.
			pts = append(plotter.XYs{{X: pts[0].X, Y: 0}}, pts...)
		}
		lo, hi = min(lo, lags[0]), max(hi, lags[len(lags)-1])
		line, err := plotter.NewLine(pts)
		if err != nil {
			fig.Missing = err.Error()
			return fig
		}
		line.StepStyle = plotter.PostStep
		line.Color, line.Width = d.color, vg.Points(1.8)
		p.Add(line)
		fig.Legend = append(fig.Legend, legendItem{css(d.color), "line",
			fmt.Sprintf("%s (%d writes, %d pending)", d.name, len(d.writes), len(d.writes)-len(lags))})
		curves++
	}
	if curves == 0 {
		fig.Missing = "no write reached its peer: there is no lag to plot"
		if len(v.r.Convergence.Writes) == 0 {
			fig.Missing = "no writes were tracked"
		}
		return fig
	}
	lo, hi = lo/1.6, hi*1.6
	if v.slo > 0 && v.slo <= hi*1000 {
		hi = max(hi, v.slo*2.5)
		p.Add(refLine{at: v.slo, vertical: true, label: "SLO " + human.Seconds(v.slo), color: sloColor})
		fig.Legend = append(fig.Legend, legendItem{css(sloColor), "dash", "SLO " + human.Seconds(v.slo)})
	} else if v.slo > 0 {
		fig.Notes = append(fig.Notes, fmt.Sprintf("The %s SLO is far off the right edge: the slowest arrival took %s.",
			human.Seconds(v.slo), human.Seconds(hi/1.6)))
	}
	logAxis(&p.X, lo, hi, durationTicks{})
	p.Y.Min, p.Y.Max = 0, 1.04
	p.Y.Tick.Marker = percentTicks{}
	if clamped > 0 {
		fig.Notes = append(fig.Notes, fmt.Sprintf("%d lags of zero drawn at %s.", clamped, human.Seconds(minLag)))
	}
	fig.Notes = append(fig.Notes, "Lag is from a write's acknowledgement to the first probe that found it at the peer (midpoint of the probe bracket). "+
		"Pending writes count in each direction's total, so a curve that ends below 100% had writes still on their way.")
	fig.SVG, fig.Missing = render(fig, 10*vg.Inch, 3.2*vg.Inch, func(c draw.Canvas) { p.Draw(c) })
	return fig
}

// lagOverTime draws each write's lag at its acknowledgement time, and
// pending writes at their age when the run ended, over the fault windows.
func (v *plotView) lagOverTime() figure {
	fig := figure{ID: "plot-lag-time", Title: "Replication lag over time, with faults"}
	p := newPlot("acknowledged at (seconds since the run started)", "lag")
	p.Add(shades{ws: v.faults})
	var all []*convergence.Write
	for _, d := range v.dirs {
		all = append(all, d.writes...)
	}
	if len(all) == 0 {
		fig.Missing = "no writes were tracked"
		return fig
	}
	lagOf := func(w *convergence.Write) float64 {
		if w.State == convergence.Pending {
			return max(w.PendingSeconds, minLag)
		}
		return max(w.LagSeconds, minLag)
	}
	keep := thin(all, maxScatter, lagOf)
	lo, hi := math.Inf(1), 0.0
	var pending plotter.XYs
	for _, d := range v.dirs {
		var pts plotter.XYs
		for _, w := range d.writes {
			if !keep[w] {
				continue
			}
			pt := plotter.XY{X: secs(w.Ack), Y: lagOf(w)}
			lo, hi = min(lo, pt.Y), max(hi, pt.Y)
			if w.State == convergence.Pending {
				pending = append(pending, pt)
				continue
			}
			pts = append(pts, pt)
		}
		if len(pts) == 0 {
			continue
		}
		if err := addDots(p, &fig, pts, d.color, d.name); err != nil {
			fig.Missing = err.Error()
			return fig
		}
	}
	if len(pending) > 0 {
		sc, err := plotter.NewScatter(pending)
		if err != nil {
			fig.Missing = err.Error()
			return fig
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: pendingInk, Radius: vg.Points(2.6), Shape: draw.CrossGlyph{}}
		p.Add(sc)
		fig.Legend = append(fig.Legend, legendItem{css(pendingInk), "cross", "pending: never seen at the peer (age when the run ended)"})
	}
	lo, hi = lo/2.5, hi*2.5
	if v.slo > 0 && v.slo <= hi*1000 {
		// Headroom above the SLO line for the fault labels.
		hi = max(hi, v.slo*6)
		p.Add(refLine{at: v.slo, label: "SLO " + human.Seconds(v.slo), color: sloColor})
		fig.Legend = append(fig.Legend, legendItem{css(sloColor), "dash", "SLO " + human.Seconds(v.slo)})
	} else {
		if v.slo > 0 {
			fig.Notes = append(fig.Notes, fmt.Sprintf("The %s SLO is far above the top edge.", human.Seconds(v.slo)))
		}
		if len(v.faults) > 0 {
			hi *= 6
		}
	}
	if len(v.faults) > 0 {
		fig.Legend = append(fig.Legend, legendItem{css(faultFill), "area", "fault window"})
	}
	logAxis(&p.Y, lo, hi, durationTicks{})
	p.X.Min, p.X.Max = 0, v.end
	fig.Notes = append(fig.Notes, thinNote(len(keep), len(all), "writes"), faultNote(v.faults))
	fig.SVG, fig.Missing = render(fig, 10*vg.Inch, 3.4*vg.Inch, func(c draw.Canvas) { p.Draw(c) })
	return fig
}

// lagBySize draws lag against object size on log axes, with the SLO, the
// fitted lag = intercept + size/bandwidth and the size at which it
// reaches the SLO.
func (v *plotView) lagBySize() figure {
	fig := figure{ID: "plot-lag-size", Title: "Replication lag by object size"}
	p := newPlot("object size", "lag")
	var all []*convergence.Write
	var empty int
	for _, d := range v.dirs {
		for _, w := range d.writes {
			switch {
			case w.State != convergence.Converged || w.Kind == history.Delete:
			case w.Size <= 0:
				empty++
			default:
				all = append(all, w)
			}
		}
	}
	if len(all) == 0 {
		fig.Missing = "no converged write of a non-empty object: there is nothing to plot against size"
		return fig
	}
	lagOf := func(w *convergence.Write) float64 { return max(w.LagSeconds, minLag) }
	keep := thin(all, maxScatter, lagOf)
	xlo, xhi, ylo, yhi := math.Inf(1), 0.0, math.Inf(1), 0.0
	for _, d := range v.dirs {
		var pts plotter.XYs
		for _, w := range d.writes {
			if !keep[w] {
				continue
			}
			pt := plotter.XY{X: float64(w.Size), Y: lagOf(w)}
			xlo, xhi, ylo, yhi = min(xlo, pt.X), max(xhi, pt.X), min(ylo, pt.Y), max(yhi, pt.Y)
			pts = append(pts, pt)
		}
		if len(pts) == 0 {
			continue
		}
		if err := addDots(p, &fig, pts, d.color, d.name); err != nil {
			fig.Missing = err.Error()
			return fig
		}
	}
	xlo, xhi, ylo, yhi = xlo/2.5, xhi*2.5, ylo/2.5, yhi*2.5
	if v.slo > 0 {
		yhi = max(yhi, v.slo*3)
		p.Add(refLine{at: v.slo, left: true, label: "SLO " + human.Seconds(v.slo), color: sloColor})
		fig.Legend = append(fig.Legend, legendItem{css(sloColor), "dash", "SLO " + human.Seconds(v.slo)})
	}
	f := v.r.Convergence.Overall.Fit
	switch {
	case !f.OK:
		fig.Notes = append(fig.Notes, "No size fit: "+f.Reason+".")
	case f.SLOSizeBytes <= 0:
		fig.Notes = append(fig.Notes, fmt.Sprintf("Fit: lag = %s + size / %s/s; the intercept alone exceeds the %s SLO.",
			human.Seconds(f.InterceptSeconds), fmtBytes(f.BandwidthBytesPerSecond), human.Seconds(v.slo)))
	default:
		breach := fmt.Sprintf("Fit: lag = %s + size / %s/s (R² %.2f over %d writes): objects over %s would breach the %s SLO.",
			human.Seconds(f.InterceptSeconds), fmtBytes(f.BandwidthBytesPerSecond), f.R2, f.Points, fmtBytes(f.SLOSizeBytes), human.Seconds(v.slo))
		if f.SLOSizeBytes <= maxSizeAxis {
			xhi = max(xhi, f.SLOSizeBytes*4)
			p.Add(marker{x: f.SLOSizeBytes, y: v.slo, label: "objects over " + fmtBytes(f.SLOSizeBytes) + " breach"})
		} else {
			breach += " That is beyond the plotted sizes."
		}
		fig.Notes = append(fig.Notes, breach)
	}
	if f.OK {
		var pts plotter.XYs
		for i := 0; i <= 120; i++ {
			x := xlo * math.Pow(xhi/xlo, float64(i)/120)
			if y := f.InterceptSeconds + x/f.BandwidthBytesPerSecond; y > 0 {
				pts = append(pts, plotter.XY{X: x, Y: y})
			}
		}
		if len(pts) > 1 {
			line, err := plotter.NewLine(pts)
			if err == nil {
				line.Color, line.Width, line.Dashes = inkColor, vg.Points(1.2), []vg.Length{vg.Points(5), vg.Points(3)}
				p.Add(line)
				fig.Legend = append(fig.Legend, legendItem{css(inkColor), "dash",
					"fitted lag: " + human.Seconds(f.InterceptSeconds) + " + size / " + fmtBytes(f.BandwidthBytesPerSecond) + "/s"})
			}
		}
	}
	logAxis(&p.X, xlo, xhi, sizeTicks{})
	logAxis(&p.Y, ylo, yhi, durationTicks{})
	if empty > 0 {
		fig.Notes = append(fig.Notes, fmt.Sprintf("%d writes of empty objects are not drawn (the size axis is logarithmic).", empty))
	}
	fig.Notes = append(fig.Notes, thinNote(len(keep), len(all), "converged writes"))
	fig.SVG, fig.Missing = render(fig, 10*vg.Inch, 3.4*vg.Inch, func(c draw.Canvas) { p.Draw(c) })
	return fig
}

// pending draws the writes and bytes not yet at their peer over time.
func (v *plotView) pending() figure {
	fig := figure{ID: "plot-pending", Title: "Pending writes and bytes over time, with faults"}
	series := v.r.Convergence.Series
	if len(series) == 0 {
		fig.Missing = "the result has no pending series"
		return fig
	}
	ops := newPlot("", "pending writes")
	bytesP := newPlot("seconds since the run started", "pending bytes")
	var opsPts, bytePts plotter.XYs
	var maxOps, maxBytes float64
	for _, s := range series {
		opsPts = append(opsPts, plotter.XY{X: secs(s.T), Y: float64(s.Ops)})
		bytePts = append(bytePts, plotter.XY{X: secs(s.T), Y: float64(s.Bytes)})
		maxOps, maxBytes = max(maxOps, float64(s.Ops)), max(maxBytes, float64(s.Bytes))
	}
	for i, pp := range []struct {
		p   *plot.Plot
		pts plotter.XYs
		top float64
	}{{ops, opsPts, maxOps}, {bytesP, bytePts, maxBytes}} {
		pp.p.Add(shades{ws: v.faults, noLabels: i > 0})
		line, err := plotter.NewLine(pp.pts)
		if err != nil {
			fig.Missing = err.Error()
			return fig
		}
		line.StepStyle = plotter.PostStep
		line.Color, line.Width = dirColors[0], vg.Points(1.5)
		line.FillColor = color.NRGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0x30}
		pp.p.Add(line)
		if len(pp.pts) <= 2 {
			sc, _ := plotter.NewScatter(pp.pts)
			sc.GlyphStyle = draw.GlyphStyle{Color: dirColors[0], Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			pp.p.Add(sc)
		}
		pp.p.X.Min, pp.p.X.Max = 0, v.end
		pp.p.Y.Min, pp.p.Y.Max = 0, max(1, pp.top*1.1)
	}
	fig.Legend = append(fig.Legend, legendItem{css(dirColors[0]), "area", "pending, all directions"})
	if len(v.faults) > 0 {
		fig.Legend = append(fig.Legend, legendItem{css(faultFill), "area", "fault window"})
	}
	ops.Y.Tick.Marker = integerTicks{}
	bytesP.Y.Tick.Marker = byteTicks{}
	fig.Notes = append(fig.Notes, "Writes acknowledged at their origin and not yet seen at the peer, all directions together.", faultNote(v.faults))
	fig.SVG, fig.Missing = render(fig, 10*vg.Inch, 4.2*vg.Inch, func(c draw.Canvas) {
		tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(6), PadTop: vg.Points(2)}
		cs := plot.Align([][]*plot.Plot{{ops}, {bytesP}}, tiles, c)
		ops.Draw(cs[0][0])
		bytesP.Draw(cs[1][0])
	})
	return fig
}

func newPlot(x, y string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, s := range []struct {
		sty  *text.Style
		size vg.Length
	}{
		{&p.Title.TextStyle, 12}, {&p.X.Label.TextStyle, 10}, {&p.Y.Label.TextStyle, 10},
		{&p.X.Tick.Label, 9}, {&p.Y.Tick.Label, 9},
	} {
		s.sty.Font = font.From(sans, s.size)
		s.sty.Color = inkColor
	}
	p.X.Padding, p.Y.Padding = 0, 0
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xe4}
	grid.Horizontal.Color = color.Gray{Y: 0xe4}
	p.Add(grid)
	return p
}

// render draws a plot to an inline SVG element. A plot that cannot be
// drawn leaves a note instead of failing the whole report.
func render(fig figure, w, h vg.Length, drawFn func(draw.Canvas)) (svg template.HTML, missing string) {
	defer func() {
		if e := recover(); e != nil {
			svg, missing = "", fmt.Sprintf("this plot could not be drawn: %v", e)
		}
	}()
	c := vgsvg.New(w, h)
	// Slack at the right and top: a browser without the plot's font
	// draws its text with a wider one.
	drawFn(draw.Crop(draw.New(c), 0, -vg.Points(10), 0, -vg.Points(4)))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", "this plot could not be drawn: " + err.Error()
	}
	s := buf.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", "this plot could not be drawn: no SVG element"
	}
	// Inline in HTML: drop the XML prolog, name the element and let CSS
	// size it (the viewBox keeps its proportions).
	s = s[i:]
	end := strings.Index(s, ">")
	s = `<svg id="` + fig.ID + `" class="plot" role="img" aria-label="` + template.HTMLEscapeString(fig.Title) + `"` +
		s[len("<svg"):end+1] + "\n<title>" + template.HTMLEscapeString(fig.Title) + "</title>" + s[end+1:]
	// Trusted: gonum/plot escapes the text it writes (names of faults
	// and sites included).
	return template.HTML(s), ""
}

// spread picks at most limit indices of 0..n-1, evenly spread, always
// with the last.
func spread(n, limit int) []int {
	if n <= limit {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, 0, limit)
	for k := range limit {
		i := int(math.Round(float64(k) * float64(n-1) / float64(limit-1)))
		if len(out) == 0 || out[len(out)-1] != i {
			out = append(out, i)
		}
	}
	return out
}

// thin picks at most limit writes: the tenth of them with the largest
// value (the outliers a reader looks for), then every k-th of the rest.
func thin(ws []*convergence.Write, limit int, value func(*convergence.Write) float64) map[*convergence.Write]bool {
	keep := make(map[*convergence.Write]bool, min(len(ws), limit))
	if len(ws) <= limit {
		for _, w := range ws {
			keep[w] = true
		}
		return keep
	}
	byValue := slices.Clone(ws)
	slices.SortStableFunc(byValue, func(a, b *convergence.Write) int { return cmp.Compare(value(b), value(a)) })
	for _, w := range byValue[:limit/10] {
		keep[w] = true
	}
	stride := int(math.Ceil(float64(len(ws)) / float64(limit-limit/10)))
	for i := 0; i < len(ws); i += stride {
		keep[ws[i]] = true
	}
	return keep
}

func thinNote(shown, total int, what string) string {
	if shown >= total {
		return ""
	}
	return fmt.Sprintf("Showing %d of %d %s: the slowest tenth, and an even sample of the rest.", shown, total, what)
}

func faultNote(ws []faultWindow) string {
	if len(ws) == 0 {
		return "No faults were injected."
	}
	return "Shaded: fault windows, numbered as in the faults table."
}

// logAxis makes a a log axis over [lo, hi] (both made positive).
func logAxis(a *plot.Axis, lo, hi float64, t plot.Ticker) {
	if !(lo > 0) || math.IsInf(lo, 0) {
		lo = minLag
	}
	if !(hi > lo) {
		hi = lo * 10
	}
	a.Min, a.Max = lo, hi
	a.Scale = plot.LogScale{}
	a.Tick.Marker = t
}

// durationTicks marks a log axis of seconds with round durations.
type durationTicks struct{}

var (
	coarseDurations = []float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 60, 600, 3600, 36000, 86400, 864000}
	fineDurations   = []float64{
		1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5,
		1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400,
	}
)

func (durationTicks) Ticks(lo, hi float64) []plot.Tick {
	return logTicks(lo, hi, [][]float64{coarseDurations, fineDurations}, tickDuration)
}

// tickDuration labels a round duration briefly: 500µs, 10ms, 2s, 15m, 1h.
func tickDuration(s float64) string {
	g := func(x float64, unit string) string { return strconv.FormatFloat(x, 'g', 3, 64) + unit }
	switch {
	case s >= 86400:
		return g(s/86400, "d")
	case s >= 3600:
		return g(s/3600, "h")
	case s >= 60:
		return g(s/60, "m")
	case s >= 1:
		return g(s, "s")
	case s >= 1e-3:
		return g(s*1e3, "ms")
	}
	return g(s*1e6, "µs")
}

// sizeTicks marks a log axis of bytes at powers of two.
type sizeTicks struct{}

func (sizeTicks) Ticks(lo, hi float64) []plot.Tick {
	var sets [][]float64
	for _, step := range []int{10, 5, 2, 1} {
		var set []float64
		for e := 0; e <= 62; e += step {
			set = append(set, math.Ldexp(1, e))
		}
		sets = append(sets, set)
	}
	return logTicks(lo, hi, sets, fmtBytes)
}

// logTicks labels the values of the first set with at least three in
// [lo, hi] (every other one when there are more than nine), and adds
// unlabelled minor ticks within decades when there are few of them.
func logTicks(lo, hi float64, sets [][]float64, label func(float64) string) []plot.Tick {
	var major []float64
	for _, set := range sets {
		major = major[:0]
		for _, x := range set {
			if x >= lo && x <= hi {
				major = append(major, x)
			}
		}
		if len(major) >= 3 {
			break
		}
	}
	for len(major) > 9 {
		var half []float64
		for i := 0; i < len(major); i += 2 {
			half = append(half, major[i])
		}
		major = half
	}
	if len(major) < 2 {
		major = []float64{lo, hi}
	}
	var ticks []plot.Tick
	for _, x := range major {
		ticks = append(ticks, plot.Tick{Value: x, Label: label(x)})
	}
	if hi/lo <= 1e5 {
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			for m := 1.0; m < 10; m++ {
				if x := m * math.Pow(10, e); x >= lo && x <= hi {
					ticks = append(ticks, plot.Tick{Value: x})
				}
			}
		}
	}
	return ticks
}

// percentTicks labels a 0..1 axis in percent.
type percentTicks struct{}

func (percentTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for x := 0.0; x <= 1.0001; x += 0.25 {
		if x >= lo && x <= hi {
			ts = append(ts, plot.Tick{Value: x, Label: strconv.Itoa(int(math.Round(x*100))) + "%"})
		}
	}
	return ts
}

// integerTicks drops the fractional ticks of a count axis.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		switch {
		case t.Label == "":
			ts = append(ts, t)
		case t.Value == math.Trunc(t.Value):
			t.Label = strconv.FormatFloat(t.Value, 'f', 0, 64)
			ts = append(ts, t)
		}
	}
	return ts
}

// byteTicks marks a linear axis of bytes at round binary sizes.
type byteTicks struct{}

func (byteTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
search:
	for unit := 1.0; unit < 1<<62; unit *= 1024 {
		for _, m := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500} {
			if step = m * unit; (hi-lo)/step <= 5 {
				break search
			}
		}
	}
	var ts []plot.Tick
	for x := math.Ceil(lo/step) * step; x <= hi && len(ts) < 12; x += step {
		ts = append(ts, plot.Tick{Value: x, Label: fmtBytes(x)})
	}
	return ts
}

// fmtBytes formats a size for people in binary units: 512 B, 1.5 KiB,
// 216 GiB.
func fmtBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	u := 0
	for math.Abs(b) >= 1024 && u < len(units)-1 {
		b /= 1024
		u++
	}
	if math.Abs(b) >= 100 || b == math.Trunc(b) {
		return fmt.Sprintf("%.0f %s", b, units[u])
	}
	return fmt.Sprintf("%.3g %s", b, units[u])
}

// shades are fault windows drawn across the plot's height, each labelled
// with its number (and its name where it fits).
type shades struct {
	ws       []faultWindow
	noLabels bool
}

func (s shades) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := text.Style{Color: faultInk, Font: font.From(sans, 8), XAlign: draw.XLeft, YAlign: draw.YTop, Handler: p.Title.TextStyle.Handler}
	rowH := sty.Height("F") * 1.15
	lastEnd := []vg.Length{} // per label row, where its last label ends
	for _, w := range s.ws {
		x0 := max(c.Min.X, min(c.Max.X, trX(w.From)))
		x1 := max(c.Min.X, min(c.Max.X, trX(w.To)))
		x1 = max(x1, x0+vg.Points(1)) // an instant fault is still a line
		c.FillPolygon(faultFill, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
		if s.noLabels {
			continue
		}
		label := "F" + strconv.Itoa(w.N)
		if full := label + " " + w.Name; sty.Width(full) < x1-x0-vg.Points(4) {
			label = full
		}
		// The first row where the label does not overlap the previous one.
		row := 0
		for row < len(lastEnd) && lastEnd[row] > x0 {
			row++
		}
		if row == len(lastEnd) {
			lastEnd = append(lastEnd, 0)
		}
		if row > 3 {
			continue
		}
		lastEnd[row] = x0 + vg.Points(2) + sty.Width(label) + vg.Points(3)
		c.FillText(sty, vg.Point{X: x0 + vg.Points(2), Y: c.Max.Y - vg.Points(2) - vg.Length(row)*rowH}, label)
	}
}

// refLine is a labelled reference line across the plot: horizontal at y
// = at, or vertical at x = at.
type refLine struct {
	at       float64
	vertical bool
	left     bool // label a horizontal line at its left end
	label    string
	color    color.Color
}

func (l refLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: l.color, Width: vg.Points(1.4), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	txt := text.Style{Color: l.color, Font: font.From(sans, 9), Handler: p.Title.TextStyle.Handler}
	if l.vertical {
		x := trX(l.at)
		if !c.ContainsX(x) {
			return
		}
		c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
		txt.XAlign, txt.YAlign, txt.Rotation = draw.XRight, draw.YBottom, math.Pi/2
		c.FillText(txt, vg.Point{X: x - vg.Points(2), Y: c.Max.Y - vg.Points(4)}, l.label)
		return
	}
	y := trY(l.at)
	if !c.ContainsY(y) {
		return
	}
	c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
	if l.left {
		txt.XAlign, txt.YAlign = draw.XLeft, draw.YBottom
		c.FillText(txt, vg.Point{X: c.Min.X + vg.Points(4), Y: y + vg.Points(2)}, l.label)
		return
	}
	txt.XAlign, txt.YAlign = draw.XRight, draw.YBottom
	c.FillText(txt, vg.Point{X: c.Max.X - vg.Points(4), Y: y + vg.Points(2)}, l.label)
}

// marker is a labelled point.
type marker struct {
	x, y  float64
	label string
}

func (m marker) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	pt := vg.Point{X: trX(m.x), Y: trY(m.y)}
	if !c.Contains(pt) {
		return
	}
	c.DrawGlyph(draw.GlyphStyle{Color: sloColor, Radius: vg.Points(4), Shape: draw.RingGlyph{}}, pt)
	txt := text.Style{Color: sloColor, Font: font.From(sans, 9), XAlign: draw.XRight, YAlign: draw.YTop, Handler: p.Title.TextStyle.Handler}
	c.FillText(txt, vg.Point{X: pt.X - vg.Points(6), Y: pt.Y - vg.Points(5)}, m.label)
}

// addDots adds one direction's writes to p as dots, and to fig's legend.
func addDots(p *plot.Plot, fig *figure, pts plotter.XYs, c color.Color, name string) error {
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(1.6), Shape: draw.CircleGlyph{}}
	p.Add(sc)
	fig.Legend = append(fig.Legend, legendItem{css(c), "dot", name})
	return nil
}
