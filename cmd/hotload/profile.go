package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotpath/hotpath/loadgen"
	"github.com/hotpath/hotpath/profiles"
)

// defaultProfileDir is where runs and baselines go without --profile-dir.
const defaultProfileDir = "runs"

// pprofFlags are the flags of a run that captures the server's profiles.
type pprofFlags struct {
	url, dir, kinds, name, tokenFile string
	trace                            time.Duration
}

func (p *pprofFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.url, "pprof", "", "capture the server's pprof profiles during the measured window from this base URL, e.g. http://127.0.0.1:9901 (hotpath's admin)")
	fs.StringVar(&p.dir, "profile-dir", "", "with --pprof: keep each run in DIR/<run id>/ (default "+defaultProfileDir+")")
	fs.StringVar(&p.kinds, "profiles", "", "with --pprof: profiles to take, from cpu,heap,allocs,mutex,block,goroutine,trace (default all but trace)")
	fs.DurationVar(&p.trace, "trace", 0, "with --pprof: also take a runtime trace this long from the window's start, e.g. 1s")
	fs.StringVar(&p.name, "name", "", "with --pprof: a label for the run directory, e.g. base or pr42")
	fs.StringVar(&p.tokenFile, "pprof-token-file", "", "with --pprof: send the bearer token in FILE (hotpath's admin.token_file)")
}

// options turns the flags into capture options for cfg's window (set by
// the flag windowFlag), or returns nil when --pprof is not given; an error
// is a usage error.
func (p *pprofFlags) options(cfg loadgen.Config, windowFlag string) (*profiles.Options, error) {
	if p.url == "" {
		if p.dir != "" || p.kinds != "" || p.trace != 0 || p.name != "" || p.tokenFile != "" {
			return nil, errors.New("--profile-dir, --profiles, --trace, --name and --pprof-token-file need --pprof")
		}
		return nil, nil
	}
	if cfg.Duration%time.Second != 0 {
		return nil, fmt.Errorf("with --pprof, %s must be whole seconds (the CPU profile's unit), got %v", windowFlag, cfg.Duration)
	}
	if p.trace < 0 || p.trace > cfg.Duration {
		return nil, fmt.Errorf("--trace %v must be within the measured window (%s %v)", p.trace, windowFlag, cfg.Duration)
	}
	opts := &profiles.Options{BaseURL: p.url, Dir: p.dir, Name: p.name, Window: cfg.Duration, Trace: p.trace}
	if p.tokenFile != "" {
		b, err := os.ReadFile(p.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--pprof-token-file: %w", err)
		}
		if opts.Token = strings.TrimSpace(string(b)); opts.Token == "" {
			return nil, fmt.Errorf("--pprof-token-file: %s is empty", p.tokenFile)
		}
	}
	if opts.Dir == "" {
		opts.Dir = defaultProfileDir
	}
	if p.kinds != "" {
		kinds, err := profiles.ParseKinds(p.kinds)
		if err != nil {
			return nil, err
		}
		opts.Kinds = kinds
	}
	return opts, nil
}

// newCapture probes the pprof endpoint and prepares the capture; on failure
// it reports why and returns nil with the exit status.
func newCapture(ctx context.Context, opts profiles.Options, stderr io.Writer) (*profiles.Capture, int) {
	c, err := profiles.New(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		if errors.Is(err, profiles.ErrOptions) {
			return nil, exitUsage
		}
		return nil, exitRun
	}
	for _, w := range c.Warnings() {
		fmt.Fprintln(stderr, "hotload: warning:", w)
	}
	return c, exitOK
}

