package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Ramp is a capacity search: constant-rate steps, each held for Hold, from
// From requests per second up, until a step breaks the objective. The knee
// is the highest rate that met it. With Search, the rates between the last
// passing step and the first failing one are bisected.
//
// Each step is a Run of Config at the step's rate, so latency is measured
// from the intended send times (coordinated omission corrected) and each
// step has its own warm-up (Config.Warmup): the connections are opened and
// whatever the previous step left queued at the server drains before the
// step is recorded. After the step's window the responses to what it sent
// are awaited (Config.Drain; by default the timeout, at most Hold) so that
// the slowest requests of an overloaded step count.
type Ramp struct {
	// Config is every step's load; Rate and Duration are set per step.
	Config Config
	// Objective holds when every condition holds (ParseObjective).
	Objective []Condition
	// From is the first step's rate in requests per second.
	From float64
	// Step: each step's rate is the previous one's times Factor when
	// Factor > 1 (--step 20% is 1.2), else plus Add.
	Factor, Add float64
	// Hold is each step's recorded period; default 10 s.
	Hold time.Duration
	// Max stops the ramp before a step above it; 0 means no bound (but at
	// most maxSteps steps).
	Max float64
	// Search bisects between the last passing and the first failing rate
	// until they are within Resolution of each other (a share of the
	// passing rate; default 2%). When the first step already fails, Search
	// first halves the rate until a step passes.
	Search     bool
	Resolution float64
	// Run runs one step; nil is Run. hotload wraps Run to capture the
	// server's profiles during each step.
	Run func(context.Context, Config) (*Result, error)
	// OnStep, when not nil, is called after each step with its result.
	OnStep func(Step)
}

// Limits of a ramp.
const (
	maxSteps       = 100  // steps of the ramp itself (not counting a search)
	maxSearchSteps = 12   // bisection steps, halvings included
	minAchieved    = 0.95 // a step answered less of the asked rate fails
)

// Step is one constant-rate step of a ramp.
type Step struct {
	Rate   float64 // asked, requests per second
	Search bool    // a bisection (or halving) step, after the ramp proper
	Result *Result
	// Pass is set when every objective condition held and at least 95% of
	// the asked requests were answered in the window.
	Pass bool
	// Broken says why a step failed: each condition that did not hold, and
	// a throughput short of the asked rate.
	Broken []string
	// Generator, when not empty, says why hotload rather than the target
	// set the pace in this step (generatorLimit).
	Generator string
}

// Achieved is the step's answered requests per second.
func (s *Step) Achieved() float64 { return s.Result.RPS() }

// RampResult is what a ramp found.
type RampResult struct {
	Ramp  Ramp
	Steps []Step
	// Knee is the index in Steps of the highest passing rate; -1 when no
	// step passed.
	Knee int
	// Stopped says why the ramp ended.
	Stopped string
	// Generator, when not empty, says that the ramp stopped because hotload
	// itself was the limit: the target's knee is then above the one found.
	Generator string
	// Interrupted is set when the context ended the ramp.
	Interrupted bool
}

// KneeRate is the asked rate of the knee step, 0 when no step passed.
func (r *RampResult) KneeRate() float64 {
	if r.Knee < 0 {
		return 0
	}
	return r.Steps[r.Knee].Rate
}

// ParseObjective parses an objective: comma-separated conditions that must
// all hold, in --fail-if's syntax (p99<10ms, errors<0.1%, p99.9u<=50ms,
// rps>=1000).
func ParseObjective(s string) ([]Condition, error) {
	conds, err := ParseFailIf(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadObjective, err)
	}
	return conds, nil
}

// ParseStep parses a ramp step: "20%" multiplies each rate by 1.2, "500"
// adds 500 requests per second.
func ParseStep(s string) (factor, add float64, err error) {
	if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) {
			return 0, 0, fmt.Errorf("%w: step %q: want a positive percentage such as 20%%", ErrBadObjective, s)
		}
		return 1 + v/100, 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) {
		return 0, 0, fmt.Errorf("%w: step %q: want 20%% (a factor) or 500 (requests/s added)", ErrBadObjective, s)
	}
	return 0, v, nil
}

// StepName is the step in the --step syntax: "20%" or "+500".
func (r Ramp) StepName() string {
	// Rounded to six decimals: 1.2-1 is 0.19999999999999996.
	round := func(v float64) string { return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64) }
	if r.Factor > 1 {
		return round(100*(r.Factor-1)) + "%"
	}
	return "+" + round(r.Add)
}

// ObjectiveName is the objective as given: "p99<10ms, errors<0.1%".
func (r Ramp) ObjectiveName() string {
	var s []string
	for _, c := range r.Objective {
		s = append(s, c.Raw)
	}
	return strings.Join(s, ", ")
}

// Check reports the first setting of the ramp out of range (a *FieldError
// on From, Step, Max, Resolution, or a field of the steps' Config) after
// filling the zero fields with their defaults, as RunRamp does.
func (r Ramp) Check() error {
	_, err := r.withDefaults()
	return err
}

