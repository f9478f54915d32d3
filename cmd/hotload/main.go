// Command hotload is an HTTP/1.1 load generator in wrk's habits, with
// wrk2's constant-rate mode and coordinated-omission correction (logic in
// package loadgen).
//
//	hotload -c 256 -t 2 -d 30s http://127.0.0.1:8080/
//	hotload --h2 -c 64 -p 10 -d 30s http://127.0.0.1:8080/
//	hotload -c 64 -d 30s -R 50000 --json run.json --hgrm run.hgrm http://127.0.0.1:8080/
//	hotload --targets reqs.jsonl --fail-if 'p99>20ms,errors>0.1%' -d 10s
//	hotload compare before.json after.json
//	hotload merge a.json b.json --json all.json
//	hotload -c 64 --warmup 5s -d 30s --pprof http://127.0.0.1:9901 --profile-dir runs --name base http://127.0.0.1:8080/
//	hotload profile baseline save main runs/20261127T120301Z-base
//	hotload profile diff main runs/20261127T121502Z-pr42 --type cpu,allocs
//
// Exit status: 0 success, 1 the run could not be made (unreachable target
// or pprof endpoint, I/O, profiles not all taken), 2 bad usage, 3 a
// --fail-if condition held.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
	"github.com/hotpath/hotpath/loadgen"
	"github.com/hotpath/hotpath/profiles"
)

// Exit statuses.
const (
	exitOK     = 0
	exitRun    = 1
	exitUsage  = 2
	exitFailIf = 3
)

// Stamped by `make build` (-ldflags -X); see cmd/internal/buildinfo.
var version, commit, date string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: hotload [flags] URL
       hotload [flags] --targets FILE
       hotload compare A.json B.json
       hotload merge A.json B.json... [--json OUT] [--hgrm OUT]
       hotload profile baseline save NAME RUNDIR | baseline list | diff BASELINE RUNDIR

