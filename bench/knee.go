package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hotpath/hotpath/loadgen"
)

// KneeOptions shape the knee set: a hotload ramp per contender and round.
// Each step is held for Options.Duration after an Options.Warmup.
type KneeOptions struct {
	// Scenario is the workload (passthrough_small).
	Scenario string
	// SLO is the objective (p99<5ms).
	SLO string
	// From is the first step's rate (10000); Step each step's increase
	// (20%).
	From float64
	Step string
	// NoSearch skips the bisection after the first failing step.
	NoSearch bool
	// Resolution is the search's (3%).
	Resolution string
}

func (k KneeOptions) withDefaults() KneeOptions {
	if k.Scenario == "" {
		k.Scenario = "passthrough_small"
	}
	if k.SLO == "" {
		k.SLO = "p99<5ms"
	}
	if k.From == 0 {
		k.From = 10000
	}
	if k.Step == "" {
		k.Step = "20%"
	}
	if k.Resolution == "" {
		k.Resolution = "3%"
	}
	return k
}

// KneeReport is the knee set's outcome.
type KneeReport struct {
	Scenario   string        `json:"scenario"`
	Objective  string        `json:"objective"`
	FromRPS    float64       `json:"from_rps"`
	Step       string        `json:"step"`
	HoldSec    float64       `json:"hold_s"`
	WarmupSec  float64       `json:"warmup_s"`
	Search     bool          `json:"search"`
	Contenders []*KneeResult `json:"contenders"`
}

// KneeResult is one contender's ramps.
type KneeResult struct {
	Name    string     `json:"name"`
	Skipped string     `json:"skipped,omitempty"`
	Failed  string     `json:"failed,omitempty"`
	Runs    []KneeRun  `json:"runs"`
	Knee    Range      `json:"knee_rps"`
	Summary *KneeRatio `json:"summary,omitempty"`
}

// KneeRatio sets a contender's median knee beside nginx's.
type KneeRatio struct {
	VsNginx float64 `json:"knee_vs_nginx,omitempty"`
	// KneeP99US is the median p99 at the knee; ServerBusy the median busy
	// share of the server's core at the knee and at the first failing
	// step.
	KneeP99US      float64 `json:"knee_p99_us"`
	KneeServerBusy float64 `json:"knee_server_busy"`
	FailServerBusy float64 `json:"fail_server_busy"`
	HotloadBound   int     `json:"hotload_bound_runs,omitempty"`
}

// KneeRun is one ramp.
type KneeRun struct {
	Round    int     `json:"round"`
	KneeRPS  float64 `json:"knee_rps"`
	KneeStep int     `json:"knee_step"`
	Stopped  string  `json:"stopped"`
	// GeneratorLimited is hotload's note that it, not the server, ended
	// the ramp.
	GeneratorLimited string     `json:"generator_limited,omitempty"`
	Steps            []KneeStep `json:"steps"`
	// Raw is the ramp's JSON, relative to the results directory.
	Raw string `json:"raw"`
}