// withDefaults fills the zero fields and checks the ramp.
func (r Ramp) withDefaults() (Ramp, error) {
	if r.Hold == 0 {
		r.Hold = 10 * time.Second
	}
	if r.Resolution == 0 {
		r.Resolution = 0.02
	}
	if r.Run == nil {
		r.Run = Run
	}
	switch {
	case len(r.Objective) == 0:
		return r, fmt.Errorf("%w: no objective", ErrBadObjective)
	case !(r.From > 0) || math.IsInf(r.From, 0):
		return r, &FieldError{Field: "From", Value: fmt.Sprint(r.From), Want: "a positive rate"}
	case r.Factor <= 1 && r.Add <= 0:
		return r, &FieldError{Field: "Step", Value: r.StepName(), Want: "a factor above 1 or a positive increment"}
	case r.Hold < 0:
		return r, &FieldError{Field: "Duration", Value: r.Hold.String(), Want: "a positive duration"}
	case r.Max < 0 || (r.Max > 0 && r.Max < r.From):
		return r, &FieldError{Field: "Max", Value: fmt.Sprint(r.Max), Want: "0 (none) or at least the first rate"}
	case !(r.Resolution > 0 && r.Resolution < 1):
		return r, &FieldError{Field: "Resolution", Value: fmt.Sprint(r.Resolution), Want: "a share between 0 and 1, e.g. 2%"}
	}
	c := r.Config
	c.Rate, c.Duration = r.From, r.Hold
	if _, err := c.withDefaults(); err != nil { // as Run will check each step
		return r, err
	}
	return r, nil
}

// RunRamp runs the ramp: steps of rising rate until one breaks the
// objective (or Max, or maxSteps), then, with Search, the bisection. An
// error is returned when the ramp cannot start (a bad ramp, an unreachable
// target) or a step cannot run; the steps made so far are returned with it.
func RunRamp(ctx context.Context, r Ramp) (*RampResult, error) {
	r, err := r.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &RampResult{Ramp: r, Knee: -1}
	step := func(rate float64, search bool) (*Step, error) {
		cfg := r.Config
		cfg.Rate, cfg.Duration = rate, r.Hold
		if cfg.Drain == 0 {
			cfg.Drain = r.drain()
		}
		out, err := r.Run(ctx, cfg)
		if err != nil {
			return nil, err
		}
		s := judge(r.Objective, rate, search, out, res.reference())
		interrupted := out.Interrupted || ctx.Err() != nil
		res.Steps = append(res.Steps, s)
		// A step cut short is shown but does not make the knee.
		if s.Pass && !interrupted && (res.Knee < 0 || s.Rate > res.Steps[res.Knee].Rate) {
			res.Knee = len(res.Steps) - 1
		}
		if r.OnStep != nil {
			r.OnStep(s)
		}
		if interrupted {
			res.Interrupted = true
			res.Stopped = "interrupted"
			return nil, errStop
		}
		if s.Generator != "" && !s.Pass {
			res.Generator = fmt.Sprintf("at %.0f req/s %s", rate, s.Generator)
			res.Stopped = "hotload was the limit, not the target"
			return nil, errStop
		}
		return &s, nil
	}
	err = res.climb(r, step)
	if err == nil && r.Search {
		err = res.bisect(r, step)
	}
	if errors.Is(err, errStop) {
		err = nil
	}
	return res, err
}

// drain is how long a step awaits the responses to what it sent, unless
// Config.Drain says: the timeout, at most Hold. Without it the slowest
// requests of an overloaded step, those still in flight at its end, would
// be left out of its percentiles and throughput.
func (r Ramp) drain() time.Duration {
	timeout := r.Config.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second // Config's default
	}
	return min(timeout, r.Hold)
}

// errStop ends a ramp early without an error (interrupted, generator-bound).
var errStop = errors.New("loadgen: ramp stopped")

// climb runs the ramp proper: rising rates until a step fails.
func (res *RampResult) climb(r Ramp, step func(float64, bool) (*Step, error)) error {
	rate := r.From
	for i := 0; ; i++ {
		s, err := step(rate, false)
		if err != nil {
			return err
		}
		if !s.Pass {
			res.Stopped = fmt.Sprintf("%.0f req/s broke the objective", rate)
			return nil
		}
		next := rate + r.Add
		if r.Factor > 1 {
			next = rate * r.Factor
		}
		switch {
		case r.Max > 0 && next > r.Max*(1+1e-9):
			res.Stopped = fmt.Sprintf("the next step (%.0f req/s) is above the maximum %.0f req/s: the knee is at least the last rate", next, r.Max)
			return nil
		case i+1 == maxSteps:
			res.Stopped = fmt.Sprintf("%d steps without breaking the objective: the knee is at least the last rate", maxSteps)
			return nil
		}
		rate = next
	}
}

