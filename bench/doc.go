// Package bench puts hotpath beside nginx and HAProxy: end-to-end scenarios
// run with equivalent configurations, interleaved, pinned to cores, and
// reported as medians with ranges and ratios against nginx.
//
// One Run starts hotecho as the upstream for each scenario, renders a config
// for every contender from the templates under templates/ (hotpath YAML,
// nginx.conf, haproxy.cfg) into a scratch directory, checks each config with
// the contender's own checker, starts the contenders and drives them in turn
// with hotload (A B C A B C … for Options.Rounds rounds). Each measured run
// is preceded by a warm-up run. The server under test is pinned to one core
// and hotload and hotecho to another; every contender runs one worker.
//
// Per run it records requests per second, latency percentiles (from
// hotload's JSON report), errors, and the server's CPU time per request:
// utime+stime from /proc/<pid>/stat summed over the contender's processes
// (nginx's master and worker), the delta over the measured run divided by
// the requests it answered.
//
// Two other sets reuse the same machinery (Options.Set). The feature set
// (features.go) measures what each gateway feature adds to the plain proxy:
// every feature's run follows a run of its baseline on the same contender
// in every round, and the difference per round is summarized; nginx and
// HAProxy are measured the same way for the features they have. The knee
// set (knee.go) runs `hotload ramp` against each contender in turn and
// samples the server's CPU meanwhile, so that each step says whether the
// server's core was saturated.
//
//	rep, err := bench.Run(ctx, bench.Options{Bin: "bin", Out: "bench/results/x"})
//	if err != nil { ... }
//	fmt.Println(rep.Dir) // results.md, results.json, latency.html, raw/, configs/
//
// The gateway never imports this package; cmd/harness wires it for
// `make bench`.
package bench
