package engine

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// steadyResult is what a paced client load completed in its window.
type steadyResult struct {
	completed int
	latencies []time.Duration // from each request's intended send time
}

func (r steadyResult) p99() time.Duration { return r.quantile(0.99) }

func (r steadyResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return l[int(float64(len(l)-1)*q)]
}

// runSteady paces requests on each connection at perConn per second for
// the window d and counts those that complete by d+grace. Latency runs
// from the intended send time, so a request sent late because the
// previous one was slow is charged the wait (no coordinated omission).
// A gateway that keeps up completes them all; one that falls behind by
// more than grace in all (stalled, starved, its loops busy elsewhere)
// completes fewer, in proportion.
func runSteady(t *testing.T, conns []net.Conn, perConn int, d, grace time.Duration) steadyResult {
	t.Helper()
	interval := time.Second / time.Duration(perConn)
	start := time.Now()
	end := start.Add(d)
	deadline := end.Add(grace)
	var mu sync.Mutex
	var res steadyResult
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(c)
			timer := time.NewTimer(0)
			defer timer.Stop()
			<-timer.C
			for i := 0; ; i++ {
				intended := start.Add(time.Duration(i) * interval)
				if !intended.Before(end) {
					return
				}
				if wait := time.Until(intended); wait > 0 {
					timer.Reset(wait)
					<-timer.C
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, "GET /steady HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Errorf("steady client: %v", err)
					return
				}
				resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
				if err != nil {
					t.Errorf("steady client: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				done := time.Now()
				if resp.StatusCode != 200 {
					t.Errorf("steady client: status %d", resp.StatusCode)
					return
				}
				if done.Before(deadline) {
					mu.Lock()
					res.completed++
					res.latencies = append(res.latencies, done.Sub(intended))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return res
}

// TestEdgeFloodGoal is issue 15's goal: one client address (127.0.0.2)
// opening connections as fast as it can is held at its limits while a
// second address's (127.0.0.1) steady load keeps its throughput.
//
// The steady load is paced (4 keep-alive connections, 100 requests a
// second each), measured alone for 2 s and then for 2 s during the flood,
// in the same test; a request counts when it completes by the end of the
// window plus 250 ms (runSteady), so that the scheduling noise of a
// shared 2-core machine does not decide the outcome, while a gateway
// starved by the flood would still fall short. The flooder holds every
// connection the gateway accepts, so limits.per_ip.max_connections (16)
// is what binds: exactly 16 of its connections are ever accepted (the
// gateway's accepted count says so too), every other one is closed at
// once and counted. Asserted: the flooder's count, the steady load's
// completed requests during the flood at 95% or more of the alone run,
// new connections from the steady address still accepted during the
// flood (the best of up to three windows: another process can starve one),
// and no accept pause (the descriptor budget is never touched).
// The p50 and p99 latencies of both runs are logged;
// HOTPATH_EDGE_GOAL_STRICT=1 also asserts the flood's p99 within 2x of
// the alone run's (a timing assertion: off by default on a shared
// machine).
func TestEdgeFloodGoal(t *testing.T) {
	if testing.Short() {
		t.Skip("a 4 s load run")
	}
	up := allocFreeUpstream(t)
	cfg := testConfig(t, "limits: {per_ip: {max_connections: 16, new_connections: {rate: 100, per: 1s, burst: 100}}}\n"+proxyTo(up))
	cfg.Timeouts.ClientIdle = time.Minute
	srv := startServer(t, cfg)
	probe := dialFrom(t, srv, "127.0.0.2") // skips without a second loopback address
	_ = probe.Close()
	// The probe took one place until the gateway sees it close.
	eventually(t, 5*time.Second, func() bool { return srv.active.Load() == 0 }, "probe not closed")

	steady := make([]net.Conn, 4)
	for i := range steady {
		steady[i] = dialFrom(t, srv, "127.0.0.1")
	}
	const perConn, window, grace = 100, 2 * time.Second, 250 * time.Millisecond
	alone := runSteady(t, steady, perConn, window, grace)

	var accepted, refused, dialErrs atomic.Int64
	var heldMu sync.Mutex
	var held []net.Conn
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := d.Dial("tcp", srv.Addr())
				if err != nil {
					dialErrs.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				_, werr := io.WriteString(c, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
				if werr != nil || err != nil {
					refused.Add(1)
					_ = c.Close()
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				accepted.Add(1)
				heldMu.Lock()
				held = append(held, c) // held open: the flooder keeps its places
				heldMu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	eventually(t, 10*time.Second, func() bool { return accepted.Load() >= 16 && refused.Load() > 0 }, "the flood did not reach its limit")
	flood := runSteady(t, steady, perConn, window, grace)
	// Other work on the machine (the rest of the suite, on 2 cores) can
	// starve one window; a gateway the flood starves falls short in every
	// one: up to two more windows, the best counts.
	for attempt := 2; attempt <= 3 && float64(flood.completed) < 0.95*float64(alone.completed); attempt++ {
		t.Logf("window %d: %d requests during the flood, %d alone: measuring again", attempt-1, flood.completed, alone.completed)
		if again := runSteady(t, steady, perConn, window, grace); again.completed > flood.completed {
			flood = again
		}
	}
	refusedDuring := refused.Load()
	for i := 0; i < 4; i++ { // new clients of the steady address still get in
		c := dialFrom(t, srv, "127.0.0.1")
		if resp, ok := served(t, c, bufio.NewReader(c), "/new"); !ok || resp.StatusCode != 200 {
			t.Errorf("a new connection from 127.0.0.1 during the flood: %v %v", resp, ok)
		}
		_ = c.Close()
	}
	close(stop)
	wg.Wait()

	ratio := float64(flood.completed) / float64(alone.completed)
	t.Logf("steady load alone: %d requests in %v, p50 %v, p99 %v", alone.completed, window, alone.quantile(0.5), alone.p99())
	t.Logf("steady load during the flood: %d requests (%.1f%%), p50 %v, p99 %v (%.2fx)", flood.completed, 100*ratio,
		flood.quantile(0.5), flood.p99(), float64(flood.p99())/float64(max(alone.p99(), 1)))
	t.Logf("flooder: %d connections accepted, %d closed at once (%d by the end of the measured window), %d dial errors",
		accepted.Load(), refused.Load(), refusedDuring, dialErrs.Load())
	if n := accepted.Load(); n != 16 {
		t.Errorf("the flooder had %d connections accepted, want exactly limits.per_ip.max_connections (16)", n)
	}
	if ratio < 0.95 {
		t.Errorf("the steady load completed %d requests during the flood, %.1f%% of the %d alone, want at least 95%%", flood.completed, 100*ratio, alone.completed)
	}
	if os.Getenv("HOTPATH_EDGE_GOAL_STRICT") != "" && flood.p99() > 2*alone.p99() {
		t.Errorf("p99 %v during the flood, over 2x the %v alone", flood.p99(), alone.p99())
	}
	mfs := waitMetrics(t, srv, []metricWant{
		{"hotpath_downstream_connections_total", nil, 1 + 4 + 16 + 4}, // the probe, the steady load, the flooder's places, the new ones
		{"hotpath_accept_pauses_total", nil, 0},
		{"hotpath_edge_connections_refused_total", []string{"reason", "per_ip_rate"}, 0},
	})
	if got := metricValue(mfs, "hotpath_edge_connections_refused_total", "reason", "per_ip_connections"); got < float64(refused.Load()) {
		t.Errorf("the gateway counted %v refusals, the flooder saw %d", got, refused.Load())
	}
}
