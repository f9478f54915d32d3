package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is one run's figures (or several runs' merged by MergeReports).
type Result struct {
	Config  Config
	Start   time.Time     // wall-clock start of the recorded period
	Elapsed time.Duration // length of the recorded period
	Runs    int           // how many runs were merged into this one (1 for a run)

	Requests int64            // responses recorded
	Sent     int64            // requests sent in the recorded period
	Status   map[int]int64    // responses by status code
	Errors   map[string]int64 // failed requests by ErrorClass name
	// Causes are the connect, read and write failures by class and errno:
	// "connect ECONNREFUSED", "connect EMFILE", "read ECONNRESET", "read
	// EOF" (the peer closed with requests in flight), "connect TLS" (https:
	// a handshake that failed on TLS's own grounds), "read TLS" (an alert,
	// a bad record).
	Causes   map[string]int64
	BytesIn  int64
	BytesOut int64
	Connects int64 // connections established (all of the run, warm-up included)

	// Latency is measured from the intended send time (open loop) or the
	// send time (closed loop); Uncorrected always from the actual send time.
	// Microseconds.
	Latency     *hdrhistogram.Histogram
	Uncorrected *hdrhistogram.Histogram

	CPU     time.Duration // user+system CPU time of the generator process
	Wall    time.Duration // wall time of the whole run, warm-up included
	LagMean time.Duration // open loop: mean delay of sends behind the schedule
	LagMax  time.Duration

	Warnings []string // the generator was the bottleneck, or similar
	// Interrupted is set when the run was cancelled before its end; Elapsed
	// is then the part of the recorded period that ran.
	Interrupted bool

	TLS *TLSResult // https: handshakes (tls.go); nil for http

	rpsSum float64 // merged runs: the sum of their rates
}

