package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// write writes results.md, results.json and latency.html to r.Dir and
// points the "latest" link beside it at r.Dir.
func (r *Report) write() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "results.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "latency.html"), []byte(r.HTML()), 0o644); err != nil {
		return err
	}
	latest := filepath.Join(filepath.Dir(r.Dir), "latest")
	if fi, err := os.Lstat(latest); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return nil // not ours
	}
	_ = os.Remove(latest)
	_ = os.Symlink(filepath.Base(r.Dir), latest)
	return nil
}

// Markdown renders the report: a header with the machine and options, then
// one table per scenario.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Meta
	fmt.Fprintf(&b, "# hotpath vs nginx vs HAProxy, %s%s\n\n", m.Start.Format("2006-01-02 15:04 MST"), quickTitle(m.Quick))
	if m.Quick {
		fmt.Fprintf(&b, "**%s**\n\n", quickNote)
	}
	fmt.Fprintf(&b, "Machine: %s, %d CPUs (%s), kernel %s, %s.\n", m.Host, m.NumCPU, m.CPUModel, m.Kernel, m.GoVersion)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range m.Versions {
			if !yield(k) {
				return
			}
		}
	})
	for _, n := range names {
		fmt.Fprintf(&b, "- %s: `%s`\n", n, m.Versions[n])
	}
	switch {
	case r.Features != nil:
		fmt.Fprintf(&b, "\nFeature set: %d round(s); in each, every feature's run follows a run of its baseline on the same contender; each run %s after a %s warm-up; hotload -t 1 -c %d.\n",
			m.Rounds, m.Duration, m.Warmup, m.Connections)
	case r.Knee != nil:
		fmt.Fprintf(&b, "\nKnee set: %d round(s) per contender, interleaved; a hotload ramp each (steps of %s after a %s warm-up); hotload -t 1 -c %d.\n",
			m.Rounds, m.Duration, m.Warmup, m.Connections)
	case r.idleOnly():
		fmt.Fprintf(&b, "\n%d round(s) per contender, interleaved (nginx, haproxy, hotpath, nginx, …), each contender started afresh for each round.\n", m.Rounds)
	default:
		fmt.Fprintf(&b, "\n%d round(s) per contender, interleaved (nginx, haproxy, hotpath, nginx, …); each run %s after a %s warm-up; hotload -t 1 -c %d.\n",
			m.Rounds, m.Duration, m.Warmup, m.Connections)
	}
	fmt.Fprintf(&b, "Server under test pinned to CPU %s with one worker; hotload and hotecho on CPU %s. Upstream keep-alive on for all.", orAll(m.ServerCPU), orAll(m.ClientCPU))
	if m.Nice != 0 {
		fmt.Fprintf(&b, " All of them ran under nice -n %d.", m.Nice)
	}
	if m.CPUPressure >= 0.1 {
		fmt.Fprintf(&b, " **The machine was busy when the run started: runnable tasks waited for a CPU %.0f%% of the last minute (/proc/pressure/cpu); expect noisy figures.**", 100*m.CPUPressure)
	}
	b.WriteString("\n")
	b.WriteString("req/s and CPU µs/req are medians over rounds with [min–max]; latencies are medians over rounds of each run's percentile. ")
	b.WriteString("CPU µs/req is the server's user+system time (all its processes) over the run divided by the responses. ")
	b.WriteString("busy = server CPU time / wall time (100% = its core saturated; less: the client core or other work on the machine held it back). ")
	b.WriteString("errors = failed requests + unexpected statuses, summed over rounds.\n")
	if r.Features != nil {
		b.WriteString(r.Features.markdown())
	}
	if r.Knee != nil {
		b.WriteString(r.Knee.markdown())
	}
	for _, s := range r.Scenarios {
		if s.Idle {
			b.WriteString(s.idleMarkdown())
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n", s.Name, s.Desc)
		b.WriteString("| contender | req/s median [min–max] | CPU µs/req [min–max] | busy | p50 | p99 | p99.9 | errors | req/s vs nginx | CPU/req vs nginx |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range s.Contenders {
			sum := c.Summary
			switch {
			case sum == nil && c.Skipped != "":
				fmt.Fprintf(&b, "| %s | %s |  |  |  |  |  |  |  |  |\n", c.Name, mdCell(c.Skipped))
			case sum == nil && c.Failed != "":
				fmt.Fprintf(&b, "| %s | failed: %s |  |  |  |  |  |  |  |  |\n", c.Name, mdCell(c.Failed))
			case sum == nil:
				fmt.Fprintf(&b, "| %s | no runs |  |  |  |  |  |  |  |  |\n", c.Name)
			default:
				name := c.Name
				if c.Failed != "" {
					name += " (failed in a later round)"
				}
				fmt.Fprintf(&b, "| %s | %.0f [%.0f–%.0f] | %.2f [%.2f–%.2f] | %.0f%% | %s | %s | %s | %d | %s | %s |\n",
					name, sum.RPS.Median, sum.RPS.Min, sum.RPS.Max,
					sum.CPUPerReqUS.Median, sum.CPUPerReqUS.Min, sum.CPUPerReqUS.Max, 100*sum.ServerBusy,
					fmtLatency(sum.P50US), fmtLatency(sum.P99US), fmtLatency(sum.P999US), sum.Errors,
					fmtRatio(sum.RPSvsNginx), fmtRatio(sum.CPUvsNginx))
			}
		}
		b.WriteString(s.notes())
	}
	return b.String()
}

