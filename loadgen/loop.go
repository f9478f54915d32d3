package loadgen

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	readBufSize  = 16 << 10 // per connection; grows only for a head that does not fit
	tickInterval = 20 * time.Millisecond
	reconnectGap = 10 * time.Millisecond // after a failed connect
)

// loop is one event loop: an epoll instance, its connections and its stats.
// Everything in it is touched by the loop's goroutine only, except progress.
type loop struct {
	ep      int
	sa      unix.Sockaddr
	family  int
	conns   []conn
	events  []unix.EpollEvent
	targets []Target
	stats   *stats

	base        time.Time // the run's monotonic time base
	start       int64     // ns since base: the schedules' origin
	recStart    int64     // ns since base: recording starts (after warm-up)
	end         int64     // ns since base: the recorded period ends; nothing is sent after it
	drainEnd    int64     // ns since base: the run ends at the latest (end + Config.Drain)
	interval    float64   // open loop: ns between one connection's sends; 0 = closed loop
	depth       int
	timeout     int64
	noKeepAlive bool
	live        bool

	heap []int32 // timer heap of conn indices ordered by conn.wake
	ts   unix.Timespec

	tls *tlsDialer // https: connects and handshakes off the loop (tls.go)

	progress progress
	stop     atomic.Bool // set by Run when its context is cancelled
}

// progress is what a loop publishes for the live line (atomics: read by Run).
type progress struct {
	requests atomic.Int64
	errors   atomic.Int64
	p99      atomic.Int64 // µs, corrected
}

// run drives the loop until l.end. It locks its OS thread.
func (l *loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Wake-ups exactly when asked (default slack is 50 µs): the open-loop
	// schedule's accuracy depends on it. Only this locked thread is affected.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	now := l.now()
	for i := range l.conns {
		l.connect(&l.conns[i], now)
	}
	nextTick := now + int64(tickInterval)
	nextLive := now + int64(time.Second)
	for {
		now = l.now()
		if (now >= l.end && (now >= l.drainEnd || l.idle())) || l.stop.Load() {
			break
		}
		for len(l.heap) > 0 && l.conns[l.heap[0]].wake <= now {
			c := &l.conns[l.heapPop()]
			if c.state == stClosed {
				l.connect(c, now)
			} else if c.state == stOpen {
				l.fill(c, now)
				l.settle(c, now)
			}
		}
		wait := nextTick - now
		if now < l.end {
			wait = min(wait, l.end-now)
		} else {
			wait = min(wait, l.drainEnd-now)
		}
		if len(l.heap) > 0 {
			wait = min(wait, l.conns[l.heap[0]].wake-now)
		}
		n := l.wait(max(wait, 0))
		now = l.now()
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			if ev.Fd == tlsEvent {
				l.tlsHandshakes(now)
				continue
			}
			c := &l.conns[ev.Fd]
			if ev.Pad != c.gen || c.state == stClosed {
				continue // an event for a socket already closed
			}
			l.handle(c, ev.Events, now)
		}
		if now >= nextTick {
			nextTick = now + int64(tickInterval)
			l.tick(now)
			if l.live && now >= nextLive {
				nextLive = now + int64(time.Second)
				l.progress.p99.Store(l.stats.hist.ValueAtQuantile(99))
			}
		}
	}
	for i := range l.conns {
		if l.conns[i].state != stClosed {
			unix.Close(l.conns[i].fd)
			l.conns[i].state = stClosed
		}
	}
	unix.Close(l.ep)
	l.tick(l.now())
}

func (l *loop) now() int64 { return int64(time.Since(l.base)) }

// wait is epoll_pwait2 with a nanosecond timeout (falling back to
// epoll_wait's milliseconds on kernels before 5.11): an open-loop schedule
// needs sub-millisecond wake-ups.
//
// It is a raw system call on purpose: the loop owns a locked OS thread and
// its P, and a wait never exceeds tickInterval. Through syscall.Syscall the
// runtime would hand the P to another thread whenever a wait lasts more than
// ~20 µs and take it back after, which costs futex wake-ups and context
// switches on every wait and, measured at 5 000 req/s, several times the CPU
// of the loop's own work. The price: a stop-the-world (GC) waits for the
// current wait to end, at most tickInterval; the loop does not allocate in
// steady state, so collections are rare.
func (l *loop) wait(d int64) int {
	l.ts = unix.NsecToTimespec(d)
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(l.ep), uintptr(unsafe.Pointer(&l.events[0])),
		uintptr(len(l.events)), uintptr(unsafe.Pointer(&l.ts)), 0, 0)
	if e == unix.ENOSYS {
		n, err := unix.EpollWait(l.ep, l.events, int((d+999_999)/1_000_000))
		if err != nil {
			return 0
		}
		return n
	}
	if e != 0 {
		return 0 // EINTR
	}
	return int(r)
}

