package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// colors of the contenders' lines in the plots.
var colors = map[string]string{"nginx": "#2ca02c", "haproxy": "#1f77b4", "hotpath": "#d62728"}

// HTML renders a self-contained page (inline SVG, no scripts, nothing
// fetched) with each scenario's table and latency percentile spectrum: all
// rounds of a contender merged, latency against percentile on the usual
// 1/(1-p) scale.
func (r *Report) HTML() string {
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hotpath bench: latency</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.skip{color:#777;text-align:left}
svg{background:#fff;border:1px solid #ddd}text{font:12px system-ui,sans-serif}
</style></head><body>
`)
	m := r.Meta
	fmt.Fprintf(&b, "<h1>hotpath vs nginx vs HAProxy: latency</h1>\n<p>%s · %s · %d CPUs · kernel %s · %d round(s) of %s, -c %d, server on CPU %s, client on CPU %s.</p>\n",
		html.EscapeString(m.Start.Format("2006-01-02 15:04 MST")), html.EscapeString(m.CPUModel), m.NumCPU,
		html.EscapeString(m.Kernel), m.Rounds, m.Duration, m.Connections, orAll(m.ServerCPU), orAll(m.ClientCPU))
	b.WriteString("<p>Each plot is a percentile spectrum: latency (from hotload's send of each request) against percentile, all rounds of a contender merged. Lower is better; the right end is the tail.</p>\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "<h2 id=%q>%s</h2>\n<p>%s.</p>\n", s.Name, html.EscapeString(s.Name), html.EscapeString(s.Desc))
		b.WriteString("<table><tr><th>contender</th><th>req/s median [min–max]</th><th>CPU µs/req</th><th>p50</th><th>p99</th><th>p99.9</th><th>errors</th><th>req/s vs nginx</th></tr>\n")
		for _, c := range s.Contenders {
			if c.Summary == nil {
				why := c.Skipped
				if why == "" {
					why = "failed: " + c.Failed
				}
				fmt.Fprintf(&b, "<tr><td>%s</td><td class=skip colspan=7>%s</td></tr>\n", c.Name, html.EscapeString(why))
				continue
			}
			sm := c.Summary
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f [%.0f–%.0f]</td><td>%.2f</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%s</td></tr>\n",
				c.Name, sm.RPS.Median, sm.RPS.Min, sm.RPS.Max, sm.CPUPerReqUS.Median,
				fmtLatency(sm.P50US), fmtLatency(sm.P99US), fmtLatency(sm.P999US), sm.Errors, fmtRatio(sm.RPSvsNginx))
		}
		b.WriteString("</table>\n")
		b.WriteString(spectrumSVG(s.Contenders))
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// spectrumSVG draws the percentile spectra of the contenders with runs.
func spectrumSVG(cs []*ContenderResult) string {
	const (
		width, height            = 900, 380
		left, right, top, bottom = 70, 130, 15, 45
		maxNines                 = 5.0 // up to the 99.999th percentile
	)
	var hs []*ContenderResult
	var total int64
	for _, c := range cs {
		if c.latency != nil && c.latency.TotalCount() > 0 {
			hs = append(hs, c)
			total = max(total, c.latency.TotalCount())
		}
	}
	if len(hs) == 0 {
		return "<p>No runs to plot.</p>\n"
	}
	// Do not extrapolate beyond what the sample count can show.
	xmax := min(maxNines, math.Max(1, math.Floor(math.Log10(float64(total)))))
	var ymax float64
	for _, c := range hs {
		ymax = max(ymax, float64(c.latency.ValueAtQuantile(quantileAt(xmax))))
	}
	ymax, step := niceScale(ymax)
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	px := func(x float64) float64 { return left + x/xmax*pw }
	py := func(us float64) float64 { return top + ph - us/ymax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", width, height, width, height)
	for x := 0.0; x <= xmax+1e-9; x++ {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#eee"/>`, px(x), top, px(x), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), top+ph+16, nines(x))
	}
	for y := 0.0; y <= ymax+1e-9; y += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, left, py(y), left+pw, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, fmtLatency(y))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">percentile</text>`+"\n", left+pw/2, height-6)
	for i, c := range hs {
		color := colors[c.Name]
		if color == "" {
			color = "#555"
		}
		var pts []string
		for x := 0.0; x <= xmax+1e-9; x += 0.02 {
			v := float64(c.latency.ValueAtQuantile(quantileAt(x)))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(min(v, ymax))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		ly := float64(top + 20 + 20*i)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			left+pw+10, ly, left+pw+30, ly, color, left+pw+36, ly+4, html.EscapeString(c.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// quantileAt maps the plot's x (the number of nines) to a percentile:
// x = log10(1/(1-p)).
func quantileAt(x float64) float64 { return 100 * (1 - math.Pow(10, -x)) }

// nines labels x: 0%, 90%, 99%, 99.9%, …
func nines(x float64) string {
	if x == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.*f%%", max(int(x)-2, 0), quantileAt(x))
}

// niceScale rounds ymax up to 1, 2, 2.5 or 5 times a power of ten times the
// number of steps and returns it with its step.
func niceScale(ymax float64) (top, step float64) {
	if ymax <= 0 {
		return 1, 0.2
	}
	raw := ymax / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	return math.Ceil(ymax/step) * step, step
}
