package engine

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/cors"
	"github.com/hotpath/hotpath/iplist"
	"github.com/hotpath/hotpath/limiter"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/trie"
)

// Edge protection (docs/edge.md): IP allow and deny lists, per-client
// connection limits, request body limits and CORS. The decisions live in
// packages iplist, limiter and cors; this file compiles their config and
// wires them to a few hook points:
//
//   - accept (Server.OnOpen, before any connection state exists): the
//     top-level ip_filter on the peer unless it is a trusted proxy, then
//     limits.per_ip (connections open per address, new connections per
//     address per second); a refused connection is closed at once, and
//     the descriptor budget (fdguard.go) never counts it. The per-address
//     hold is given back when the connection closes (loop.removeDown, or
//     tunnel.finish for an upgraded one).
//   - exchange.begin, before routing: the top-level ip_filter on the
//     client address behind trusted_proxies (403), and CORS preflights,
//     routed by the method they ask about and answered here (204 or 403).
//   - exchange.begin, after routing: the route's ip_filter (403), its
//     Origin kept for the CORS fields, and max_body: 413 at once from
//     Content-Length; a chunked body is counted as it streams
//     (h1conn.pumpBody, skipBody), and nothing past the limit is
//     forwarded.
//   - every response head of a CORS route (appendGateResponse): the CORS
//     fields and Vary: Origin, cached and gateway-made responses included;
//     the upstream's own Access-Control-* fields are dropped through the
//     route's gate.

// ipFilter is a compiled ip_filter section; the zero value allows all.
type ipFilter struct {
	allow *iplist.List // nil: every address not denied
	deny  *iplist.List
}

func (f *ipFilter) set() bool { return f.allow != nil || f.deny != nil }

// permits reports whether a may pass: not denied, and allowed when there
// is an allow list.
func (f *ipFilter) permits(a netip.Addr) bool {
	return !f.deny.Contains(a) && (f.allow == nil || f.allow.Contains(a))
}

// tableEdge is a table's edge settings.
type tableEdge struct {
	filter    ipFilter // top-level ip_filter
	preflight bool     // a route has cors: OPTIONS preflights are routed by the method they ask about
	perIPMax  int      // limits.per_ip.max_connections (0: off)
	rateCfg   limiter.Config
	rateID    string                    // limits.per_ip.new_connections as a key ("": off)
	rate      *limiter.GCRA             // bound by edgeShared.bind
	conns     *limiter.KeyedConcurrency // bound by edgeShared.bind when perIPMax > 0
	atAccept  bool                      // something to check when a connection is accepted
	atBegin   bool                      // something to check before routing
}

// routeEdge is a route's edge settings; nil when it has none.
type routeEdge struct {
	filter  ipFilter
	maxBody int64 // routes[].max_body, else limits.max_body (0: none)
	cors    *cors.Policy
}

// edgeState is an exchange's edge state, reset by loop.newExchange.
type edgeState struct {
	origin    []byte // a CORS route's request Origin, copied: the head is gone when the response is rendered
	hasOrigin bool
	bodyMax   int64 // a chunked body's limit (0: none)
	bodySeen  int64 // its payload bytes so far
}

func (e *edgeState) reset() {
	e.origin = keptBuf(e.origin)
	e.hasOrigin, e.bodyMax, e.bodySeen = false, 0, 0
}

// edge counters, exported through metrics.EdgeStats.
const (
	edgeConnsIPFilter = iota
	edgeConnsPerIPMax
	edgeConnsPerIPRate
	edgeRequestsIPFilter
	edgeRequestsBodyLarge
	edgePreflightsAllowed
	edgePreflightsRefused
	numEdgeCounters
)

var edgeReasons = [...]string{
	edgeConnsIPFilter:  "ip_filter",
	edgeConnsPerIPMax:  "per_ip_connections",
	edgeConnsPerIPRate: "per_ip_rate",
}

