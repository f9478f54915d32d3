// Command hotload is an HTTP/1.1 load generator in wrk's habits, with
// wrk2's constant-rate mode and coordinated-omission correction (logic in
// package loadgen).
//
//	hotload -c 256 -t 2 -d 30s http://127.0.0.1:8080/
//	hotload --h2 -c 64 -p 10 -d 30s http://127.0.0.1:8080/
//	hotload -c 64 -d 30s -R 50000 --json run.json --hgrm run.hgrm http://127.0.0.1:8080/
//	hotload --targets reqs.jsonl --fail-if 'p99>20ms,errors>0.1%' -d 10s
//	hotload -c 64 -d 30s --no-keepalive --cacert ca.pem https://example.test:8443/
//	hotload ramp --slo 'p99<10ms,errors<0.1%' --from 1000 --step 20% --hold 10s --html ramp.html http://127.0.0.1:8080/
//	hotload compare before.json after.json
//	hotload merge a.json b.json --json all.json
//	hotload -c 64 --warmup 5s -d 30s --pprof http://127.0.0.1:9901 --profile-dir runs --name base http://127.0.0.1:8080/
//	hotload profile baseline save main runs/20261127T120301Z-base
//	hotload profile diff main runs/20261127T121502Z-pr42 --type cpu,allocs
//
// Exit status: 0 success, 1 the run could not be made or got no response
// at all (unreachable target, failed TLS handshake or pprof endpoint, every
// request failed, I/O, profiles not all taken), 2 bad usage, 3 a --fail-if
// condition held (for ramp: no step met the objective).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
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
       hotload ramp --slo 'p99<10ms,errors<0.1%' [--from R] [--step 20%] [--hold 10s] [--search] [flags] URL
       hotload compare A.json B.json
       hotload merge A.json B.json... [--json OUT] [--hgrm OUT]
       hotload profile baseline save NAME RUNDIR | baseline list | diff BASELINE RUNDIR

Flags (-flag and --flag are the same):
`

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
		case "ramp":
			return ramp(ctx, args[1:], stdout, stderr)
		}
	}
	return load(ctx, args, stdout, stderr)
}
