package bench

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
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
}

// One outlier does not flatten the rest: latency is on a log scale, so the
// ticks cover the decades from the bulk of the requests to the outlier.
func TestSpectrumLogScale(t *testing.T) {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for range 990 {
		h.RecordValue(200)
	}
	for range 10 {
		h.RecordValue(5_000_000) // 1% of outliers at 5 s
	}
	svg := spectrumSVG([]*ContenderResult{{Name: "hotpath", latency: h}})
	for _, want := range []string{">100µs<", ">1ms<", ">1s<", ">10s<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("spectrum lacks the tick %q:\n%s", want, svg)
		}
	}
}

// A -quick run says so in results.md, results.json and latency.html.
func TestQuickMarked(t *testing.T) {
	o := Options{}.Quick()
	rep := &Report{Meta: newMeta(o, nil)}
	if !rep.Meta.Quick {
		t.Fatal("Options.Quick does not reach Meta.Quick")
	}
	if md := rep.Markdown(); !strings.Contains(md, "(quick smoke run)") || !strings.Contains(md, quickNote) {
		t.Errorf("results.md:\n%s", md)
	}
	b, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(b), `"quick":true`) {
		t.Errorf("results.json: %s %v", b, err)
	}
	if html := rep.HTML(); !strings.Contains(html, "(quick smoke run)") {
		t.Errorf("latency.html lacks the mark")
	}
	full := &Report{Meta: newMeta(Options{}, nil)}
	if strings.Contains(full.Markdown(), "quick") {
		t.Errorf("a full run is marked quick:\n%s", full.Markdown())
	}
}
