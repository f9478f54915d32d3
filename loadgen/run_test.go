package loadgen

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/echoserver"
	"github.com/hotpath/hotpath/internal/testsupport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testsupport.FasthttpLeaks()...) }

// startEcho serves an in-process hotecho on 127.0.0.1:0 and returns its URL.
func startEcho(t *testing.T, cfg echoserver.Config) (string, *echoserver.Server) {
	t.Helper()
	return testsupport.StartEcho(t, cfg)
}

func target(t *testing.T, method, url string) []Target {
	t.Helper()
	tg, err := NewTarget(method, url, []string{"X-Test: 1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return []Target{tg}
}

func mustRun(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkCounts asserts that every recorded response has a status and a
// latency, and that nothing failed.
func checkCounts(t *testing.T, res *Result) {
	t.Helper()
	var byStatus int64
	for _, n := range res.Status {
		byStatus += n
	}
	if res.Requests == 0 || byStatus != res.Requests || res.Latency.TotalCount() != res.Requests || res.Uncorrected.TotalCount() != res.Requests {
		t.Fatalf("requests %d, by status %d, histogram %d/%d", res.Requests, byStatus, res.Latency.TotalCount(), res.Uncorrected.TotalCount())
	}
	if n := res.ErrorCount(); n != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	if res.BytesIn == 0 || res.BytesOut == 0 {
		t.Fatalf("bytes in %d out %d", res.BytesIn, res.BytesOut)
	}
}

func TestRunModes(t *testing.T) {
	tests := []struct {
		name   string
		echo   echoserver.Config
		cfg    Config
		method string
		check  func(t *testing.T, res *Result)
	}{
		{name: "closed loop", cfg: Config{Connections: 4, Threads: 2}, check: func(t *testing.T, res *Result) {
			if res.Status[200] != res.Requests {
				t.Fatalf("status %v", res.Status)
			}
			if res.BytesIn < res.Requests*int64(len("HTTP/1.1 200 OK\r\n\r\nHello, World!")) {
				t.Fatalf("bytes in %d for %d responses", res.BytesIn, res.Requests)
			}
		}},
		{name: "status mix", echo: echoserver.Config{StatusMix: []echoserver.StatusWeight{{Status: 200, Weight: 1}, {Status: 503, Weight: 1}}},
			cfg: Config{Connections: 2}, check: func(t *testing.T, res *Result) {
				if res.Status[200] == 0 || res.Status[503] == 0 || res.Status[200]+res.Status[503] != res.Requests {
					t.Fatalf("status %v of %d", res.Status, res.Requests)
				}
				if res.Non2xx3xx() != res.Status[503] {
					t.Fatalf("non-2xx %d", res.Non2xx3xx())
				}
			}},
		{name: "chunked", echo: echoserver.Config{Size: 50000, Chunked: true, ChunkSize: 4000}, cfg: Config{Connections: 2},
			check: func(t *testing.T, res *Result) {
				if res.BytesIn < res.Requests*50000 {
					t.Fatalf("bytes in %d for %d responses of 50000", res.BytesIn, res.Requests)
				}
			}},
		{name: "large body", echo: echoserver.Config{Size: 1 << 20}, cfg: Config{Connections: 2}, check: func(t *testing.T, res *Result) {
			if res.BytesIn < res.Requests<<20 {
				t.Fatalf("bytes in %d for %d responses of 1 MiB", res.BytesIn, res.Requests)
			}
		}},
		{name: "pipelining", cfg: Config{Connections: 2, Pipeline: 16}, check: func(t *testing.T, res *Result) {
			if res.Connects != 2 {
				t.Fatalf("connects %d, want 2", res.Connects)
			}
		}},
		{name: "no keepalive", cfg: Config{Connections: 2, NoKeepAlive: true}, check: func(t *testing.T, res *Result) {
			// One connection per request (warm-up has none).
			if res.Connects < res.Requests {
				t.Fatalf("connects %d for %d requests", res.Connects, res.Requests)
			}
		}},
		{name: "head", method: "HEAD", cfg: Config{Connections: 2}, check: func(t *testing.T, res *Result) {
			if res.Status[200] != res.Requests {
				t.Fatalf("status %v", res.Status)
			}
		}},
		{name: "constant rate", cfg: Config{Connections: 4, Rate: 400, Duration: 500 * time.Millisecond}, check: func(t *testing.T, res *Result) {
			// 200 scheduled in the period; allow for the edges.
			if res.Requests < 150 || res.Requests > 201 {
				t.Fatalf("requests %d, want about 200", res.Requests)
			}
		}},
		{name: "warm-up", cfg: Config{Connections: 2, Warmup: 100 * time.Millisecond}, check: func(t *testing.T, res *Result) {
			if res.Elapsed > 300*time.Millisecond+50*time.Millisecond {
				t.Fatalf("elapsed %v counts the warm-up", res.Elapsed)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := startEcho(t, tc.echo)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			cfg := tc.cfg
			cfg.Targets = target(t, method, url)
			if cfg.Duration == 0 {
				cfg.Duration = 300 * time.Millisecond
			}
			res := mustRun(t, cfg)
			checkCounts(t, res)
			tc.check(t, res)
		})
	}
}

func TestRunTargetsRoundRobin(t *testing.T) {
	url, _ := startEcho(t, echoserver.Config{Echo: true})
	ts, err := ReadTargets(stringsReader(
		`{"url":"` + url + `a"}` + "\n# comment\n\n" +
			`{"method":"POST","url":"` + url + `b","headers":{"X-K":"v"},"body":"payload"}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, Config{Targets: ts, Connections: 1, Duration: 200 * time.Millisecond})
	checkCounts(t, res)
}

func TestRunErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Run(context.Background(), Config{Targets: target(t, "GET", "http://"+addr+"/"), Duration: time.Second})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
	_, err = Run(context.Background(), Config{})
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err %v, want ErrBadConfig", err)
	}
}

// A server that never answers: every request times out.
func TestRunTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	res := mustRun(t, Config{Targets: target(t, "GET", "http://"+ln.Addr().String()+"/"), Connections: 2,
		Duration: 300 * time.Millisecond, Timeout: 50 * time.Millisecond})
	if res.Errors["timeout"] == 0 || res.Requests != 0 {
		t.Fatalf("errors %v, requests %d", res.Errors, res.Requests)
	}
}

// WindowStart is called once, with the recorded period's start, and not at
// all when the run ends during the warm-up.
func TestRunWindowStart(t *testing.T) {
	url, _ := startEcho(t, echoserver.Config{})
	var calls []time.Time
	res := mustRun(t, Config{Targets: target(t, "GET", url), Connections: 1,
		Warmup: 50 * time.Millisecond, Duration: 100 * time.Millisecond,
		WindowStart: func(start time.Time) { calls = append(calls, start) }})
	if len(calls) != 1 || !calls[0].Equal(res.Start) {
		t.Fatalf("WindowStart calls %v, want one at %v", calls, res.Start)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = nil
	if _, err := Run(ctx, Config{Targets: target(t, "GET", url), Connections: 1,
		Warmup: time.Minute, Duration: time.Second,
		WindowStart: func(start time.Time) { calls = append(calls, start) }}); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 0 {
		t.Fatalf("WindowStart called %d times for a run cancelled in its warm-up", len(calls))
	}
}
