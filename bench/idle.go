package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The idle_conns scenario measures memory, not speed: what a server's
// resident set grows by for each keep-alive client connection that made one
// proxied request and then sits idle, the cost an edge pays for every
// browser or app that keeps a connection open between requests.
//
// Each round starts every contender afresh, in turn: it warms the server
// with idleWorkers connections (one request each, then closed, so that the
// upstream connections, free lists and buffers a request needs exist), reads
// the RSS of the server's process tree (/proc/<pid>/status VmRSS, summed
// over nginx's master and worker), opens Options.IdleConns connections from
// this process (raw net.Conn: dial, one GET through to hotecho, its
// response read whole, the connection kept), waits idleSettle, reads the
// RSS again and checks how many connections the server still holds. The
// figure is the growth divided by the connections held. For hotpath it also
// saves the admin's heap profile (raw/idle_conns/hotpath-r<N>.heap.pb.gz)
// and runtime.MemStats before and after, each read just after the RSS and
// after a forced collection (/debug/pprof/heap?gc=1&debug=1), so that the
// bytes can be attributed: the live heap per connection is exact, and the
// RSS also holds whatever the collector has not yet freed or returned
// (go tool pprof -sample_index=inuse_space -top on the profile).

// IdleRun is one round of idle_conns against one contender.
type IdleRun struct {
	Round int `json:"round"`
	// Asked is Options.IdleConns; Held the connections that were opened and
	// answered; StillOpen those the server had not closed when the RSS was
	// read the second time.
	Asked     int `json:"asked"`
	Held      int `json:"held"`
	StillOpen int `json:"still_open"`
	// Failed is the first error of a connection that could not be opened
	// or answered, when any.
	Failed string `json:"failed,omitempty"`
	// RSS is VmRSS summed over the server's processes, before and after
	// opening the connections; Anon is RssAnon (heap and stacks, without
	// the mapped binary and libraries).
	RSSBefore  int64 `json:"rss_before_bytes"`
	RSSAfter   int64 `json:"rss_after_bytes"`
	AnonBefore int64 `json:"rss_anon_before_bytes"`
	AnonAfter  int64 `json:"rss_anon_after_bytes"`
	Processes  int   `json:"processes"`
	// BytesPerConn is (RSSAfter-RSSBefore)/Held.
	BytesPerConn float64 `json:"rss_bytes_per_conn"`
	// OpenSeconds is how long opening the connections took.
	OpenSeconds float64 `json:"open_s"`
	// Go is hotpath's runtime.MemStats before and after (from the admin's
	// /debug/pprof/heap?gc=1&debug=1, read after a forced collection).
	Go *GoMem `json:"go,omitempty"`
	// HeapProfile is the admin's heap profile taken while the connections
	// were idle, relative to the results directory.
	HeapProfile string `json:"heap_profile,omitempty"`
}

// GoMem is what hotpath's Go runtime said about its memory around the
// opening of the idle connections.
type GoMem struct {
	Before map[string]int64 `json:"before"`
	After  map[string]int64 `json:"after"`
	// LivePerConn is the growth of HeapAlloc after a collection (the live
	// heap), StackInusePerConn of StackInuse and SysPerConn of Sys (all
	// that the runtime has mapped), each divided by the held connections.
	LivePerConn       float64 `json:"live_heap_per_conn"`
	StackInusePerConn float64 `json:"stack_inuse_per_conn"`
	SysPerConn        float64 `json:"sys_per_conn"`
}

// IdleSummary condenses a contender's idle_conns rounds.
type IdleSummary struct {
	BytesPerConn Range `json:"rss_bytes_per_conn"`
	// AnonPerConn is the same figure from RssAnon.
	AnonPerConn Range   `json:"rss_anon_bytes_per_conn"`
	RSSBefore   float64 `json:"rss_before_bytes"`
	Held        int     `json:"held_min"`
	StillOpen   int     `json:"still_open_min"`
	// VsNginx and VsHAProxy are the median over nginx's and HAProxy's (0
	// when they have no rounds).
	VsNginx   float64 `json:"vs_nginx,omitempty"`
	VsHAProxy float64 `json:"vs_haproxy,omitempty"`
	// LivePerConn and StackInusePerConn are hotpath's medians (GoMem).
	LivePerConn       float64 `json:"live_heap_per_conn,omitempty"`
	StackInusePerConn float64 `json:"stack_inuse_per_conn,omitempty"`
}

