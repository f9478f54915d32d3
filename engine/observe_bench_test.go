package engine

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// obsVariants are the observability settings compared end to end.
var obsVariants = [...]struct {
	name      string
	metrics   bool
	accessLog bool
}{
	{"obs=none", false, false},
	{"obs=metrics", true, false},
	{"obs=metrics+log", true, true},
}

// obsBenchServer is benchServer with metrics and the access log (to a file)
// switched as asked.
func obsBenchServer(tb testing.TB, metricsOn, logOn bool) (net.Conn, *Server) {
	up := allocFreeUpstream(tb)
	cfg := testConfig(tb, proxyTo(up))
	cfg.Workers = 1
	cfg.Timeouts.ClientIdle = time.Minute
	cfg.Metrics.Enabled = metricsOn
	if logOn {
		cfg.AccessLog.Path = filepath.Join(tb.TempDir(), "access.log")
	}
	srv, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c, srv
}

// BenchmarkObservability measures the cost of metrics and of the access log
// end to end: one proxied keep-alive request (client -> gateway ->
// upstream -> back, one loop) per op on three gateways (none, metrics,
// metrics and access log to a file), interleaved in chunks of 500 requests
// with the order rotated every round, so that the machine's drift is shared
// by all three. It reports wall and process CPU time per request for each
// variant (CPU: getrusage, all goroutines, steal excluded). Compare runs with
// benchstat:
//
//	HOTPATH_OBS_VARIANTS=$PWD/variants.txt go test -run '^$' -bench 'Observability$' -benchtime 40000x -count 12 ./engine
//	go tool benchstat -col /obs variants.txt
func BenchmarkObservability(b *testing.B) {
	conns := make([]net.Conn, len(obsVariants))
	for i, v := range obsVariants {
		conns[i], _ = obsBenchServer(b, v.metrics, v.accessLog)
		proxyLoop(b, conns[i], 1000)
	}
	const chunk = 500
	var wall, cpu [len(obsVariants)]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(chunk, b.N-done)
		for k := range obsVariants {
			i := (k + round) % len(obsVariants)
			c0, t0 := processCPU(), time.Now()
			proxyLoop(b, conns[i], n)
			wall[i] += time.Since(t0)
			cpu[i] += processCPU() - c0
		}
		done += n
	}
	b.StopTimer()
	for i, v := range obsVariants {
		name := strings.TrimPrefix(v.name, "obs=")
		b.ReportMetric(float64(wall[i])/float64(b.N), name+"-ns/req")
		b.ReportMetric(float64(cpu[i])/float64(b.N), name+"-cpu-ns/req")
	}
	if path := os.Getenv("HOTPATH_OBS_VARIANTS"); path != "" && b.N >= 10*chunk {
		writeVariants(b, path, wall[:], cpu[:])
	}
	b.ReportMetric(100*(float64(wall[1])/float64(wall[0])-1), "metrics-overhead-%")
	b.ReportMetric(100*(float64(wall[2])/float64(wall[1])-1), "log-overhead-%")
	b.ReportMetric(100*(float64(cpu[1])/float64(cpu[0])-1), "metrics-cpu-overhead-%")
	b.ReportMetric(100*(float64(cpu[2])/float64(cpu[1])-1), "log-cpu-overhead-%")
}

// writeVariants appends one benchmark-format line per variant to path, so
// that benchstat -col /obs shows the variants side by side with deltas.
func writeVariants(b *testing.B, path string, wall, cpu []time.Duration) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for i, v := range obsVariants {
		fmt.Fprintf(f, "BenchmarkObservabilityVariant/%s %d %.1f ns/op %.1f cpu-ns/op\n",
			v.name, b.N, float64(wall[i])/float64(b.N), float64(cpu[i])/float64(b.N))
	}
}

// processCPU returns the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestProxyAllocationsObserved is TestProxyAllocations with metrics and the
// access log on: recording a request must not allocate either.
func TestProxyAllocationsObserved(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c, srv := obsBenchServer(t, true, true)
	got := mallocsPerRequest(t, c, 20000)
	t.Logf("%.4f mallocs per proxied request with metrics and access log, %d lines dropped", got, srv.AccessLogDropped())
	if got > 0.05 {
		t.Errorf("%.3f mallocs per proxied request, want < 0.05", got)
	}
	runtime.KeepAlive(srv)
}

// fakeConn is the little of gnet.Conn that the observation hooks use.
type fakeConn struct {
	gnet.Conn
	addr net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.addr }
func (c fakeConn) InboundBuffered() int { return 0 }

// BenchmarkObserveExchange is the observation work of one proxied request
// without the sockets: every hook a keep-alive GET goes through (begin, the
// upstream head, the bytes, the end), with metrics off, metrics on, and
// metrics and the access log on (to io.Discard). Divide by the CPU cost of
// a proxied request (BenchmarkObservability's none-cpu-ns/req) for the
// fraction it adds.
func BenchmarkObserveExchange(b *testing.B) {
	head := []byte("GET /api/v1/users/42?fields=name HTTP/1.1\r\nHost: api.example.com\r\n" +
		"User-Agent: hotload/1.0\r\nAccept: */*\r\nX-Request-Id: 0f3a9c\r\n\r\n")
	for _, v := range obsVariants {
		b.Run(v.name, func(b *testing.B) {
			cfg := testConfig(b, proxyTo("127.0.0.1:1"))
			cfg.Metrics.Enabled = v.metrics
			var opts []Option
			if v.accessLog {
				opts = append(opts, WithAccessLogOutput(io.Discard))
			}
			srv, err := New(cfg, append(opts, WithLogger(slog.New(slog.DiscardHandler)))...)
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.obs.start(srv.log); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(srv.obs.close)
			lp := &loop{srv: srv, obs: srv.obs.newLoop()}
			d := &exchange{lp: lp, cl: &h1conn{lp: lp, c: fakeConn{addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 51544}}}}
			d.tbl = srv.tbl.Load()
			if _, err := d.req.Parse(head); err != nil {
				b.Fatal(err)
			}
			d.tbl.tree.Lookup(d.req.Host, d.req.Method, d.req.Path, &d.match)
			d.head = append(d.head, head...)
			d.out = append(d.out, benchResponse[:len(benchResponse)-5]...)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				lp.wake() // a callback's clock read
				now := lp.now
				d.start = now
				d.rt, d.status, d.local = nil, 0, false
				d.observeBegin(len(head))
				d.rt = d.match.Value
				d.status = 200
				d.observeUpstreamHead(now + 1000)
				d.obs.upEnd, d.obs.upAddr = now+2000, "10.0.1.2:8080"
				d.obs.upIn += len(benchResponse)
				d.obs.bytesOut += len(benchResponse)
				d.observeEndAt(now + 3000) // finish's clock read, shared with the keep-alive deadline
				if i&1023 == 0 {
					lp.obs.tick(lp) // the loop's periodic flush, amortised
				}
			}
		})
	}
}
