package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotpath/hotpath/accesslog"
	"github.com/hotpath/hotpath/cache"
	"github.com/hotpath/hotpath/compression"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/limiter"
	"github.com/hotpath/hotpath/parser"
	compiled "github.com/hotpath/hotpath/route"
)

// Route policies: rate limit, concurrency limit, response cache and
// compression, compiled per route from config and applied by the engine at
// a few hook points (begin, dispatch, the response head and body, the end
// of the exchange). The logic lives in the limiter, cache and compression
// packages; this file and cachepath.go, compress.go and refresh.go only
// wire them to the connection state machine.
//
// State that must outlive a reload lives in the Server's policyShared: the
// rate limiters' buckets and the in-flight counters, keyed by route
// identity and configuration (an unchanged rate_limit keeps its buckets
// across SIGHUP; a changed one, or a renamed route, starts with full
// buckets), and the one response cache shared by all routes.

// routePolicy is a route's compiled policies. Its limiter, concurrency and
// cache pointers are bound by policyShared.bind when the table is
// installed (they stay nil in a table compiled only to check a config).
type routePolicy struct {
	name string // the route's name, for the "route" key part
	id   string // route identity across reloads: name, host, path, methods

	rl    *limiter.GCRA
	rlCfg limiter.Config
	rlKey limiter.KeySpec
	rlID  string // registry key: id + limiter config + key spec
	// rlGlobal is the rate_limit section when its scope is global: the
	// gateway shares rl with the fleet (fleet.go).
	rlGlobal *config.RateLimit

	maxInFlight int
	inflight    *limiter.Concurrency

	cache   *cache.Cache
	cpol    cache.Policy
	caching bool

	comp *compression.Config
	encs []compression.Encoding

	stats *PolicyStats
}

// tablePolicy is the table-wide part: trusted proxies and the cache store's
// configuration.
type tablePolicy struct {
	trusted  *limiter.TrustedProxies
	trustXFF bool // trusted_proxies is set: X-Forwarded-For from others is replaced
	store    compiled.CacheStore
	routes   []*routePolicy
}

// PolicyStats counts what a route's policies did. Counters are process-wide
// atomics touched only on rare paths (rejections, parking), never on a hit.
type PolicyStats struct {
	Route         string
	RateLimited   atomic.Int64 // answered 429
	ShadowLimited atomic.Int64 // over the limit in shadow mode, let through
	InFlightFull  atomic.Int64 // answered 503 (max_in_flight)
	CacheStored   atomic.Int64 // responses stored (misses and refreshes)
	CacheWaiting  atomic.Int64 // requests parked on another request's fetch now
	Refreshes     atomic.Int64 // background revalidations started
	Revalidated   atomic.Int64 // refreshes the upstream answered 304: the stored body was kept
	StaleOnError  atomic.Int64 // stale responses served because the upstream failed
}

