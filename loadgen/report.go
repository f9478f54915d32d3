package loadgen

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// summaryQuantiles are the percentiles every report shows.
var summaryQuantiles = []struct {
	name string
	q    float64
}{{"p50", 50}, {"p75", 75}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"p99.99", 99.99}}

// fmtUS formats a microsecond value like wrk does: µs, ms or s with two
// decimals.
func fmtUS(us float64) string {
	switch {
	case us < 1000:
		return strconv.FormatFloat(us, 'f', 2, 64) + "us"
	case us < 1e6:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(us/1e6, 'f', 2, 64) + "s"
}

// fmtBytes formats a byte count with binary units.
func fmtBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return strconv.FormatFloat(b, 'f', 2, 64) + units[i]
}

// Mode describes the load model in words.
func (c Config) Mode() string {
	if c.Rate > 0 {
		return fmt.Sprintf("constant rate %.0f req/s (latency from intended send times)", c.Rate)
	}
	return "closed loop"
}

// WriteSummary prints r as wrk does: the run (WriteHeader), then its
// figures (WriteFigures).
func WriteSummary(w io.Writer, r *Result) error {
	var b strings.Builder
	writeHeader(&b, r.Config, r.Runs)
	writeFigures(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHeader prints what a run of c is about to do: its duration, target,
// threads, connections and load model. hotload prints it when the load
// starts and WriteFigures when it ends.
func WriteHeader(w io.Writer, c Config) error {
	var b strings.Builder
	writeHeader(&b, c, 1)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFigures prints r's figures: the latency distribution (corrected and
// uncorrected in the open loop), the rate, statuses, errors with their
// causes, the generator's own CPU, warnings, and whether the run was
// interrupted.
func WriteFigures(w io.Writer, r *Result) error {
	var b strings.Builder
	writeFigures(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHeader(b *strings.Builder, c Config, runs int) {
	merged := ""
	if runs > 1 {
		merged = fmt.Sprintf(" (%d runs merged)", runs)
	}
	fmt.Fprintf(b, "Running %v test @ %s%s\n", c.Duration, c.URL, merged)
	ka := ""
	if c.NoKeepAlive {
		ka = ", a new connection per request"
	}
	if c.HTTP2 {
		ka = ", HTTP/2 (pipeline: streams per connection)"
	}
	threads := c.Threads
	if c.Connections > 0 {
		threads = min(threads, c.Connections) // as Run caps them
	}
	fmt.Fprintf(b, "  %d threads and %d connections, %s, pipeline %d%s\n", threads, c.Connections, c.Mode(), max(c.Pipeline, 1), ka)
}

func writeFigures(b *strings.Builder, r *Result) {
	c := r.Config
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	open := c.Rate > 0
	if open {
		fmt.Fprintf(tw, "  Latency\tcorrected\tuncorrected\t\n")
	} else {
		fmt.Fprintf(tw, "  Latency\t\t\n")
	}
	row := func(name string, f func(h *hdrhistogram.Histogram) float64) {
		if open {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t\n", name, fmtUS(f(r.Latency)), fmtUS(f(r.Uncorrected)))
		} else {
			fmt.Fprintf(tw, "    %s\t%s\t\n", name, fmtUS(f(r.Latency)))
		}
	}
	for _, sq := range summaryQuantiles {
		row(sq.name, func(h *hdrhistogram.Histogram) float64 { return float64(h.ValueAtQuantile(sq.q)) })
	}
	row("max", func(h *hdrhistogram.Histogram) float64 { return float64(h.Max()) })
	row("mean", (*hdrhistogram.Histogram).Mean)
	row("stdev", (*hdrhistogram.Histogram).StdDev)
	tw.Flush()
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(b, "  %d requests in %.2fs, %s read, %s written\n", r.Requests, secs, fmtBytes(float64(r.BytesIn)), fmtBytes(float64(r.BytesOut)))
	fmt.Fprintf(b, "Requests/sec: %12.2f\n", r.RPS())
	if secs > 0 {
		fmt.Fprintf(b, "Transfer/sec: %12s\n", fmtBytes(float64(r.BytesIn)/secs))
	}
	if len(r.Status) > 0 {
		b.WriteString("Status:")
		for _, s := range r.sortedStatus() {
			fmt.Fprintf(b, " %d: %d", s, r.Status[s])
		}
		b.WriteString("\n")
	}
	if n := r.Non2xx3xx(); n > 0 {
		fmt.Fprintf(b, "  Non-2xx or 3xx responses: %d\n", n)
	}
	if e := r.ErrorCount(); e > 0 {
		fmt.Fprintf(b, "Errors: %d (%.3f%%): %s\n", e, 100*r.ErrorRate(), r.errorBreakdown())
	}
	if open {
		fmt.Fprintf(b, "Schedule lag: mean %v, max %v\n", r.LagMean.Round(time.Microsecond), r.LagMax.Round(time.Microsecond))
	}
	r.TLS.summary(b)
	if r.Wall > 0 && r.Requests > 0 {
		fmt.Fprintf(b, "hotload CPU: %.2fs, %.2fus/request, %.2f cores busy\n", r.CPU.Seconds(),
			float64(r.CPUPerRequest())/1e3, r.CPU.Seconds()/r.Wall.Seconds())
	}
	if r.Interrupted {
		fmt.Fprintf(b, "INTERRUPTED: %.2fs of the %v asked were recorded\n", secs, c.Duration)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(b, "WARNING: %s\n", warn)
	}
}

// WriteHgrm writes h in HdrHistogram's percentile distribution format (what
// HdrHistogram's "Plot Files" page and wrk2's --u_latency print), values in
// milliseconds (h holds microseconds):
//
//	Value   Percentile   TotalCount   1/(1-Percentile)
//
// five ticks per half distance, then a footer with Mean, StdDeviation, Max,
// Total count, Buckets and SubBuckets.
func WriteHgrm(w io.Writer, h *hdrhistogram.Histogram) error {
	const scale = 1000.0 // µs per ms
	var b strings.Builder
	fmt.Fprintf(&b, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")
	for _, br := range h.CumulativeDistributionWithTicks(5) {
		p := br.Quantile / 100
		if p >= 1 {
			fmt.Fprintf(&b, "%12.3f %1.12f %10d\n", float64(br.ValueAt)/scale, p, br.Count)
			continue
		}
		fmt.Fprintf(&b, "%12.3f %1.12f %10d %14.2f\n", float64(br.ValueAt)/scale, p, br.Count, 1/(1-p))
	}
	buckets, sub := geometry(h)
	fmt.Fprintf(&b, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", h.Mean()/scale, h.StdDev()/scale)
	fmt.Fprintf(&b, "#[Max     = %12.3f, Total count    = %12d]\n", float64(h.Max())/scale, h.TotalCount())
	fmt.Fprintf(&b, "#[Buckets = %12d, SubBuckets     = %12d]\n", buckets, sub)
	_, err := io.WriteString(w, b.String())
	return err
}

// geometry returns the bucket and sub-bucket counts of h (HdrHistogram's
// definitions: sub-buckets cover the significant digits, buckets double the
// range until the highest trackable value fits).
func geometry(h *hdrhistogram.Histogram) (buckets, subBuckets int) {
	largest := 2 * math.Pow10(int(h.SignificantFigures()))
	subBuckets = 1 << int(math.Ceil(math.Log2(largest)))
	unit := int(math.Floor(math.Log2(float64(max(h.LowestTrackableValue(), 1)))))
	smallestUntrackable := int64(subBuckets) << unit
	buckets = 1
	for smallestUntrackable <= h.HighestTrackableValue() {
		if smallestUntrackable > math.MaxInt64/2 {
			return buckets + 1, subBuckets
		}
		smallestUntrackable <<= 1
		buckets++
	}
	return buckets, subBuckets
}

// Compare writes a side-by-side table of a and b with the ratio b/a for each
// figure (below 1 is less: better for latencies and CPU, worse for rates).
func Compare(w io.Writer, nameA, nameB string, a, b *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t%s\tB/A\t\n", nameA, nameB)
	ratio := func(x, y float64) string {
		if x == 0 {
			if y == 0 {
				return "1.00x"
			}
			return "-"
		}
		return strconv.FormatFloat(y/x, 'f', 2, 64) + "x"
	}
	line := func(name string, x, y float64, f func(float64) string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, f(x), f(y), ratio(x, y))
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	cnt := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	line("requests/s", a.RPS(), b.RPS(), num)
	line("requests", float64(a.Requests), float64(b.Requests), cnt)
	for _, sq := range summaryQuantiles {
		line(sq.name, float64(a.Latency.ValueAtQuantile(sq.q)), float64(b.Latency.ValueAtQuantile(sq.q)), fmtUS)
	}
	line("max", float64(a.Latency.Max()), float64(b.Latency.Max()), fmtUS)
	line("mean", a.Latency.Mean(), b.Latency.Mean(), fmtUS)
	line("stdev", a.Latency.StdDev(), b.Latency.StdDev(), fmtUS)
	if a.Config.Rate > 0 || b.Config.Rate > 0 {
		line("p99 uncorrected", float64(a.Uncorrected.ValueAtQuantile(99)), float64(b.Uncorrected.ValueAtQuantile(99)), fmtUS)
	}
	line("errors", float64(a.ErrorCount()), float64(b.ErrorCount()), cnt)
	line("non-2xx/3xx", float64(a.Non2xx3xx()), float64(b.Non2xx3xx()), cnt)
	line("read/s", float64(a.BytesIn)/max(a.Elapsed.Seconds(), 1e-9), float64(b.BytesIn)/max(b.Elapsed.Seconds(), 1e-9), fmtBytes)
	line("cpu/request us", float64(a.CPUPerRequest())/1e3, float64(b.CPUPerRequest())/1e3, num)
	return tw.Flush()
}
