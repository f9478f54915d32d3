package engine

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

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
	cfg.Listeners[0].Workers = 1
	cfg.Timeouts.Keepalive = time.Minute
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
//	go test -run '^$' -bench Observability -benchtime 40000x -count 10 ./engine | tee obs.txt
//	go tool benchstat obs.txt
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
	b.ReportMetric(100*(float64(wall[1])/float64(wall[0])-1), "metrics-overhead-%")
	b.ReportMetric(100*(float64(wall[2])/float64(wall[1])-1), "log-overhead-%")
	b.ReportMetric(100*(float64(cpu[1])/float64(cpu[0])-1), "metrics-cpu-overhead-%")
	b.ReportMetric(100*(float64(cpu[2])/float64(cpu[1])-1), "log-cpu-overhead-%")
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
