package loadgen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/hotpath/hotpath/plot"
)

// WriteRampHeader prints what a ramp is about to do.
func WriteRampHeader(w io.Writer, r Ramp) error {
	c := r.Config
	search := ""
	if r.Search {
		search = fmt.Sprintf(", then a search to within %.3g%%", 100*r.Resolution)
	}
	_, err := fmt.Fprintf(w, "Ramp @ %s: objective %s\n  from %.0f req/s, step %s, hold %v (warm-up %v)%s; %d threads and %d connections, pipeline %d\n",
		c.URL, r.ObjectiveName(), r.From, r.StepName(), r.Hold, c.Warmup, search, min(c.Threads, c.Connections), c.Connections, max(c.Pipeline, 1))
	return err
}

// WriteRampStepHeader prints the column names of WriteRampStep's lines.
func WriteRampStepHeader(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%5s %10s %10s %9s %9s %9s %9s %8s %8s  %s\n",
		"step", "asked/s", "achieved/s", "p50", "p90", "p99", "p99.9", "errors", "hotload", "result")
	return err
}

// WriteRampStep prints one step as a line (n counts from 1): rates asked and
// achieved, corrected percentiles, errors, hotload's CPU in cores, and pass
// or what broke.
func WriteRampStep(w io.Writer, n int, s Step) error {
	r := s.Result
	name := fmt.Sprint(n)
	if s.Search {
		name += "*"
	}
	verdict := "pass"
	if !s.Pass {
		verdict = "FAIL: " + strings.Join(s.Broken, "; ")
	}
	if s.Generator != "" {
		verdict += " (hotload-bound: " + s.Generator + ")"
	}
	if r.Interrupted {
		verdict += " (interrupted)"
	}
	q := func(p float64) string { return fmtUS(float64(r.Latency.ValueAtQuantile(p))) }
	_, err := fmt.Fprintf(w, "%5s %10.0f %10.1f %9s %9s %9s %9s %8d %8s  %s\n",
		name, s.Rate, s.Achieved(), q(50), q(90), q(99), q(99.9), r.ErrorCount(), fmt.Sprintf("%.2fc", cores(r)), verdict)
	return err
}

// cores is the generator's CPU use in cores over the step.
func cores(r *Result) float64 {
	if r.Wall <= 0 {
		return 0
	}
	return r.CPU.Seconds() / r.Wall.Seconds()
}