// compilePolicy compiles a route's policy sections, or returns nil when it
// has none. Errors name the config field.
func compilePolicy(cfg *config.Config, t *table, i int, rc *config.Route, rd *compiled.Route) (*routePolicy, config.Errors) {
	if rc.RateLimit == nil && rc.MaxInFlight == 0 && (rc.Cache == nil || !rc.Cache.Enabled) && rc.Compression == nil {
		return nil, nil
	}
	var errs config.Errors
	p := fmt.Sprintf("routes[%d]", i)
	name := rd.Name
	rp := &routePolicy{
		name:  name,
		id:    fmt.Sprintf("%q %q %q %q", rc.Name, rc.Host, rc.Path, rc.Methods),
		stats: &PolicyStats{Route: name},
	}
	if rl := rd.RateLimit; rl != nil { // the limiter's checks: compiled.Compile
		rp.rlCfg, rp.rlKey = rl.Config, rl.Key
		if rl.Global {
			rp.rlGlobal = rc.RateLimit
		}
		rp.rlID = fmt.Sprintf("%s %+v %q", rp.id, rp.rlCfg, rc.RateLimit.Key)
	}
	rp.maxInFlight = rc.MaxInFlight
	if c := rc.Cache; c != nil && c.Enabled {
		rp.caching = true
		rp.cpol = cache.Policy{
			TTL:                  c.TTL,
			DefaultTTL:           c.DefaultTTL,
			MaxTTL:               c.MaxTTL,
			StaleWhileRevalidate: c.StaleWhileRevalidate,
			StaleIfError:         c.StaleIfError,
			StoreSetCookie:       c.StoreSetCookie,
			StoreCookieRequests:  c.StoreCookieRequests,
			Authenticated:        rc.Auth != nil,
		}
	}
	if c := rc.Compression; c != nil {
		cp := p + ".compression"
		for j, typ := range c.Types {
			if _, err := compression.NewConfig(compression.Options{Types: []string{typ}}); err != nil {
				errs = append(errs, cfg.Errorf(fmt.Sprintf("%s.types[%d]", cp, j), fmt.Sprintf("%v, got %q", err, typ)))
			}
		}
		types := c.Types
		if len(types) == 0 {
			types = nil // the library's default list
		}
		comp, err := compression.NewConfig(compression.Options{
			Types:     types,
			MinLength: max(int64(c.MinBytes), 1), // 0 in the library means its default
			GzipLevel: c.GzipLevel,
			ZstdLevel: config.ZstdLevelName(c.ZstdLevel),
		})
		switch {
		case err == compression.ErrGzipLevel:
			errs = append(errs, cfg.Errorf(cp+".gzip_level", err.Error()))
		case err == compression.ErrZstdLevel:
			errs = append(errs, cfg.Errorf(cp+".zstd_level", err.Error()))
		case err != nil && len(errs) == 0:
			errs = append(errs, cfg.Errorf(cp, err.Error()))
		}
		rp.comp = comp
		for _, e := range c.Encodings {
			switch e {
			case "gzip":
				rp.encs = append(rp.encs, compression.Gzip)
			case "zstd":
				rp.encs = append(rp.encs, compression.Zstd)
			}
		}
	}
	t.pol.routes = append(t.pol.routes, rp)
	return rp, errs
}

// compileTablePolicy compiles the table-wide policy settings.
func compileTablePolicy(cfg *config.Config, t *table) config.Errors {
	var errs config.Errors
	t.pol.trustXFF = len(cfg.TrustedProxies) > 0
	for j, p := range cfg.TrustedProxies {
		if _, err := limiter.ParseTrustedProxies([]string{p}); err != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("trusted_proxies[%d]", j), err.Error()))
		}
	}
	tp, err := limiter.ParseTrustedProxies(cfg.TrustedProxies)
	if err == nil {
		t.pol.trusted = tp
	}
	return errs
}

// policyShared is the Server's policy state that outlives tables: rate
// limiters and concurrency limiters by identity, the response cache, and the
// background refreshes.
type policyShared struct {
	mu       sync.Mutex // serializes bind and close (Reload already holds Server.mu)
	log      *slog.Logger
	limiters map[string]*limiter.GCRA
	conc     map[string]*limiter.Concurrency
	stats    map[string]*PolicyStats
	cache    *cache.Cache
	store    compiled.CacheStore
	closed   bool
	refresh  refresher
}

// bind attaches the shared state to t's routes: limiters whose route and
// configuration are unchanged are reused, so their buckets and in-flight
// counts survive a reload; others are created. Entries no route of t uses
// are forgotten (requests still running on an older table keep theirs).
func (ps *policyShared) bind(t *table) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return errors.New("engine: server stopped")
	}
	limiters := map[string]*limiter.GCRA{}
	conc := map[string]*limiter.Concurrency{}
	stats := map[string]*PolicyStats{}
	needCache := false
	for _, rp := range t.pol.routes {
		if old := ps.stats[rp.id]; old != nil {
			rp.stats = old // counters survive a reload too
		}
		stats[rp.id] = rp.stats
		if rp.rlID != "" {
			g := ps.limiters[rp.rlID]
			if g == nil {
				var err error
				if g, err = limiter.New(rp.rlCfg); err != nil {
					return err
				}
			}
			limiters[rp.rlID] = g
			rp.rl = g
		}
		if rp.maxInFlight > 0 {
			key := fmt.Sprintf("%s %d", rp.id, rp.maxInFlight)
			c := ps.conc[key]
			if c == nil {
				var err error
				if c, err = limiter.NewConcurrency(rp.maxInFlight); err != nil {
					return err
				}
			}
			conc[key] = c
			rp.inflight = c
		}
		needCache = needCache || rp.caching
	}
	if needCache {
		if ps.cache == nil {
			c, err := cache.New(cache.Config{
				MaxBytes:        t.pol.store.MaxBytes,
				MaxEntryBytes:   t.pol.store.MaxObjectBytes,
				CoalesceTimeout: t.pol.store.CoalesceWait,
			})
			if err != nil {
				return fmt.Errorf("engine: cache: %w", err)
			}
			ps.cache, ps.store = c, t.pol.store
		} else if ps.store != t.pol.store {
			ps.log.Warn("cache: changes to max_bytes, max_object_bytes and coalesce_wait need a restart; keeping the running values",
				"max_bytes", ps.store.MaxBytes, "max_object_bytes", ps.store.MaxObjectBytes, "coalesce_wait", ps.store.CoalesceWait)
		}
		t.pol.store = ps.store
		for _, rp := range t.pol.routes {
			if rp.caching {
				rp.cache = ps.cache
			}
		}
	}
	ps.limiters, ps.conc, ps.stats = limiters, conc, stats
	return nil
}

