package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// A hand-written SVG of the soak: p99 per window and the server's RSS over time, one colour per
// database, the p99 goal as a dashed line. No plotting library: a few panels of polylines.

// plotSeries is one line of a panel; markers draws a dot at each point.
type plotSeries struct {
	name, color string
	x, y        []float64
	markers     bool
}

// plotPanel is one chart: its series over a shared x axis (minutes), dashed lines at goal.
type plotPanel struct {
	title, unit string
	series      []plotSeries
	goal        float64 // 0: none
	goalLabel   string
}

var soakColors = map[string]string{"SQLite": "#1f77b4", "PostgreSQL": "#d62728"}

// soakPlot draws the report's runs.
func soakPlot(r soakReport) []byte {
	p99 := plotPanel{title: fmt.Sprintf("p99 per %s, the whole mix", strings.TrimSuffix(windowUnit(r.Options.window), " window")), unit: "ms",
		goal: float64(soakGoalP99) / float64(time.Millisecond), goalLabel: "goal " + millis(soakGoalP99)}
	rss := plotPanel{title: "server RSS (VmRSS, every second)", unit: "MiB"}
	others := plotPanel{title: "the machine's CPUs busy with others' work (not the soak's), per " + strings.TrimSuffix(windowUnit(r.Options.window), " window"), unit: "%"}
	xMax := r.Options.duration.Minutes()
	for _, res := range r.Runs {
		color := soakColors[res.Database]
		s := plotSeries{name: res.Database, color: color, markers: true}
		for _, w := range res.Windows {
			s.x = append(s.x, (w.Load.Start + w.Load.Length/2).Minutes()) // the window's middle
			s.y = append(s.y, float64(w.Load.P99)/float64(time.Millisecond))
		}
		p99.series = append(p99.series, s)
		o := plotSeries{name: res.Database, color: color, markers: true}
		for _, w := range res.Windows {
			o.x = append(o.x, (w.Load.Start + w.Load.Length/2).Minutes())
			o.y = append(o.y, 100*w.Others)
		}
		others.series = append(others.series, o)
		m := plotSeries{name: res.Database, color: color}
		for _, sample := range res.RSS {
			m.x = append(m.x, sample.At.Minutes())
			m.y = append(m.y, sample.Value/(1<<20))
			xMax = max(xMax, sample.At.Minutes())
		}
		rss.series = append(rss.series, m)
	}
	title := fmt.Sprintf("Soak, %s UTC: evotor mix at %d/s for %s per database", r.Start.UTC().Format("2006-01-02 15:04"), r.Options.rate,
		shortDuration(r.Options.duration))
	return drawPlot(title, "minutes since the load started", xMax, []plotPanel{p99, rss, others})
}

const (
	plotWidth       = 900
	plotPanelHeight = 280
	plotLeft        = 70
	plotRight       = 130 // room for the legend
	plotTop         = 40
	plotBottom      = 45
)

// drawPlot lays the panels out one above the other, x from 0 to xMax.
func drawPlot(title, xLabel string, xMax float64, panels []plotPanel) []byte {
	var b bytes.Buffer
	height := plotTop + len(panels)*(plotPanelHeight+plotBottom)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, height, plotWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", plotLeft, html.EscapeString(title))
	xMax = max(xMax, 1e-9)
	for i, p := range panels {
		top := float64(plotTop + i*(plotPanelHeight+plotBottom) + 20)
		drawPanel(&b, p, top, float64(plotPanelHeight-20), xMax, xLabel)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func drawPanel(b *bytes.Buffer, p plotPanel, top, h, xMax float64, xLabel string) {
	left, w := float64(plotLeft), float64(plotWidth-plotLeft-plotRight)
	yMax := p.goal
	for _, s := range p.series {
		for _, y := range s.y {
			yMax = max(yMax, y)
		}
	}
	yStep := niceStep(yMax / 5)
	yMax = math.Max(yStep, math.Ceil(yMax*1.05/yStep)*yStep)
	xStep := niceStep(xMax / 10)
	px := func(x float64) float64 { return left + x/xMax*w }
	py := func(y float64) float64 { return top + h - y/yMax*h }

	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", left, top-8, html.EscapeString(p.title))
	for y := 0.0; y <= yMax+yStep/2; y += yStep {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(y), left+w, py(y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s %s</text>`+"\n", left-6, py(y)+4, trimFloat(y), p.unit)
	}
	for x := 0.0; x <= xMax+xStep/2; x += xStep {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", px(x), top, px(x), top+h)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), top+h+16, trimFloat(x))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", left+w/2, top+h+34, html.EscapeString(xLabel))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", left, top, w, h)
	if p.goal > 0 {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="6,4"/>`+"\n", left, py(p.goal), left+w, py(p.goal))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#555">%s</text>`+"\n", left+w+6, py(p.goal)+4, html.EscapeString(p.goalLabel))
	}
	for i, s := range p.series {
		var points bytes.Buffer
		for j := range s.x {
			fmt.Fprintf(&points, "%.1f,%.1f ", px(s.x[j]), py(s.y[j]))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`+"\n", s.color, bytes.TrimSpace(points.Bytes()))
		if s.markers {
			for j := range s.x {
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(s.x[j]), py(s.y[j]), s.color)
			}
		}
		ly := top + 14 + float64(i)*18
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", left+w+6, ly-4, left+w+24, ly-4, s.color)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+w+28, ly, html.EscapeString(s.name))
	}
}

// niceStep is 1, 2 or 5 times a power of ten, at least x.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(x float64) string {
	return fmt.Sprintf("%g", math.Round(x*1000)/1000)
}