// idleOnly reports whether every scenario of r is idle_conns, which runs no
// hotload.
func (r *Report) idleOnly() bool {
	for _, s := range r.Scenarios {
		if !s.Idle {
			return false
		}
	}
	return len(r.Scenarios) > 0
}

// notes are the lines under a scenario's table: what the table alone does
// not show.
func (s *ScenarioResult) notes() string {
	var b strings.Builder
	var up, rejected, warned, noise []string
	var noisiest float64
	for _, c := range s.Contenders {
		if c.Failed != "" && c.Summary != nil {
			fmt.Fprintf(&b, "\n%s failed after %d round(s): %s\n", c.Name, len(c.Runs), c.Failed)
		}
		if c.Summary == nil {
			continue
		}
		up = append(up, fmt.Sprintf("%s %.2f", c.Name, c.Summary.UpstreamCPUPerReqUS))
		if n := c.Summary.Statuses[429]; n > 0 {
			rejected = append(rejected, fmt.Sprintf("%s %.1f%%", c.Name, 100*float64(n)/float64(max(c.Summary.Requests, 1))))
		}
		noise = append(noise, fmt.Sprintf("%s %.2f", c.Name, c.Summary.OtherCores))
		noisiest = max(noisiest, c.Summary.OtherCores)
		if c.Summary.GeneratorWarnings > 0 {
			warned = append(warned, fmt.Sprintf("%s (%d run(s))", c.Name, c.Summary.GeneratorWarnings))
		}
	}
	if s.Name == "cache_hit" && len(up) > 0 {
		fmt.Fprintf(&b, "\nUpstream (hotecho) CPU µs per request, near 0 when the cache answers: %s.\n", strings.Join(up, ", "))
	}
	if len(rejected) > 0 {
		fmt.Fprintf(&b, "\nAnswered 429: %s.\n", strings.Join(rejected, ", "))
	}
	if len(warned) > 0 {
		fmt.Fprintf(&b, "\nhotload warned that it was itself the bottleneck for: %s.\n", strings.Join(warned, ", "))
	}
	if hp := s.contender("hotpath"); hp != nil && hp.Summary != nil {
		for _, c := range s.Contenders {
			if c.Kind != "hotpath" || c.Name == "hotpath" || c.Summary == nil || c.Summary.CPUPerReqUS.Median == 0 || c.Summary.RPS.Median == 0 {
				continue
			}
			fmt.Fprintf(&b, "\nA/B of two hotpath builds: CPU µs/req hotpath %.2f vs %s %.2f, ratio %.3f×; req/s ratio %.3f×.\n",
				hp.Summary.CPUPerReqUS.Median, c.Name, c.Summary.CPUPerReqUS.Median,
				hp.Summary.CPUPerReqUS.Median/c.Summary.CPUPerReqUS.Median, hp.Summary.RPS.Median/c.Summary.RPS.Median)
		}
	}
	if noisiest >= 0.1 {
		fmt.Fprintf(&b, "\nNoise: other processes on the machine used up to this many cores during a run: %s.\n", strings.Join(noise, ", "))
	}
	return b.String()
}

// quickNote warns that a -quick run is not a measurement.
const quickNote = "Quick run (-quick): one short round, a smoke test of the harness, not a measurement; do not quote these figures."

// quickTitle is the title's mark of a quick run.
func quickTitle(quick bool) string {
	if quick {
		return " (quick smoke run)"
	}
	return ""
}

func orAll(cpu string) string {
	if cpu == "" {
		return "(not pinned)"
	}
	return cpu
}

// mdCell makes s safe inside a markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// fmtLatency formats microseconds as µs below 1 ms, else ms or s.
func fmtLatency(us float64) string {
	switch {
	case us < 1000:
		return strconv.FormatFloat(us, 'f', 0, 64) + " µs"
	case us < 1e6:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(us/1e6, 'f', 2, 64) + " s"
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "—"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}
