package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotpath/hotpath/loadgen"
	"github.com/hotpath/hotpath/profiles"
)

const rampUsage = `usage: hotload ramp --slo 'p99<10ms,errors<0.1%' [--from 1000] [--step 20%] [--hold 10s] [--search] [flags] URL

Constant-rate steps from --from requests/s, each --step higher and held for
--hold (after a --warmup), until one breaks the objective; the knee is the
highest rate that met it. --search then bisects between the last passing and
the first failing rate. Latency is measured from the intended send times.

Flags (-flag and --flag are the same):
`

// rampFlagOf maps the fields of loadgen.Ramp and of each step's Config to
// ramp's flags.
var rampFlagOf = map[string]string{
	"From": "--from", "Step": "--step", "Max": "--max", "Resolution": "--resolution",
	"Duration": "--hold", "Rate": "--from",
}

// rampRun is a ramp as its flags describe it.
type rampRun struct {
	args        []string
	ramp        loadgen.Ramp
	json, html  string
	popts       *profiles.Options
	profileName string
}

// ramp is `hotload ramp`.
func ramp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	rr, code := parseRamp(args, stderr)
	if rr == nil {
		return code
	}
	caps := &stepCaptures{}
	if rr.popts != nil {
		// The pprof endpoint is checked once before any load (a capture
		// made and dropped: New probes it).
		probe, code := newCapture(ctx, *rr.popts, stderr)
		if probe == nil {
			return code
		}
		probe.Abort()
		caps.opts, caps.name, caps.args = *rr.popts, rr.profileName, rr.args
		rr.ramp.Run = caps.run
	}
	loadgen.WriteRampHeader(stdout, rr.ramp)
	loadgen.WriteRampStepHeader(stdout)
	tty := isTerminal(stderr)
	steps := 0
	rr.ramp.OnStep = func(s loadgen.Step) {
		steps++
		loadgen.WriteRampStep(stdout, steps, s)
	}
	if tty {
		run := rr.ramp.Run
		if run == nil {
			run = loadgen.Run
		}
		rr.ramp.Run = func(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
			p := newProgressPrinter(stderr, cfg.Warmup+cfg.Duration)
			cfg.Live = p.print
			defer p.end()
			return run(ctx, cfg)
		}
	}
	res, err := loadgen.RunRamp(ctx, rr.ramp)
	if err != nil && res == nil {
		fmt.Fprintln(stderr, "hotload:", rampFlagError(err))
		if errors.Is(err, loadgen.ErrUnreachable) || errors.Is(err, loadgen.ErrTLS) {
			return exitRun
		}
		return exitUsage
	}
	code = exitOK
	if err != nil { // a step could not run: report what was measured
		fmt.Fprintln(stderr, "hotload:", err)
		code = exitRun
	}
	loadgen.WriteRampSummary(stdout, res)
	if !writeFile(rr.json, func(w io.Writer) error { return loadgen.WriteRampJSON(w, res) }, stderr) ||
		!writeFile(rr.html, func(w io.Writer) error { _, err := io.WriteString(w, loadgen.RampHTML(res)); return err }, stderr) {
		code = exitRun
	}
	if rr.popts != nil {
		code = max(code, caps.keep(res, stdout, stderr))
	}
	if code == exitOK && res.Knee < 0 && !res.Interrupted {
		return exitFailIf
	}
	return code
}

// parseRamp parses ramp's flags. A nil rampRun comes with the exit status.
func parseRamp(args []string, stderr io.Writer) (*rampRun, int) {
	fs := newFlagSet("hotload ramp")
	rr := &rampRun{args: append([]string{"ramp"}, args...)}
	var (
		lf         loadFlags
		prof       pprofFlags
		slo        = fs.String("slo", "", "the objective every passing step meets, e.g. 'p99<10ms,errors<0.1%' (--fail-if's metrics)")
		step       = fs.String("step", "20%", "each step's rate over the last: 20% (a factor) or 500 (requests/s added)")
		resolution = fs.String("resolution", "2%", "--search: stop when the passing and failing rates are this close")
	)
	lf.register(fs, 64)
	lf.cfg.Warmup = time.Second
	fs.Float64Var(&rr.ramp.From, "from", 1000, "the first step's rate, requests/s")
	durationVar(fs, &rr.ramp.Hold, "hold", 10*time.Second, "each step's recorded period")
	fs.Float64Var(&rr.ramp.Max, "max", 0, "no step above this rate (0: none)")
	fs.BoolVar(&rr.ramp.Search, "search", false, "after the first failing step, bisect between the last passing and the first failing rate")
	fs.StringVar(&rr.json, "json", "", "write every step (figures and histograms) and the knee as JSON to FILE")
	fs.StringVar(&rr.html, "html", "", "write a self-contained latency-vs-throughput plot with the objective and the knee to FILE")
	prof.register(fs)

	positional, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, rampUsage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return nil, exitOK
	}
	usageErr := func(err error) (*rampRun, int) {
		fmt.Fprintln(stderr, "hotload ramp:", err)
		return nil, exitUsage
	}
	if err != nil {
		return usageErr(err)
	}
	if *slo == "" {
		return usageErr(errors.New("--slo is required, e.g. --slo 'p99<10ms,errors<0.1%'"))
	}
	if rr.ramp.Objective, err = loadgen.ParseObjective(*slo); err != nil {
		return usageErr(err)
	}
	if rr.ramp.Factor, rr.ramp.Add, err = loadgen.ParseStep(*step); err != nil {
		return usageErr(err)
	}
	if rr.ramp.Resolution, err = parseShare(*resolution); err != nil {
		return usageErr(fmt.Errorf("--resolution %s: %w", *resolution, err))
	}
	// The steps' rate and duration are the ramp's: check the load flags
	// with the first step's.
	lf.cfg.Rate, lf.cfg.Duration = rr.ramp.From, rr.ramp.Hold
	if rr.ramp.Config, err = lf.config(positional); err != nil {
		return usageErr(rampFlagError(err))
	}
	if err := rr.ramp.Check(); err != nil {
		return usageErr(rampFlagError(err))
	}
	cfg := rr.ramp.Config
	if rr.popts, err = prof.options(cfg, "--hold"); err != nil {
		return usageErr(err)
	}
	rr.profileName = prof.name
	return rr, exitOK
}

