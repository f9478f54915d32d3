package plot_test

import (
	"fmt"
	"strings"

	"github.com/hotpath/hotpath/plot"
)

// A latency-against-throughput chart with an objective and a knee.
func Example() {
	c := plot.Chart{
		X: plot.Axis{Label: "requests/s"},
		Y: plot.Axis{Label: "latency", Log: true, Format: plot.Micros},
		Series: []plot.Series{{Name: "p99", Color: "#d62728", Dots: true,
			Points: []plot.Point{{X: 1000, Y: 900}, {X: 1200, Y: 1100}, {X: 1440, Y: 25000}}}},
		Rules: []plot.Rule{{At: 10000, Label: "p99 < 10ms"}, {At: 1200, Vertical: true, Label: "knee 1200 req/s"}},
	}
	page := plot.Page("ramp", "<h1>ramp</h1>\n"+c.SVG())
	fmt.Println(strings.Count(page, "<polyline"), strings.Count(page, "<circle"), strings.Contains(page, "knee 1200 req/s"))
	// Output: 1 3 true
}
