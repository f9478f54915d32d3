package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/aggregate"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/tlsloop"
)

// Server is the gateway: gnet event loops on the configured listeners, the
// current routing table, and drain and reload control. Create it with New,
// then Start; Shutdown drains it. Its methods are safe for concurrent use.
type Server struct {
	log   *slog.Logger
	addrs []string // listener addresses, port 0 resolved at Start
	loops int      // event loops

	tbl atomic.Pointer[table] // current routing table; swapped by Reload

	grpcMethods grpcMethods // the gRPC methods the metrics count (grpcstats.go)
	mu          sync.Mutex  // serializes Reload and Shutdown

	epoch    time.Time    // loop clock origin (monotonic)
	loopsMap sync.Map     // gnet.EventLoop -> *loop, filled as loops see their first connection
	paused   atomic.Int64 // connections paused for backpressure, all loops: speeds up the tick
	active   atomic.Int64 // open client connections, all loops

	// monoClock replaces the loop clock when set (tests drive time with
	// it); nil reads the monotonic clock since epoch. Set it before Start.
	monoClock func() int64

	draining atomic.Bool // Shutdown called: stop accepting, close keep-alives
	stopping atomic.Bool // engine stop requested: next OnTick shuts gnet down
	booted   chan struct{}
	done     chan struct{} // closed when gnet.Run returns
	runErr   error
	started  atomic.Bool

	obs      observer          // metrics and access log (observe.go)
	pol      policyShared      // limiter state and the cache, across reloads (policy.go)
	agg      *aggregate.Client // fan-out for aggregate routes, across reloads (aggregatepath.go)
	auth     authPool          // Basic-credential verifiers off the loops (authpool.go)
	clock    func() time.Time  // wall clock for the cache; nil = time.Now (tests move it)
	fd       fdGuard           // the descriptor budget that keeps accept from failing (fdguard.go)
	edge     edgeShared        // per-client connection limits and edge counters (edge.go)
	maxConns int               // limits.max_connections at New (0: derived from the descriptor limit)
	handover bool              // WithHandover
	lnPorts  map[int]int       // listener port -> the listener's index, filled by Start
	// tlsServers are the TLS listeners' handshakes, certificates and
	// session ticket keys, by listener index (nil: plain); tls.go.
	tlsServers []*tlsloop.Server

	watchDone, watchExited chan struct{} // the passive-health watcher (health.go)
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger for process events (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithHandover lets Start bind addresses another process is listening on
// (with SO_REUSEPORT the kernel then splits new connections between the
// two): a deliberate hand-over from an old instance to a new one. Without
// it Start refuses such an address.
func WithHandover() Option { return func(s *Server) { s.handover = true } }

// New compiles cfg into a Server; it does not listen yet. Errors are
// config.Errors naming the route or upstream at fault.
func New(cfg *config.Config, opts ...Option) (*Server, error) {
	s := &Server{log: slog.Default(), epoch: time.Now(), booted: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	scs, tlsErrs, tlsWarnings := listenerTLS(cfg, time.Now())
	t, err := compile(cfg, nil)
	if err != nil || len(tlsErrs) > 0 {
		return nil, joinConfigErrors(err, tlsErrs, t)
	}
	for _, w := range tlsWarnings {
		s.log.Warn(w.Error())
	}
	s.tlsServers = make([]*tlsloop.Server, len(scs))
	for i, sc := range scs {
		if sc != nil {
			s.tlsServers[i] = tlsloop.NewServer(sc)
		}
	}
	s.pol.log = s.log
	s.agg = s.newAggregateClient()
	if err := s.pol.bind(t); err != nil {
		t.close()
		return nil, err
	}
	if err := s.edge.bind(t); err != nil {
		t.close()
		return nil, err
	}
	s.tbl.Store(t)
	for _, l := range cfg.Listeners {
		s.addrs = append(s.addrs, l.Address)
	}
	s.maxConns = cfg.Limits.MaxConnections
	s.loops = cfg.EventLoops() // every loop accepts on every listener (gnet.Rotate, SO_REUSEPORT)
	if s.loops <= 0 {
		s.loops = runtime.GOMAXPROCS(0)
	}
	s.initObs(cfg)
	s.obs.log = s.log
	if err := s.obs.install(t); err != nil {
		t.close()
		return nil, err
	}
	return s, nil
}

// Check compiles cfg as New would (routes, balancers) without starting
// anything, and reports every problem. cfg may have failed config's
// validation (hotpath -check compiles it anyway): compiling tolerates it
// and leaves out what depends on a field in error (a route whose upstream
// is unknown).
func Check(cfg *config.Config) error {
	// Health checks are not started for a check: strip them from a copy.
	c := *cfg
	c.Upstreams = append([]config.Upstream(nil), cfg.Upstreams...)
	for i := range c.Upstreams {
		c.Upstreams[i].Health.Active = nil
	}
	_, tlsErrs, _ := listenerTLS(cfg, time.Now())
	t, err := compile(&c, nil)
	if err != nil || len(tlsErrs) > 0 {
		return joinConfigErrors(err, tlsErrs, t)
	}
	t.close()
	return nil
}

// joinConfigErrors merges compile's error with the listeners' TLS errors,
// closing t (compiled, but not to be used) if there is one.
func joinConfigErrors(err error, tlsErrs config.Errors, t *table) error {
	if t != nil {
		t.close()
	}
	var errs config.Errors
	if err != nil && !errors.As(err, &errs) {
		return err
	}
	return append(errs, tlsErrs...)
}

// Start binds the listeners and runs the event loops in the background. It
// returns once the engine has booted, or with the bind error. A listener port
// of 0 is replaced by a free port first (with SO_REUSEPORT every loop binds
// its own socket, so all must agree on the port); Addrs reports the result.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("engine: Start called twice")
	}
	if err := s.obs.start(s.log); err != nil {
		s.started.Store(false)
		return err
	}
	protos := make([]string, len(s.addrs))
	for i, a := range s.addrs {
		switch {
		case strings.HasSuffix(a, ":0"):
			free, err := freePort(a)
			if err != nil {
				s.obs.close()
				return err
			}
			s.addrs[i] = free
		case !s.handover:
			if err := notListening(a); err != nil {
				s.obs.close()
				return err
			}
		}
		protos[i] = "tcp://" + s.addrs[i]
		if p, ok := listenerPort(s.addrs[i]); ok {
			if j, dup := s.lnPorts[p]; dup && !sameProtocols(s.tbl.Load().cfg, i, j) {
				s.obs.close()
				return fmt.Errorf("engine: listeners %s and %s share port %d but not their protocols or tls: connections are told apart by port", s.addrs[j], s.addrs[i], p)
			}
			if s.lnPorts == nil {
				s.lnPorts = map[int]int{}
			}
			s.lnPorts[p] = i
		}
	}
	go func() {
		defer close(s.done)
		s.runErr = gnet.Rotate(s, protos,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.loops),
			gnet.WithReusePort(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithTicker(true),
			gnet.WithLogger(gnetLogger{s.log}),
		)
	}()
	select {
	case <-s.booted:
		s.watchDone, s.watchExited = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(s.watchExited)
			s.watchHealth(s.watchDone) // health.go
		}()
		return nil
	case <-s.done:
		if s.runErr == nil {
			s.runErr = errors.New("engine: gnet stopped during boot")
		}
		s.obs.close()
		return fmt.Errorf("engine: listen %s: %w", strings.Join(s.addrs, ", "), s.runErr)
	}
}