// parseShare parses "2%" or "0.02" as 0.02.
func parseShare(s string) (float64, error) {
	p, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(p, 64)
	if err != nil {
		return 0, errors.New("want a share such as 2%")
	}
	if pct {
		v /= 100
	}
	return v, nil
}

// rampFlagError names ramp's flags in a *loadgen.FieldError.
func rampFlagError(err error) error {
	var fe *loadgen.FieldError
	if errors.As(err, &fe) {
		if name, ok := rampFlagOf[fe.Field]; ok {
			return fmt.Errorf("%s %s: want %s", name, fe.Value, fe.Want)
		}
	}
	return flagError(err)
}

// stepCaptures takes the server's profiles during every step of a ramp
// and keeps those of the knee and of the passing step below it.
type stepCaptures struct {
	opts profiles.Options
	name string
	args []string
	dirs []string // per step, in order; "" when its capture failed
	errs []string
}

// run runs one step with a capture of its window.
func (sc *stepCaptures) run(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	opts := sc.opts
	opts.Window = cfg.Duration
	opts.Name = strings.Trim(fmt.Sprintf("%s-step%02d-%.0frps", sc.name, len(sc.dirs)+1, cfg.Rate), "-")
	c, err := profiles.New(ctx, opts)
	if err != nil {
		sc.dirs = append(sc.dirs, "")
		sc.errs = append(sc.errs, err.Error())
		return loadgen.Run(ctx, cfg)
	}
	cfg.WindowStart = c.Start
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		c.Abort()
		sc.dirs = append(sc.dirs, "")
		return nil, err
	}
	report, _ := res.Report()
	files := map[string][]byte{"summary.txt": summaryText(res)}
	if b, err := json.MarshalIndent(report, "", "  "); err == nil {
		files["report.json"] = b
	}
	_, err = c.Finish(profiles.Run{
		Command: append([]string{"hotload"}, sc.args...), Target: cfg.URL,
		Warmup: cfg.Warmup, Elapsed: res.Elapsed, Duration: cfg.Duration, Rate: cfg.Rate,
		Summary: profiles.Summary{
			Requests: res.Requests, Errors: res.ErrorCount(), RPS: res.RPS(),
			P50US: res.Latency.ValueAtQuantile(50), P99US: res.Latency.ValueAtQuantile(99), P999US: res.Latency.ValueAtQuantile(99.9),
			ClientCPUPerReqUS: float64(res.CPUPerRequest()) / 1e3,
		},
		Files: files,
	})
	if err != nil {
		sc.errs = append(sc.errs, fmt.Sprintf("step %d: %v", len(sc.dirs)+1, err))
	}
	sc.dirs = append(sc.dirs, c.Dir())
	return res, nil
}

// keep removes the run directories of every step but the knee and the
// passing step just below it, and says where those are. It returns exitRun
// when their profiles are missing.
func (sc *stepCaptures) keep(res *loadgen.RampResult, stdout, stderr io.Writer) int {
	want := map[int]string{}
	if res.Knee >= 0 {
		want[res.Knee] = "the knee"
		var below []int
		for i, s := range res.Steps {
			if s.Pass && s.Rate < res.Steps[res.Knee].Rate {
				below = append(below, i)
			}
		}
		if len(below) > 0 {
			prev := slices.MaxFunc(below, func(a, b int) int { return cmp.Compare(res.Steps[a].Rate, res.Steps[b].Rate) })
			want[prev] = "the step before the knee"
		}
	}
	for i, d := range sc.dirs {
		if _, ok := want[i]; !ok && d != "" {
			os.RemoveAll(d)
		}
	}
	code := exitOK
	for _, i := range slices.Sorted(maps.Keys(want)) {
		if i >= len(sc.dirs) || sc.dirs[i] == "" {
			fmt.Fprintf(stderr, "hotload: no profiles for %s (step %d)\n", want[i], i+1)
			code = exitRun
			continue
		}
		fmt.Fprintf(stdout, "Profiles of %s (step %d, %.0f req/s): %s\n", want[i], i+1, res.Steps[i].Rate, sc.dirs[i])
	}
	for _, e := range sc.errs {
		fmt.Fprintln(stderr, "hotload:", e)
	}
	return code
}
