// Command hotecho is a fast benchmark upstream on fasthttp (logic in package
// echoserver). It prints one line with its address on start and stops
// gracefully on SIGINT or SIGTERM.
//
//	hotecho                                  # 127.0.0.1:9001, 13-byte body
//	hotecho -addr 127.0.0.1:9002 --size 65536 --chunked
//	hotecho --delay 5ms --jitter 1ms --jitter-dist exponential
//	hotecho --status-mix 200:98,503:2 --stall 200ms/5s
//	hotecho --echo
//	hotecho --grpc                           # grpc-go's health service (gRPC benchmarks)
//	hotecho --h2c                            # HTTP/2 with prior knowledge too (Go's net/http)
//
// /healthz always answers 200.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
	"github.com/hotpath/hotpath/echoserver"
	"github.com/hotpath/hotpath/fdlimit"
)

// Stamped by `make build` (-ldflags -X); see cmd/internal/buildinfo.
var version, commit, date string

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop, nil))
}

// run is main without the process exit. It serves until stop yields; ready,
// when not nil, receives the bound address once serving.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal, ready chan<- string) int {
	fs := flag.NewFlagSet("hotecho", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9001", "listen address")
	size := fs.Int("size", echoserver.DefaultSize, "body size in bytes")
	chunked := fs.Bool("chunked", false, "send bodies with Transfer-Encoding: chunked")
	chunkSize := fs.Int("chunk-size", 16<<10, "largest chunk in bytes with --chunked")
	delay := fs.Duration("delay", 0, "delay before every response (e.g. 1ms)")
	jitter := fs.Duration("jitter", 0, "jitter added to --delay")
	dist := fs.String("jitter-dist", "uniform", "jitter distribution: uniform (±jitter), normal (stddev jitter), exponential (mean jitter)")
	mix := fs.String("status-mix", "", "statuses by weight, e.g. 200:98,503:2 (default all 200)")
	echo := fs.Bool("echo", false, "answer with the request (request line, headers, body)")
	stall := fs.String("stall", "", "hold all responses for PAUSE at the start of every EVERY window, e.g. 200ms/5s")
	grpcFlag := fs.Bool("grpc", false, "serve grpc-go's standard health service (grpc.health.v1.Health) instead of HTTP bodies")
	h2c := fs.Bool("h2c", false, "serve HTTP/2 over cleartext (prior knowledge) beside HTTP/1.1, on Go's net/http server")
	showVersion := fs.Bool("version", false, "print the version, commit and build date and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, buildinfo.Line("hotecho", version, commit, date))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hotecho: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := echoserver.Config{Size: *size, Chunked: *chunked, ChunkSize: *chunkSize, Delay: *delay, Jitter: *jitter, Echo: *echo, H2C: *h2c, GRPC: *grpcFlag}
	var err error
	if cfg.JitterDist, err = echoserver.ParseDist(*dist); err != nil {
		fmt.Fprintln(stderr, "hotecho:", err)
		return 2
	}
	if cfg.StatusMix, err = echoserver.ParseStatusMix(*mix); err != nil {
		fmt.Fprintln(stderr, "hotecho:", err)
		return 2
	}
	if cfg.Stall, err = echoserver.ParseStall(*stall); err != nil {
		fmt.Fprintln(stderr, "hotecho:", err)
		return 2
	}
	srv, err := echoserver.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "hotecho:", err)
		return 2
	}
	if l, err := fdlimit.Raise(); err != nil {
		fmt.Fprintf(stderr, "hotecho: cannot raise the open-file limit from %d to %d: %v\n", l.Soft, l.Hard, err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "hotecho:", err)
		return 1
	}
	fmt.Fprintf(stdout, "hotecho listening on http://%s (%s)\n", ln.Addr(), cfg.Describe())
	done := make(chan error, 1)
	srv.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	go func() { done <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "hotecho:", err)
		return 1
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Fprintln(stderr, "hotecho: shutdown:", err)
	}
	<-done
	return 0
}