func freePort(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("engine: listen %s: %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// notListening fails when a socket listens on addr already. The loops bind
// with SO_REUSEPORT, which would let a second gateway share the port
// silently and split the traffic between two configs. It reads the
// kernel's socket tables rather than trying a bind: connections of a
// previous instance that just exited (FIN_WAIT, TIME_WAIT) would fail a
// plain bind although nothing listens any more.
func notListening(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil // a host name: gnet resolves it and reports its own errors
	}
	busy, err := listening(ap)
	if err != nil || !busy {
		return nil // no /proc: nothing to check against
	}
	return fmt.Errorf("engine: listen %s: another process is listening there (stop it, or start with -handover to share the port during a deliberate hand-over)", addr)
}

// listening reports whether /proc/net/tcp or tcp6 has a socket in LISTEN
// state on ap's port, on ap's address or a wildcard one (or, for a
// wildcard ap, on any address).
func listening(ap netip.AddrPort) (bool, error) {
	found := false
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			a, ok := procAddr(fs[1])
			if !ok || a.Port() != ap.Port() {
				continue
			}
			l, want := a.Addr().Unmap(), ap.Addr().Unmap()
			if l == want || l.IsUnspecified() || want.IsUnspecified() {
				found = true
			}
		}
	}
	return found, nil
}

