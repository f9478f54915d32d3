package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
	"github.com/hotpath/hotpath/loadgen"
	"github.com/hotpath/hotpath/profiles"
)

// outputFlags are where a run's results go besides stdout.
type outputFlags struct {
	json, hgrm, failIf, cpuProfile string
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.json, "json", "", "write the report (config, figures, encoded histograms) as JSON to FILE")
	fs.StringVar(&o.hgrm, "hgrm", "", "write the corrected latency distribution in HdrHistogram .hgrm format (ms) to FILE")
	fs.StringVar(&o.failIf, "fail-if", "", "exit 3 when a condition holds, e.g. 'p99>20ms,errors>0.1%,rps<10000'")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write hotload's own CPU profile to FILE")
}

// loadRun is a plain run as its flags describe it.
type loadRun struct {
	args  []string
	cfg   loadgen.Config
	out   outputFlags
	conds []loadgen.Condition
	popts *profiles.Options
}

// load is `hotload [flags] URL`.
func load(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	lr, code := parseLoad(args, stdout, stderr)
	if lr == nil {
		return code
	}
	if lr.out.cpuProfile != "" {
		stop, err := startCPUProfile(lr.out.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			return exitRun
		}
		defer stop()
	}
	// The pprof endpoint is checked before the load starts; the capture
	// itself starts with the measured window.
	var capture *profiles.Capture
	if lr.popts != nil {
		var code int
		if capture, code = newCapture(ctx, *lr.popts, stderr); capture == nil {
			return code
		}
		lr.cfg.WindowStart = capture.Start
	}
	res, err := runWithProgress(ctx, lr.cfg, stdout, stderr)
	if err != nil {
		if capture != nil {
			capture.Abort()
		}
		fmt.Fprintln(stderr, "hotload:", flagError(err))
		if errors.Is(err, loadgen.ErrUnreachable) || errors.Is(err, loadgen.ErrTLS) {
			return exitRun
		}
		return exitUsage
	}
	return lr.finish(res, capture, stdout, stderr)
}

// parseLoad parses a plain run's flags. A nil loadRun comes with the exit
// status (help printed, or a usage error reported).
func parseLoad(args []string, stdout, stderr io.Writer) (*loadRun, int) {
	fs := newFlagSet("hotload")
	lr := &loadRun{args: args}
	var lf loadFlags
	var prof pprofFlags
	lf.register(fs, 10)
	durationVar(fs, &lf.cfg.Duration, "d", 10*time.Second, "duration of the recorded period")
	fs.Float64Var(&lf.cfg.Rate, "R", 0, "constant rate in requests/s over all connections (0: closed loop)")
	lr.out.register(fs)
	prof.register(fs)
	showVersion := fs.Bool("version", false, "print the version, commit and build date and exit")

	positional, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return nil, exitOK
	}
	usageErr := func(err error) (*loadRun, int) {
		fmt.Fprintln(stderr, "hotload:", err)
		return nil, exitUsage
	}
	if err != nil {
		return usageErr(err)
	}
	if *showVersion {
		fmt.Fprintln(stdout, buildinfo.Line("hotload", version, commit, date))
		return nil, exitOK
	}
	if lr.out.failIf != "" {
		if lr.conds, err = loadgen.ParseFailIf(lr.out.failIf); err != nil {
			return usageErr(err)
		}
	}
	if lr.cfg, err = lf.config(positional); err != nil {
		return usageErr(flagError(err))
	}
	if lr.popts, err = prof.options(lr.cfg, "-d"); err != nil {
		return usageErr(err)
	}
	return lr, exitOK
}

// finish prints and writes the results of a run and returns the exit
// status.
func (lr *loadRun) finish(res *loadgen.Result, capture *profiles.Capture, stdout, stderr io.Writer) int {
	if err := loadgen.WriteFigures(stdout, res); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	code := writeOutputs(res, lr.out.json, lr.out.hgrm, stderr)
	if capture != nil {
		// Profiles are kept even when --json or --hgrm could not be written.
		code = max(code, finishCapture(capture, lr.args, lr.cfg, res, stdout, stderr))
	}
	if err := res.NoResponse(); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		code = max(code, exitRun)
	}
	if code != exitOK {
		return code
	}
	if failed := loadgen.CheckFailIf(lr.conds, res); len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(stderr, "hotload:", f)
		}
		return exitFailIf
	}
	return exitOK
}