const (
	// idleWorkers connections are opened at once (and warm the server
	// first).
	idleWorkers = 64
	// idleSettle is the least pause before each RSS reading (the server's
	// timers trim its free lists), idleStable how long the RSS must then
	// stay within idleJitter, and idleMaxWait how long it may take.
	idleSettle  = time.Second
	idleStable  = 2 * time.Second
	idleJitter  = 64 << 10
	idleMaxWait = 30 * time.Second
	// idleRequest is the one request each connection sends.
	idleRequest = "GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: hotpath-bench-idle\r\n\r\n"
)

// idle runs the idle_conns scenario (see the comment at the top).
func (h *harness) idle(ctx context.Context, s Scenario, sr *ScenarioResult) error {
	o := h.o
	restore, err := raiseNoFile(idleNoFile(o.IdleConns))
	if err != nil {
		for _, c := range sr.Contenders {
			if c.Skipped == "" {
				c.Failed = err.Error()
			}
		}
		fmt.Fprintf(o.Log, "[%s] %v\n", s.Name, err)
		return nil
	}
	defer restore()
	dir := filepath.Join(h.scratch, s.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	echo, echoAddr, err := h.startEcho(ctx, s, filepath.Join(dir, "hotecho.log"))
	if err != nil {
		return err
	}
	defer echo.stop(5 * time.Second)
	fmt.Fprintf(o.Log, "[%s] %d connection(s) per contender and round, each after one proxied request\n", s.Name, o.IdleConns)
	for round := 1; round <= o.Rounds; round++ {
		for _, c := range h.contenders {
			res := sr.contender(c.Name)
			if res.Failed != "" || res.Skipped != "" {
				continue
			}
			run, err := h.idleRun(ctx, s, c, res, echoAddr, filepath.Join(dir, fmt.Sprintf("%s-r%d", c.Name, round)), round)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if res.Failed == "" {
					res.Failed = err.Error()
				}
				fmt.Fprintf(o.Log, "[%s r%d/%d] %s: failed: %v\n", s.Name, round, o.Rounds, c.Name, err)
				continue
			}
			res.Idle = append(res.Idle, run)
			extra := ""
			if run.Go != nil {
				extra = fmt.Sprintf("  (Go live heap %+.0f B/conn, stacks %+.0f B/conn, runtime Sys %+.0f B/conn)", run.Go.LivePerConn, run.Go.StackInusePerConn, run.Go.SysPerConn)
			}
			fmt.Fprintf(o.Log, "[%s r%d/%d] %-*s %7.0f B RSS per idle connection (RSS %.1f -> %.1f MiB, %d held, %d still open, opened in %.1fs)%s\n",
				s.Name, round, o.Rounds, h.nameWidth(), c.Name, run.BytesPerConn, mib(run.RSSBefore), mib(run.RSSAfter), run.Held, run.StillOpen, run.OpenSeconds, extra)
		}
	}
	return nil
}

// idleRun starts c afresh and measures one round.
func (h *harness) idleRun(ctx context.Context, s Scenario, c *Contender, res *ContenderResult, echoAddr, dir string, round int) (IdleRun, error) {
	run := IdleRun{Round: round, Asked: h.o.IdleConns}
	r, err := h.start(ctx, s, c, res, echoAddr, nil, dir)
	if err != nil {
		return run, err
	}
	defer r.proc.stop(5 * time.Second)
	// Warm up: the request path's buffers, free lists and upstream
	// connections, which do not grow with idle connections.
	warm, err := openIdle(ctx, r.addr, idleWorkers, idleWorkers)
	closeAll(warm.conns)
	if err != nil {
		return run, fmt.Errorf("warm-up: %w", err)
	}
	if r.admin != "" {
		// Collect the start's garbage, as the runtime does by itself
		// after two minutes without a collection; the scavenger then
		// returns the freed pages while the RSS settles.
		_, _ = memStats(ctx, r.admin)
	}
	pid := r.proc.pid()
	if run.RSSBefore, run.AnonBefore, run.Processes, err = settledMem(ctx, pid); err != nil {
		return run, err
	}
	var goBefore map[string]int64
	if r.admin != "" {
		goBefore, _ = memStats(ctx, r.admin)
	}
	t0 := time.Now()
	held, err := openIdle(ctx, r.addr, h.o.IdleConns, idleWorkers)
	run.OpenSeconds = time.Since(t0).Seconds()
	defer closeAll(held.conns)
	run.Held = len(held.conns)
	if err != nil {
		if ctx.Err() != nil {
			return run, ctx.Err()
		}
		run.Failed = err.Error()
	}
	if run.Held == 0 {
		return run, fmt.Errorf("no connection held: %v", err)
	}
	if run.RSSAfter, run.AnonAfter, run.Processes, err = settledMem(ctx, pid); err != nil {
		if r.proc.exited() {
			return run, fmt.Errorf("%w: %s", errExited, r.proc.logTail())
		}
		return run, err
	}
	run.StillOpen = stillOpen(held.conns)
	run.BytesPerConn = float64(run.RSSAfter-run.RSSBefore) / float64(run.Held)
	if r.admin != "" {
		if after, err := memStats(ctx, r.admin); err == nil && goBefore != nil {
			g := &GoMem{Before: goBefore, After: after}
			per := func(k string) float64 { return float64(after[k]-goBefore[k]) / float64(run.Held) }
			g.LivePerConn, g.StackInusePerConn, g.SysPerConn = per("HeapAlloc"), per("StackInuse"), per("Sys")
			run.Go = g
		}
		rel := filepath.Join("raw", s.Name, fmt.Sprintf("%s-r%d.heap.pb.gz", c.Name, round))
		if err := saveURL(ctx, "http://"+r.admin+"/debug/pprof/heap", filepath.Join(h.o.Out, rel)); err == nil {
			run.HeapProfile = rel
		} else {
			fmt.Fprintf(h.o.Log, "[%s r%d] %s: no heap profile: %v\n", s.Name, round, c.Name, err)
		}
	}
	return run, nil
}

