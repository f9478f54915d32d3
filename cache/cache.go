package cache

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/hotpath/hotpath/parser"
)

// Config configures a Cache (the gateway's cache: section; YAML names in
// brackets).
type Config struct {
	// MaxBytes bounds the memory of stored entries, headers and bodies
	// plus a fixed overhead per entry (max_bytes).
	MaxBytes int64
	// MaxEntryBytes refuses larger responses (max_entry_bytes); default
	// MaxBytes/64.
	MaxEntryBytes int64
	// Statuses are the status codes that may be stored (statuses). The
	// default is RFC 9110 §15.1's heuristically cacheable set minus 206
	// (no range support): 200 203 204 300 301 308 404 405 410 414 501.
	// Whatever the status, a response is stored only with a freshness
	// lifetime: explicit, or the route's ttl / default_ttl.
	Statuses []int
	// UncacheableHeaders are request headers that make a request bypass
	// the cache when present (uncacheable_headers): headers that some
	// upstreams act on but the cache does not key on, the classic cache
	// poisoning vectors. Nil means DefaultUncacheableHeaders; an empty,
	// non-nil list disables the check. Names are lower-case.
	UncacheableHeaders []string
	// IgnoreClientNoCache serves fresh entries even when the client sends
	// Cache-Control: no-cache or max-age=0 (ignore_client_no_cache; nginx
	// behaves this way by default). Off: such requests go upstream and
	// refresh the entry, as RFC 9111 §5.2.1 asks.
	IgnoreClientNoCache bool
	// CoalesceTimeout bounds how long concurrent misses wait for the
	// leader's response (coalesce_timeout, default 5s). After it, a new
	// miss takes over as leader. Waiters enforce their own deadline with
	// Cancel.
	CoalesceTimeout time.Duration
}

// DefaultUncacheableHeaders are request headers whose presence bypasses
// the cache: they can change what an upstream answers while the cache
// would not key on them (X-Forwarded-Host poisoning, URL overrides,
// method overrides).
var DefaultUncacheableHeaders = []string{
	"x-forwarded-host", "x-forwarded-server", "x-forwarded-scheme", "x-forwarded-prefix",
	"x-host", "x-original-url", "x-rewrite-url", "x-http-method-override",
	"x-http-method", "x-method-override", "forwarded",
}

// Policy is a route's cache policy (the route's cache: section).
type Policy struct {
	// TTL forces the freshness lifetime, ignoring max-age, s-maxage and
	// Expires (ttl). no-store, private, Authorization and Set-Cookie rules
	// still apply.
	TTL time.Duration
	// DefaultTTL is the lifetime of a response without explicit freshness
	// (default_ttl); 0 stores only responses with explicit freshness (the
	// cache does no heuristic freshness of its own).
	DefaultTTL time.Duration
	// MaxTTL caps the lifetime (max_ttl); 0 for no cap.
	MaxTTL time.Duration
	// StaleWhileRevalidate and StaleIfError apply when the response does
	// not set them (stale_while_revalidate, stale_if_error).
	StaleWhileRevalidate, StaleIfError time.Duration
	// StoreSetCookie stores responses that set cookies, with Set-Cookie
	// removed from the stored copy (store_set_cookie). Off: not stored.
	StoreSetCookie bool
	// StoreCookieRequests stores responses to requests that carry a
	// Cookie even when the upstream gave no explicit freshness
	// (store_cookie_requests). Off: such a response is stored only with
	// Cache-Control max-age, s-maxage or public, or Expires.
	StoreCookieRequests bool
	// Authenticated says the gateway authenticates this route's requests
	// (an auth block: JWT, API key or basic). Its responses are then
	// treated like responses to requests with Authorization, whatever
	// field carried the credential: stored only when the response allows
	// sharing (public, s-maxage, must-revalidate), so that one consumer's
	// response is never served to another.
	Authenticated bool
}

// State is what Lookup tells the engine to do.
type State uint8