// procAddr parses a /proc/net/tcp address: hex IP in 32-bit host-order
// (little-endian) words, a colon, hex port.
func procAddr(s string) (netip.AddrPort, bool) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok || (len(ipHex) != 8 && len(ipHex) != 32) {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil {
		return netip.AddrPort{}, false
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip, uint16(port)), true
}

// Addrs returns the listener addresses (with ports resolved after Start).
func (s *Server) Addrs() []string { return append([]string(nil), s.addrs...) }

// Addr returns the first listener address.
func (s *Server) Addr() string { return s.addrs[0] }

// Reload compiles cfg and swaps it in atomically. Requests in flight finish
// on the table they started with. On error nothing changes. Listener
// addresses and worker counts need a restart; Reload logs when they differ.
func (s *Server) Reload(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.tbl.Load()
	scs, tlsErrs, tlsWarnings := listenerTLS(cfg, time.Now())
	t, err := compile(cfg, old)
	if err != nil || len(tlsErrs) > 0 {
		return joinConfigErrors(err, tlsErrs, t)
	}
	if err = s.obs.install(t); err != nil {
		t.close()
		return err
	}
	if err := s.pol.bind(t); err != nil {
		t.close()
		return err
	}
	if err := s.edge.bind(t); err != nil {
		t.close()
		return err
	}
	s.tbl.Store(t)
	for i, sc := range scs {
		// New handshakes use the new certificates; connections keep theirs.
		if sc != nil && i < len(s.tlsServers) && s.tlsServers[i] != nil {
			s.tlsServers[i].Apply(sc)
		}
	}
	for _, w := range tlsWarnings {
		s.log.Warn(w.Error())
	}
	if !sameListeners(old.cfg, cfg) {
		s.log.Warn("listener changes need a restart; still listening on the old addresses", "listening", strings.Join(s.addrs, ","))
	}
	old.close()
	t.retireDropped(old)
	s.obs.reload(cfg, s.log)
	s.log.Info("config reloaded", "source", cfg.Source, "routes", len(cfg.Routes), "upstreams", len(cfg.Upstreams))
	return nil
}

func sameListeners(a, b *config.Config) bool {
	if len(a.Listeners) != len(b.Listeners) || a.EventLoops() != b.EventLoops() {
		return false
	}
	for i := range a.Listeners {
		x, y := a.Listeners[i], b.Listeners[i]
		if x.Address != y.Address || !slices.Equal(x.Protocols, y.Protocols) || x.HTTP2 != y.HTTP2 ||
			(x.TLS == nil) != (y.TLS == nil) {
			return false
		}
	}
	return true
}

// Shutdown drains the server: it stops accepting, closes idle keep-alive
// connections, lets in-flight exchanges finish (their responses carry
// Connection: close) until ctx is done, then stops the loops, closing
// whatever is left. It returns ctx.Err() when the deadline cut the drain short.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.draining.Store(true)
	s.loopsMap.Range(func(_, v any) bool {
		lp := v.(*loop)
		_ = lp.el.Execute(context.Background(), runnable(lp.drain))
		return true
	})
	var err error
	tick := time.NewTicker(5 * time.Millisecond)
	for s.active.Load() > 0 && err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
		case <-s.done:
		}
	}
	tick.Stop()
	s.stop()
	return err
}