// close stops background refreshes and the cache, and drops the
// references t's routes hold to them. It runs after the event loops have
// stopped, so nothing else uses them any more. Dropping the references
// matters: gnet keeps every engine it ran (and so the Server) reachable
// from a package-level map, and a closed Server must not pin the cache's
// memory or the limiters' tables.
func (ps *policyShared) close(t *table) {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return
	}
	ps.closed = true
	ps.mu.Unlock()
	ps.refresh.stop()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.cache != nil {
		ps.cache.Close()
		ps.cache = nil
	}
	ps.limiters, ps.conc = nil, nil
	if t != nil {
		for _, rp := range t.pol.routes {
			rp.cache, rp.rl, rp.comp = nil, nil, nil
		}
	}
}

// ErrNoCache is returned by PurgeCache when no route caches.
var ErrNoCache = errors.New("engine: no route has a cache")

// ErrPurgeNeedsHost is returned by PurgeCache for a path prefix without a
// host: prefixes are purged per host.
var ErrPurgeNeedsHost = errors.New("engine: a purge by path prefix needs a host")

// PurgeCache invalidates cached responses for host whose path starts with
// prefix; "" or "/" purges the whole host, and with host "" too, every
// stored response. host is matched as clients send
// it in Host (case-insensitively, with the port when they send one). Purges
// are generation bumps (the cache cannot be iterated), so there is no count
// of entries removed; a prefix that ends a first path segment ("/api/")
// purges that whole first segment, a superset, never less. It is safe to
// call from any goroutine (an admin endpoint).
func (s *Server) PurgeCache(host, prefix string) error {
	c := s.sharedCache()
	if c == nil {
		return ErrNoCache
	}
	switch {
	case host == "" && (prefix == "" || prefix == "/"):
		c.PurgeAll()
	case host == "":
		return ErrPurgeNeedsHost
	case prefix == "" || prefix == "/":
		c.PurgeHost([]byte(host))
	default:
		c.PurgePrefix([]byte(host), []byte(prefix))
	}
	return nil
}

// PurgeCacheURL invalidates every stored variant (codings, Vary) of one URL:
// host, path and query ("" for none) exactly as clients send them.
func (s *Server) PurgeCacheURL(host, path, query string) error {
	c := s.sharedCache()
	if c == nil {
		return ErrNoCache
	}
	var q []byte
	if query != "" {
		q = []byte(query)
	}
	c.PurgeURL([]byte(host), []byte(path), q)
	return nil
}

func (s *Server) sharedCache() *cache.Cache {
	s.pol.mu.Lock()
	defer s.pol.mu.Unlock()
	return s.pol.cache
}

// RoutePolicyStats is a snapshot of one route's policy counters.
type RoutePolicyStats struct {
	Route                                    string
	RateLimited, ShadowLimited, InFlightFull int64
	InFlight                                 int // requests holding a max_in_flight slot now
	CacheStored, CacheWaiting                int64
	Refreshes, Revalidated, StaleOnError     int64
}