// finishCapture completes c with the run's results and reports where they
// are. It returns exitRun when profiles are missing.
func finishCapture(c *profiles.Capture, args []string, cfg loadgen.Config, res *loadgen.Result, stdout, stderr io.Writer) int {
	var report, hgrm bytes.Buffer
	if err := loadgen.WriteJSON(&report, res); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	if err := loadgen.WriteHgrm(&hgrm, res.Latency); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	m, err := c.Finish(profiles.Run{
		Command: append([]string{"hotload"}, args...), Target: cfg.URL,
		Warmup: cfg.Warmup, Elapsed: res.Elapsed, Duration: cfg.Duration, Rate: cfg.Rate,
		Summary: profiles.Summary{
			Requests: res.Requests, Errors: res.ErrorCount(), RPS: res.RPS(),
			P50US: res.Latency.ValueAtQuantile(50), P99US: res.Latency.ValueAtQuantile(99), P999US: res.Latency.ValueAtQuantile(99.9),
			ClientCPUPerReqUS: float64(res.CPUPerRequest()) / 1e3,
		},
		Files: map[string][]byte{"report.json": report.Bytes(), "summary.txt": summaryText(res), "latency.hgrm": hgrm.Bytes()},
	})
	if m != nil {
		fmt.Fprintf(stdout, "Profiles: %s", c.Dir())
		if s := m.Summary; s.ServerCPUPerReqUS > 0 {
			fmt.Fprintf(stdout, " (server CPU %.2fus/request)", s.ServerCPUPerReqUS)
		}
		fmt.Fprintln(stdout)
		for _, w := range m.Warnings {
			fmt.Fprintln(stderr, "hotload: warning:", w)
		}
	}
	if err != nil {
		if m == nil {
			fmt.Fprintln(stderr, "hotload:", err)
		}
		for _, e := range m.Errors {
			fmt.Fprintln(stderr, "hotload:", e)
		}
		return exitRun
	}
	return exitOK
}

const profileUsage = `usage: hotload profile baseline save NAME RUNDIR [--profile-dir DIR]
       hotload profile baseline list [--profile-dir DIR]
       hotload profile diff BASELINE RUNDIR [--top 20] [--type cpu,allocs|all] [--builtin] [--profile-dir DIR]

Baselines live in DIR/baselines/NAME/. DIR is --profile-dir when given,
else the directory that holds RUNDIR (save, diff), else ./` + defaultProfileDir + ` (list).
BASELINE is a baseline's name, or a run or baseline directory (a path with a /).
`

// profileArgs are the parsed arguments of `hotload profile ...`.
type profileArgs struct {
	pos     []string
	dir     string
	top     int
	types   string
	builtin bool
	ctx     context.Context
	stdout  io.Writer
	stderr  io.Writer
}

// root is the profile directory: --profile-dir, else the directory that
// holds runDir, else the default.
func (a *profileArgs) root(runDir string) string {
	if a.dir != "" {
		return a.dir
	}
	if runDir != "" {
		return filepath.Dir(filepath.Clean(runDir))
	}
	return defaultProfileDir
}

// usage reports a usage error (or prints the usage when msg is empty).
func (a *profileArgs) usage(msg string) int {
	if msg == "" {
		fmt.Fprint(a.stderr, profileUsage)
	} else {
		fmt.Fprintln(a.stderr, "hotload profile:", msg)
	}
	return exitUsage
}

// fail reports an error: a usage error when it wraps profiles.ErrOptions.
func (a *profileArgs) fail(err error) int {
	if errors.Is(err, profiles.ErrOptions) {
		return a.usage(err.Error())
	}
	fmt.Fprintln(a.stderr, "hotload:", err)
	return exitRun
}