// Close stops the loops at once, closing every connection.
func (s *Server) Close() error {
	if !s.started.Load() {
		s.pol.close(s.tbl.Load())
		s.agg.Close()
		return nil
	}
	s.stop()
	return nil
}

func (s *Server) stop() {
	s.stopping.Store(true)
	<-s.done
	if s.watchDone != nil {
		close(s.watchDone)
		<-s.watchExited
		s.watchDone = nil
	}
	s.loopsMap.Range(func(_, v any) bool {
		// The loops have stopped. gnet keeps a stopped engine, and with it
		// this Server, in a package-level map: let the recycled
		// connections and exchanges go.
		lp := v.(*loop)
		clear(lp.freeConns)
		clear(lp.freeExchanges)
		lp.freeConns, lp.freeExchanges = nil, nil
		return true
	})
	s.agg.Close() // cancels parked aggregations; their results find no loop
	s.auth.close()
	s.obs.close()
	s.mu.Lock()
	if t := s.tbl.Load(); t != nil {
		t.close()
	}
	s.mu.Unlock()
	s.pol.close(s.tbl.Load())
}

// Done is closed when the event loops have stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// runnable adapts a func to gnet.Runnable for EventLoop.Execute.
type runnable func()

func (r runnable) Run(context.Context) error { r(); return nil }

// gnet.EventHandler: one handler serves client and upstream connections;
// the connection's Context tells them apart (*down or *up).

// OnBoot implements gnet.EventHandler.
func (s *Server) OnBoot(gnet.Engine) gnet.Action {
	s.fd.init(s.loops, s.maxConns) // the listeners and pollers are open now
	close(s.booted)
	return gnet.None
}

// OnShutdown implements gnet.EventHandler.
func (s *Server) OnShutdown(gnet.Engine) {}

// OnOpen implements gnet.EventHandler.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if u, ok := c.Context().(*up); ok {
		u.lp.wake()
		return nil, u.onOpen(c)
	}
	if hc, ok := c.Context().(*up2); ok {
		hc.lp.wake()
		return nil, hc.onOpen(c) // up2.go
	}
	if s.draining.Load() {
		return nil, gnet.Close
	}
	now := s.now() // the wake-up's reading, lp.now once the loop is known
	held, ok := s.edgeAdmit(c, now)
	if !ok {
		return nil, gnet.Close // ip_filter or limits.per_ip refused the peer (edge.go)
	}
	lp := s.loopOf(c)
	lp.now = now
	if !s.admit(lp) {
		if held {
			s.edgeRelease(peerAddrOf(c))
		}
		return nil, gnet.Close // the descriptor budget is spent (fdguard.go)
	}
	h := lp.openDown(c)
	h.perIP = held
	if len(s.tlsServers) > 0 {
		if i, ok := s.listenerOf(c); ok && s.tlsServers[i] != nil {
			s.startTLS(h, c, i) // tls.go
		}
	}
	return nil, gnet.None
}

// OnClose implements gnet.EventHandler.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	if lp := connLoop(c); lp != nil {
		lp.wake()
	}
	switch x := c.Context().(type) {
	case *h1conn:
		closeTLS(x.c)
		x.onClose()
	case *h2conn:
		closeTLS(x.c)
		x.onClose()
	case *up:
		closeTLS(x.c)
		x.onClose(err)
	case *up2:
		closeTLS(x.c)
		x.onClose(err)
	case *tunnelEnd:
		closeTLS(x.c)
		x.onClose(err)
	}
	settleAfter(c) // a close may free a connection slot (pending.go)
	return gnet.None
}