// PolicyStats returns the policy counters of the current table's routes
// that have policies, in config order (for metrics and tests).
func (s *Server) PolicyStats() []RoutePolicyStats {
	t := s.tbl.Load()
	out := make([]RoutePolicyStats, 0, len(t.pol.routes))
	for _, rp := range t.pol.routes {
		st := rp.stats
		r := RoutePolicyStats{
			Route:         st.Route,
			RateLimited:   st.RateLimited.Load(),
			ShadowLimited: st.ShadowLimited.Load(),
			InFlightFull:  st.InFlightFull.Load(),
			CacheStored:   st.CacheStored.Load(),
			CacheWaiting:  st.CacheWaiting.Load(),
			Refreshes:     st.Refreshes.Load(),
			Revalidated:   st.Revalidated.Load(),
			StaleOnError:  st.StaleOnError.Load(),
		}
		if rp.inflight != nil {
			r.InFlight = rp.inflight.InFlight()
		}
		out = append(out, r)
	}
	return out
}

// policyState is a client connection's policy state for its current
// exchange. It is allocated on the connection's first request to a route
// with policies and reused; begin resets it, policyEnd releases what the
// exchange holds.
type policyState struct {
	rp   *routePolicy // the policies applying now; nil between exchanges
	slot *limiter.Concurrency

	dec    limiter.Decision // the rate-limit decision, sent in RateLimit fields
	hasDec bool
	enc    compression.Encoding // negotiated coding (Identity: none)

	// Client address, parsed once per connection.
	peer   netip.Addr
	peerOK bool
	scr    []byte // scratch: lower-cased host for keys, rate-limit fields

	view forwardedView // the request as forwarded, for keys and the cache (forward.go)

	cacheState
	xform
	gateState // auth identity, request ID (authpath.go)
}

// pol returns d's policy state, allocating it on first use.
func (d *exchange) policies() *policyState {
	if d.pol == nil {
		d.pol = &policyState{}
	}
	return d.pol
}

// policyBegin applies rt's policies to the request just parsed, in the
// order of DESIGN.md: rate limit, then concurrency limit, then the cache.
// It returns true when the exchange is answered (429, 503, 504, a cache
// hit; d.local is set and d.out holds the response) or parked waiting for
// another request's fetch; false to proxy as usual.
func (d *exchange) policyBegin(rt *route) bool {
	rp := rt.pol
	ps := d.policies()
	ps.rp = rp
	ps.hasDec, ps.enc = false, compression.Identity
	if rp.rl != nil {
		dec := rp.rl.AllowHash(d.rateKey(rp), d.start)
		switch {
		case !dec.Allowed:
			rp.stats.RateLimited.Add(1)
			d.limiterResult(accesslog.LimiterRejected)
			ps.scr = limiter.AppendHeaders(ps.scr[:0], dec, rp.rl.Name())
			d.renderLocal(limiter.StatusTooManyRequests, ps.scr)
			return true
		case dec.Limited:
			rp.stats.ShadowLimited.Add(1)
			d.limiterResult(accesslog.LimiterShadow)
		case !rp.rlCfg.Shadow:
			ps.dec, ps.hasDec = dec, true
			d.limiterResult(accesslog.LimiterAllowed)
		default:
			d.limiterResult(accesslog.LimiterAllowed)
		}
	}
	if rp.inflight != nil {
		if !rp.inflight.Acquire() {
			rp.stats.InFlightFull.Add(1)
			d.setReason(accesslog.ReasonMaxInFlight)
			d.renderLocal(limiter.StatusServiceUnavailable, nil)
			return true
		}
		ps.slot = rp.inflight
	}
	if rp.comp != nil && d.minor >= 1 {
		// HTTP/1.0 clients get identity: compressing for them would need a
		// close-delimited body and cost the keep-alive connection.
		ps.enc = compression.Negotiate(d.req.AcceptEncoding, rp.encs...)
	}
	if rp.cache != nil && rt.up != nil {
		return d.cacheBegin(rt, rp)
	}
	return false
}

// appendPolicyFields appends the fields every response of a policy route
// carries: RateLimit-Policy / RateLimit (enforced limits only).
func (d *exchange) appendPolicyFields(b []byte) []byte {
	ps := d.pol
	if ps.hasDec {
		b = limiter.AppendHeaders(b, ps.dec, ps.rp.rl.Name())
	}
	return b
}