// KneeStep is one step of a ramp with the server's CPU over it.
type KneeStep struct {
	AskedRPS    float64 `json:"asked_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	P99US       int64   `json:"p99_us"`
	Pass        bool    `json:"pass"`
	// ServerBusy is the server's CPU time over the step's window divided
	// by the window (1 = its core saturated); HotloadCores hotload's.
	ServerBusy   float64 `json:"server_busy"`
	HotloadCores float64 `json:"hotload_cores"`
}

// knee runs the knee set.
func (h *harness) knee(ctx context.Context) (*Report, error) {
	o := h.o
	k := o.Knee
	scenarios, err := selectScenarios([]string{k.Scenario})
	if err != nil {
		return nil, err
	}
	s := scenarios[0]
	if s.Idle {
		return nil, fmt.Errorf("bench: %s measures memory, not a rate: run it without -set knee", s.Name)
	}
	kr := &KneeReport{Scenario: s.Name, Objective: k.SLO, FromRPS: k.From, Step: k.Step,
		HoldSec: o.Duration.Seconds(), WarmupSec: max(o.Warmup, 0).Seconds(), Search: !k.NoSearch}
	h.rep.Knee = kr
	for _, c := range h.all {
		r := &KneeResult{Name: c.Name, Runs: []KneeRun{}}
		if why, ok := h.missing[c.Name]; ok {
			r.Skipped = why
		}
		kr.Contenders = append(kr.Contenders, r)
	}
	fmt.Fprintf(o.Log, "bench: knee set: %s, objective %s, from %.0f req/s step %s, hold %v, × %d contender(s) × %d round(s); results in %s\n",
		s.Name, k.SLO, k.From, k.Step, o.Duration, len(h.contenders), o.Rounds, o.Out)
	echo, echoAddr, err := h.startEcho(ctx, s, filepath.Join(h.scratch, "hotecho-knee.log"))
	if err != nil {
		return nil, err
	}
	defer echo.stop(5 * time.Second)
	var live []*running
	defer func() {
		for _, r := range live {
			r.proc.stop(5 * time.Second)
		}
	}()
	for _, c := range h.contenders {
		res := kr.contender(c.Name)
		cr := &ContenderResult{Name: c.Name}
		r, err := h.start(ctx, s, c, cr, echoAddr, nil, filepath.Join(h.scratch, "knee", c.Name))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Skipped, res.Failed = cr.Skipped, cr.Failed
			fmt.Fprintf(o.Log, "[knee] %s: %s%s\n", c.Name, cr.Skipped, cr.Failed)
			continue
		}
		live = append(live, r)
	}
	for round := 1; round <= o.Rounds; round++ {
		for _, r := range live {
			res := kr.contender(r.c.Name)
			if res.Failed != "" {
				continue
			}
			run, err := h.ramp(ctx, s, r, echo, round)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				res.Failed = err.Error()
				fmt.Fprintf(o.Log, "[knee r%d/%d] %s: failed: %v\n", round, o.Rounds, r.c.Name, err)
				continue
			}
			res.Runs = append(res.Runs, run)
			fmt.Fprintf(o.Log, "[knee r%d/%d] %-7s knee %.0f req/s (step %d); %s%s\n", round, o.Rounds, r.c.Name,
				run.KneeRPS, run.KneeStep, run.Stopped, orNote(run.GeneratorLimited))
		}
		kr.summarize()
		if err := h.rep.write(); err != nil {
			return nil, err
		}
	}
	return h.rep, nil
}

func orNote(s string) string {
	if s == "" {
		return ""
	}
	return "; hotload-bound: " + s
}

// ramp runs one hotload ramp against r, sampling the server's CPU time
// meanwhile so that each step says how busy the server's core was.
func (h *harness) ramp(ctx context.Context, s Scenario, r *running, echo *process, round int) (KneeRun, error) {
	o, k := h.o, h.o.Knee
	raw := filepath.Join("raw", "knee", fmt.Sprintf("%s-r%d", r.c.Name, round))
	if err := os.MkdirAll(filepath.Join(o.Out, filepath.Dir(raw)), 0o755); err != nil {
		return KneeRun{}, err
	}
	jsonPath := filepath.Join(o.Out, raw+".json")
	args := []string{"ramp", "--slo", k.SLO, "--from", fmt.Sprint(k.From), "--step", k.Step,
		"--hold", o.Duration.String(), "--warmup", max(o.Warmup, 0).String(), "-t", "1", "-c", fmt.Sprint(o.Connections),
		"--json", jsonPath, "--html", filepath.Join(o.Out, raw+".html")}
	if !k.NoSearch {
		args = append(args, "--search", "--resolution", k.Resolution)
	}
	for _, hv := range s.Headers {
		args = append(args, "-H", hv)
	}
	args = append(args, s.Load...)
	args = append(args, scheme(s)+"://"+r.addr+"/bench")

	samples := h.sampleCPU(r.proc.pid())
	out, err := h.hotloadFor(ctx, 2*time.Hour, args, filepath.Join(o.Out, raw+".txt"))
	cpu := samples.stop()
	if echo.exited() { // the steps measured the proxy's 502s
		return KneeRun{}, fmt.Errorf("%w: hotecho, the upstream: %s", errExited, echo.logTail())
	}
	if r.proc.exited() {
		return KneeRun{}, fmt.Errorf("%w: %s", errExited, r.proc.logTail())
	}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) { // 3: no step met the objective
		return KneeRun{}, fmt.Errorf("%w: %s", err, firstLines(out, 3))
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return KneeRun{}, err
	}
	var rep loadgen.RampReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return KneeRun{}, fmt.Errorf("%s: %w", jsonPath, err)
	}
	run := KneeRun{Round: round, KneeRPS: rep.KneeRPS, KneeStep: rep.KneeStep, Stopped: rep.Stopped,
		GeneratorLimited: rep.GeneratorLimited, Raw: raw + ".json", Steps: []KneeStep{}}
	for _, st := range rep.Steps {
		ks := KneeStep{AskedRPS: st.AskedRPS, AchievedRPS: st.AchievedRPS, Pass: st.Pass, HotloadCores: st.HotloadCores}
		if f := st.Report; f != nil {
			ks.P99US = f.Figures.P99
			from := f.Start
			ks.ServerBusy = cpu.busy(from, from.Add(time.Duration(f.Figures.ElapsedSec*float64(time.Second))))
		}
		run.Steps = append(run.Steps, ks)
	}
	return run, nil
}

// cpuSamples is a series of (time, CPU time) of a server's process tree.
type cpuSamples struct {
	mu   sync.Mutex
	at   []time.Time
	cpu  []time.Duration
	done chan struct{}
	wg   sync.WaitGroup
}

// sampleEvery is how often the server's CPU time is read during a ramp.
const sampleEvery = 100 * time.Millisecond

// sampleCPU samples pid's CPU time every sampleEvery until stop.
func (h *harness) sampleCPU(pid int) *cpuSamples {
	c := &cpuSamples{done: make(chan struct{})}
	take := func() {
		if t, _, err := treeCPU(pid); err == nil {
			c.mu.Lock()
			c.at, c.cpu = append(c.at, time.Now()), append(c.cpu, t)
			c.mu.Unlock()
		}
	}
	take()
	c.wg.Go(func() {
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-c.done:
				take()
				return
			case <-tick.C:
				take()
			}
		}
	})
	return c
}

// stop ends the sampling and returns the samples.
func (c *cpuSamples) stop() *cpuSamples {
	close(c.done)
	c.wg.Wait()
	return c
}

// busy is the CPU time used between from and to over that time, from the
// samples (linearly interpolated between them); 0 when they do not cover
// it.
func (c *cpuSamples) busy(from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	a, ok1 := c.cpuAt(from)
	b, ok2 := c.cpuAt(to)
	if !ok1 || !ok2 {
		return 0
	}
	return (b - a).Seconds() / to.Sub(from).Seconds()
}

// cpuAt interpolates the CPU time at t.
func (c *cpuSamples) cpuAt(t time.Time) (time.Duration, bool) {
	for i := 1; i < len(c.at); i++ {
		if !c.at[i].Before(t) {
			if c.at[i-1].After(t) {
				return 0, false
			}
			span := c.at[i].Sub(c.at[i-1])
			if span <= 0 {
				return c.cpu[i], true
			}
			frac := float64(t.Sub(c.at[i-1])) / float64(span)
			return c.cpu[i-1] + time.Duration(frac*float64(c.cpu[i]-c.cpu[i-1])), true
		}
	}
	return 0, false
}

// contender returns the result of the contender called name, or nil.
func (kr *KneeReport) contender(name string) *KneeResult {
	for _, c := range kr.Contenders {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// summarize fills every contender's range and ratio.
func (kr *KneeReport) summarize() {
	for _, c := range kr.Contenders {
		if len(c.Runs) == 0 {
			continue
		}
		var knees, p99, kb, fb []float64
		sum := &KneeRatio{}
		for _, r := range c.Runs {
			knees = append(knees, r.KneeRPS)
			if r.GeneratorLimited != "" {
				sum.HotloadBound++
			}
			if r.KneeStep > 0 {
				st := r.Steps[r.KneeStep-1]
				p99 = append(p99, float64(st.P99US))
				kb = append(kb, st.ServerBusy)
			}
			if f := r.firstFail(); f != nil {
				fb = append(fb, f.ServerBusy)
			}
		}
		c.Knee = rangeOf(knees)
		sum.KneeP99US, sum.KneeServerBusy, sum.FailServerBusy = median(p99), median(kb), median(fb)
		c.Summary = sum
	}
	if ngx := kr.contender("nginx"); ngx != nil && ngx.Knee.Median > 0 {
		for _, c := range kr.Contenders {
			if c.Summary != nil {
				c.Summary.VsNginx = c.Knee.Median / ngx.Knee.Median
			}
		}
	}
}

// firstFail is the step that broke the objective just above the knee:
// the failing step of the lowest rate above the knee's (above nothing when
// no step passed), or nil.
func (r *KneeRun) firstFail() *KneeStep {
	knee := 0.0
	if r.KneeStep > 0 {
		knee = r.Steps[r.KneeStep-1].AskedRPS
	}
	var f *KneeStep
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.Pass || s.AskedRPS <= knee {
			continue
		}
		if r.KneeStep == 0 { // no knee: the ramp's first step
			return s
		}
		if f == nil || s.AskedRPS < f.AskedRPS {
			f = s
		}
	}
	return f
}

// markdown renders the knee table.
func (kr *KneeReport) markdown() string {
	var b strings.Builder
	search := ""
	if kr.Search {
		search = ", then a bisection to within its resolution"
	}
	fmt.Fprintf(&b, "\n## Knee: the highest rate within %s (%s)\n\n", kr.Objective, kr.Scenario)
	fmt.Fprintf(&b, "hotload ramp from %.0f req/s, step %s, each step held %gs after a %gs warm-up%s. The knee is the highest asked rate whose step met the objective (and answered 95%% of the asked requests). ",
		kr.FromRPS, kr.Step, kr.HoldSec, kr.WarmupSec, search)
	b.WriteString("Server busy is the server's CPU time over the step's window (sampled every 100 ms) divided by the window: near 100% at the first failing step means the server's core was the limit; well below, the client core (hotload and hotecho) or other work held it back.\n\n")
	b.WriteString("| contender | knee req/s median [min–max] | knee vs nginx | p99 at the knee | server busy at the knee | server busy at the first failing step | hotload-bound runs |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range kr.Contenders {
		switch {
		case c.Summary == nil && c.Skipped != "":
			fmt.Fprintf(&b, "| %s | %s |  |  |  |  |  |\n", c.Name, mdCell(c.Skipped))
		case c.Summary == nil:
			fmt.Fprintf(&b, "| %s | failed: %s |  |  |  |  |  |\n", c.Name, mdCell(c.Failed))
		default:
			sm := c.Summary
			fmt.Fprintf(&b, "| %s | %.0f [%.0f–%.0f] | %s | %s | %.0f%% | %.0f%% | %d of %d |\n", c.Name,
				c.Knee.Median, c.Knee.Min, c.Knee.Max, fmtRatio(sm.VsNginx), fmtLatency(sm.KneeP99US),
				100*sm.KneeServerBusy, 100*sm.FailServerBusy, sm.HotloadBound, len(c.Runs))
		}
	}
	for _, c := range kr.Contenders {
		for _, r := range c.Runs {
			if r.GeneratorLimited != "" {
				fmt.Fprintf(&b, "\n%s round %d: hotload-bound (%s): the knee is a lower bound.\n", c.Name, r.Round, mdCell(r.GeneratorLimited))
			}
		}
	}
	return b.String()
}
