package plot

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Chart is a line chart. Draw it with SVG.
type Chart struct {
	// Width and Height in pixels; 0 means 900 × 380.
	Width, Height int
	X, Y          Axis
	Series        []Series
	// Rules are straight lines across the plot: horizontal at a Y value
	// (an objective), or vertical at an X value (a knee).
	Rules []Rule
}

// Series is one line. Points are drawn in order.
type Series struct {
	Name   string
	Color  string // CSS color; "" is grey
	Points []Point
	// Dots marks each point with a dot (for measured steps, where the
	// lines between them are only a guide).
	Dots bool
}

// Point is one data point.
type Point struct{ X, Y float64 }

// Rule is a straight dashed line with a label.
type Rule struct {
	At       float64 // Y value, or X value when Vertical
	Vertical bool
	Label    string
	Color    string // "" is grey
}

// Margins around the plot area, in pixels: room for the tick labels, the
// axis titles and the legend on the right.
const (
	marginLeft, marginRight, marginTop, marginBottom = 70, 140, 15, 45
)

// SVG renders the chart as an <svg> element (with a trailing newline).
func (c *Chart) SVG() string {
	w, h := c.Width, c.Height
	if w == 0 || h == 0 {
		w, h = 900, 380
	}
	xs, ys := c.scales(float64(w), float64(h))
	pl, pr, pt, pb := xs.from, xs.to, ys.to, ys.from // plot area edges

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", w, h, w, h)
	for _, t := range c.X.ticks(xs.lo, xs.hi) {
		x := xs.px(t.At)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, x, pt, x, pb)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, pb+16, html.EscapeString(t.Label))
	}
	for _, t := range c.Y.ticks(ys.lo, ys.hi) {
		y := ys.px(t.At)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, pl, y, pr, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", pl-6, y+4, html.EscapeString(t.Label))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", pl, pt, pr-pl, pb-pt)
	if c.X.Label != "" {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", (pl+pr)/2, h-6, html.EscapeString(c.X.Label))
	}
	if c.Y.Label != "" {
		fmt.Fprintf(&b, `<text x="14" y="%.1f" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`+"\n",
			(pt+pb)/2, (pt+pb)/2, html.EscapeString(c.Y.Label))
	}
	clampX := func(v float64) float64 { return math.Max(pl, math.Min(pr, v)) }
	clampY := func(v float64) float64 { return math.Max(pt, math.Min(pb, v)) }
	for _, r := range c.Rules {
		color := orGrey(r.Color)
		if r.Vertical {
			x := clampX(xs.px(r.At))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>`, x, pt, x, pb, color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", x+4, pt+14, color, html.EscapeString(r.Label))
			continue
		}
		y := clampY(ys.px(r.At))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>`, pl, y, pr, y, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", pl+6, y-4, color, html.EscapeString(r.Label))
	}
	legend := 0
	for _, s := range c.Series {
		if len(s.Points) == 0 {
			continue
		}
		color := orGrey(s.Color)
		pts := make([]string, 0, len(s.Points))
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", clampX(xs.px(p.X)), clampY(ys.px(p.Y))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		if s.Dots {
			for _, p := range pts {
				x, y, _ := strings.Cut(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, x, y, color)
			}
			b.WriteString("\n")
		}
		ly := pt + 20 + 20*float64(legend)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			pr+10, ly, pr+30, ly, color, pr+36, ly+4, html.EscapeString(s.Name))
		legend++
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// scales fits the axes to the data, the rules and the explicit ticks.
func (c *Chart) scales(w, h float64) (x, y scale) {
	xmin, xmax := math.Inf(1), 0.0
	ymin, ymax := math.Inf(1), 0.0
	see := func(v float64, lo, hi *float64) {
		if v > 0 && v < *lo {
			*lo = v
		}
		*hi = max(*hi, v)
	}
	for _, s := range c.Series {
		for _, p := range s.Points {
			see(p.X, &xmin, &xmax)
			see(p.Y, &ymin, &ymax)
		}
	}
	for _, r := range c.Rules {
		if r.Vertical {
			see(r.At, &xmin, &xmax)
		} else {
			see(r.At, &ymin, &ymax)
		}
	}
	for _, t := range c.X.Ticks {
		see(t.At, &xmin, &xmax)
	}
	x = scale{log: c.X.Log, from: marginLeft, to: w - marginRight}
	x.lo, x.hi = c.X.bounds(xmin, xmax)
	y = scale{log: c.Y.Log, from: h - marginBottom, to: marginTop}
	y.lo, y.hi = c.Y.bounds(ymin, ymax)
	return x, y
}

func orGrey(color string) string {
	if color == "" {
		return "#555"
	}
	return color
}

// Page wraps body in a self-contained HTML page titled title, with the
// style the reports share (tables, charts).
func Page(title, body string) string {
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>` + html.EscapeString(title) + `</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.skip{color:#777;text-align:left}.fail{color:#b00}
svg{background:#fff;border:1px solid #ddd}text{font:12px system-ui,sans-serif}
</style></head><body>
` + body + "</body></html>\n"
}
