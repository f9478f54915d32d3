package bench

import (
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the outcome of a Run; results.json is its JSON form.
type Report struct {
	// Dir is the results directory.
	Dir       string           `json:"-"`
	Meta      Meta             `json:"meta"`
	Scenarios []ScenarioResult `json:"scenarios,omitempty"`
	// Features is the feature set's outcome (Options.Set "features").
	Features *FeatureReport `json:"features,omitempty"`
	// Knee is the knee set's outcome (Options.Set "knee").
	Knee *KneeReport `json:"knee,omitempty"`
}

// Meta describes the machine, the software and the options of a Run.
type Meta struct {
	Start       time.Time         `json:"start"`
	Host        string            `json:"host"`
	Kernel      string            `json:"kernel"`
	CPUModel    string            `json:"cpu_model"`
	NumCPU      int               `json:"num_cpu"`
	GoVersion   string            `json:"go_version"`
	Versions    map[string]string `json:"versions"`
	Duration    string            `json:"duration"`
	Warmup      string            `json:"warmup"`
	Rounds      int               `json:"rounds"`
	Connections int               `json:"connections"`
	ServerCPU   string            `json:"server_cpu"`
	ClientCPU   string            `json:"client_cpu"`
	Nice        int               `json:"nice,omitempty"`
	Set         string            `json:"set,omitempty"`
	// CPUPressure is /proc/pressure/cpu's "some avg60" when the run
	// started: the share of the last minute in which runnable tasks waited
	// for a CPU (0 on an idle machine; -1 when unknown).
	CPUPressure float64 `json:"cpu_pressure_avg60"`
	// Quick is set for a -quick smoke run: one short round, not a
	// measurement.
	Quick bool `json:"quick"`
}

// ScenarioResult holds every contender's runs of one scenario.
type ScenarioResult struct {
	Name string `json:"name"`
	Desc string `json:"description"`
	// Idle marks idle_conns: its contenders have Idle rounds, not Runs.
	Idle       bool               `json:"idle,omitempty"`
	Contenders []*ContenderResult `json:"contenders"`
}

// ContenderResult is one contender's runs of one scenario. At most one of
// Skipped and Failed is set; Summary is set when there are runs.
type ContenderResult struct {
	Name string `json:"name"`
	// Kind is the server (hotpath, nginx, haproxy): the Name but for a
	// second hotpath build (Options.BinB).
	Kind    string      `json:"kind,omitempty"`
	Skipped string      `json:"skipped,omitempty"`
	Failed  string      `json:"failed,omitempty"`
	Runs    []RunResult `json:"runs"`
	Summary *Summary    `json:"summary,omitempty"`
	// Idle are the rounds of idle_conns (Runs is empty there), IdleSummary
	// their medians.
	Idle        []IdleRun    `json:"idle_runs,omitempty"`
	IdleSummary *IdleSummary `json:"idle_summary,omitempty"`

	latency *hdrhistogram.Histogram // all runs merged, for the plot
}

// RunResult is one measured run. Latencies are in microseconds, measured by
// hotload from the send of each request.
type RunResult struct {
	Round    int     `json:"round"`
	RPS      float64 `json:"rps"`
	Requests int64   `json:"requests"`
	// CPUPerReqUS is the server's user+system CPU time over the run divided
	// by Requests, summed over its Processes.
	CPUPerReqUS float64 `json:"cpu_per_request_us"`
	// ServerBusy is the server's CPU time over the run's wall time (1 = one
	// core saturated).
	ServerBusy float64 `json:"server_busy"`
	Processes  int     `json:"processes"`
	// OtherCores is the CPU time used by everything else on the machine
	// during the run, in cores (noise from other work on a shared machine).
	OtherCores float64 `json:"other_cores"`
	// UpstreamCPUPerReqUS is hotecho's CPU time per request (near 0 when a
	// cache answers).
	UpstreamCPUPerReqUS float64 `json:"upstream_cpu_per_request_us"`
	P50US               int64   `json:"p50_us"`
	P99US               int64   `json:"p99_us"`
	P999US              int64   `json:"p99_9_us"`
	MaxUS               int64   `json:"max_us"`
	// Errors counts failed requests and responses with a status the
	// scenario does not expect.
	Errors   int64         `json:"errors"`
	Status   map[int]int64 `json:"status"`
	Warnings []string      `json:"hotload_warnings,omitempty"`
	// Raw is hotload's JSON report, relative to the results directory.
	Raw string `json:"raw"`

	latency *hdrhistogram.Histogram
}

// Range is a median with the smallest and largest value it came from.
type Range struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Summary condenses a contender's runs: medians over rounds, errors summed.
type Summary struct {
	RPS                 Range   `json:"rps"`
	CPUPerReqUS         Range   `json:"cpu_per_request_us"`
	P50US               float64 `json:"p50_us"`
	P99US               float64 `json:"p99_us"`
	P999US              float64 `json:"p99_9_us"`
	ServerBusy          float64 `json:"server_busy"`
	UpstreamCPUPerReqUS float64 `json:"upstream_cpu_per_request_us"`
	// OtherCores is the largest OtherCores of the runs.
	OtherCores float64 `json:"other_cores_max"`
	Errors     int64   `json:"errors"`
	Requests   int64   `json:"requests"`
	// Statuses are all runs' responses by status.
	Statuses map[int]int64 `json:"status"`
	// RPSvsNginx and CPUvsNginx are this contender's medians over nginx's
	// (0 when nginx has no runs in this scenario).
	RPSvsNginx float64 `json:"rps_vs_nginx,omitempty"`
	CPUvsNginx float64 `json:"cpu_per_request_vs_nginx,omitempty"`
	// GeneratorWarnings counts runs in which hotload warned that it was
	// itself the bottleneck.
	GeneratorWarnings int `json:"generator_warnings,omitempty"`
}

// rangeOf returns the median, min and max of xs (zero for none).
func rangeOf(xs []float64) Range {
	if len(xs) == 0 {
		return Range{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Range{Median: med, Min: s[0], Max: s[len(s)-1]}
}

// median is rangeOf(xs).Median.
func median(xs []float64) float64 { return rangeOf(xs).Median }

// summarize fills every contender's Summary and the ratios against nginx.
func (sr *ScenarioResult) summarize() {
	if sr.Idle {
		sr.summarizeIdle()
		return
	}
	for _, c := range sr.Contenders {
		c.summarize()
	}
	ngx := sr.contender("nginx")
	if ngx == nil || ngx.Summary == nil {
		return
	}
	for _, c := range sr.Contenders {
		if c.Summary == nil {
			continue
		}
		if ngx.Summary.RPS.Median > 0 {
			c.Summary.RPSvsNginx = c.Summary.RPS.Median / ngx.Summary.RPS.Median
		}
		if ngx.Summary.CPUPerReqUS.Median > 0 {
			c.Summary.CPUvsNginx = c.Summary.CPUPerReqUS.Median / ngx.Summary.CPUPerReqUS.Median
		}
	}
}

func (c *ContenderResult) summarize() {
	if len(c.Runs) == 0 {
		c.Summary = nil
		return
	}
	var rps, cpu, p50, p99, p999, busy, up []float64
	s := &Summary{Statuses: map[int]int64{}}
	for _, r := range c.Runs {
		rps = append(rps, r.RPS)
		cpu = append(cpu, r.CPUPerReqUS)
		p50 = append(p50, float64(r.P50US))
		p99 = append(p99, float64(r.P99US))
		p999 = append(p999, float64(r.P999US))
		busy = append(busy, r.ServerBusy)
		up = append(up, r.UpstreamCPUPerReqUS)
		s.Errors += r.Errors
		s.OtherCores = max(s.OtherCores, r.OtherCores)
		s.Requests += r.Requests
		for st, n := range r.Status {
			s.Statuses[st] += n
		}
		if len(r.Warnings) > 0 {
			s.GeneratorWarnings++
		}
		if r.latency != nil {
			if c.latency == nil {
				c.latency = hdrhistogram.New(r.latency.LowestTrackableValue(), r.latency.HighestTrackableValue(), int(r.latency.SignificantFigures()))
			}
			c.latency.Merge(r.latency)
		}
	}
	s.RPS, s.CPUPerReqUS = rangeOf(rps), rangeOf(cpu)
	s.P50US, s.P99US, s.P999US = median(p50), median(p99), median(p999)
	s.ServerBusy, s.UpstreamCPUPerReqUS = median(busy), median(up)
	c.Summary = s
}

// contender returns the result of the contender called name, or nil.
func (sr *ScenarioResult) contender(name string) *ContenderResult {
	for _, c := range sr.Contenders {
		if c.Name == name {
			return c
		}
	}
	return nil
}
