package bench

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"

	"github.com/hotpath/hotpath/loadgen"
	"github.com/hotpath/hotpath/plot"
)

// colors of the contenders' lines in the plots.
var colors = map[string]string{"nginx": "#2ca02c", "haproxy": "#1f77b4", "hotpath": "#d62728"}

// HTML renders a self-contained page (inline SVG, no scripts, nothing
// fetched) with each scenario's table and latency percentile spectrum: all
// rounds of a contender merged, latency (on a log scale) against percentile
// on the usual 1/(1-p) scale.
func (r *Report) HTML() string {
	var b strings.Builder
	m := r.Meta
	fmt.Fprintf(&b, "<h1>hotpath vs nginx vs HAProxy: latency%s</h1>\n", quickTitle(m.Quick))
	fmt.Fprintf(&b, "<p>%s · %s · %d CPUs · kernel %s · %d round(s) of %s, -c %d, server on CPU %s, client on CPU %s.</p>\n",
		html.EscapeString(m.Start.Format("2006-01-02 15:04 MST")), html.EscapeString(m.CPUModel), m.NumCPU,
		html.EscapeString(m.Kernel), m.Rounds, m.Duration, m.Connections, orAll(m.ServerCPU), orAll(m.ClientCPU))
	if m.Quick {
		b.WriteString("<p><strong>" + html.EscapeString(quickNote) + "</strong></p>\n")
	}
	if r.Features != nil {
		b.WriteString(r.Features.html())
	}
	if r.Knee != nil {
		b.WriteString(r.Knee.html())
	}
	if len(r.Scenarios) > 0 {
		b.WriteString("<p>Each plot is a percentile spectrum: latency (from hotload's send of each request, log scale) against percentile, all rounds of a contender merged. Lower is better; the right end is the tail.</p>\n")
	}
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "<h2 id=%q>%s</h2>\n<p>%s.</p>\n", s.Name, html.EscapeString(s.Name), html.EscapeString(s.Desc))
		if s.Idle {
			b.WriteString(s.idleHTML())
			continue
		}
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
	return plot.Page("hotpath bench: latency", b.String())
}

// spectrumSVG draws the percentile spectra of the contenders with runs.
func spectrumSVG(cs []*ContenderResult) string {
	const maxNines = 5.0 // up to the 99.999th percentile
	var total int64
	for _, c := range cs {
		if c.latency != nil {
			total = max(total, c.latency.TotalCount())
		}
	}
	if total == 0 {
		return "<p>No runs to plot.</p>\n"
	}
	// Do not extrapolate beyond what the sample count can show.
	xmax := min(maxNines, math.Max(1, math.Floor(math.Log10(float64(total)))))
	chart := plot.Chart{
		X: plot.Axis{Label: "percentile", Min: 0, Max: xmax},
		Y: plot.Axis{Log: true, Format: plot.Micros},
	}
	for x := 0.0; x <= xmax+1e-9; x++ {
		chart.X.Ticks = append(chart.X.Ticks, plot.Tick{At: x, Label: nines(x)})
	}
	for _, c := range cs {
		if c.latency == nil || c.latency.TotalCount() == 0 {
			continue
		}
		color, ok := colors[c.Name]
		if !ok {
			color = "#ff7f0e" // a second hotpath build (-bin-b)
		}
		s := plot.Series{Name: c.Name, Color: color}
		for x := 0.0; x <= xmax+1e-9; x += 0.02 {
			s.Points = append(s.Points, plot.Point{X: x, Y: float64(c.latency.ValueAtQuantile(quantileAt(x)))})
		}
		chart.Series = append(chart.Series, s)
	}
	return chart.SVG()
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

// html renders the feature table.
func (fr *FeatureReport) html() string {
	var b strings.Builder
	b.WriteString("<h2>Cost per feature</h2>\n<p>Added = the feature's run minus its baseline's run just before it, same contender, each round: median [min – max] over the rounds.</p>\n")
	b.WriteString("<table><tr><th>feature</th><th>baseline</th><th>hotpath: added CPU µs/req</th><th>added p99</th><th>nginx: added CPU µs/req</th><th>added p99</th><th>HAProxy: added CPU µs/req</th><th>added p99</th></tr>\n")
	for _, f := range fr.Features {
		fmt.Fprintf(&b, "<tr><td title=\"%s\">%s</td><td>%s</td>", html.EscapeString(f.Desc), f.Name, f.Base)
		for _, name := range []string{"hotpath", "nginx", "haproxy"} {
			d := f.contender(name)
			switch {
			case d == nil:
				b.WriteString("<td></td><td></td>")
			case len(d.Runs) == 0:
				fmt.Fprintf(&b, "<td class=skip colspan=2>%s</td>", html.EscapeString(d.Skipped+d.Failed))
			default:
				fmt.Fprintf(&b, "<td>%s</td><td>%s</td>", fmtDeltaRange(d.AddedCPUUS, 2), fmtSigned(d.AddedP99US.Median))
			}
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	return b.String()
}

// html renders the knees and each ramp's p99 against the throughput it
// achieved.
func (kr *KneeReport) html() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<h2>Knee within %s (%s)</h2>\n", html.EscapeString(kr.Objective), kr.Scenario)
	b.WriteString("<table><tr><th>contender</th><th>knee req/s median [min–max]</th><th>vs nginx</th><th>p99 at the knee</th><th>server busy at the first failing step</th></tr>\n")
	chart := plot.Chart{
		X: plot.Axis{Label: "throughput achieved (requests/s)"},
		Y: plot.Axis{Label: "p99 (corrected)", Log: true, Format: plot.Micros},
	}
	for _, c := range kr.Contenders {
		if c.Summary == nil {
			fmt.Fprintf(&b, "<tr><td>%s</td><td class=skip colspan=4>%s</td></tr>\n", c.Name, html.EscapeString(c.Skipped+c.Failed))
			continue
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f [%.0f–%.0f]</td><td>%s</td><td>%s</td><td>%.0f%%</td></tr>\n", c.Name,
			c.Knee.Median, c.Knee.Min, c.Knee.Max, fmtRatio(c.Summary.VsNginx), fmtLatency(c.Summary.KneeP99US), 100*c.Summary.FailServerBusy)
		for _, r := range c.Runs {
			steps := slices.Clone(r.Steps)
			slices.SortFunc(steps, func(a, b KneeStep) int { return cmp.Compare(a.AskedRPS, b.AskedRPS) })
			s := plot.Series{Name: fmt.Sprintf("%s r%d", c.Name, r.Round), Color: colors[c.Name], Dots: true}
			for _, st := range steps {
				s.Points = append(s.Points, plot.Point{X: st.AchievedRPS, Y: float64(st.P99US)})
			}
			chart.Series = append(chart.Series, s)
		}
	}
	b.WriteString("</table>\n")
	if conds, err := loadgen.ParseObjective(kr.Objective); err == nil {
		for _, c := range conds {
			if c.Metric == "p99" && (c.Op == "<" || c.Op == "<=") {
				chart.Rules = append(chart.Rules, plot.Rule{At: c.Value, Label: "objective " + c.Raw, Color: "#b00"})
			}
		}
	}
	b.WriteString(chart.SVG())
	return b.String()
}