// handle processes one readiness event.
func (l *loop) handle(c *conn, events uint32, now int64) {
	if c.state == stConnecting {
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil || soerr != 0 {
			if err == nil {
				err = unix.Errno(soerr)
			}
			l.stats.failed(ErrConnect, err)
			l.closeConn(c, now, reconnectGap)
			return
		}
		c.state = stOpen
		l.stats.connects++
		l.fill(c, now)
		l.settle(c, now)
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
		l.read(c, now)
	}
	if !c.closeMe && c.state == stOpen && events&unix.EPOLLOUT != 0 && c.woff < len(c.wbuf) {
		l.flush(c, now)
	}
	if !c.closeMe && c.state == stOpen {
		l.fill(c, now)
	}
	l.settle(c, now)
}

// read does one read into the connection's buffer and frames what is there.
func (l *loop) read(c *conn, now int64) {
	if c.tls != nil {
		l.tlsRead(c, now)
		return
	}
	if c.rlen == len(c.rbuf) {
		// A head larger than the buffer (rare): grow once for this conn.
		nb := make([]byte, 2*len(c.rbuf))
		copy(nb, c.rbuf)
		c.rbuf = nb
	}
	n, err := rawRead(c.fd, c.rbuf[c.rlen:])
	if !l.readResult(c, n, err, now) {
		return
	}
	c.rlen += n
	l.consume(c, now)
}

// fill queues as many requests as the connection may send now and writes
// them in one call: up to the pipeline depth in the closed loop; in the open
// loop, those whose intended time has come.
func (l *loop) fill(c *conn, now int64) {
	if now >= l.end {
		return // draining: only responses to what was sent are awaited
	}
	if c.woff == len(c.wbuf) {
		c.wbuf, c.woff = c.wbuf[:0], 0
	}
	added := false
	for l.canSend(c) {
		intended := now
		if l.interval > 0 {
			if c.due > now {
				break
			}
			intended = c.due
			c.k++
			c.due = l.start + c.offset + int64(float64(c.k)*l.interval)
			if intended >= l.recStart {
				lag := now - intended
				l.stats.lagSum += lag
				l.stats.lagMax = max(l.stats.lagMax, lag)
			}
		}
		ti := c.next
		t := &l.targets[ti]
		c.next++
		if c.next == len(l.targets) {
			c.next = 0
		}
		f := flight{intended: intended, sent: now, head: t.head}
		if c.h2 != nil {
			c.h2.open(c, ti, f)
		} else {
			if c.tls != nil {
				_, _ = c.tls.tc.Write(t.bytes) // sealed into c.wbuf
			} else {
				c.wbuf = append(c.wbuf, t.bytes...)
			}
			i := c.qh + c.qn
			if i >= len(c.q) {
				i -= len(c.q)
			}
			c.q[i] = f
			c.qn++
		}
		if intended >= l.recStart {
			l.stats.sent++
		}
		added = true
	}
	// Frames an HTTP/2 connection owes (acknowledgements) go out even
	// when no request does.
	if added || c.woff < len(c.wbuf) && !c.wantOut {
		l.flush(c, now)
	}
}

// flush writes the pending bytes once; what the socket does not take waits
// for EPOLLOUT.
func (l *loop) flush(c *conn, now int64) {
	n, err := rawWrite(c.fd, c.wbuf[c.woff:])
	if err != nil {
		if err == unix.EAGAIN || err == unix.EINTR {
			l.setOut(c, true)
			return
		}
		l.stats.failed(ErrWrite, err)
		c.closeMe = true
		return
	}
	if now >= l.recStart {
		l.stats.bytesOut += int64(n)
	}
	c.woff += n
	l.setOut(c, c.woff < len(c.wbuf))
}

// setOut registers or drops interest in EPOLLOUT.
func (l *loop) setOut(c *conn, on bool) {
	if c.wantOut == on {
		return
	}
	c.wantOut = on
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: c.idx, Pad: c.gen}
	if on {
		ev.Events |= unix.EPOLLOUT
	}
	_ = unix.EpollCtl(l.ep, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

// settle closes a connection marked for closing and, in the open loop, arms
// its timer for the next intended send (not while draining: nothing more
// is sent).
func (l *loop) settle(c *conn, now int64) {
	if c.closeMe {
		l.closeConn(c, now, 0)
		return
	}
	if l.interval > 0 && c.state == stOpen && l.canSend(c) && c.heapIdx < 0 && now < l.end {
		c.wake = c.due
		l.heapPush(c.idx)
	}
}

// connect opens a non-blocking socket to the target (not after the
// recorded period: a draining loop sends nothing more).
func (l *loop) connect(c *conn, now int64) {
	if now >= l.end {
		unixCloseIfOpen(c)
		c.qn = 0
		return
	}
	if l.tls != nil {
		l.tlsConnect(c, now)
		return
	}
	c.closeMe, c.wantOut = false, true
	c.rlen, c.wbuf, c.woff, c.qh, c.qn, c.phase = 0, c.wbuf[:0], 0, 0, 0, phHead
	c.resp.Reset()
	if c.h2 != nil {
		c.h2.reset(c)
	}
	fd, err := unix.Socket(l.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		l.stats.failed(ErrConnect, err) // EMFILE, ENFILE: out of descriptors
		l.later(c, now+int64(reconnectGap))
		return
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Connect(fd, l.sa); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		l.stats.failed(ErrConnect, err)
		l.later(c, now+int64(reconnectGap))
		return
	}
	c.gen++
	c.fd, c.state, c.connAt = fd, stConnecting, now
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: c.idx, Pad: c.gen}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		c.state = stClosed
		l.stats.failed(ErrConnect, err)
		l.later(c, now+int64(reconnectGap))
	}
}