// heldConns are the connections openIdle opened and saw answered.
type heldConns struct {
	conns []net.Conn
}

// openIdle opens n connections to addr, workers at a time; on each it sends
// one request and reads the whole response, then keeps it. It returns the
// connections that got a 200 and the first error of the others.
func openIdle(ctx context.Context, addr string, n, workers int) (heldConns, error) {
	var (
		mu    sync.Mutex
		out   heldConns
		first error
		wg    sync.WaitGroup
	)
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	d := net.Dialer{Timeout: 10 * time.Second}
	for range min(workers, n) {
		wg.Go(func() {
			br := bufio.NewReaderSize(nil, 4096)
			for range next {
				if ctx.Err() != nil {
					return
				}
				c, err := oneRequest(ctx, &d, addr, br)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = err
					}
				} else {
					out.conns = append(out.conns, c)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return out, first
}

// oneRequest dials addr, sends idleRequest and reads the response whole
// with br (reset onto the connection).
func oneRequest(ctx context.Context, d *net.Dialer, addr string, br *bufio.Reader) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (net.Conn, error) {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, idleRequest); err != nil {
		return fail(err)
	}
	br.Reset(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		return fail(fmt.Errorf("status %d (close %v)", resp.StatusCode, resp.Close))
	}
	if br.Buffered() > 0 {
		return fail(errors.New("bytes after the response"))
	}
	br.Reset(nil)
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// stillOpen counts the connections the server has not closed: a peek that
// does not block finds no bytes waiting and no end of stream.
func stillOpen(conns []net.Conn) int {
	n := 0
	var b [1]byte
	for _, c := range conns {
		sc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			continue
		}
		open := false
		_ = sc.Read(func(fd uintptr) bool {
			m, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			open = m < 0 && errors.Is(err, syscall.EAGAIN)
			return true
		})
		if open {
			n++
		}
	}
	return n
}

// closeAll closes conns with a reset (SO_LINGER 0), so that no TIME_WAIT is
// left behind by tens of thousands of connections.
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

// idleNoFile is the open-file limit idle_conns needs for n connections,
// in this process (n clients) and in each server (n clients and the
// upstream connections).
func idleNoFile(n int) int { return n + 3072 }

// raiseNoFile makes sure this process (and so the servers it starts) may
// open need descriptors: the soft RLIMIT_NOFILE goes up to the hard limit,
// and as root the hard limit goes up to need. restore puts the old limits
// back.
func raiseNoFile(need int) (restore func(), err error) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		return nil, err
	}
	want := old
	want.Cur = max(want.Cur, uint64(need))
	if want.Cur > want.Max {
		if os.Geteuid() == 0 {
			want.Max = want.Cur
		} else {
			return nil, fmt.Errorf("idle_conns: the connections need an open-file limit of %d, the hard limit is %d (raise it as root: ulimit -Hn %d; or fewer -idle-conns)",
				need, old.Max, need)
		}
	}
	if want == old {
		return func() {}, nil
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return nil, fmt.Errorf("idle_conns: raising the open-file limit to %d (hard limit %d): %w (raise the hard limit: ulimit -Hn %d; or fewer -idle-conns)", need, old.Max, err, need)
	}
	return func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) }, nil
}

