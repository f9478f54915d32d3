// Package plot draws the self-contained HTML reports of the load tools:
// line charts as inline SVG (no scripts, nothing fetched), on linear or
// logarithmic axes, with horizontal and vertical rules for objectives and
// marked points. The bench's latency.html (package bench) and hotload's
// ramp report (package loadgen) are drawn with it.
//
//	c := plot.Chart{
//		X: plot.Axis{Label: "requests/s"},
//		Y: plot.Axis{Label: "latency", Log: true, Format: plot.Micros},
//		Series: []plot.Series{{Name: "p99", Color: "#d62728", Points: pts, Dots: true}},
//		Rules:  []plot.Rule{{At: 10000, Label: "p99 < 10ms"}},
//	}
//	page := plot.Page("ramp", "<h1>ramp</h1>\n"+c.SVG())
//
// Latencies are plotted in microseconds (the unit of hotload's
// histograms); Micros labels them.
package plot