Flags (-flag and --flag are the same):
`

// headerList is a repeatable -H.
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// run is main without the process exit.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return compare(args[1:], stdout, stderr)
		case "merge":
			return merge(args[1:], stdout, stderr)
		case "profile":
			return profileCmd(ctx, args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("hotload", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		cfg      loadgen.Config
		headers  headerList
		prof     pprofFlags
		method   = fs.String("m", "GET", "request method")
		body     = fs.String("b", "", "request body")
		bodyFile = fs.String("body-file", "", "read the request body from FILE")
		targets  = fs.String("targets", "", "JSON lines of requests sent round robin: {\"method\",\"url\",\"headers\",\"body\"}")
		jsonOut  = fs.String("json", "", "write the report (config, figures, encoded histograms) as JSON to FILE")
		hgrmOut  = fs.String("hgrm", "", "write the corrected latency distribution in HdrHistogram .hgrm format (ms) to FILE")
		failIf   = fs.String("fail-if", "", "exit 3 when a condition holds, e.g. 'p99>20ms,errors>0.1%,rps<10000'")
		cpuProf  = fs.String("cpuprofile", "", "write hotload's own CPU profile to FILE")
	)
	fs.IntVar(&cfg.Connections, "c", 10, "connections (total)")
	fs.IntVar(&cfg.Threads, "t", 1, "threads: event loops, each on its own OS thread")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "duration of the recorded period")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "send for this long first without recording")
	fs.Float64Var(&cfg.Rate, "R", 0, "constant rate in requests/s over all connections (0: closed loop)")
	fs.IntVar(&cfg.Pipeline, "p", 1, "pipelining depth: requests in flight per connection")
	fs.BoolVar(&cfg.NoKeepAlive, "no-keepalive", false, "a new connection for every request")
	fs.BoolVar(&cfg.HTTP2, "h2", false, "HTTP/2 with prior knowledge (h2c); -p is then the streams in flight per connection")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "fail a request without a response after this long")
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	prof.register(fs)
	showVersion := fs.Bool("version", false, "print the version, commit and build date and exit")

	positional, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintln(stderr, "hotload:", err)
		return exitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, buildinfo.Line("hotload", version, commit, date))
		return exitOK
	}
	var conds []loadgen.Condition
	if *failIf != "" {
		if conds, err = loadgen.ParseFailIf(*failIf); err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			return exitUsage
		}
	}
	switch {
	case *targets != "" && len(positional) > 0:
		fmt.Fprintln(stderr, "hotload: give a URL or --targets, not both")
		return exitUsage
	case *targets == "" && len(positional) != 1:
		fmt.Fprintln(stderr, "hotload: want exactly one URL (hotload -h for help)")
		return exitUsage
	case *body != "" && *bodyFile != "":
		fmt.Fprintln(stderr, "hotload: give -b or --body-file, not both")
		return exitUsage
	}
	if *targets != "" {
		f, err := os.Open(*targets)
		if err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			return exitUsage
		}
		cfg.Targets, err = loadgen.ReadTargets(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			return exitUsage
		}
		cfg.URL = "targets " + *targets
	} else {
		b := *body
		if *bodyFile != "" {
			data, err := os.ReadFile(*bodyFile)
			if err != nil {
				fmt.Fprintln(stderr, "hotload:", err)
				return exitUsage
			}
			b = string(data)
		}
		t, err := loadgen.NewTarget(*method, positional[0], headers, b)
		if err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			return exitUsage
		}
		cfg.Targets, cfg.URL = []loadgen.Target{t}, positional[0]
	}
	if cfg.Connections < 1 || cfg.Threads < 1 || cfg.Duration <= 0 || cfg.Pipeline < 1 || cfg.Rate < 0 || cfg.Timeout <= 0 || cfg.Warmup < 0 {
		fmt.Fprintln(stderr, "hotload: -c, -t, -p must be >= 1; -d and --timeout > 0; -R and --warmup >= 0")
		return exitUsage
	}
	popts, err := prof.options(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitUsage
	}
	live := liveLine(stderr)
	if live != nil {
		cfg.Live = func(p loadgen.Progress) { live(p, cfg.Duration, cfg.Warmup) }
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			return exitRun
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			return exitRun
		}
		defer pprof.StopCPUProfile()
	}
	// The pprof endpoint is checked before the load starts; the capture
	// itself starts with the measured window.
	var capture *profiles.Capture
	if popts != nil {
		if capture, err = profiles.New(ctx, *popts); err != nil {
			fmt.Fprintln(stderr, "hotload:", err)
			if errors.Is(err, profiles.ErrOptions) {
				return exitUsage
			}
			return exitRun
		}
		for _, w := range capture.Warnings() {
			fmt.Fprintln(stderr, "hotload: warning:", w)
		}
		cfg.WindowStart = capture.Start
	}
	res, err := loadgen.Run(ctx, cfg)
	if live != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		if capture != nil {
			capture.Abort()
		}
		fmt.Fprintln(stderr, "hotload:", err)
		if errors.Is(err, loadgen.ErrUnreachable) {
			return exitRun
		}
		return exitUsage
	}
	var summary bytes.Buffer
	if err := loadgen.WriteSummary(io.MultiWriter(stdout, &summary), res); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	code := writeOutputs(res, *jsonOut, *hgrmOut, stderr)
	if capture != nil {
		// Profiles are kept even when --json or --hgrm could not be written.
		code = max(code, finishCapture(capture, args, cfg, res, summary.Bytes(), stdout, stderr))
	}
	if code != exitOK {
		return code
	}
	if failed := loadgen.CheckFailIf(conds, res); len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(stderr, "hotload:", f)
		}
		return exitFailIf
	}
	return exitOK
}

// parseInterleaved parses flags that may come after positional arguments
// (hotload URL -d 5s), as wrk accepts them.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// writeOutputs writes the --json and --hgrm files.
func writeOutputs(res *loadgen.Result, jsonOut, hgrmOut string, stderr io.Writer) int {
	write := func(path string, f func(io.Writer) error) bool {
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
	if !write(jsonOut, func(w io.Writer) error { return loadgen.WriteJSON(w, res) }) ||
		!write(hgrmOut, func(w io.Writer) error { return loadgen.WriteHgrm(w, res.Latency) }) {
		return exitRun
	}
	return exitOK
}

// liveLine returns the per-second progress printer when stderr is a
// terminal, nil otherwise.
func liveLine(stderr io.Writer) func(loadgen.Progress, time.Duration, time.Duration) {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return nil
	}
	var lastReq int64
	var last time.Duration
	return func(p loadgen.Progress, d, warm time.Duration) {
		rate := 0.0
		if dt := (p.Elapsed - last).Seconds(); dt > 0 {
			rate = float64(p.Requests-lastReq) / dt
		}
		lastReq, last = p.Requests, p.Elapsed
		phase := ""
		if p.Warmup {
			phase = " (warm-up)"
		}
		fmt.Fprintf(f, "\r\033[K[%5.1fs/%v]%s %10.0f req/s  errors %d  p99 %v",
			p.Elapsed.Seconds(), d+warm, phase, rate, p.Errors, p.P99)
	}
}

// readReports reads JSON reports named by paths.
func readReports(paths []string) ([]*loadgen.Result, error) {
	var out []*loadgen.Result
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		r, err := loadgen.ReadJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func compare(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "hotload: usage: hotload compare A.json B.json")
		return exitUsage
	}
	rs, err := readReports(args)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	if err := loadgen.Compare(stdout, args[0], args[1], rs[0], rs[1]); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	return exitOK
}

func merge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hotload merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	jsonOut := fs.String("json", "", "write the merged report to FILE")
	hgrmOut := fs.String("hgrm", "", "write the merged corrected distribution in .hgrm format to FILE")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		fmt.Fprintln(stderr, "hotload merge:", err)
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "hotload: usage: hotload merge A.json B.json... [--json OUT]")
		return exitUsage
	}
	rs, err := readReports(paths)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	m, err := loadgen.Merge(rs...)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	if err := loadgen.WriteSummary(stdout, m); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	return writeOutputs(m, *jsonOut, *hgrmOut, stderr)
}