// RPS is responses recorded per second of the recorded period (for merged
// runs, the sum of the runs' rates).
func (r *Result) RPS() float64 {
	if r.Runs > 1 {
		return r.rpsSum
	}
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// ErrorCount is the number of failed requests of every class.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// ErrorRate is failed requests / (responses + failed requests), 0..1.
func (r *Result) ErrorRate() float64 {
	e := r.ErrorCount()
	if e+r.Requests == 0 {
		return 0
	}
	return float64(e) / float64(e+r.Requests)
}

// Non2xx3xx counts responses outside 200..399.
func (r *Result) Non2xx3xx() int64 {
	var n int64
	for s, v := range r.Status {
		if s < 200 || s > 399 {
			n += v
		}
	}
	return n
}

// CPUPerRequest is the generator's CPU time per response.
func (r *Result) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// Report is the JSON form of a Result (hotload --json). Histograms are in
// HdrHistogram's V2 compressed encoding, base64: decode them with any
// HdrHistogram implementation, and merge them exactly.
type Report struct {
	Version int       `json:"version"`
	Config  Config    `json:"config"`
	Start   time.Time `json:"start"`
	Runs    int       `json:"runs"`
	// Interrupted: the run was cancelled (Ctrl-C) before its end; the
	// figures cover figures.elapsed_s, not config.duration.
	Interrupted bool    `json:"interrupted"`
	Figures     Figures `json:"figures"`
	// Uncorr are the figures of the latency from the actual send times;
	// the counts and the rate are the run's, as in Figures.
	Uncorr Figures   `json:"uncorrected"`
	Status StatusMap `json:"status"`
	Errors ErrorMap  `json:"errors"`
	// Causes split the connect, read and write errors by errno (or TLS:
	// a failure of TLS itself).
	Causes ErrorMap   `json:"error_causes,omitempty"`
	Hist   Histograms `json:"histograms"`
	// Warnings are set when the generator itself was the bottleneck; an
	// empty list when it was not.
	Warnings []string `json:"warnings"`
	// Generator is the load generator's own cost.
	Generator Generator `json:"generator"`
	// TLS are the handshakes of an https:// run.
	TLS *TLSReport `json:"tls,omitempty"`
}

// Figures are the headline numbers; latencies in microseconds.
type Figures struct {
	Requests   int64   `json:"requests"`
	Sent       int64   `json:"sent,omitempty"`
	ElapsedSec float64 `json:"elapsed_s"`
	RPS        float64 `json:"rps"`
	BytesIn    int64   `json:"bytes_in,omitempty"`
	BytesOut   int64   `json:"bytes_out,omitempty"`
	ErrorCount int64   `json:"errors,omitempty"`
	ErrorRate  float64 `json:"error_rate,omitempty"`
	P50        int64   `json:"p50_us"`
	P75        int64   `json:"p75_us"`
	P90        int64   `json:"p90_us"`
	P99        int64   `json:"p99_us"`
	P999       int64   `json:"p99_9_us"`
	P9999      int64   `json:"p99_99_us"`
	Max        int64   `json:"max_us"`
	Mean       float64 `json:"mean_us"`
	StdDev     float64 `json:"stdev_us"`
	Connects   int64   `json:"connects,omitempty"`
	LagMeanUS  float64 `json:"schedule_lag_mean_us,omitempty"`
	LagMaxUS   float64 `json:"schedule_lag_max_us,omitempty"`
	Non2xx3xx  int64   `json:"non_2xx_3xx,omitempty"`
}

// Generator is the load generator's own CPU use.
type Generator struct {
	CPUSec       float64 `json:"cpu_s"`
	WallSec      float64 `json:"wall_s"`
	CPUPerReqUS  float64 `json:"cpu_per_request_us"`
	CPUPerThread float64 `json:"cpu_per_thread"` // CPU / wall / threads: 1.0 is saturated
}

// StatusMap is responses by status code.
type StatusMap map[int]int64

// ErrorMap is failed requests by error class.
type ErrorMap map[string]int64

// Histograms are the encoded latency histograms (microseconds).
type Histograms struct {
	Corrected   string `json:"latency_us"`
	Uncorrected string `json:"latency_uncorrected_us"`
}

// figures computes the headline numbers of h.
func figures(h *hdrhistogram.Histogram) Figures {
	q := h.ValueAtPercentiles([]float64{50, 75, 90, 99, 99.9, 99.99})
	return Figures{
		Requests: h.TotalCount(),
		P50:      q[50], P75: q[75], P90: q[90], P99: q[99], P999: q[99.9], P9999: q[99.99],
		Max: h.Max(), Mean: h.Mean(), StdDev: h.StdDev(),
	}
}

// Report converts r to its JSON form.
func (r *Result) Report() (*Report, error) {
	enc := func(h *hdrhistogram.Histogram) (string, error) {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		return string(b), err
	}
	cs, err := enc(r.Latency)
	if err != nil {
		return nil, err
	}
	us, err := enc(r.Uncorrected)
	if err != nil {
		return nil, err
	}
	f := figures(r.Latency)
	f.Requests, f.Sent = r.Requests, r.Sent
	f.ElapsedSec, f.RPS = r.Elapsed.Seconds(), r.RPS()
	f.BytesIn, f.BytesOut, f.Connects = r.BytesIn, r.BytesOut, r.Connects
	f.ErrorCount, f.ErrorRate, f.Non2xx3xx = r.ErrorCount(), r.ErrorRate(), r.Non2xx3xx()
	f.LagMeanUS, f.LagMaxUS = float64(r.LagMean)/1e3, float64(r.LagMax)/1e3
	u := figures(r.Uncorrected)
	u.Requests, u.Sent, u.ElapsedSec, u.RPS = r.Requests, r.Sent, f.ElapsedSec, f.RPS
	warns := r.Warnings
	if warns == nil {
		warns = []string{}
	}
	g := Generator{CPUSec: r.CPU.Seconds(), WallSec: r.Wall.Seconds(), CPUPerReqUS: float64(r.CPUPerRequest()) / 1e3}
	if r.Wall > 0 && r.Config.Threads > 0 {
		g.CPUPerThread = r.CPU.Seconds() / r.Wall.Seconds() / float64(r.Config.Threads)
	}
	tr, err := r.TLS.report()
	if err != nil {
		return nil, err
	}
	return &Report{
		Version: 1, Config: r.Config, Start: r.Start, Runs: r.Runs, Interrupted: r.Interrupted,
		Figures: f, Uncorr: u,
		Status: r.Status, Errors: r.Errors, Causes: r.Causes,
		Hist:     Histograms{Corrected: cs, Uncorrected: us},
		Warnings: warns, Generator: g, TLS: tr,
	}, nil
}

// WriteJSON writes r's Report as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	rep, err := r.Report()
	if err != nil {
		return err
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(rep)
}

// ReadJSON reads a report written by WriteJSON back into a Result, histograms
// decoded.
func ReadJSON(rd io.Reader) (*Result, error) {
	var rep Report
	if err := json.NewDecoder(rd).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
	}
	if rep.Version != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrBadReport, rep.Version)
	}
	lat, err := hdrhistogram.Decode([]byte(rep.Hist.Corrected))
	if err != nil {
		return nil, fmt.Errorf("%w: latency histogram: %v", ErrBadReport, err)
	}
	unc, err := hdrhistogram.Decode([]byte(rep.Hist.Uncorrected))
	if err != nil {
		return nil, fmt.Errorf("%w: uncorrected histogram: %v", ErrBadReport, err)
	}
	r := &Result{
		Config: rep.Config, Start: rep.Start, Runs: max(rep.Runs, 1),
		Elapsed:  time.Duration(rep.Figures.ElapsedSec * 1e9),
		Requests: rep.Figures.Requests, Sent: rep.Figures.Sent,
		Status: rep.Status, Errors: rep.Errors, Causes: rep.Causes, Interrupted: rep.Interrupted,
		BytesIn: rep.Figures.BytesIn, BytesOut: rep.Figures.BytesOut, Connects: rep.Figures.Connects,
		Latency: lat, Uncorrected: unc,
		CPU:      time.Duration(rep.Generator.CPUSec * 1e9),
		Wall:     time.Duration(rep.Generator.WallSec * 1e9),
		LagMean:  time.Duration(rep.Figures.LagMeanUS * 1e3),
		LagMax:   time.Duration(rep.Figures.LagMaxUS * 1e3),
		Warnings: rep.Warnings,
		rpsSum:   rep.Figures.RPS,
	}
	if r.TLS, err = rep.TLS.result(); err != nil {
		return nil, err
	}
	if r.Status == nil {
		r.Status = map[int]int64{}
	}
	if r.Errors == nil {
		r.Errors = map[string]int64{}
	}
	if r.Causes == nil {
		r.Causes = map[string]int64{}
	}
	return r, nil
}