// closeConn closes c's socket and reconnects after gap (at once when 0).
// Requests in flight on it are dropped.
func (l *loop) closeConn(c *conn, now int64, gap time.Duration) {
	if c.state != stClosed {
		unix.Close(c.fd)
		c.state = stClosed
	}
	c.qn = 0
	if gap == 0 {
		l.connect(c, now)
		return
	}
	l.later(c, now+int64(gap))
}

// unixCloseIfOpen closes c's socket if it has one.
func unixCloseIfOpen(c *conn) {
	if c.state != stClosed {
		unix.Close(c.fd)
		c.state = stClosed
	}
}

// idle reports whether no request is in flight on any connection (the
// drain is over).
func (l *loop) idle() bool {
	for i := range l.conns {
		if l.conns[i].state != stClosed && l.conns[i].qn > 0 {
			return false
		}
	}
	return true
}

// later arms c's timer for time t.
func (l *loop) later(c *conn, t int64) {
	if c.heapIdx >= 0 {
		l.heapRemove(c.heapIdx)
	}
	c.wake = t
	l.heapPush(c.idx)
}

// tick checks timeouts and publishes progress.
func (l *loop) tick(now int64) {
	for i := range l.conns {
		c := &l.conns[i]
		if c.state != stClosed && c.qn > 0 && now-l.oldestSent(c) > l.timeout {
			l.stats.errs[ErrTimeout]++
			l.closeConn(c, now, 0)
		}
		if c.state == stConnecting && now-c.connAt > l.timeout {
			l.stats.failed(ErrConnect, unix.ETIMEDOUT)
			l.closeConn(c, now, 0)
		}
	}
	var errs int64
	for _, e := range l.stats.errs {
		errs += e
	}
	l.progress.requests.Store(l.stats.requests)
	l.progress.errors.Store(errs)
}

// The timer heap: a binary min-heap of conn indices by conn.wake, with each
// conn's position in conn.heapIdx so it can be removed. (container/heap would
// box every push in an interface.)

func (l *loop) less(i, j int) bool { return l.conns[l.heap[i]].wake < l.conns[l.heap[j]].wake }

func (l *loop) swap(i, j int) {
	l.heap[i], l.heap[j] = l.heap[j], l.heap[i]
	l.conns[l.heap[i]].heapIdx = i
	l.conns[l.heap[j]].heapIdx = j
}

func (l *loop) heapPush(idx int32) {
	l.heap = append(l.heap, idx)
	i := len(l.heap) - 1
	l.conns[idx].heapIdx = i
	l.up(i)
}

func (l *loop) heapPop() int32 {
	idx := l.heap[0]
	l.heapRemove(0)
	return idx
}

func (l *loop) heapRemove(i int) {
	last := len(l.heap) - 1
	removed := l.heap[i]
	if i != last {
		l.swap(i, last)
	}
	l.heap = l.heap[:last]
	l.conns[removed].heapIdx = -1
	if i < last {
		l.down(i)
		l.up(i)
	}
}

func (l *loop) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !l.less(i, p) {
			return
		}
		l.swap(i, p)
		i = p
	}
}

func (l *loop) down(i int) {
	n := len(l.heap)
	for {
		m, a, b := i, 2*i+1, 2*i+2
		if a < n && l.less(a, m) {
			m = a
		}
		if b < n && l.less(b, m) {
			m = b
		}
		if m == i {
			return
		}
		l.swap(i, m)
		i = m
	}
}

// rawRead and rawWrite are read(2) and write(2) on non-blocking sockets
// without the runtime's entersyscall/exitsyscall bookkeeping (they never
// block; see loop.wait for why the loop keeps its P).
func rawRead(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// readResult handles what a read of the socket returned (plain or TLS):
// would-block, a read error, EOF (which ends a close-delimited body), or n
// bytes counted as received. It reports whether there are bytes to use.
func (l *loop) readResult(c *conn, n int, err error, now int64) bool {
	if err != nil {
		if err == unix.EAGAIN || err == unix.EINTR {
			return false
		}
		if c.qn > 0 {
			l.stats.failed(ErrRead, err)
		}
		c.closeMe = true
		return false
	}
	if n == 0 { // EOF
		if c.closeDelimited() && c.qn > 0 {
			l.complete(c, now)
		} else if c.qn > 0 {
			l.stats.failed(ErrRead, nil) // closed by the peer
		}
		c.closeMe = true
		return false
	}
	if now >= l.recStart {
		l.stats.bytesIn += int64(n)
	}
	return true
}
