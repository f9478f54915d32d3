// Command harness runs hotpath beside nginx and HAProxy (package bench) and
// writes results.md, results.json and latency.html to a results directory.
// `make bench` runs it; every flag also has a BENCH_* environment variable.
//
//	go run ./bench/cmd/harness                          # everything: 3 rounds × 10 s
//	go run ./bench/cmd/harness -quick                   # smoke test: 1 round × 1 s
//	go run ./bench/cmd/harness -rounds 2 -d 5s -scenarios passthrough_small,gzip
//	BENCH_CONTENDERS=hotpath,nginx make bench
//	go run ./bench/cmd/harness -list                    # scenario names
//	go run ./bench/cmd/harness -set features -rounds 3 -d 5s    # each feature's cost over the plain proxy
//	go run ./bench/cmd/harness -set knee -slo 'p99<5ms' -d 5s   # the knee of each contender (hotload ramp)
//	go run ./bench/cmd/harness -scenarios idle_conns -idle-conns 10000  # RSS per idle client connection
//	go run ./bench/cmd/harness -bin-b /tmp/old-bin -name-b hotpath-old  # A/B of two hotpath builds, interleaved
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hotpath/hotpath/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env returns the environment variable key, or def when it is unset.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(key, "")); err == nil {
		return d
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(env(key, "")); err == nil {
		return n
	}
	return def
}

func list(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// run is main without the process exit.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o bench.Options
	fs.StringVar(&o.Bin, "bin", env("BENCH_BIN", "bin"), "directory with hotpath, hotecho and hotload (BENCH_BIN)")
	fs.StringVar(&o.BinB, "bin-b", env("BENCH_BIN_B", ""), "directory with a second hotpath binary, run as one more contender (-name-b) with hotpath's config: an interleaved A/B of two builds (BENCH_BIN_B)")
	fs.StringVar(&o.NameB, "name-b", env("BENCH_NAME_B", ""), "the second hotpath's contender name (BENCH_NAME_B; default hotpath-b)")
	fs.IntVar(&o.IdleConns, "idle-conns", envInt("BENCH_IDLE_CONNS", 0), "client connections held open in idle_conns (BENCH_IDLE_CONNS; default 10000)")
	fs.StringVar(&o.Out, "out", env("BENCH_OUT", ""), "results directory (BENCH_OUT; default bench/results/<date>_<time>)")
	fs.DurationVar(&o.Duration, "d", envDuration("BENCH_DURATION", 0), "measured run length (BENCH_DURATION; default 10s, quick 1s)")
	fs.DurationVar(&o.Warmup, "warmup", envDuration("BENCH_WARMUP", 0), "warm-up before each measured run, -1s for none (BENCH_WARMUP; default 2s, quick 250ms)")
	fs.IntVar(&o.Rounds, "rounds", envInt("BENCH_ROUNDS", 0), "interleaved rounds (BENCH_ROUNDS; default 3, quick 1)")
	fs.IntVar(&o.Connections, "c", envInt("BENCH_CONNS", 0), "hotload connections (BENCH_CONNS; default 64, quick 16)")
	scenarios := fs.String("scenarios", env("BENCH_SCENARIOS", ""), "comma-separated scenarios, or features with -set features, or the one scenario of -set knee (BENCH_SCENARIOS; default all, see -list)")
	contenders := fs.String("contenders", env("BENCH_CONTENDERS", ""), "comma-separated contenders: nginx,haproxy,hotpath (BENCH_CONTENDERS; default all)")
	fs.StringVar(&o.ServerCPU, "server-cpu", env("BENCH_SERVER_CPU", "0"), "taskset CPUs of the server under test, or none (BENCH_SERVER_CPU)")
	fs.StringVar(&o.ClientCPU, "client-cpu", env("BENCH_CLIENT_CPU", "1"), "taskset CPUs of hotload and hotecho, or none (BENCH_CLIENT_CPU)")
	fs.IntVar(&o.Nice, "nice", envInt("BENCH_NICE", 0), "run servers, hotecho and hotload under nice -n N; negative (root) shields them from other work (BENCH_NICE)")
	fs.StringVar(&o.Set, "set", env("BENCH_SET", ""), "what to measure: the scenarios (default), features (each feature's cost over the plain proxy) or knee (hotload ramp per contender) (BENCH_SET)")
	fs.StringVar(&o.Knee.SLO, "slo", env("BENCH_SLO", ""), "-set knee: the objective (BENCH_SLO; default p99<5ms)")
	fs.Float64Var(&o.Knee.From, "from", 0, "-set knee: the ramp's first rate (default 10000)")
	fs.StringVar(&o.Knee.Step, "step", "", "-set knee: each step's increase, 20% or +500 (default 20%)")
	fs.BoolVar(&o.Knee.NoSearch, "no-search", false, "-set knee: no bisection after the first failing step")
	quick := fs.Bool("quick", env("BENCH_QUICK", "") != "", "smoke test: 1 round of 1 s, 16 connections (BENCH_QUICK=1)")
	noInstall := fs.Bool("no-install", env("BENCH_NO_INSTALL", "") != "", "never apt-get install missing peers (BENCH_NO_INSTALL=1)")
	listOnly := fs.Bool("list", false, "print the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "harness: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *listOnly {
		if o.Set == bench.SetFeatures {
			for _, f := range bench.FeatureSet() {
				fmt.Fprintf(stdout, "%-12s %s\n", f.Name, f.Desc)
			}
			return 0
		}
		for _, s := range bench.Scenarios() {
			fmt.Fprintf(stdout, "%-18s %s\n", s.Name, s.Desc)
		}
		return 0
	}
	o.Scenarios, o.Contenders = list(*scenarios), list(*contenders)
	if o.Set == bench.SetKnee && len(o.Scenarios) > 0 {
		o.Knee.Scenario = o.Scenarios[0]
	}
	o.Install = !*noInstall
	o.Log = stdout
	if *quick {
		o = o.Quick()
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, rep.Markdown())
	dir, _ := filepath.Abs(rep.Dir)
	fmt.Fprintf(stdout, "\nresults: %s/{results.md,results.json,latency.html}\n", dir)
	return 0
}