// Merge combines results of runs made at the same time (on several
// machines, say) into one: histograms are merged exactly, counts summed,
// requests per second summed, the elapsed time is the longest.
func Merge(rs ...*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge", ErrBadReport)
	}
	out := &Result{
		Config: rs[0].Config, Start: rs[0].Start,
		Status: map[int]int64{}, Errors: map[string]int64{}, Causes: map[string]int64{},
		Latency: newHistogram(), Uncorrected: newHistogram(),
	}
	var lagWeighted float64
	for _, r := range rs {
		if d := out.Latency.Merge(r.Latency) + out.Uncorrected.Merge(r.Uncorrected); d != 0 {
			return nil, fmt.Errorf("%w: %d values out of range", ErrHistogramFull, d)
		}
		out.Runs += max(r.Runs, 1)
		out.rpsSum += r.RPS()
		out.Requests += r.Requests
		out.Sent += r.Sent
		out.BytesIn += r.BytesIn
		out.BytesOut += r.BytesOut
		out.Connects += r.Connects
		out.CPU += r.CPU
		out.Wall = max(out.Wall, r.Wall)
		out.Elapsed = max(out.Elapsed, r.Elapsed)
		out.LagMax = max(out.LagMax, r.LagMax)
		lagWeighted += float64(r.LagMean) * float64(r.Sent)
		if r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		for k, v := range r.Status {
			out.Status[k] += v
		}
		for k, v := range r.Errors {
			out.Errors[k] += v
		}
		for k, v := range r.Causes {
			out.Causes[k] += v
		}
		out.Interrupted = out.Interrupted || r.Interrupted
		for _, w := range r.Warnings {
			out.Warnings = append(out.Warnings, "run "+strconv.Itoa(out.Runs)+": "+w)
		}
		out.TLS = out.TLS.merge(r.TLS)
	}
	if len(rs) > 1 {
		out.Config.Connections, out.Config.Threads, out.Config.Rate = 0, 0, 0
		for _, r := range rs {
			out.Config.Connections += r.Config.Connections
			out.Config.Threads += r.Config.Threads
			out.Config.Rate += r.Config.Rate
		}
	}
	if out.Sent > 0 {
		out.LagMean = time.Duration(lagWeighted / float64(out.Sent))
	}
	if out.Runs == 1 {
		out.rpsSum = 0
	}
	return out, nil
}

// NoResponse returns an error wrapping ErrNoResponse, with the failures by
// cause, when the run recorded no response at all; nil otherwise.
func (r *Result) NoResponse() error {
	if r.Requests > 0 {
		return nil
	}
	if r.ErrorCount() == 0 {
		return fmt.Errorf("%w in the %v recorded", ErrNoResponse, r.Elapsed.Round(time.Millisecond))
	}
	return fmt.Errorf("%w: %s", ErrNoResponse, r.errorBreakdown())
}

// errorBreakdown lists the errors by class with their causes:
// "connect 12 (ECONNREFUSED 10, EMFILE 2), timeout 3".
func (r *Result) errorBreakdown() string {
	var b strings.Builder
	for i := range numErrorClasses {
		n := r.Errors[i.String()]
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", i, n)
		var causes []string
		for _, k := range slices.Sorted(maps.Keys(r.Causes)) {
			if name, ok := strings.CutPrefix(k, i.String()+" "); ok && r.Causes[k] > 0 {
				causes = append(causes, fmt.Sprintf("%s %d", name, r.Causes[k]))
			}
		}
		if len(causes) > 0 {
			b.WriteString(" (" + strings.Join(causes, ", ") + ")")
		}
	}
	return b.String()
}

// Mismatch lists how runs differ in what makes their figures comparable
// or mergeable: the target URL, the asked duration and the rate (each run
// against the first; names label them). Empty when they agree.
func Mismatch(names []string, rs []*Result) []string {
	var out []string
	for i := 1; i < len(rs); i++ {
		a, b := rs[0].Config, rs[i].Config
		differ := func(what, x, y string) {
			out = append(out, fmt.Sprintf("%s and %s differ in %s: %s vs %s", names[0], names[i], what, x, y))
		}
		if a.URL != b.URL {
			differ("URL", a.URL, b.URL)
		}
		if a.Duration != b.Duration {
			differ("duration", a.Duration.String(), b.Duration.String())
		}
		if a.Rate != b.Rate {
			differ("rate", rateName(a.Rate), rateName(b.Rate))
		}
	}
	return out
}

// rateName is a Config.Rate in words.
func rateName(r float64) string {
	if r == 0 {
		return "closed loop"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + " req/s"
}

// sortedStatus returns the status codes in r in order.
func (r *Result) sortedStatus() []int { return slices.Sorted(maps.Keys(r.Status)) }