// edgeShared is the Server's edge state that outlives tables: the
// per-address connection counts (connections opened under one table close
// under another), the new-connection rate limiter (kept across a reload
// that does not change it), the counters and the burst being logged.
type edgeShared struct {
	mu     sync.Mutex // serializes bind
	conns  atomic.Pointer[limiter.KeyedConcurrency]
	rate   *limiter.GCRA
	rateID string

	counts [numEdgeCounters]atomic.Uint64

	// The burst of refused connections being logged: it opens with the
	// first refusal and closes once burstQuiet passes without one.
	burstOpen    atomic.Bool
	burstSince   atomic.Int64 // loop clock
	lastRefusal  atomic.Int64 // loop clock
	burstRefused atomic.Uint64
}

// compileTableEdge compiles the top-level ip_filter and limits.per_ip.
func compileTableEdge(cfg *config.Config, t *table) config.Errors {
	var errs config.Errors
	e := &t.edge
	e.filter, errs = compileIPFilter(cfg, "ip_filter", &cfg.IPFilter)
	pi := cfg.Limits.PerIP
	e.perIPMax = pi.MaxConnections
	if r := pi.NewConnections; r != nil {
		burst := r.Burst
		if burst == 0 {
			burst = r.Rate
		}
		e.rateCfg = limiter.Config{Name: "per_ip", Rate: float64(r.Rate) / r.Per.Seconds(), Burst: burst}
		if _, err := limiter.New(limiter.Config{Rate: e.rateCfg.Rate, Burst: burst, Slots: 8}); err != nil {
			field := "limits.per_ip.new_connections.rate"
			if err == limiter.ErrBurst || err == limiter.ErrWindow {
				field = "limits.per_ip.new_connections.burst"
			}
			errs = append(errs, cfg.Errorf(field, err.Error()))
		}
		e.rateID = fmt.Sprintf("%+v", e.rateCfg)
	}
	e.atAccept = e.filter.set() || e.perIPMax > 0 || e.rateID != ""
	e.atBegin = e.filter.set()
	return errs
}

// compileRouteEdge compiles route i's ip_filter, max_body and cors into
// r.edge (nil when it has none). A CORS route gets a gate, if it has none,
// whose response edits drop the upstream's Access-Control-* fields (call
// it after compileGate).
func compileRouteEdge(cfg *config.Config, t *table, i int, rc *config.Route, r *route) config.Errors {
	p := fmt.Sprintf("routes[%d]", i)
	e := &routeEdge{maxBody: int64(rc.MaxBodyBytes)}
	if e.maxBody == 0 {
		e.maxBody = int64(cfg.Limits.MaxBodyBytes)
	}
	var errs config.Errors
	if rc.IPFilter != nil {
		e.filter, errs = compileIPFilter(cfg, p+".ip_filter", rc.IPFilter)
	}
	if c := rc.CORS; c != nil {
		pol, err := cors.New(cors.Options{
			AllowOrigins:     c.AllowOrigins,
			AllowMethods:     c.AllowMethods,
			AllowHeaders:     c.AllowHeaders,
			ExposeHeaders:    c.ExposeHeaders,
			AllowCredentials: c.AllowCredentials,
			MaxAge:           c.MaxAge,
		})
		if ce, ok := err.(*cors.Error); ok {
			field := p + ".cors." + ce.Field
			if ce.Index >= 0 {
				field = fmt.Sprintf("%s[%d]", field, ce.Index)
			}
			errs = append(errs, cfg.Errorf(field, ce.Msg))
		}
		e.cors = pol
		if pol != nil {
			t.edge.preflight, t.edge.atBegin = true, true
			if r.gate == nil {
				r.gate = &gate{route: r.name}
			}
			r.gate.respDrop = append(r.gate.respDrop, cors.ResponseFields()...)
			if r.direct != nil {
				r.gate.filterDirect(r.direct)
			}
		}
	}
	if !e.filter.set() && e.maxBody == 0 && e.cors == nil {
		return errs
	}
	r.edge = e
	return errs
}