// startCPUProfile profiles hotload itself into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// runWithProgress runs cfg, printing the run's header on stdout when the
// load starts and its progress on stderr while it runs (progressPrinter).
func runWithProgress(ctx context.Context, cfg loadgen.Config, stdout, stderr io.Writer) (*loadgen.Result, error) {
	p := newProgressPrinter(stderr, cfg.Warmup+cfg.Duration)
	cfg.Live = func(pr loadgen.Progress) {
		if pr.Elapsed == 0 {
			loadgen.WriteHeader(stdout, cfg)
		}
		p.print(pr)
	}
	res, err := loadgen.Run(ctx, cfg)
	p.end()
	return res, err
}

// progressEvery is how often a progress line is printed when stderr is not
// a terminal (a log file, CI).
const progressEvery = 5 * time.Second

// progressPrinter shows a run's progress on stderr: on a terminal a live
// line rewritten every second, elsewhere a line every progressEvery.
type progressPrinter struct {
	w       io.Writer
	tty     bool
	total   time.Duration // warm-up + duration
	next    time.Duration // not a terminal: when the next line is due
	lastReq int64
	last    time.Duration
	shown   bool // a live line is on screen
}

func newProgressPrinter(stderr io.Writer, total time.Duration) *progressPrinter {
	return &progressPrinter{w: stderr, tty: isTerminal(stderr), total: total, next: progressEvery}
}

// print shows p (called by loadgen.Run: once at the start, then about
// every second).
func (pp *progressPrinter) print(p loadgen.Progress) {
	rate := 0.0
	if dt := (p.Elapsed - pp.last).Seconds(); dt > 0 {
		rate = float64(p.Requests-pp.lastReq) / dt
	}
	if p.Elapsed == 0 || (!pp.tty && p.Elapsed < pp.next) {
		return
	}
	pp.lastReq, pp.last = p.Requests, p.Elapsed
	phase := ""
	if p.Warmup {
		phase = " (warm-up)"
	}
	line := fmt.Sprintf("[%5.1fs/%v]%s %10.0f req/s  errors %d  p99 %v", p.Elapsed.Seconds(), pp.total, phase, rate, p.Errors, p.P99)
	if pp.tty {
		fmt.Fprint(pp.w, "\r\033[K"+line)
		pp.shown = true
		return
	}
	for pp.next <= p.Elapsed {
		pp.next += progressEvery
	}
	fmt.Fprintln(pp.w, "hotload: "+line)
}

// end clears the live line.
func (pp *progressPrinter) end() {
	if pp.shown {
		fmt.Fprint(pp.w, "\r\033[K")
		pp.shown = false
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// writeOutputs writes the --json and --hgrm files.
func writeOutputs(res *loadgen.Result, jsonOut, hgrmOut string, stderr io.Writer) int {
	if !writeFile(jsonOut, func(w io.Writer) error { return loadgen.WriteJSON(w, res) }, stderr) ||
		!writeFile(hgrmOut, func(w io.Writer) error { return loadgen.WriteHgrm(w, res.Latency) }, stderr) {
		return exitRun
	}
	return exitOK
}

// writeFile writes path with f (nothing when path is empty) and reports a
// failure on stderr.
func writeFile(path string, f func(io.Writer) error, stderr io.Writer) bool {
	if path == "" {
		return true
	}
	out, err := os.Create(path)
	if err == nil {
		err = f(out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return false
	}
	return true
}

// summaryText is the text report of res (header and figures), as
// summary.txt in a profile run directory.
func summaryText(res *loadgen.Result) []byte {
	var b bytes.Buffer
	_ = loadgen.WriteSummary(&b, res)
	return b.Bytes()
}