const (
	// Bypass: go upstream and do not store (not GET/HEAD, an uncacheable
	// header, or the client's no-store on a miss).
	Bypass State = iota
	// Hit: serve Result.Entry.
	Hit
	// Stale: serve Result.Entry (stale, within stale-while-revalidate or
	// the client's max-stale). If Result.Leader, revalidate it in the
	// background: fetch, Store, Complete.
	Stale
	// Miss: go upstream. If Result.Leader, Store the response and call
	// Complete (or Fail) with Result.Ticket. If Result.Entry is not nil it
	// is a stale entry that may be served if the upstream fails.
	Miss
	// Wait: another request is fetching this key; the Waiter passed to
	// Lookup will be resumed. Result.Entry as for Miss.
	Wait
)

var stateNames = [...]string{"bypass", "hit", "stale", "miss", "wait"}

func (s State) String() string { return stateNames[s] }

// Result is Lookup's answer.
type Result struct {
	State State
	// Entry is the entry to serve (Hit, Stale) or the stale entry to fall
	// back on (Miss, Wait; check Entry.UsableOnError), else nil.
	Entry *Entry
	// Leader says this request must fetch the response and call Complete
	// or Fail with Ticket.
	Leader bool
	// OnlyIfCached: the client sent only-if-cached; on Miss answer
	// StatusGatewayTimeout instead of going upstream.
	OnlyIfCached bool
	// Ticket identifies the lookup for Store, Complete, Fail and Cancel.
	Ticket Ticket
}

// Ticket carries a lookup's keys and purge generations to Store and
// Complete. It is a value; keep it with the request.
type Ticket struct {
	url     uint64
	primary uint64
	key     uint64 // the key the flight is for: variant when known, else primary
	flight  uint64 // flight id; 0 when not a leader
	gens    [4]uint64
	slots   [4]uint32
	noStore bool
}

// Cache is a shared response cache. All methods are safe for concurrent
// use; Lookup and Entry.AppendResponse do not allocate on a hit.
type Cache struct {
	store *ristretto.Cache[uint64, *Entry]
	cfg   Config

	statuses  [600]bool
	unkeyed   nameSet
	maxEntry  int64
	coalesce  int64
	purge     generations
	flights   flights
	flightIDs atomic.Uint64
	stats     counters
}

// New builds a Cache. Close it to stop ristretto's goroutines.
func New(cfg Config) (*Cache, error) {
	if cfg.MaxBytes <= 0 {
		return nil, ErrMaxBytes
	}
	c := &Cache{cfg: cfg, maxEntry: cfg.MaxEntryBytes, coalesce: int64(cfg.CoalesceTimeout)}
	if c.maxEntry <= 0 {
		c.maxEntry = max(cfg.MaxBytes/64, 1)
	}
	if c.coalesce <= 0 {
		c.coalesce = int64(5 * time.Second)
	}
	statuses := cfg.Statuses
	if statuses == nil {
		statuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
	}
	for _, s := range statuses {
		if s >= 200 && s < len(c.statuses) {
			c.statuses[s] = true
		}
	}
	unkeyed := cfg.UncacheableHeaders
	if unkeyed == nil {
		unkeyed = DefaultUncacheableHeaders
	}
	c.unkeyed = newNameSet(unkeyed)
	for i := range c.flights.shards {
		c.flights.shards[i].m = map[uint64]*flight{}
	}
	// Ristretto wants ~10 counters per entry it may hold; assume 2 KiB
	// entries on average.
	counters := max(cfg.MaxBytes/2048*10, 1000)
	store, err := ristretto.NewCache(&ristretto.Config[uint64, *Entry]{
		NumCounters: counters,
		MaxCost:     cfg.MaxBytes,
		BufferItems: 64,
		OnReject:    c.stats.onReject,
		OnEvict:     c.stats.onEvict,
		OnExit:      c.stats.onExit,
	})
	if err != nil {
		return nil, err
	}
	c.store = store
	return c, nil
}

// Close stops the cache's background goroutines. The cache must not be
// used afterwards.
func (c *Cache) Close() { c.store.Close() }