// OnTraffic implements gnet.EventHandler.
func (s *Server) OnTraffic(c gnet.Conn) (action gnet.Action) {
	if lp := connLoop(c); lp != nil {
		lp.wake()
	}
	defer settleAfter(c) // after contain: serve waiting requests (pending.go)
	defer s.contain(c, &action)
	// With TLS under the connection, its ciphertext goes to TLS first, and
	// the protocol runs once the handshake has completed (tls.go).
	switch x := c.Context().(type) {
	case *h1conn:
		if t := tlsOf(x.c); t != nil {
			if act, ready := t.read(); !ready {
				return act
			}
			if !t.opened {
				if hc := x.tlsOpened(t); hc != nil {
					return hc.onTraffic()
				}
			}
		}
		return x.onTraffic()
	case *h2conn:
		if t := tlsOf(x.c); t != nil {
			if act, ready := t.read(); !ready {
				return act
			}
		}
		return x.onTraffic()
	case *up:
		if t := tlsOf(x.c); t != nil {
			if act, ready := t.read(); !ready {
				return act
			}
		}
		return x.onTraffic()
	case *up2:
		if t := tlsOf(x.c); t != nil {
			if act, ready := t.read(); !ready {
				return act
			}
		}
		return x.onTraffic()
	case *tunnelEnd:
		if t := tlsOf(x.c); t != nil {
			if act, ready := t.read(); !ready {
				return act
			}
		}
		return x.onTraffic()
	}
	return gnet.Close
}

// contain turns a panic while handling c (a bug, or malformed input that a
// parser failed to reject) into closing c, so that one connection cannot take
// down the loop and every other connection on it.
func (s *Server) contain(c gnet.Conn, action *gnet.Action) {
	r := recover()
	if r == nil {
		return
	}
	s.log.Error("panic in connection handler; connection closed", "panic", r, "stack", string(debug.Stack()))
	switch x := c.Context().(type) {
	case *h1conn:
		x.busy = false
	case *h2conn:
		x.busy = false
	case *up:
		x.busy = false
	case *up2:
		x.busy = false
	case *tunnelEnd:
		x.busy = false
	}
	*action = gnet.Close
}

// connLoop returns the loop of a connection the engine set up (its
// Context), or nil.
func connLoop(c gnet.Conn) *loop {
	switch x := c.Context().(type) {
	case *h1conn:
		return x.lp
	case *h2conn:
		return x.lp
	case *up:
		return x.lp
	case *up2:
		return x.lp
	case *tunnelEnd:
		return x.t.lp
	}
	return nil
}

// OnTick implements gnet.EventHandler. It runs on gnet's ticker goroutine,
// so it only schedules each loop's own tick onto that loop.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	if s.stopping.Load() {
		return time.Millisecond, gnet.Shutdown
	}
	s.loopsMap.Range(func(_, v any) bool {
		lp := v.(*loop)
		_ = lp.el.Execute(context.Background(), lp)
		return true
	})
	if s.paused.Load() > 0 {
		return 2 * time.Millisecond, gnet.None
	}
	return 50 * time.Millisecond, gnet.None
}

// loopOf returns the state of the loop that owns c, creating it on the
// loop's first connection.
func (s *Server) loopOf(c gnet.Conn) *loop {
	el := c.EventLoop()
	if v, ok := s.loopsMap.Load(el); ok {
		return v.(*loop)
	}
	lp := newLoop(s, el, c)
	s.loopsMap.Store(el, lp)
	if s.draining.Load() {
		lp.drain()
	}
	return lp
}

// now reads the loop clock: monotonic nanoseconds since the server was
// created. Code on a loop uses the loop's reading of this wake-up (loop.now)
// instead; now is for the reading itself and for code off the loops.
func (s *Server) now() int64 {
	if s.monoClock != nil {
		return s.monoClock()
	}
	return int64(time.Since(s.epoch))
}

// gnetLogger sends gnet's own logs to slog (Debug and Info at Debug level:
// gnet announces every start at Info).
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "component", "gnet") }