// WriteRampSummary prints the knee (or why there is none), over https the
// knee step's handshakes (apart from its latency), and why the ramp
// stopped.
func WriteRampSummary(w io.Writer, res *RampResult) error {
	var b strings.Builder
	obj := res.Ramp.ObjectiveName()
	if res.Knee < 0 {
		fmt.Fprintf(&b, "Knee: none: no step met %s", obj)
		if len(res.Steps) > 0 && !res.Ramp.Search {
			b.WriteString(" (start lower with --from, or search down with --search)")
		}
		b.WriteString(".\n")
	} else {
		k := res.Steps[res.Knee]
		fmt.Fprintf(&b, "Knee: %.0f req/s (step %d: achieved %.1f req/s, p99 %s), the highest rate that met %s.\n",
			k.Rate, res.Knee+1, k.Achieved(), fmtUS(float64(k.Result.Latency.ValueAtQuantile(99))), obj)
		k.Result.TLS.summary(&b)
	}
	fmt.Fprintf(&b, "Stopped: %s.\n", res.Stopped)
	if res.Generator != "" {
		fmt.Fprintf(&b, "WARNING: the ramp ended because hotload, not the target, was the limit (%s). The target's knee is above %.0f req/s; this figure measures hotload.\n",
			res.Generator, res.KneeRate())
	}
	for i, s := range res.Steps {
		if s.Generator != "" && s.Pass {
			fmt.Fprintf(&b, "WARNING: step %d passed, but %s\n", i+1, s.Generator)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRamp prints a whole ramp: header, a line per step, the summary.
func WriteRamp(w io.Writer, res *RampResult) error {
	var b strings.Builder
	WriteRampHeader(&b, res.Ramp)
	WriteRampStepHeader(&b)
	for i, s := range res.Steps {
		WriteRampStep(&b, i+1, s)
	}
	WriteRampSummary(&b, res)
	_, err := io.WriteString(w, b.String())
	return err
}

// RampReport is the JSON form of a ramp (hotload ramp --json): the ramp's
// settings, the knee, and every step with its full Report (histograms
// included, so that any step can be read back, compared or merged).
type RampReport struct {
	Version     int     `json:"version"`
	URL         string  `json:"url"`
	Objective   string  `json:"objective"`
	FromRPS     float64 `json:"from_rps"`
	Step        string  `json:"step"`
	HoldSec     float64 `json:"hold_s"`
	WarmupSec   float64 `json:"warmup_s"`
	MaxRPS      float64 `json:"max_rps,omitempty"`
	Search      bool    `json:"search"`
	Connections int     `json:"connections"`
	Threads     int     `json:"threads"`
	// KneeRPS is the highest asked rate that met the objective (0: none),
	// KneeStep its step number (from 1; 0: none).
	KneeRPS  float64 `json:"knee_rps"`
	KneeStep int     `json:"knee_step"`
	Stopped  string  `json:"stopped"`
	// GeneratorLimited is set when the ramp ended because hotload was the
	// limit: the target's knee is above knee_rps.
	GeneratorLimited string     `json:"generator_limited,omitempty"`
	Interrupted      bool       `json:"interrupted"`
	Steps            []RampStep `json:"steps"`
}

// RampStep is one step in a RampReport.
type RampStep struct {
	Step        int      `json:"step"`
	AskedRPS    float64  `json:"asked_rps"`
	AchievedRPS float64  `json:"achieved_rps"`
	Search      bool     `json:"search"`
	Pass        bool     `json:"pass"`
	Broken      []string `json:"broken"`
	// GeneratorLimited says why hotload set the pace in this step.
	GeneratorLimited string `json:"generator_limited,omitempty"`
	// HotloadCores is hotload's CPU use over the step, in cores.
	HotloadCores float64 `json:"hotload_cores"`
	Report       *Report `json:"report"`
}

// RampReport converts res to its JSON form.
func (res *RampResult) RampReport() (*RampReport, error) {
	r, c := res.Ramp, res.Ramp.Config
	out := &RampReport{
		Version: 1, URL: c.URL, Objective: r.ObjectiveName(), FromRPS: r.From, Step: r.StepName(),
		HoldSec: r.Hold.Seconds(), WarmupSec: c.Warmup.Seconds(), MaxRPS: r.Max, Search: r.Search,
		Connections: c.Connections, Threads: min(c.Threads, c.Connections),
		KneeRPS: res.KneeRate(), KneeStep: res.Knee + 1, Stopped: res.Stopped,
		GeneratorLimited: res.Generator, Interrupted: res.Interrupted, Steps: []RampStep{},
	}
	for i, s := range res.Steps {
		rep, err := s.Result.Report()
		if err != nil {
			return nil, err
		}
		broken := s.Broken
		if broken == nil {
			broken = []string{}
		}
		out.Steps = append(out.Steps, RampStep{
			Step: i + 1, AskedRPS: s.Rate, AchievedRPS: s.Achieved(), Search: s.Search, Pass: s.Pass,
			Broken: broken, GeneratorLimited: s.Generator, HotloadCores: cores(s.Result), Report: rep,
		})
	}
	return out, nil
}

// WriteRampJSON writes res's RampReport as indented JSON.
func WriteRampJSON(w io.Writer, res *RampResult) error {
	rep, err := res.RampReport()
	if err != nil {
		return err
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(rep)
}

// rampPercentiles are the lines of the ramp's plot.
var rampPercentiles = []struct {
	name  string
	q     float64
	color string
}{{"p50", 50, "#1f77b4"}, {"p90", 90, "#2ca02c"}, {"p99", 99, "#ff7f0e"}, {"p99.9", 99.9, "#d62728"}}

// RampHTML renders a self-contained page (inline SVG, no scripts): the
// latency percentiles of every step against the throughput it achieved, on
// a log latency scale, with the objective's latency limits drawn as lines
// and the knee marked, then the steps' table and the summary.
func RampHTML(res *RampResult) string {
	var b strings.Builder
	r := res.Ramp
	fmt.Fprintf(&b, "<h1>hotload ramp: %s</h1>\n", html.EscapeString(r.Config.URL))
	var head, sum strings.Builder
	WriteRampHeader(&head, r)
	WriteRampSummary(&sum, res)
	fmt.Fprintf(&b, "<pre>%s</pre>\n", html.EscapeString(head.String()))

	steps := slices.Clone(res.Steps)
	slices.SortStableFunc(steps, func(a, b Step) int { return cmp.Compare(a.Rate, b.Rate) })
	chart := plot.Chart{
		X: plot.Axis{Label: "throughput achieved (requests/s)"},
		Y: plot.Axis{Label: "latency (corrected)", Log: true, Format: plot.Micros},
	}
	for _, p := range rampPercentiles {
		s := plot.Series{Name: p.name, Color: p.color, Dots: true}
		for _, st := range steps {
			s.Points = append(s.Points, plot.Point{X: st.Achieved(), Y: float64(st.Result.Latency.ValueAtQuantile(p.q))})
		}
		chart.Series = append(chart.Series, s)
	}
	for _, c := range r.Objective {
		if latencyQuantile[stripU(c.Metric)] != 0 && (c.Op == "<" || c.Op == "<=") {
			chart.Rules = append(chart.Rules, plot.Rule{At: c.Value, Label: "objective " + c.Raw, Color: "#b00"})
		}
	}
	if res.Knee >= 0 {
		k := res.Steps[res.Knee]
		chart.Rules = append(chart.Rules, plot.Rule{At: k.Achieved(), Vertical: true, Color: "#000",
			Label: fmt.Sprintf("knee %.0f req/s", k.Rate)})
	}
	b.WriteString(chart.SVG())
	fmt.Fprintf(&b, "<pre>%s</pre>\n", html.EscapeString(sum.String()))

	b.WriteString("<table><tr><th>step</th><th>asked/s</th><th>achieved/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>errors</th><th>hotload CPU</th><th>result</th></tr>\n")
	for i, s := range res.Steps {
		rr := s.Result
		name := fmt.Sprint(i + 1)
		if s.Search {
			name += "*"
		}
		if i == res.Knee {
			name += " (knee)"
		}
		verdict, class := "pass", ""
		if !s.Pass {
			verdict, class = strings.Join(s.Broken, "; "), " class=fail"
		}
		if s.Generator != "" {
			verdict += " (hotload-bound: " + s.Generator + ")"
		}
		q := func(p float64) string { return fmtUS(float64(rr.Latency.ValueAtQuantile(p))) }
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f</td><td>%.1f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%.2f cores</td><td%s>%s</td></tr>\n",
			name, s.Rate, s.Achieved(), q(50), q(90), q(99), q(99.9), rr.ErrorCount(), cores(rr), class, html.EscapeString(verdict))
	}
	b.WriteString("</table>\n<p>Steps marked * are the search's. Latency is measured from each request's intended send time on the constant-rate schedule. A step fails when a condition of the objective does not hold or fewer than 95% of the asked requests were answered in its window.</p>\n")
	return plot.Page("hotload ramp: "+r.Config.URL, b.String())
}

func stripU(metric string) string { return strings.TrimSuffix(metric, "u") }