// compileIPFilter builds the lists of an ip_filter section at path,
// reading its files.
func compileIPFilter(cfg *config.Config, path string, f *config.IPFilter) (ipFilter, config.Errors) {
	var out ipFilter
	var errs config.Errors
	list := func(field string, entries []string, file string) *iplist.List {
		if len(entries) == 0 && file == "" {
			return nil
		}
		var ps []netip.Prefix
		for j, s := range entries {
			p, err := iplist.ParsePrefix(s)
			if err != nil {
				errs = append(errs, cfg.Errorf(fmt.Sprintf("%s.%s[%d]", path, field, j), fmt.Sprintf("%v, got %q", err, s)))
				continue
			}
			ps = append(ps, p)
		}
		if file != "" {
			fp := path + "." + field + "_file"
			data, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, cfg.Errorf(fp, fmt.Sprintf("cannot read: %v", err)))
				return nil
			}
			more, err := iplist.ParseLines(data)
			switch {
			case err != nil:
				errs = append(errs, cfg.Errorf(fp, fmt.Sprintf("%s: %v", file, err)))
			case len(more) == 0 && field == "allow":
				errs = append(errs, cfg.Errorf(fp, fmt.Sprintf("%s has no entries: it would refuse every client", file)))
			}
			ps = append(ps, more...)
		}
		return iplist.New(ps)
	}
	out.allow = list("allow", f.Allow, f.AllowFile)
	out.deny = list("deny", f.Deny, f.DenyFile)
	return out, errs
}

// bind attaches the shared state to t: the per-address connection counts
// (created the first time a table needs them, then kept for good) and the
// new-connection rate limiter (kept while its configuration is unchanged,
// so a reload does not refill every bucket).
func (es *edgeShared) bind(t *table) error {
	es.mu.Lock()
	defer es.mu.Unlock()
	e := &t.edge
	if e.perIPMax > 0 && es.conns.Load() == nil {
		k, err := limiter.NewKeyedConcurrency(0)
		if err != nil {
			return err
		}
		es.conns.Store(k)
	}
	e.conns = es.conns.Load()
	if e.rateID == "" {
		es.rate, es.rateID = nil, ""
		return nil
	}
	if es.rate == nil || es.rateID != e.rateID {
		g, err := limiter.New(e.rateCfg)
		if err != nil {
			return err
		}
		es.rate, es.rateID = g, e.rateID
	}
	e.rate = es.rate
	return nil
}