// settledMem waits idleSettle, then until the RSS of pid's tree has stayed
// within idleJitter for idleStable (a Go runtime returns freed pages in the
// background; at most idleMaxWait), and returns treeMem.
func settledMem(ctx context.Context, pid int) (rss, anon int64, n int, err error) {
	if err := sleepCtx(ctx, idleSettle); err != nil {
		return 0, 0, 0, err
	}
	const every = 250 * time.Millisecond
	var hist []int64
	deadline := time.Now().Add(idleMaxWait)
	for {
		rss, anon, n, err = treeMem(pid)
		if err != nil {
			return 0, 0, 0, err
		}
		hist = append(hist, rss)
		if k := int(idleStable / every); len(hist) > k {
			lo, hi := rss, rss
			for _, x := range hist[len(hist)-k-1:] {
				lo, hi = min(lo, x), max(hi, x)
			}
			if hi-lo <= idleJitter || time.Now().After(deadline) {
				return rss, anon, n, nil
			}
		}
		if err := sleepCtx(ctx, every); err != nil {
			return 0, 0, 0, err
		}
	}
}

// treeMem returns VmRSS and RssAnon summed over pid and its descendants,
// and how many processes that is.
func treeMem(pid int) (rss, anon int64, n int, err error) {
	pids, err := treePIDs(pid)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			if p == pid {
				return 0, 0, 0, err
			}
			continue // a child that just exited
		}
		r, a := parseStatusMem(b)
		rss += r
		anon += a
		n++
	}
	return rss, anon, n, nil
}

// parseStatusMem reads VmRSS and RssAnon (in bytes) from the text of
// /proc/<pid>/status.
func parseStatusMem(b []byte) (rss, anon int64) {
	for l := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "VmRSS" && k != "RssAnon") {
			continue
		}
		f := strings.Fields(v) // "1234 kB"
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			anon = kb << 10
		}
	}
	return rss, anon
}

