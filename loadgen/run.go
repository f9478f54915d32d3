package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Thresholds for Result.Warnings: the generator is the bottleneck when it
// achieves less than behindRate of the asked rate, its sends are on average
// more than behindLag late, or its CPU use is at least cpuSaturated of its
// threads.
const (
	behindRate   = 0.99
	behindLag    = 10 * time.Millisecond
	cpuSaturated = 0.95
)

// Progress is the live view of a run, passed to Config.Live once when the
// load starts (all zero but Warmup) and about once a second after.
type Progress struct {
	Elapsed  time.Duration // since the start, warm-up included
	Warmup   bool          // still in the warm-up
	Requests int64         // responses recorded so far
	Errors   int64
	P99      time.Duration // corrected p99 so far (the worst loop's)
}

// Run runs the load described by cfg and returns its figures. It fills
// cfg's zero fields with their defaults, checks it (Config.Check), and
// checks that the target accepts a connection (ErrUnreachable otherwise).
// Cancelling ctx ends the run early; the figures cover what was recorded
// and Result.Interrupted says so.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tcp, err := net.ResolveTCPAddr("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, cfg.Addr, err)
	}
	probe, err := net.DialTimeout("tcp", tcp.String(), min(cfg.Timeout, 5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	probe.Close()
	var tlsCfg *tls.Config
	if cfg.TLS != nil {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		if tlsCfg, err = cfg.TLS.clientConfig(host, cfg.Connections); err != nil {
			return nil, err
		}
		if err := tlsProbe(tlsCfg, tcp.String(), min(cfg.Timeout, 5*time.Second)); err != nil {
			return nil, err
		}
	}

	tps := h2Templates(cfg)
	loops := make([]*loop, cfg.Threads)
	base := time.Now()
	for i := range loops {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			for _, l := range loops[:i] {
				unix.Close(l.ep)
			}
			return nil, fmt.Errorf("loadgen: epoll_create1: %w", err)
		}
		// A Sockaddr per loop: Connect writes into it.
		sa, family := sockaddr(tcp)
		l := &loop{
			ep: ep, sa: sa, family: family, targets: cfg.Targets, stats: newStats(),
			base: base, start: 0, recStart: int64(cfg.Warmup), end: int64(cfg.Warmup + cfg.Duration),
			drainEnd: int64(cfg.Warmup + cfg.Duration + cfg.Drain), depth: cfg.Pipeline,
			timeout: int64(cfg.Timeout), noKeepAlive: cfg.NoKeepAlive, live: cfg.Live != nil,
		}
		if cfg.Rate > 0 {
			l.interval = float64(cfg.Connections) / cfg.Rate * 1e9
		}
		// Connections g = i, i+Threads, ...: phases g/Rate stagger all
		// connections' schedules evenly over one interval.
		for g := i; g < cfg.Connections; g += cfg.Threads {
			c := conn{
				idx: int32(len(l.conns)), fd: -1, heapIdx: -1,
				next: firstTarget(g, len(cfg.Targets), cfg.Connections),
				rbuf: make([]byte, readBufSize),
				wbuf: make([]byte, 0, cfg.Pipeline*maxTargetLen(cfg.Targets)),
				q:    make([]flight, cfg.Pipeline),
			}
			if cfg.HTTP2 {
				c.h2 = newH2Conn(tps, cfg.Pipeline)
			}
			if cfg.Rate > 0 {
				c.offset = int64(float64(g) / cfg.Rate * 1e9)
				c.due = c.offset
			}
			l.conns = append(l.conns, c)
		}
		l.events = make([]unix.EpollEvent, len(l.conns)+1)
		l.heap = make([]int32, 0, len(l.conns))
		loops[i] = l
		if tlsCfg != nil {
			if l.tls, err = newTLSDialer(tlsCfg, tcp.String(), cfg.Timeout, ep); err != nil {
				for _, l := range loops[:i+1] {
					unix.Close(l.ep)
				}
				return nil, err
			}
			l.stats.tls.hist = newHistogram()
		}
	}

	// Every loop holds a P for its whole life (see loop.wait); Run's own
	// goroutine and the runtime need one more.
	if runtime.GOMAXPROCS(0) < cfg.Threads+1 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.Threads + 1))
	}
	var ru0 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	if cfg.Live != nil {
		cfg.Live(Progress{Warmup: cfg.Warmup > 0}) // before the first request
	}
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(l.run)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	interrupted := false
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var window <-chan time.Time
	if cfg.WindowStart != nil {
		wt := time.NewTimer(time.Until(base.Add(cfg.Warmup)))
		defer wt.Stop()
		window = wt.C
	}