// policyEnd releases what the exchange holds, exactly once: the in-flight
// slot, the compressor, and the cache flight (stored and completed when the
// response arrived whole, failed otherwise); a parked Basic check or cache
// wait was stopped before it (exchange.end → unpark). It is
// called when the exchange finishes, when the connection starts closing and
// when it closes; only the first call does anything.
func (d *exchange) policyEnd() {
	ps := d.pol
	if ps == nil {
		return
	}
	d.authEnd()
	if ps.rp == nil {
		return
	}
	rp := ps.rp
	if ps.slot != nil {
		ps.slot.Release()
		ps.slot = nil
	}
	d.xformEnd()
	d.cacheEnd(rp)
	ps.rp, ps.hasDec = nil, false
}

// rateKey hashes the request's rate-limit key parts.
func (d *exchange) rateKey(rp *routePolicy) uint64 {
	var k limiter.Key
	k.Reset()
	r := &d.req
	for _, part := range rp.rlKey.Parts {
		switch part.Kind {
		case limiter.KeyClientIP:
			k.AddAddr(d.clientAddr())
		case limiter.KeyRoute:
			k.AddString(rp.name)
		case limiter.KeyHost:
			ps := d.pol
			ps.scr = appendLower(ps.scr[:0], r.Host)
			k.Add(ps.scr)
		case limiter.KeyPath:
			k.Add(r.Path)
		case limiter.KeyHeader:
			// The value the upstream gets (forward.go): a field the
			// route's auth injects (the authenticated identity) or sets,
			// never the client's own copy of it.
			if v, ok := d.forwarded(d.rt).value(part.Name); ok {
				k.Add(v)
			} else {
				k.AddAbsent()
			}
		case limiter.KeyQuery:
			if v, ok := queryValue(r.Query, part.Name); ok {
				k.Add(v)
			} else {
				k.AddAbsent()
			}
		}
	}
	return k.Sum()
}

// peerAddr returns the connection's remote address.
func (d *exchange) peerAddr() netip.Addr {
	ps := d.pol
	if !ps.peerOK {
		ps.peerOK = true
		ps.peer = d.cl.remoteAddr().Addr().Unmap()
	}
	return ps.peer
}

// clientAddr is the client address behind trusted proxies (the peer when
// trusted_proxies is empty or the peer is not one of them).
func (d *exchange) clientAddr() netip.Addr {
	peer := d.peerAddr()
	tp := d.tbl.pol.trusted
	if !tp.Trusted(peer) {
		return peer
	}
	// Every X-Forwarded-For line, from the last one back: a client may
	// send any number of forged lines before a trusted proxy's own.
	client, hs := peer, d.req.Headers
	for i := len(hs) - 1; i >= 0; i-- {
		if h := hs[i]; len(h.Name) == 15 && parser.EqualFold(h.Name, "x-forwarded-for") {
			var done bool
			if client, done = tp.Step(client, h.Value); done {
				break
			}
		}
	}
	return client
}

// headerValue returns the first value of the field named name.
func headerValue(hs []parser.Header, name string) ([]byte, bool) {
	for _, h := range hs {
		if parser.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return nil, false
}

// queryValue returns the raw (still percent-encoded) value of the first
// query parameter named name.
func queryValue(q []byte, name string) ([]byte, bool) {
	for len(q) > 0 {
		i := 0
		for i < len(q) && q[i] != '&' {
			i++
		}
		kv := q[:i]
		if i < len(q) {
			i++
		}
		q = q[i:]
		k, v := kv, []byte(nil)
		for j := range kv {
			if kv[j] == '=' {
				k, v = kv[:j], kv[j+1:]
				break
			}
		}
		if string(k) == name {
			if v == nil {
				v = kv[len(kv):]
			}
			return v, true
		}
	}
	return nil, false
}

func appendLower(b, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// wallNow is the wall clock the cache runs on: RFC 9111 freshness compares
// it with the origin's dates (Date, Expires), so it stays wall time where
// everything else on the loop uses the loop clock (loop.now). Tests replace
// it per Server to move time without sleeping.
func (s *Server) wallNow() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}