// profileCmd is `hotload profile ...`.
func profileCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &profileArgs{ctx: ctx, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		return a.usage("")
	}
	fs := newFlagSet("hotload profile")
	fs.StringVar(&a.dir, "profile-dir", "", "the profile directory (see above)")
	fs.IntVar(&a.top, "top", 20, "diff: functions shown per profile")
	fs.StringVar(&a.types, "type", "cpu", "diff: profiles to diff, e.g. cpu,allocs, or all that both runs have")
	fs.BoolVar(&a.builtin, "builtin", false, "diff: compute in-process even when go tool pprof is available")
	help := func() int {
		fmt.Fprint(stderr, profileUsage+"\nFlags:\n")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return exitOK
	}
	cmd := args[0]
	switch cmd {
	case "-h", "-help", "--help", "help":
		return help()
	case "baseline":
		if len(args) < 2 {
			return a.usage("baseline wants save or list")
		}
		cmd += " " + args[1]
		args = args[1:]
	}
	var err error
	a.pos, err = parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return help()
	}
	if err != nil {
		return a.usage(err.Error())
	}
	switch cmd {
	case "baseline save":
		return a.baselineSave()
	case "baseline list":
		return a.baselineList()
	case "diff":
		return a.diff()
	}
	return a.usage(fmt.Sprintf("unknown command %q", cmd))
}

// baselineSave is `hotload profile baseline save NAME RUNDIR`.
func (a *profileArgs) baselineSave() int {
	if len(a.pos) != 2 {
		return a.usage("want: baseline save NAME RUNDIR")
	}
	d, err := profiles.SaveBaseline(a.root(a.pos[1]), a.pos[0], a.pos[1])
	if err != nil {
		return a.fail(err)
	}
	fmt.Fprintf(a.stdout, "baseline %s saved in %s\n", a.pos[0], d)
	return exitOK
}

// baselineList is `hotload profile baseline list`.
func (a *profileArgs) baselineList() int {
	if len(a.pos) != 0 {
		return a.usage("want: baseline list [--profile-dir DIR]")
	}
	bs, err := profiles.Baselines(a.root(""))
	if err != nil {
		return a.fail(err)
	}
	if len(bs) == 0 {
		fmt.Fprintf(a.stdout, "no baselines in %s\n", filepath.Join(a.root(""), profiles.BaselinesDir))
		return exitOK
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tSAVED\tRUN\tREQ/S\tP99\tSERVER CPU US/REQ\tPROFILES\n")
	for _, b := range bs {
		m := b.Manifest
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%.2f\t%d\n", b.Name, b.Saved.Local().Format(time.DateTime), m.ID,
			m.Summary.RPS, time.Duration(m.Summary.P99US)*time.Microsecond, m.Summary.ServerCPUPerReqUS, len(m.Profiles))
	}
	tw.Flush()
	return exitOK
}

// diff is `hotload profile diff BASELINE RUNDIR`.
func (a *profileArgs) diff() int {
	if len(a.pos) != 2 {
		return a.usage("want: diff BASELINE RUNDIR")
	}
	if a.top < 1 {
		return a.usage("--top must be >= 1")
	}
	opts := profiles.DiffOptions{Top: a.top, Builtin: a.builtin}
	var err error
	if a.types != "all" {
		if opts.Kinds, err = profiles.ParseKinds(a.types); err != nil {
			return a.usage(err.Error())
		}
	}
	baseDir, runDir := a.pos[0], a.pos[1]
	if filepath.Base(baseDir) == baseDir { // a name
		b, err := profiles.OpenBaseline(a.root(runDir), baseDir)
		if err != nil {
			return a.fail(err)
		}
		baseDir = b.Dir
	}
	bm, err1 := profiles.ReadManifest(baseDir)
	rm, err2 := profiles.ReadManifest(runDir)
	if err := errors.Join(err1, err2); err != nil {
		return a.fail(err)
	}
	for _, m := range profiles.Mismatch(bm, rm) {
		fmt.Fprintln(a.stderr, "hotload: warning:", m)
	}
	if a.types == "all" {
		for _, k := range profiles.AllKinds {
			if bm.Has(k) && rm.Has(k) {
				opts.Kinds = append(opts.Kinds, k)
			}
		}
	}
	if err := profiles.Diff(a.ctx, a.stdout, baseDir, runDir, opts); err != nil {
		return a.fail(err)
	}
	return exitOK
}
