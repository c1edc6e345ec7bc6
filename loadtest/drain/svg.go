package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of a panel.
type series struct {
	Name   string
	Colour string
	Points [][2]float64 // (x, y)
}

// panel is one chart with its own y axis; all panels share the x axis.
type panel struct {
	Title string
	Unit  string
	Lines []series
}

const (
	svgWidth   = 900
	panelH     = 180
	marginL    = 80
	marginR    = 20
	marginTop  = 40
	panelGap   = 40
	axisTicks  = 4
	strokeWide = 1.8
)

// niceMax rounds v up to 1, 2 or 5 times a power of ten, so axis labels
// are round numbers; 1 for v <= 0.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

// chartSVG draws the panels one above another over a common time axis
// (seconds), as a standalone SVG document.
func chartSVG(title string, panels []panel) string {
	xMax := 0.0
	for _, p := range panels {
		for _, s := range p.Lines {
			for _, pt := range s.Points {
				xMax = math.Max(xMax, pt[0])
			}
		}
	}
	xMax = niceMax(xMax)
	plotW := float64(svgWidth - marginL - marginR)
	height := marginTop + len(panels)*(panelH+panelGap) + 10
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&sb, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&sb, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, html.EscapeString(title))
	for i, p := range panels {
		top := float64(marginTop + i*(panelH+panelGap))
		yMax := 0.0
		for _, s := range p.Lines {
			for _, pt := range s.Points {
				yMax = math.Max(yMax, pt[1])
			}
		}
		yMax = niceMax(yMax)
		x := func(v float64) float64 { return marginL + v/xMax*plotW }
		y := func(v float64) float64 { return top + panelH - v/yMax*panelH }
		fmt.Fprintf(&sb, `<g class="panel"><text x="%d" y="%.1f" font-weight="bold">%s</text>`+"\n", marginL, top-6, html.EscapeString(p.Title))
		fmt.Fprintf(&sb, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="none" stroke="#999"/>`+"\n", marginL, top, plotW, panelH)
		for t := 0; t <= axisTicks; t++ {
			v := yMax * float64(t) / axisTicks
			fmt.Fprintf(&sb, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
				marginL, marginL+plotW, y(v), y(v), marginL-6, y(v)+4, fmtTick(v))
			xv := xMax * float64(t) / axisTicks
			fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle">%s s</text>`+"\n", x(xv), top+panelH+14, fmtTick(xv))
		}
		fmt.Fprintf(&sb, `<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle">%s</text>`+"\n", top+panelH/2, top+panelH/2, html.EscapeString(p.Unit))
		for j, s := range p.Lines {
			if len(s.Points) == 0 {
				continue
			}
			var pts []string
			for _, pt := range s.Points {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(pt[0]), y(pt[1])))
			}
			fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="%.1f" points="%s"/>`+"\n", s.Colour, strokeWide, strings.Join(pts, " "))
			fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", marginL+plotW-160, top+16+float64(j)*14, s.Colour, html.EscapeString(s.Name))
		}
		sb.WriteString("</g>\n")
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"}

// drainPanels turns a drain's samples into the three panels of its chart.
func drainPanels(samples []sample) []panel {
	rateLine := series{Name: "edges/s", Colour: palette[0]}
	depth := series{Name: "visible + in flight", Colour: palette[1]}
	var limits []series
	for _, s := range samples {
		rateLine.Points = append(rateLine.Points, [2]float64{s.T, s.EdgesPerS})
		depth.Points = append(depth.Points, [2]float64{s.T, float64(s.Depth)})
		for i, l := range s.Limits {
			for len(limits) <= i {
				limits = append(limits, series{Name: fmt.Sprintf("worker %d", len(limits)+1), Colour: palette[(len(limits)+2)%len(palette)]})
			}
			limits[i].Points = append(limits[i].Points, [2]float64{s.T, float64(l)})
		}
	}
	return []panel{
		{Title: "Edges written per second", Unit: "edges/s", Lines: []series{rateLine}},
		{Title: "Ingest queue depth", Unit: "messages", Lines: []series{depth}},
		{Title: "Writer limit (Neptune requests in flight allowed, per worker)", Unit: "requests", Lines: limits},
	}
}