wait:
	for {
		select {
		case <-window:
			window = nil
			cfg.WindowStart(base.Add(cfg.Warmup))
		case <-done:
			// The loops can end in the same instant as the warm-up when
			// Duration is tiny: the window did start, say so.
			if window != nil && time.Since(base) >= cfg.Warmup && ctx.Err() == nil {
				cfg.WindowStart(base.Add(cfg.Warmup))
			}
			break wait
		case <-ctx.Done():
			for _, l := range loops {
				l.stop.Store(true)
			}
			<-done
			interrupted = time.Since(base) < cfg.Warmup+cfg.Duration
			break wait
		case <-ticker.C:
			if cfg.Live != nil {
				cfg.Live(progressOf(loops, time.Since(base), cfg.Warmup))
			}
		}
	}
	for _, l := range loops {
		if l.tls != nil {
			l.tls.close() // handshakes still in progress
		}
	}
	wall := time.Since(base)
	var ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)

	res := &Result{
		Config: cfg, Start: base.Add(cfg.Warmup), Runs: 1,
		Status: map[int]int64{}, Errors: map[string]int64{}, Causes: map[string]int64{},
		Latency: newHistogram(), Uncorrected: newHistogram(),
		Wall: wall, CPU: cpuTime(&ru1) - cpuTime(&ru0),
		Elapsed:     max(min(wall, cfg.Warmup+cfg.Duration)-cfg.Warmup, 0),
		Interrupted: interrupted,
	}
	var lagSum int64
	for _, l := range loops {
		s := l.stats
		res.Latency.Merge(s.hist)
		res.Uncorrected.Merge(s.histU)
		for code, n := range s.status {
			if n > 0 {
				res.Status[code] += n
			}
		}
		for e, n := range s.errs {
			if n > 0 {
				res.Errors[ErrorClass(e).String()] += n
			}
		}
		for e := range s.causes {
			if e == int(ErrTimeout) || e == int(ErrBadResponse) {
				continue // the class says it all
			}
			for errno, n := range s.causes[e] {
				if n > 0 {
					res.Causes[ErrorClass(e).String()+" "+causeName(ErrorClass(e), errno)] += n
				}
			}
		}
		res.Requests += s.requests
		res.Sent += s.sent
		res.BytesIn += s.bytesIn
		res.BytesOut += s.bytesOut
		res.Connects += s.connects
		lagSum += s.lagSum
		res.LagMax = max(res.LagMax, time.Duration(s.lagMax))
	}
	if res.Sent > 0 && cfg.Rate > 0 {
		res.LagMean = time.Duration(lagSum / res.Sent)
	}
	if cfg.TLS != nil {
		res.TLS = tlsResult(loops)
	}
	res.Warnings = warnings(res)
	return res, nil
}

// warnings says when the generator, not the target, set the pace.
func warnings(r *Result) []string {
	var w []string
	cfg := r.Config
	if cfg.Rate > 0 && r.Elapsed > 0 {
		sentRate := float64(r.Sent) / r.Elapsed.Seconds()
		if sentRate < behindRate*cfg.Rate {
			w = append(w, fmt.Sprintf("hotload fell behind the schedule: sent %.0f req/s of the %.0f asked (%.1f%%)",
				sentRate, cfg.Rate, 100*sentRate/cfg.Rate))
		}
		if r.LagMean > behindLag {
			w = append(w, fmt.Sprintf("hotload sent %v late on average (max %v): the target or hotload could not keep up; corrected latencies include the lag",
				r.LagMean.Round(time.Microsecond), r.LagMax.Round(time.Microsecond)))
		}
	}
	if r.Wall > 0 && r.CPU.Seconds()/r.Wall.Seconds() >= cpuSaturated*float64(cfg.Threads) {
		w = append(w, fmt.Sprintf("hotload saturated its CPU (%.2f cores busy for %d threads): the figures may measure hotload, not the target; add -t or a machine",
			r.CPU.Seconds()/r.Wall.Seconds(), cfg.Threads))
	}
	return w
}

func progressOf(loops []*loop, elapsed, warmup time.Duration) Progress {
	p := Progress{Elapsed: elapsed, Warmup: elapsed < warmup}
	for _, l := range loops {
		p.Requests += l.progress.requests.Load()
		p.Errors += l.progress.errors.Load()
		p.P99 = max(p.P99, time.Duration(l.progress.p99.Load())*time.Microsecond)
	}
	return p
}

func cpuTime(ru *unix.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sockaddr(a *net.TCPAddr) (unix.Sockaddr, int) {
	if ip4 := a.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		return sa, unix.AF_INET
	}
	sa := &unix.SockaddrInet6{Port: a.Port}
	copy(sa.Addr[:], a.IP.To16())
	return sa, unix.AF_INET6
}

// firstTarget is where connection g of conns starts its round robin over n
// targets: each at its own place, so that they do not all ask for the same
// target at the same time (a cache would coalesce them).
func firstTarget(g, n, conns int) int { return g * n / conns }

func maxTargetLen(ts []Target) int {
	n := 0
	for i := range ts {
		n = max(n, len(ts[i].bytes))
	}
	return n
}