// Sync waits until stored entries are visible to Lookup (ristretto applies
// sets asynchronously). For tests and admin tools, not the request path.
func (c *Cache) Sync() { c.store.Wait() }

// Lookup looks the request up at now. w receives the entry if the request
// has to wait for a leader; pass nil to never wait (a miss that finds a
// flight then goes upstream on its own, Leader false). Lookup does not
// allocate on a hit. See State for what to do next.
func (c *Cache) Lookup(req *Request, now time.Time, w Waiter) Result {
	class := methodClass(req.Method)
	if class == 0 {
		return Result{State: Bypass}
	}
	// One pass over the request's fields: uncacheable headers and
	// Cache-Control.
	cc := newDirectives()
	if h := req.Headers; h != nil {
		for i, n := 0, h.Len(); i < n; i++ {
			name, value := h.Field(i)
			if parser.EqualFold(name, "cache-control") {
				cc.parse(value)
			} else if c.unkeyed.has(name) {
				return Result{State: Bypass}
			}
		}
	}
	t := Ticket{url: URLKey(req.Host, req.Path, req.Query), noStore: cc.noStore}
	t.primary = primaryFromURL(class, t.url, req.Variant)
	t.key = t.primary

	e := c.get(t.primary)
	if e != nil && e.index {
		t.key = VariantKey(t.primary, e.varyNames, req.Headers)
		e = c.get(t.key)
	}
	if e != nil && !e.matches(req) {
		e = nil // a hash collision: a miss, never someone else's response
	}
	if e != nil {
		if r, ok := c.serve(e, &cc, now, &t); ok {
			return r
		}
		if !e.UsableOnError(now) {
			e = nil
		}
	}
	c.purge.snapshot(&t, req.Host, req.Path)
	res := Result{State: Miss, Entry: e, Ticket: t}
	switch {
	case cc.onlyIfCached:
		res.OnlyIfCached = true
		return res
	case cc.noStore:
		res.State = Bypass
		return res
	}
	return c.flights.join(&res, w, req, &cc, now, c)
}

// serve decides whether a found entry answers the request.
func (c *Cache) serve(e *Entry, cc *directives, now time.Time, t *Ticket) (Result, bool) {
	age := int64(e.Age(now))
	fresh := e.lifetime > age
	if !c.acceptable(e, cc, age) {
		return Result{}, false
	}
	if fresh {
		return Result{State: Hit, Entry: e, Ticket: *t}, true
	}
	if e.mustRevalidate {
		return Result{}, false
	}
	stale := age - e.lifetime
	if cc.maxStaleAny || (cc.maxStale >= 0 && stale <= cc.maxStale*int64(time.Second)) {
		return Result{State: Stale, Entry: e, Ticket: *t}, true
	}
	if stale <= e.swr {
		c.purge.snapshot(t, e.host, e.path)
		res := Result{State: Stale, Entry: e, Ticket: *t}
		c.flights.claim(&res, now.UnixNano(), c) // one background revalidation
		return res, true
	}
	return Result{}, false
}

// acceptable applies the request's no-cache, max-age and min-fresh (RFC
// 9111 §5.2.1) to an entry of the given age.
func (c *Cache) acceptable(e *Entry, cc *directives, age int64) bool {
	clientRefresh := !c.cfg.IgnoreClientNoCache && (cc.noCache || cc.maxAge == 0)
	return !clientRefresh &&
		(cc.maxAge < 0 || age <= cc.maxAge*int64(time.Second)) &&
		(cc.minFresh < 0 || e.lifetime-age >= cc.minFresh*int64(time.Second))
}

// get returns the live entry stored under key, dropping it if a purge
// made it obsolete.
func (c *Cache) get(key uint64) *Entry {
	e, ok := c.store.Get(key)
	if !ok || e == nil {
		return nil
	}
	if !c.purge.valid(e) {
		c.store.Del(key)
		return nil
	}
	return e
}

// nameSet is a small set of lower-case header names, bucketed by length
// so that most fields are dismissed by one comparison of lengths.
type nameSet struct {
	byLen [32][]string
	long  []string
}

