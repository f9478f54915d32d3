package engine

import (
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/metrics"
)

// Running out of file descriptors must never stop the gateway.
//
// gnet v2.10.0 treats every accept(2) error but EAGAIN, EINTR, ECONNRESET
// and ECONNABORTED as fatal (acceptor_unix.go: errors.ErrAcceptSocket ends
// the loop's poller, and one loop's end shuts the engine down), and it has
// no option to change that. A connection flood past RLIMIT_NOFILE would
// make accept fail with EMFILE and take every established connection down
// with the process. So the engine makes sure accept never runs out of
// descriptors, as nginx does when worker_connections run out: it counts
// client and upstream connections against the descriptor limit, and a loop
// that reaches the budget stops accepting (its listening sockets leave its
// epoll set, pause.go's stopAccepting) until connections close. New
// connections then wait in the kernel's listen backlog (clients see a slow
// connect, never a reset gateway); the one accepted at the boundary is
// closed at once and counted as refused. Established connections are
// served throughout. Each burst is logged once, when the first loop pauses
// and when the last one resumes.
//
// The budget, from the soft RLIMIT_NOFILE at boot (gateway raises it to
// the hard limit first): the descriptors open at boot (listeners, epoll
// and event descriptors, files) plus a reserve (dials and accepts in
// flight, the admin listener, health checks, log files) are set aside, and
// each client connection may need an upstream connection, so the client
// cap (limits.max_connections, 0 = derived) defaults to half of the rest.
// Upstream connections are counted as they are dialed; idle keep-alive
// ones are closed while the budget is spent (they only save a connect); a
// dial that fails with EMFILE anyway answers 502, which the process
// survives.
type fdGuard struct {
	limit    int64 // soft RLIMIT_NOFILE at boot
	base     int64 // descriptors open at boot
	reserve  int64
	maxConns int64 // client connections

	ups     atomic.Int64 // upstream connections open or dialing, all loops
	paused  atomic.Int64 // loops not accepting because of the budget
	refused atomic.Uint64
	pauses  atomic.Uint64

	// The burst being logged: it opens with the first pause and closes once
	// every loop has accepted for burstQuiet since the last resume.
	burstOpen    atomic.Bool
	burstSince   atomic.Int64 // loop clock at the burst's first pause
	lastResume   atomic.Int64 // loop clock
	burstRefused atomic.Uint64
	burstPauses  atomic.Uint64
}

// burstQuiet is how long every loop accepts before a burst is over.
const burstQuiet = int64(time.Second)

// fdReserve is set aside beyond the descriptors open at boot, per loop
// and in all.
const (
	fdReservePerLoop = 2
	fdReserve        = 64
)

// init reads the limit and the descriptors in use; maxConns is
// limits.max_connections (0: derived).
func (g *fdGuard) init(loops int, maxConns int) {
	var rl unix.Rlimit
	g.limit = 1 << 20
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(g.limit) {
		g.limit = int64(rl.Cur)
	}
	g.base = 64
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		g.base = int64(len(ents))
	}
	g.reserve = fdReserve + fdReservePerLoop*int64(loops)
	g.maxConns = int64(maxConns)
	if g.maxConns <= 0 {
		g.maxConns = max((g.limit-g.base-g.reserve)/2, 1)
	}
}

// full reports whether one more client connection, with active open now,
// would pass the budget.
func (g *fdGuard) full(active int64) bool {
	return active >= g.maxConns || active+g.ups.Load()+g.base+g.reserve >= g.limit
}

// roomy reports whether a paused loop may accept again: below nine tenths
// of the cap, so that a loop does not flap at the boundary.
func (g *fdGuard) roomy(active int64) bool {
	return active < g.maxConns-g.maxConns/10 && active+g.ups.Load()+g.base+g.reserve < g.limit-g.limit/20
}

// admit decides for a client connection just accepted on lp's loop: it
// returns false (close it) when the budget is spent, and stops lp's
// accepting until roomy.
func (s *Server) admit(lp *loop) bool {
	g := &s.fd
	if !g.full(s.active.Load()) {
		return true
	}
	g.refused.Add(1)
	g.burstRefused.Add(1)
	lp.shedIdleUpstreams()
	if !lp.acceptPaused && !lp.stoppedAccepting {
		lp.acceptPaused = true
		stopAccepting(lp.epfd, lp.lnfd)
		g.pauses.Add(1)
		g.burstPauses.Add(1)
		g.paused.Add(1)
		if g.burstOpen.CompareAndSwap(false, true) {
			g.burstSince.Store(lp.now)
			s.log.Warn("connection budget reached: accepting paused until connections close; new clients wait in the listen backlog",
				"client_connections", s.active.Load(), "max_connections", g.maxConns,
				"upstream_connections", g.ups.Load(), "open_files_limit", g.limit)
		}
	}
	return false
}

// endBurst logs the end of a burst once every loop has accepted for
// burstQuiet; each loop's tick calls it while a burst is open.
func (s *Server) endBurst(now int64) {
	g := &s.fd
	if g.paused.Load() > 0 || now-g.lastResume.Load() < burstQuiet || !g.burstOpen.CompareAndSwap(true, false) {
		return
	}
	s.log.Info("accepting resumed", "burst", time.Duration(g.lastResume.Load()-g.burstSince.Load()).Round(time.Millisecond),
		"refused", g.burstRefused.Swap(0), "pauses", g.burstPauses.Swap(0), "client_connections", s.active.Load())
}

// resumeAccepting runs on each tick of a paused loop.
func (lp *loop) resumeAccepting() {
	s := lp.srv
	g := &s.fd
	if !lp.acceptPaused || lp.stoppedAccepting || s.draining.Load() {
		return
	}
	if !g.roomy(s.active.Load()) {
		lp.shedIdleUpstreams()
		return
	}
	lp.acceptPaused = false
	startAccepting(lp.epfd, lp.lnfd)
	g.lastResume.Store(lp.now)
	g.paused.Add(-1)
}

// shedIdleUpstreams closes the loop's idle keep-alive upstream
// connections: at the budget, descriptors serve clients first (an idle
// connection is only a saved connect). A paused loop sheds its own, and
// while any loop is paused every loop's tick sheds its own too: the
// budget counts all loops' upstream connections, so a paused loop could
// otherwise wait for another loop's idle ones to time out.
func (lp *loop) shedIdleUpstreams() {
	for _, p := range lp.conns {
		if p != nil && p.IdleLen() > 0 {
			p.CloseIdle(lp.closeIdle)
		}
	}
}

// startAccepting puts the loop's listening sockets back into its epoll
// set, as gnet registered them (level-triggered read interest).
func startAccepting(epfd int, fds []int) {
	if epfd < 0 {
		return
	}
	for _, fd := range fds {
		_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: epollRead, Fd: int32(fd)})
	}
}

// AcceptStats returns the connection budget's counters.
func (s *Server) AcceptStats() metrics.AcceptStats {
	g := &s.fd
	return metrics.AcceptStats{MaxConnections: g.maxConns, Refused: g.refused.Load(), Pauses: g.pauses.Load(), PausedLoops: g.paused.Load()}
}
