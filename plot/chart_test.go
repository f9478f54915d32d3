package plot

import (
	"math"
	"strings"
	"testing"
)

func TestLogTicks(t *testing.T) {
	tests := []struct {
		name       string
		dmin, dmax float64
		want       string
	}{
		{name: "one decade and a bit", dmin: 120, dmax: 1500, want: "100µs 200µs 500µs 1ms 2ms"},
		{name: "many decades", dmin: 80, dmax: 3e6, want: "10µs 100µs 1ms 10ms 100ms 1s 10s"},
		{name: "an outlier far above", dmin: 250, dmax: 900000, want: "100µs 1ms 10ms 100ms 1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Axis{Log: true, Format: Micros}
			lo, hi := a.bounds(tc.dmin, tc.dmax)
			var got []string
			for _, tk := range a.ticks(lo, hi) {
				got = append(got, tk.Label)
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("ticks over [%v, %v]: %s, want %s", lo, hi, s, tc.want)
			}
		})
	}
}

// On a log axis a value ten times another is always the same distance
// above it: the point of using one for latencies.
func TestLogScaleSpacing(t *testing.T) {
	s := scale{lo: 10, hi: 1e6, log: true, from: 300, to: 0}
	d1, d2 := s.px(100)-s.px(1000), s.px(1e4)-s.px(1e5)
	if math.Abs(d1-d2) > 1e-9 || s.px(10) != 300 || s.px(1e6) != 0 || s.px(0) != 300 {
		t.Fatalf("spacing %v vs %v; ends %v %v; zero %v", d1, d2, s.px(10), s.px(1e6), s.px(0))
	}
	lin := scale{lo: 0, hi: 100, from: 0, to: 200}
	if lin.px(50) != 100 {
		t.Fatalf("linear midpoint at %v", lin.px(50))
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct{ top, rounded, step float64 }{
		{top: 4, rounded: 4, step: 1},
		{top: 2488, rounded: 2500, step: 500},
		{top: 9, rounded: 10, step: 2},
		{top: 0, rounded: 1, step: 0.2},
		{top: 950, rounded: 1000, step: 200},
		{top: 1234, rounded: 1250, step: 250},
		{top: 7, rounded: 8, step: 2},
	}
	for _, tc := range tests {
		if r, s := niceScale(tc.top); math.Abs(r-tc.rounded) > 1e-9 || math.Abs(s-tc.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.top, r, s, tc.rounded, tc.step)
		}
	}
}

func TestChartSVG(t *testing.T) {
	c := Chart{
		X: Axis{Label: "requests/s"},
		Y: Axis{Label: "latency", Log: true, Format: Micros},
		Series: []Series{
			{Name: "p50", Color: "#1f77b4", Points: []Point{{100, 200}, {200, 210}, {300, 400}}, Dots: true},
			{Name: "empty"},
		},
		Rules: []Rule{{At: 5000, Label: "p99 < 5ms"}, {At: 200, Vertical: true, Label: "knee & more <"}},
	}
	svg := c.SVG()
	for _, want := range []string{"<svg ", "<polyline", `<circle `, ">p50<", "p99 &lt; 5ms", "knee &amp; more &lt;", "requests/s", "</svg>\n", ">1ms<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, ">empty<") || strings.Count(svg, "<circle ") != 3 {
		t.Errorf("an empty series is drawn, or dots are missing:\n%s", svg)
	}
	page := Page("a <title>", svg)
	if !strings.HasPrefix(page, "<!doctype html>") || !strings.Contains(page, "<title>a &lt;title&gt;</title>") || strings.Contains(page, "<script") {
		t.Errorf("page:\n%s", page)
	}
}

func TestLinearTickLabels(t *testing.T) {
	tests := []struct {
		hi   float64
		want string
	}{
		{hi: 10000, want: "0 2000 4000 6000 8000 10000"},
		{hi: 1, want: "0.0 0.2 0.4 0.6 0.8 1.0"},
		{hi: 12.5, want: "0.0 2.5 5.0 7.5 10.0 12.5"},
	}
	for _, tc := range tests {
		var got []string
		for _, tk := range (Axis{}).ticks(0, tc.hi) {
			got = append(got, tk.Label)
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("ticks over [0, %v]: %s, want %s", tc.hi, s, tc.want)
		}
	}
}
