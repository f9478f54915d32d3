package bench

import (
	"math"
	"strings"
	"testing"
)

func TestRangeOf(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []float64
		want Range
	}{
		{"none", nil, Range{}},
		{"one", []float64{3}, Range{3, 3, 3}},
		{"odd", []float64{5, 1, 3}, Range{3, 1, 5}},
		{"even", []float64{4, 1, 2, 3}, Range{2.5, 1, 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := rangeOf(tt.in); got != tt.want {
				t.Errorf("rangeOf(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSummarizeRatios(t *testing.T) {
	sr := ScenarioResult{Name: "s", Contenders: []*ContenderResult{
		{Name: "nginx", Runs: []RunResult{{RPS: 100, CPUPerReqUS: 10}, {RPS: 120, CPUPerReqUS: 12}, {RPS: 110, CPUPerReqUS: 11}}},
		{Name: "haproxy", Skipped: "not installed"},
		{Name: "hotpath", Runs: []RunResult{{RPS: 220, CPUPerReqUS: 5.5, Errors: 2, Status: map[int]int64{200: 7, 429: 3}, Requests: 10}}},
	}}
	sr.summarize()
	hp := sr.contender("hotpath").Summary
	if hp.RPSvsNginx != 2 || hp.CPUvsNginx != 0.5 || hp.Errors != 2 || hp.Statuses[429] != 3 {
		t.Errorf("hotpath summary %+v", hp)
	}
	if sr.contender("haproxy").Summary != nil {
		t.Error("a skipped contender has no summary")
	}
	md := (&Report{Scenarios: []ScenarioResult{sr}}).Markdown()
	for _, want := range []string{"| nginx | 110 [100–120] | 11.00 [10.00–12.00]", "| haproxy | not installed |", "2.00×", "Answered 429: hotpath 30.0%"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestPlotScale(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want string
	}{{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {5, "99.999%"}} {
		if got := nines(tt.x); got != tt.want {
			t.Errorf("nines(%v) = %q, want %q", tt.x, got, tt.want)
		}
	}
	for _, tt := range []struct{ in, top, step float64 }{{0, 1, 0.2}, {950, 1000, 200}, {1234, 1250, 250}, {7, 8, 2}} {
		top, step := niceScale(tt.in)
		if math.Abs(top-tt.top) > 1e-9 || math.Abs(step-tt.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v, want %v, %v", tt.in, top, step, tt.top, tt.step)
		}
	}
}
