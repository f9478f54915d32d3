// Command grpcstream measures messages per second through one
// bidirectional gRPC stream (issue 14's grpc_stream, a make bench
// scenario): a client that keeps -window messages in flight on one stream
// to an echo server (hotecho --grpc's bench.Stream/Bidi, or its own with
// -serve) for -d, and reports the messages it got back per second and the
// round trip of each message (sent to echoed back) as an HDR histogram.
//
//	grpcstream -serve 127.0.0.1:21200 &
//	grpcstream -addr 127.0.0.1:8080 -d 5s    # through the proxy under test
//	grpcstream -addr 127.0.0.1:8080 -d 5s -json run.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hotpath/hotpath/echoserver"
)

func main() {
	serve := flag.String("serve", "", "run the echo server on this address")
	addr := flag.String("addr", "", "measure through this address")
	d := flag.Duration("d", 5*time.Second, "how long to measure")
	window := flag.Int("window", 100, "messages in flight")
	size := flag.Int("size", 32, "message size in bytes")
	jsonOut := flag.String("json", "", "also write the figures to this file as JSON")
	flag.Parse()
	if err := run(*serve, *addr, *d, *window, *size, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "grpcstream:", err)
		os.Exit(1)
	}
}

// Result is what -json writes.
type Result struct {
	Messages int64   `json:"messages"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"messages_per_second"`
	P50US    int64   `json:"p50_us"` // a message's round trip
	P99US    int64   `json:"p99_us"`
	P999US   int64   `json:"p999_us"`
	MaxUS    int64   `json:"max_us"`
	CPUNS    int64   `json:"cpu_ns"` // this process's user+system CPU time over the run
}

func run(serve, addr string, d time.Duration, window, size int, jsonOut string) error {
	if serve != "" {
		ln, err := net.Listen("tcp", serve)
		if err != nil {
			return err
		}
		s := grpc.NewServer()
		s.RegisterService(&echoserver.StreamService, struct{}{})
		return s.Serve(ln)
	}
	if addr == "" || window < 1 || size < 0 {
		return fmt.Errorf("-addr (or -serve) is required, -window at least 1, -size at least 0")
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(echoserver.RawCodec{})))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, echoserver.StreamMethod)
	if err != nil {
		return err
	}
	// Messages come back in the order they were sent: sent[i%window] is
	// when the message now i-th in flight left.
	sent := make([]time.Time, window)
	hist := hdrhistogram.New(1, 60_000_000, 3)
	msg := make([]byte, size)
	cpu0 := cpuTime()
	start := time.Now()
	for i := range window {
		sent[i] = time.Now()
		if err := st.SendMsg(&msg); err != nil {
			return err
		}
	}
	var n int64
	var in []byte
	for time.Since(start) < d {
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		now := time.Now()
		slot := n % int64(window)
		_ = hist.RecordValue(max(now.Sub(sent[slot]).Microseconds(), 1))
		n++
		sent[slot] = now
		if err := st.SendMsg(&msg); err != nil {
			return err
		}
	}
	secs := time.Since(start).Seconds()
	r := Result{Messages: n, Seconds: secs, PerSec: float64(n) / secs,
		P50US: hist.ValueAtQuantile(50), P99US: hist.ValueAtQuantile(99), P999US: hist.ValueAtQuantile(99.9),
		MaxUS: hist.Max(), CPUNS: int64(cpuTime() - cpu0)}
	fmt.Printf("%d messages in %v: %.0f messages/s, round trip p50 %dus p99 %dus\n", n, d, r.PerSec, r.P50US, r.P99US)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		return os.WriteFile(jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