// treePIDs returns pid and its live descendants.
func treePIDs(pid int) ([]int, error) {
	if _, err := readProcStat(pid); err != nil {
		return nil, err
	}
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil || p == pid {
			continue
		}
		if s, err := readProcStat(p); err == nil {
			children[s.ppid] = append(children[s.ppid], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// memStats has hotpath collect its garbage and reads runtime.MemStats from
// its admin (/debug/pprof/heap?gc=1&debug=1 ends with them as
// "# Name = value" lines).
func memStats(ctx context.Context, admin string) (map[string]int64, error) {
	b, err := getURL(ctx, "http://"+admin+"/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return nil, err
	}
	return parseMemStats(b), nil
}

// parseMemStats reads the "# Name = value" lines of a debug=1 heap
// profile; "# Stack = inuse / sys" gives StackInuse and StackSys.
func parseMemStats(b []byte) map[string]int64 {
	m := map[string]int64{}
	for l := range strings.SplitSeq(string(b), "\n") {
		l, ok := strings.CutPrefix(l, "# ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(l, " = ")
		if !ok || strings.Contains(k, " ") {
			continue
		}
		if k == "Stack" {
			in, sys, _ := strings.Cut(v, " / ")
			if n, err := strconv.ParseInt(strings.TrimSpace(in), 10, 64); err == nil {
				m["StackInuse"] = n
			}
			if n, err := strconv.ParseInt(strings.TrimSpace(sys), 10, 64); err == nil {
				m["StackSys"] = n
			}
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// adminClient keeps no connection open after a request (no goroutine is
// left behind).
var adminClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// getURL GETs url and returns the body of a 200.
func getURL(ctx context.Context, url string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %s", url, resp.StatusCode, firstLines(string(b), 1))
	}
	return b, nil
}

// saveURL writes the body of GET url to path.
func saveURL(ctx context.Context, url, path string) error {
	b, err := getURL(ctx, url)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// summarizeIdle fills the IdleSummary of every contender of an idle_conns
// scenario and the ratios against nginx and HAProxy.
func (sr *ScenarioResult) summarizeIdle() {
	for _, c := range sr.Contenders {
		c.IdleSummary = nil
		if len(c.Idle) == 0 {
			continue
		}
		var per, anon, before, live, stack []float64
		s := &IdleSummary{Held: c.Idle[0].Held, StillOpen: c.Idle[0].StillOpen}
		for _, r := range c.Idle {
			per = append(per, r.BytesPerConn)
			anon = append(anon, float64(r.AnonAfter-r.AnonBefore)/float64(max(r.Held, 1)))
			before = append(before, float64(r.RSSBefore))
			s.Held, s.StillOpen = min(s.Held, r.Held), min(s.StillOpen, r.StillOpen)
			if r.Go != nil {
				live = append(live, r.Go.LivePerConn)
				stack = append(stack, r.Go.StackInusePerConn)
			}
		}
		s.BytesPerConn, s.AnonPerConn, s.RSSBefore = rangeOf(per), rangeOf(anon), median(before)
		s.LivePerConn, s.StackInusePerConn = median(live), median(stack)
		c.IdleSummary = s
	}
	for _, c := range sr.Contenders {
		if c.IdleSummary == nil {
			continue
		}
		if n := sr.contender("nginx"); n != nil && n.IdleSummary != nil && n.IdleSummary.BytesPerConn.Median > 0 {
			c.IdleSummary.VsNginx = c.IdleSummary.BytesPerConn.Median / n.IdleSummary.BytesPerConn.Median
		}
		if hp := sr.contender("haproxy"); hp != nil && hp.IdleSummary != nil && hp.IdleSummary.BytesPerConn.Median > 0 {
			c.IdleSummary.VsHAProxy = c.IdleSummary.BytesPerConn.Median / hp.IdleSummary.BytesPerConn.Median
		}
	}
}

// idleMarkdown renders an idle_conns scenario's table.
func (sr *ScenarioResult) idleMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n", sr.Name, sr.Desc)
	b.WriteString("Each round starts every contender afresh; RSS is VmRSS summed over the server's processes, read after a warm-up and again with the connections held idle; the figure is the growth divided by the connections held. Anon is the same from RssAnon (heap and stacks only).\n\n")
	b.WriteString("| contender | B per idle connection, median [min–max] | anon B/conn | RSS before | connections held | still open | processes | vs nginx | vs HAProxy |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var goNotes []string
	for _, c := range sr.Contenders {
		s := c.IdleSummary
		switch {
		case s == nil && c.Skipped != "":
			fmt.Fprintf(&b, "| %s | %s |  |  |  |  |  |  |  |\n", c.Name, mdCell(c.Skipped))
		case s == nil && c.Failed != "":
			fmt.Fprintf(&b, "| %s | failed: %s |  |  |  |  |  |  |  |\n", c.Name, mdCell(c.Failed))
		case s == nil:
			fmt.Fprintf(&b, "| %s | no runs |  |  |  |  |  |  |  |\n", c.Name)
		default:
			name := c.Name
			if c.Failed != "" {
				name += " (failed in a later round)"
			}
			fmt.Fprintf(&b, "| %s | %.0f [%.0f–%.0f] | %.0f | %.1f MiB | %d of %d | %d | %d | %s | %s |\n",
				name, s.BytesPerConn.Median, s.BytesPerConn.Min, s.BytesPerConn.Max, s.AnonPerConn.Median,
				s.RSSBefore/(1<<20), s.Held, c.Idle[0].Asked, s.StillOpen, c.Idle[0].Processes,
				fmtRatio(s.VsNginx), fmtRatio(s.VsHAProxy))
			if s.LivePerConn != 0 || s.StackInusePerConn != 0 {
				goNotes = append(goNotes, fmt.Sprintf("%s: live Go heap %+.0f B, goroutine stacks %+.0f B", c.Name, s.LivePerConn, s.StackInusePerConn))
			}
		}
	}
	if len(goNotes) > 0 {
		fmt.Fprintf(&b, "\nPer held connection, from runtime.MemStats after a forced collection (median over rounds): %s. The RSS figure also holds garbage not yet collected and freed memory not yet returned to the OS. The heap profiles are in raw/%s/ (go tool pprof -sample_index=inuse_space -top).\n", strings.Join(goNotes, "; "), sr.Name)
	}
	return b.String()
}

// idleHTML renders an idle_conns scenario's table for latency.html.
func (sr *ScenarioResult) idleHTML() string {
	var b strings.Builder
	b.WriteString("<table><tr><th>contender</th><th>B RSS per idle connection, median [min–max]</th><th>connections held</th><th>vs nginx</th><th>vs HAProxy</th></tr>\n")
	for _, c := range sr.Contenders {
		s := c.IdleSummary
		if s == nil {
			why := c.Skipped
			if why == "" {
				why = "failed: " + c.Failed
			}
			fmt.Fprintf(&b, "<tr><td>%s</td><td class=skip colspan=4>%s</td></tr>\n", c.Name, html.EscapeString(why))
			continue
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f [%.0f–%.0f]</td><td>%d</td><td>%s</td><td>%s</td></tr>\n",
			c.Name, s.BytesPerConn.Median, s.BytesPerConn.Min, s.BytesPerConn.Max, s.Held, fmtRatio(s.VsNginx), fmtRatio(s.VsHAProxy))
	}
	b.WriteString("</table>\n")
	return b.String()
}