func newNameSet(names []string) nameSet {
	var s nameSet
	for _, n := range names {
		n = strings.ToLower(n)
		if len(n) < len(s.byLen) {
			s.byLen[len(n)] = append(s.byLen[len(n)], n)
		} else {
			s.long = append(s.long, n)
		}
	}
	return s
}

func (s *nameSet) has(name []byte) bool {
	list := s.long
	if len(name) < len(s.byLen) {
		list = s.byLen[len(name)]
	}
	for _, n := range list {
		if parser.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// matches reports whether e was stored for exactly this request.
func (e *Entry) matches(req *Request) bool {
	if e.variant != req.Variant || !parser.EqualFoldBytes(e.host, req.Host) ||
		string(e.path) != string(req.Path) || string(e.query) != string(req.Query) {
		return false
	}
	for i, name := range e.varyNames {
		v := header(req.Headers, name)
		if (v == nil) != (e.varyValues[i] == nil) || string(parser.TrimOWS(v)) != string(e.varyValues[i]) {
			return false
		}
	}
	return true
}

// Fits reports whether e may answer req: a follower resumed with an entry
// must check it, because the leader's response may vary on headers the
// follower's request has different values for. It does not allocate.
func (c *Cache) Fits(e *Entry, req *Request) bool {
	return e != nil && c.purge.valid(e) && e.matches(req)
}

// Field is one response header field, as the engine parsed it.
type Field struct {
	Name, Value []byte
}

// Response is what Store needs from an upstream response. Header holds the
// end-to-end fields (the engine removes hop-by-hop fields; Store drops any
// that remain, and Age, Content-Length and X-Cache, which it regenerates).
type Response struct {
	Status       int
	Header       []Field
	Body         []byte
	RequestTime  time.Time // when the request was sent upstream
	ResponseTime time.Time // when the response head arrived
}

// Store decides whether resp may be stored for req (RFC 9111 §3, as a
// shared cache) and stores it under the keys of t (from Lookup). It
// returns the new entry, or nil and the reason it was not stored. Store
// copies what it keeps; it allocates (this is the miss path). The entry is
// visible to Lookup shortly after (ristretto applies sets asynchronously);
// hand it to Complete to resume waiters at once.
func (c *Cache) Store(t Ticket, req *Request, resp *Response, p *Policy) (*Entry, error) {
	if string(req.Method) != "GET" {
		return nil, ErrMethod // a HEAD response has no body to serve GETs with
	}
	if t.primary == 0 {
		return nil, ErrNoTicket
	}
	if t.noStore {
		return nil, ErrRequestNoStore
	}
	if resp.Status < 0 || resp.Status >= len(c.statuses) || !c.statuses[resp.Status] {
		return nil, ErrStatus
	}
	if p == nil {
		p = &Policy{}
	}
	cc := newDirectives()
	var date, expires, age, vary []byte
	var hasExpires, setCookie bool
	for _, f := range resp.Header {
		switch {
		case parser.EqualFold(f.Name, "cache-control"):
			cc.parse(f.Value)
		case parser.EqualFold(f.Name, "date"):
			date = f.Value
		case parser.EqualFold(f.Name, "expires"):
			expires, hasExpires = f.Value, true
		case parser.EqualFold(f.Name, "age"):
			age = f.Value
		case parser.EqualFold(f.Name, "vary"):
			if vary == nil {
				vary = f.Value
			} else {
				vary = append(append(append([]byte{}, vary...), ','), f.Value...)
			}
		case parser.EqualFold(f.Name, "set-cookie"):
			setCookie = true
		}
	}
	switch {
	case cc.noStore:
		return nil, ErrNoStore
	case cc.private:
		return nil, ErrPrivate
	case cc.noCache:
		return nil, ErrNoCache
	case setCookie && !p.StoreSetCookie:
		return nil, ErrSetCookie
	}
	// RFC 9111 §3.5: a shared cache stores a response to an authorized
	// request only when the response says it may be shared. A credential
	// the gateway checked in another field (an API key header, a token in
	// the query) authorizes the request just the same.
	if (p.Authenticated || header(req.Headers, "authorization") != nil) && !cc.public && cc.sMaxAge < 0 && !cc.mustRevalidate {
		return nil, ErrAuthorization
	}
	// A response to a request with a cookie is likely made for that user;
	// stored only when the upstream said how long it may be reused (or
	// that it is public), or the route allows it (Varnish passes such
	// requests by default).
	if !p.StoreCookieRequests && header(req.Headers, "cookie") != nil &&
		!cc.public && cc.sMaxAge < 0 && cc.maxAge < 0 && !hasExpires {
		return nil, ErrCookie
	}
	varyNames, star := parseVary(vary)
	if star {
		return nil, ErrVaryStar
	}
	if int64(len(resp.Body)) > c.maxEntry {
		return nil, ErrTooLarge
	}

	// Freshness lifetime (§4.2.1, shared cache: s-maxage first).
	reqTime, respTime := resp.RequestTime, resp.ResponseTime
	if respTime.IsZero() {
		respTime = time.Now()
	}
	if reqTime.IsZero() || reqTime.After(respTime) {
		reqTime = respTime
	}
	dateT, dateOK := parseHTTPDate(date)
	var lifetime int64 = -1
	switch {
	case cc.sMaxAge >= 0:
		lifetime = cc.sMaxAge * int64(time.Second)
	case cc.maxAge >= 0:
		lifetime = cc.maxAge * int64(time.Second)
	case hasExpires:
		lifetime = 0 // an invalid Expires means already expired (§5.3)
		if exp, ok := parseHTTPDate(expires); ok {
			base := respTime
			if dateOK {
				base = dateT
			}
			lifetime = max(int64(exp.Sub(base)), 0)
		}
	}
	switch {
	case p.TTL > 0:
		lifetime = int64(p.TTL)
	case lifetime < 0:
		lifetime = int64(p.DefaultTTL) // no heuristic freshness beyond the route's default
	}
	if p.MaxTTL > 0 {
		lifetime = min(lifetime, int64(p.MaxTTL))
	}

	// Age (§4.2.3).
	apparentAge := int64(0)
	if dateOK {
		apparentAge = max(int64(respTime.Sub(dateT)), 0)
	}
	ageValue := deltaSeconds(parser.TrimOWS(age)) * int64(time.Second)
	correctedAge := ageValue + int64(respTime.Sub(reqTime))
	initialAge := max(apparentAge, correctedAge)
	if lifetime <= initialAge {
		return nil, ErrNotFresh
	}

	e := c.build(resp, varyNames, req, t, p, setCookie)
	e.responseTime = respTime.UnixNano()
	e.initialAge = initialAge
	e.lifetime = lifetime
	e.mustRevalidate = cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge >= 0
	e.swr = seconds(cc.staleWhileRevalidate, p.StaleWhileRevalidate)
	e.sie = seconds(cc.staleIfError, p.StaleIfError)
	ttl := time.Duration(lifetime - initialAge + max(e.swr, e.sie))

	if varyNames != nil {
		idx := &Entry{index: true, varyNames: varyNames, key: t.primary,
			gens: t.gens, slots: t.slots, cost: entryOverhead}
		for _, n := range varyNames {
			idx.cost += int64(len(n))
		}
		if c.store.SetWithTTL(t.primary, idx, idx.cost, ttl) {
			c.stats.stored(idx)
		}
	}
	if !c.store.SetWithTTL(e.key, e, e.cost, ttl) {
		c.stats.rejections.Add(1) // dropped before admission: the set buffer was full
		return e, ErrRejected     // still good for this flight's waiters
	}
	c.stats.stored(e)
	return e, nil
}

// entryOverhead approximates an entry's fixed memory: the Entry struct,
// ristretto's item and map slot.
const entryOverhead = 320

func seconds(directive int64, fallback time.Duration) int64 {
	if directive >= 0 {
		return directive * int64(time.Second)
	}
	return int64(fallback)
}

// build copies the response into one buffer: status line and kept header
// lines, then the key bytes, then the body.
func (c *Cache) build(resp *Response, varyNames []string, req *Request, t Ticket, p *Policy, setCookie bool) *Entry {
	n := 64 + len(resp.Body) + len(req.Host) + len(req.Path) + len(req.Query)
	for _, f := range resp.Header {
		n += len(f.Name) + len(f.Value) + 4
	}
	buf := make([]byte, 0, n)
	buf = append(buf, "HTTP/1.1 "...)
	buf = strconv.AppendInt(buf, int64(resp.Status), 10)
	buf = append(buf, ' ')
	buf = append(buf, parser.StatusText(resp.Status)...)
	buf = append(buf, "\r\n"...)
	e := &Entry{status: resp.Status, variant: req.Variant, varyNames: varyNames}
	for _, f := range resp.Header {
		if dropOnStore(f.Name) || (setCookie && parser.EqualFold(f.Name, "set-cookie")) {
			continue
		}
		buf = append(buf, f.Name...)
		buf = append(buf, ": "...)
		start := len(buf)
		buf = append(buf, f.Value...)
		switch {
		case parser.EqualFold(f.Name, "etag"):
			e.etag = buf[start:len(buf):len(buf)]
		case parser.EqualFold(f.Name, "last-modified"):
			e.lastModified = buf[start:len(buf):len(buf)]
		}
		buf = append(buf, "\r\n"...)
	}
	e.head = buf[:len(buf):len(buf)]
	off := len(buf)
	for _, b := range req.Host {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf = append(buf, b)
	}
	e.host = buf[off:len(buf):len(buf)]
	off = len(buf)
	buf = append(buf, req.Path...)
	e.path = buf[off:len(buf):len(buf)]
	off = len(buf)
	buf = append(buf, req.Query...)
	if req.Query != nil {
		e.query = buf[off:len(buf):len(buf)]
	}
	off = len(buf)
	buf = append(buf, resp.Body...)
	e.body = buf[off:len(buf):len(buf)]
	if varyNames != nil {
		e.varyValues = make([][]byte, len(varyNames))
		for i, name := range varyNames {
			if v := header(req.Headers, name); v != nil {
				e.varyValues[i] = append([]byte{}, parser.TrimOWS(v)...)
			}
		}
		e.key = VariantKey(t.primary, varyNames, req.Headers)
	} else {
		e.key = t.primary
	}
	e.gens, e.slots = t.gens, t.slots
	e.cost = int64(cap(buf)) + entryOverhead
	for i, n := range varyNames {
		e.cost += int64(len(n) + len(e.varyValues[i]) + 24)
	}
	return e
}

// dropOnStore lists fields never kept in a stored response: hop-by-hop
// fields (RFC 9110 §7.6.1) and the fields AppendResponse writes itself.
func dropOnStore(name []byte) bool {
	switch {
	case parser.EqualFold(name, "connection"), parser.EqualFold(name, "keep-alive"), parser.EqualFold(name, "proxy-connection"),
		parser.EqualFold(name, "transfer-encoding"), parser.EqualFold(name, "te"), parser.EqualFold(name, "trailer"),
		parser.EqualFold(name, "upgrade"), parser.EqualFold(name, "proxy-authenticate"), parser.EqualFold(name, "proxy-authorization"),
		parser.EqualFold(name, "age"), parser.EqualFold(name, "content-length"), parser.EqualFold(name, "x-cache"):
		return true
	}
	return false
}

// parseVary returns the lower-cased field names of a Vary value, or
// star for "Vary: *".
func parseVary(v []byte) (names []string, star bool) {
	if v == nil {
		return nil, false
	}
	for _, part := range strings.Split(string(v), ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		switch part {
		case "":
			continue
		case "*":
			return nil, true
		}
		names = append(names, part)
	}
	return names, false
}

func parseHTTPDate(b []byte) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(string(parser.TrimOWS(b)))
	return t, err == nil
}