// bisect narrows the knee between the highest passing and the lowest
// failing rate; when nothing passed it first halves the first rate.
func (res *RampResult) bisect(r Ramp, step func(float64, bool) (*Step, error)) error {
	fail := math.Inf(1)
	for _, s := range res.Steps {
		if !s.Pass {
			fail = min(fail, s.Rate)
		}
	}
	if math.IsInf(fail, 1) {
		return nil // the ramp ended without a failure: nothing to bisect
	}
	for n := 0; n < maxSearchSteps; n++ {
		var rate float64
		if res.Knee < 0 {
			rate = fail / 2
		} else {
			pass := res.Steps[res.Knee].Rate
			if (fail-pass)/pass <= r.Resolution {
				res.Stopped = fmt.Sprintf("searched to within %.3g%% between %.0f and %.0f req/s", 100*r.Resolution, pass, fail)
				return nil
			}
			rate = (pass + fail) / 2
		}
		s, err := step(rate, true)
		if err != nil {
			return err
		}
		if !s.Pass {
			fail = rate
		}
	}
	res.Stopped = fmt.Sprintf("stopped the search after %d steps", maxSearchSteps)
	return nil
}

// reference is the result of the lowest passing step (the target's
// latency at a light load), or nil.
func (res *RampResult) reference() *Result {
	var ref *Step
	for i := range res.Steps {
		if s := &res.Steps[i]; s.Pass && (ref == nil || s.Rate < ref.Rate) {
			ref = s
		}
	}
	if ref == nil {
		return nil
	}
	return ref.Result
}

// judge decides a step: the objective, the throughput, and whether hotload
// itself set the pace (ref is the lowest passing step's result, or nil).
func judge(objective []Condition, rate float64, search bool, r, ref *Result) Step {
	s := Step{Rate: rate, Search: search, Result: r, Pass: true}
	for _, c := range objective {
		if ok, why := c.Failed(r); !ok {
			s.Pass = false
			s.Broken = append(s.Broken, strings.TrimPrefix(why, "fail-if "))
		}
	}
	if got := r.RPS(); got < minAchieved*rate {
		s.Pass = false
		s.Broken = append(s.Broken, fmt.Sprintf("answered %.0f req/s of the %.0f asked (%.0f%%)", got, rate, 100*got/rate))
	}
	s.Generator = generatorLimit(objective, r, ref)
	return s
}

// generatorLimit says why hotload, not the target, set the pace of a step,
// or "" when it did not:
//
//   - its CPU was saturated (cpuSaturated of its threads), or
//   - its sends fell behind the schedule (on average more than behindLag
//     late, or fewer than behindRate of the asked sent) while the target
//     answered what it was sent as fast as at a light load: the median
//     latency from the actual sends at most slowdown times that of ref,
//     the lowest passing step (or, before any step passed, within every
//     latency condition of the objective). hotload could not send on time
//     because its connections were all waiting (more -c) or it was slow.
//
// When the target is the bottleneck the latency from the actual sends
// grows with its queue, so the second rule does not blame hotload for it.
func generatorLimit(objective []Condition, r, ref *Result) string {
	threads := max(r.Config.Threads, 1)
	if r.Wall > 0 {
		if busy := r.CPU.Seconds() / r.Wall.Seconds(); busy >= cpuSaturated*float64(threads) {
			return fmt.Sprintf("hotload saturated its CPU (%.2f cores busy for %d threads): add -t, or run hotload on another machine", busy, threads)
		}
	}
	sent := 0.0
	if r.Elapsed > 0 {
		sent = float64(r.Sent) / r.Elapsed.Seconds()
	}
	if r.LagMean <= behindLag && sent >= behindRate*r.Config.Rate {
		return "" // on time
	}
	if !targetKeptPace(objective, r, ref) {
		return ""
	}
	return fmt.Sprintf("hotload sent %v late on average (%.0f of %.0f req/s sent) while the target answered as fast as at a light load: its %d connections were all waiting; add -c",
		r.LagMean.Round(time.Microsecond), sent, r.Config.Rate, r.Config.Connections*max(r.Config.Pipeline, 1))
}

// slowdown is how much slower than at a light load the target may answer
// (median latency from the actual sends) and still count as keeping pace.
const slowdown = 2

// targetKeptPace reports whether the target answered r's requests as fast
// as at the light load of ref (see generatorLimit).
func targetKeptPace(objective []Condition, r, ref *Result) bool {
	if r.Uncorrected.TotalCount() == 0 {
		return false // it answered nothing: nothing says it was fast
	}
	if ref != nil && ref.Uncorrected.TotalCount() > 0 {
		return r.Uncorrected.ValueAtQuantile(50) <= slowdown*max(ref.Uncorrected.ValueAtQuantile(50), 100)
	}
	latencies := 0
	for _, c := range objective {
		metric := strings.TrimSuffix(c.Metric, "u")
		if latencyQuantile[metric] == 0 {
			continue // not a latency
		}
		latencies++
		u := c
		u.Metric = metric + "u"
		if ok, _ := u.Failed(r); !ok {
			return false // the target was slow too
		}
	}
	return latencies > 0 // else nothing tells the target's latency from hotload's lag
}