// peerAddrOf returns c's remote address, IPv4-mapped addresses unmapped.
func peerAddrOf(c gnet.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// addrKey hashes a client address for the per-address tables.
func addrKey(a netip.Addr) uint64 {
	var k limiter.Key
	k.Reset()
	k.AddAddr(a)
	return k.Sum()
}

// edgeAdmit decides for a client connection just accepted, before the
// engine holds any state for it: the top-level ip_filter on the peer, then
// limits.per_ip. A trusted proxy's connections carry many clients: they
// are decided per request. held reports a per-address hold that
// edgeRelease must give back when the connection closes.
func (s *Server) edgeAdmit(c gnet.Conn, now int64) (held, ok bool) {
	t := s.tbl.Load()
	e := &t.edge
	if !e.atAccept {
		return false, true
	}
	peer := peerAddrOf(c)
	if t.pol.trusted.Trusted(peer) {
		return false, true
	}
	if e.filter.set() && !e.filter.permits(peer) {
		s.edgeRefused(edgeConnsIPFilter, peer, now)
		return false, false
	}
	if e.perIPMax == 0 && e.rate == nil {
		return false, true
	}
	h := addrKey(peer)
	if e.perIPMax > 0 {
		if !e.conns.Acquire(h, e.perIPMax) {
			s.edgeRefused(edgeConnsPerIPMax, peer, now)
			return false, false
		}
		held = true
	}
	if e.rate != nil && !e.rate.AllowHash(h, now).Allowed {
		if held {
			e.conns.Release(h)
		}
		s.edgeRefused(edgeConnsPerIPRate, peer, now)
		return false, false
	}
	return held, true
}

// edgeRelease gives back the per-address hold of a client connection
// from peer (read while its gnet.Conn is open: gnet forgets the address
// once its OnClose returns).
func (s *Server) edgeRelease(peer netip.Addr) {
	if k := s.edge.conns.Load(); k != nil {
		k.Release(addrKey(peer))
	}
}

// edgeRefused counts a connection refused at accept, and logs the first
// of a burst.
func (s *Server) edgeRefused(kind int, peer netip.Addr, now int64) {
	e := &s.edge
	e.counts[kind].Add(1)
	e.burstRefused.Add(1)
	e.lastRefusal.Store(now)
	if e.burstOpen.CompareAndSwap(false, true) {
		e.burstSince.Store(now)
		s.log.Warn("refusing client connections at accept (ip_filter, limits.per_ip); each is closed at once. Logged once per burst",
			"first_client", peer.String(), "reason", edgeReasons[kind])
	}
}

// edgeTick logs the end of a burst of refused connections once none came
// for burstQuiet; each loop's tick calls it.
func (s *Server) edgeTick(now int64) {
	e := &s.edge
	if !e.burstOpen.Load() || now-e.lastRefusal.Load() < burstQuiet || !e.burstOpen.CompareAndSwap(true, false) {
		return
	}
	s.log.Info("connection refusals ended", "burst", time.Duration(e.lastRefusal.Load()-e.burstSince.Load()).Round(time.Millisecond),
		"refused", e.burstRefused.Swap(0))
}

// EdgeStats returns edge protection's counters.
func (s *Server) EdgeStats() metrics.EdgeStats {
	c := &s.edge.counts
	return metrics.EdgeStats{
		ConnsIPFilter:     c[edgeConnsIPFilter].Load(),
		ConnsPerIPMax:     c[edgeConnsPerIPMax].Load(),
		ConnsPerIPRate:    c[edgeConnsPerIPRate].Load(),
		RequestsIPFilter:  c[edgeRequestsIPFilter].Load(),
		RequestsBodyLarge: c[edgeRequestsBodyLarge].Load(),
		PreflightsAllowed: c[edgePreflightsAllowed].Load(),
		PreflightsRefused: c[edgePreflightsRefused].Load(),
	}
}

// edgeBegin runs before routing when the table has a top-level ip_filter
// or CORS routes. It returns true when the exchange is answered: 403 for
// a client address the filter refuses, or a CORS preflight.
func (d *exchange) edgeBegin(tbl *table) bool {
	if f := &tbl.edge.filter; f.set() {
		d.policies() // clientAddr's state
		if !f.permits(d.clientAddr()) {
			d.edgeRefuse(edgeRequestsIPFilter, 403)
			return true
		}
	}
	return tbl.edge.preflight && d.preflight(tbl)
}

// edgeRoute applies rt's edge settings to the request just routed to it.
// It returns true when the exchange is answered (403, 413).
func (d *exchange) edgeRoute(rt *route) bool {
	e := rt.edge
	if e.cors != nil {
		d.keepOrigin()
	}
	if e.filter.set() {
		d.policies()
		if !e.filter.permits(d.clientAddr()) {
			d.edgeRefuse(edgeRequestsIPFilter, 403)
			return true
		}
	}
	if e.maxBody > 0 {
		switch r := &d.req; {
		case r.ContentLength > e.maxBody:
			d.closeAfter = true // the body is not read
			d.edgeRefuse(edgeRequestsBodyLarge, 413)
			return true
		case r.Body == parser.BodyChunked:
			d.edge.bodyMax = e.maxBody // counted as it streams (skipBody)
		}
	}
	return false
}

// edgeRefuse answers status for an edge refusal and counts it. Before its
// gate ran, a route's response fields (request ID) are prepared here.
func (d *exchange) edgeRefuse(counter, status int) {
	d.lp.srv.edge.counts[counter].Add(1)
	d.setReason(edgeLogReason(counter))
	if rt := d.rt; rt != nil && rt.gate != nil {
		d.gateReset(rt.gate, d.policies())
	}
	d.renderLocal(status, nil)
}

// keepOrigin copies the request's Origin for the CORS fields of the
// response (a longer one than cors allows is dropped).
func (d *exchange) keepOrigin() {
	d.edge.hasOrigin = false
	if v, ok := headerValue(d.req.Headers, "origin"); ok && len(v) <= 512 {
		d.edge.origin = append(d.edge.origin[:0], v...)
		d.edge.hasOrigin = true
	}
}

// appendCORS appends a CORS route's fields to a response head (from
// appendGateResponse).
func (d *exchange) appendCORS(b []byte, p *cors.Policy) []byte {
	var origin []byte
	if d.edge.hasOrigin {
		origin = d.edge.origin
	}
	return p.AppendActual(b, origin)
}

// preflight answers a CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) when the route the actual request would
// take, routed by the method it asks about, has a cors section: 204 with
// the CORS fields, or 403. Preflights carry no credentials, so this runs
// before the route's auth, and is never forwarded. Other OPTIONS requests,
// and preflights for routes without cors, are routed as usual.
func (d *exchange) preflight(tbl *table) bool {
	r := &d.req
	if string(r.Method) != "OPTIONS" {
		return false
	}
	var origin, method, headers []byte
	for _, h := range r.Headers {
		switch len(h.Name) {
		case 6:
			if origin == nil && parser.EqualFold(h.Name, "origin") {
				origin = h.Value
			}
		case 29:
			if method == nil && parser.EqualFold(h.Name, "access-control-request-method") {
				method = h.Value
			}
		case 30:
			if headers == nil && parser.EqualFold(h.Name, "access-control-request-headers") {
				headers = h.Value
			}
		}
	}
	if origin == nil || method == nil {
		return false
	}
	options := r.Method
	r.Method = method
	res, ok := d.lookup(tbl)
	r.Method = options
	if !ok || res != trie.Found {
		return false
	}
	rt := d.match.Value
	if rt.edge == nil || rt.edge.cors == nil {
		return false
	}
	d.rt = rt
	d.keepOrigin()
	if f := &rt.edge.filter; f.set() {
		d.policies()
		if !f.permits(d.clientAddr()) {
			d.edgeRefuse(edgeRequestsIPFilter, 403)
			return true
		}
	}
	d.local, d.status = true, 204
	if d.lp.srv.draining.Load() {
		d.closeAfter = true
	}
	b := appendStatusLine(d.out[:0], 204, []byte("No Content"))
	b, verdict := rt.edge.cors.AppendPreflight(b, origin, method, headers)
	if verdict != cors.Allowed {
		d.edgeRefuse(edgePreflightsRefused, 403)
		return true
	}
	d.lp.srv.edge.counts[edgePreflightsAllowed].Add(1)
	b = append(b, d.tbl.viaLine...)
	b = d.appendConnection(b)
	d.out = append(b, "\r\n"...)
	return true
}

// skipBody is parser.Body.Skip for the request body. A chunked body's
// payload counts against the route's max_body (a body of known length was
// checked against it with its head): past it, it consumes nothing of buf
// and returns ErrBodyTooLarge, so that nothing past the limit is
// forwarded.
func (d *exchange) skipBody(buf []byte) (n int, done bool, err error) {
	if d.edge.bodyMax == 0 || d.reqBody.Kind() != parser.BodyChunked {
		return d.reqBody.Skip(buf)
	}
	var payload int64
	for n < len(buf) && !done {
		m, data, dn, derr := d.reqBody.Decode(buf[n:])
		if derr != nil {
			return 0, false, derr
		}
		n += m
		payload += int64(len(data))
		done = dn
		if m == 0 {
			break
		}
	}
	if d.edge.bodySeen+payload > d.edge.bodyMax {
		return 0, false, ErrBodyTooLarge
	}
	d.edge.bodySeen += payload
	return n, done, nil
}

// bodyTooLarge ends an exchange whose chunked body went past max_body:
// 413 if the response has not started, else the connection is closed.
func (d *exchange) bodyTooLarge() {
	d.lp.srv.edge.counts[edgeRequestsBodyLarge].Add(1)
	d.closeAfter, d.reqDone = true, true // nothing more of it is read
	d.fail(ErrBodyTooLarge, false)
}
