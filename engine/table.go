package engine

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/h2"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
	"github.com/hotpath/hotpath/tlsloop"
	"github.com/hotpath/hotpath/trie"
)

// table is an immutable compiled configuration: the routing tree, the
// upstreams with their balancers, and the limits and timeouts that apply to
// requests started while it is current. Reload builds a new one and swaps
// the Server's pointer; an exchange keeps the table it started with.
type table struct {
	// cfg is the configuration compiled, for Server.Config and for
	// comparisons at reload; the request path reads only compiled fields.
	cfg         *config.Config
	tree        *trie.Tree[*route]
	pathNorm    trie.Normalization // router.path_normalization
	underscores underscores        // limits.underscores_in_headers (forward.go)
	upstreams   []*upstream

	limits   parser.Limits
	maxBuf   int // limits.max_buffered_bytes: pause the other side above it
	timeouts timeouts
	fwd      forwarded
	viaLine  []byte         // "Via: 1.1 hotpath\r\n", empty when disabled
	mt       *metrics.Table // nil when metrics are off (observe.go)

	listeners  []listenerProtocols // by listener index (h2conn.go)
	errorsOnly bool                // access_log.errors_only (observe.go)

	stopHealth []func()
	aggs       []*routeAgg      // the aggregate routes, in config order (aggregatepath.go)
	pol        tablePolicy      // trusted proxies, cache store, policy routes (policy.go)
	edge       tableEdge        // ip_filter, limits.per_ip, CORS preflights (edge.go)
	redirects  []*httpsRedirect // by listener index; nil when no listener redirects (tls.go)
}

// forwarded is the forwarded: section: the X-Forwarded-* fields the
// gateway adds (forward.go).
type forwarded struct {
	xff, proto, host bool
}

// listenerProtocols is what a connection needs of its listener's
// protocols: h2c spoken, HTTP/1.1 spoken, and the http2 section's limits.
type listenerProtocols struct {
	h2c, http1 bool
	h2         h2.Limits
}

// timeouts are config.Timeouts in nanoseconds of the loop clock.
type timeouts struct {
	clientHeader, clientBody, keepalive   int64
	connect, upstreamHeader, upstreamRead int64
	clientSend, pending, tunnelIdle       int64
}

type upstream struct {
	id      int // index in table.upstreams: its metrics ID
	name    string
	eps     []*pool.Endpoint
	bal     pool.Balancer
	pick    pool.Picker       // bal with retries elsewhere, slow start and panic mode (retry.go)
	budget  *pool.RetryBudget // retries in flight on this upstream (retry.go)
	key     pool.KeyKind
	keyName string
	limits  pool.Limits

	checked    bool // health.active is set: the endpoints are checked (metrics)
	maxPending int  // pool.max_pending: waiters per endpoint per loop
	pipeline   int  // pool.pipeline: outstanding requests per connection, <= 1 off (pipeline.go)

	tls       *tlsloop.Client // TLS to the endpoints; nil for plain TCP (tls.go)
	proto     uint8           // protoHTTP1, protoH2C or protoH2 (up2.go)
	tlsWarned atomic.Int64    // when a failed handshake was last logged (unix ns)
}

// route is a compiled config.Route: the trie's value.
type route struct {
	id           int // index in config.Routes: its metrics ID
	name         string
	up           *upstream
	grpcOnly     bool // protocol: grpc (grpc.go)
	direct       *direct
	strip        []byte
	rewrite      []rewritePart
	hostRewrite  []byte
	preserveHost bool
	upgrade      [][]byte     // protocols clients may switch to, lower case (tunnel.go)
	pol          *routePolicy // rate limit, max_in_flight, cache, compression; nil when none
	gate         *gate        // auth, header edits, request IDs; nil when none (authpath.go)
	agg          *routeAgg    // aggregate: the parts and their limits; nil when none (aggregatepath.go)
	retry        retryPolicy  // retry.go
	edge         *routeEdge   // ip_filter, max_body, cors; nil when none (edge.go)
}

// rewritePart is a literal or a parameter reference of a rewrite template.
type rewritePart struct {
	lit   []byte
	param string // non-empty: substitute this route parameter
	query bool   // after a '?': in the query (aggregate templates escape values there)
}

// direct is a pre-rendered response: head without the Connection field and
// the final CRLF, then the body.
type direct struct {
	head []byte
	body []byte
}

// compile turns a validated config into a table. It starts active health
// checks; the caller stops them with table.close when the table is retired
// or compile's caller discards it.
//
// prev is the table being replaced (nil at start). An endpoint of prev is
// reused when the new config has it in the upstream of the same name with
// the same address and weight and the same health settings: its ID, so the
// loops' idle keep-alive connections to it, its in-flight count, EWMA
// latency and health verdicts carry over the reload. compile changes
// nothing in a reused endpoint, so a table that is discarded (a failed
// reload) leaves prev as it was. Endpoints of prev that are not reused are
// retired by the caller after the swap (retireDropped).
func compile(cfg *config.Config, prev *table) (*table, error) {
	var errs config.Errors
	t := &table{
		cfg: cfg,
		limits: parser.Limits{
			MaxRequestLine: int(cfg.Limits.MaxRequestLineBytes),
			MaxHead:        int(cfg.Limits.MaxHeadBytes),
			MaxHeaders:     cfg.Limits.MaxHeaders,
			AllowBareLF:    cfg.Limits.AllowBareLF,
		},
		maxBuf: int(cfg.Limits.MaxBufferedBytes),
		timeouts: timeouts{
			clientHeader:   int64(cfg.Timeouts.ClientHeader),
			clientBody:     int64(cfg.Timeouts.ClientBody),
			keepalive:      int64(cfg.Timeouts.ClientIdle),
			connect:        int64(cfg.Timeouts.Connect),
			upstreamHeader: int64(cfg.Timeouts.UpstreamHeader),
			upstreamRead:   int64(cfg.Timeouts.UpstreamRead),
			clientSend:     int64(cfg.Timeouts.ClientSend),
			pending:        int64(cfg.Timeouts.Pending),
			tunnelIdle:     int64(cfg.Timeouts.TunnelIdle),
		},
		fwd:        forwarded{xff: cfg.Forwarded.XForwardedFor, proto: cfg.Forwarded.XForwardedProto, host: cfg.Forwarded.XForwardedHost},
		errorsOnly: cfg.AccessLog.ErrorsOnly,
	}
	for i := range cfg.Listeners {
		t.listeners = append(t.listeners, compileListenerProtocols(&cfg.Listeners[i])) // h2conn.go
	}
	if cfg.Forwarded.Via {
		t.viaLine = []byte("Via: 1.1 " + cfg.Forwarded.ViaName + "\r\n")
	}

	t.redirects = compileRedirects(cfg) // tls.go
	errs = append(errs, compileTablePolicy(cfg, t)...)
	errs = append(errs, compileTableEdge(cfg, t)...)
	byName := map[string]*upstream{}
	for i, uc := range cfg.Upstreams {
		u := &upstream{id: i, name: uc.Name, proto: upstreamProto(uc.Protocol)}
		var tlsErrs config.Errors
		u.tls, tlsErrs = compileUpstreamTLS(cfg, i) // tls.go
		errs = append(errs, tlsErrs...)
		reuse := prev.reusable(uc)
		for _, e := range uc.Endpoints {
			if ep := reuse.take(e.Address, e.Weight); ep != nil {
				u.eps = append(u.eps, ep)
				continue
			}
			ep := pool.NewEndpoint(e.Address, e.Weight)
			if ph := uc.Health.Passive; ph != nil {
				ep.SetPassive(pool.PassiveConfig{
					ConsecutiveFailures: ph.ConsecutiveFailures,
					BaseEjection:        ph.BaseEjection,
					MaxEjection:         ph.MaxEjection,
				})
			}
			u.eps = append(u.eps, ep)
		}
		// Discovery may not have answered yet: no endpoints, 503 (gateway/fleet.go).
		bc := pool.BalancerConfig{Kind: uc.Balancer, AllowEmpty: uc.Discovery != nil}
		if uc.HashKey != "" {
			kind, name, err := config.ParseHashKey(uc.HashKey)
			if err == nil {
				bc.Key, err = pool.ParseKeyKind(kind)
			}
			if err != nil {
				errs = append(errs, cfg.Errorf(fmt.Sprintf("upstreams[%d].hash_key", i), err.Error()))
				continue
			}
			bc.KeyName = name
		}
		bal, err := pool.NewBalancer(bc, u.eps)
		if err != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("upstreams[%d].balancer", i), err.Error()))
			continue
		}
		u.bal, u.key, u.keyName = bal, bc.Key, bc.KeyName
		u.pick = pool.Picker{Balancer: bal, Endpoints: u.eps, SlowStart: uc.SlowStart}
		u.budget = &pool.RetryBudget{Percent: uc.RetryBudget.Percent, MinConcurrent: uc.RetryBudget.MinConcurrent}
		if bc.Kind != pool.KindMaglev && bc.Kind != pool.KindRingHash {
			u.key = pool.KeyNone // hashing is wasted on the other kinds
		}
		u.limits = pool.Limits{
			MaxConns:    uc.Pool.MaxConns,
			MaxIdle:     uc.Pool.MaxIdle,
			MaxRequests: uc.Pool.MaxRequests,
			IdleTimeout: uc.Pool.IdleTimeout,
		}
		u.maxPending = uc.Pool.MaxPending
		u.pipeline = uc.Pool.Pipeline
		if u.limits.MaxIdle == 0 {
			u.limits.MaxIdle = -1 // config: 0 keeps none; pool: 0 means its default
		}
		if u.limits.MaxRequests == 0 {
			u.limits.MaxRequests = -1 // config: 0 is unlimited
		}
		if a := uc.Health.Active; a != nil {
			u.checked = true
			hc := pool.HealthCheck{
				Path:               a.Path,
				Interval:           a.Interval,
				Timeout:            a.Timeout,
				HealthyThreshold:   a.HealthyThreshold,
				UnhealthyThreshold: a.UnhealthyThreshold,
			}
			if u.tls != nil {
				hc.TLS = u.tls.Config // checked over TLS, as requests are
			}
			hc.HTTP2 = u.proto != protoHTTP1 // and over HTTP/2 (up2.go)
			if a.GRPC != nil {
				hc.GRPC, hc.GRPCService = true, a.GRPC.Service // grpc.go
			}
			t.stopHealth = append(t.stopHealth, pool.StartHealthChecks(u.eps, hc))
		}
		byName[u.name] = u
		t.upstreams = append(t.upstreams, u)
	}

	opts := trie.Options{}
	switch cfg.Router.TrailingSlash {
	case "redirect":
		opts.TrailingSlash = trie.TrailingSlashRedirect
	case "ignore":
		opts.TrailingSlash = trie.TrailingSlashIgnore
	}
	switch cfg.Limits.UnderscoresInHeaders {
	case "reject":
		t.underscores = underscoresReject
	case "forward":
		t.underscores = underscoresForward
	}
	switch cfg.Router.PathNormalization {
	case "decode":
		t.pathNorm = trie.NormalizeDecode
	case "keep":
		t.pathNorm = trie.NormalizeKeep
	}
	b := trie.NewBuilder[*route](opts)
	for i, rc := range cfg.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		r := &route{id: i, name: rc.Name, preserveHost: rc.PreserveHost, retry: compileRetry(rc.Retry), grpcOnly: rc.Protocol == "grpc"}
		if r.name == "" {
			r.name = rc.Path
		}
		if rc.Upstream != "" {
			r.up = byName[rc.Upstream]
			if r.up == nil {
				continue // reported by validation or by the upstream's own error
			}
		}
		if rc.Direct != nil {
			r.direct = renderDirect(rc.Direct)
		}
		if rc.StripPrefix != "" {
			r.strip = []byte(strings.TrimSuffix(rc.StripPrefix, "/"))
		}
		if rc.Rewrite != "" {
			r.rewrite = parseRewrite(rc.Rewrite)
		}
		if rc.HostRewrite != "" {
			r.hostRewrite = []byte(rc.HostRewrite)
		}
		for _, proto := range rc.Upgrade {
			r.upgrade = append(r.upgrade, []byte(strings.ToLower(proto)))
		}
		pol, perrs := compilePolicy(cfg, t, i, &cfg.Routes[i], r.name)
		r.pol, errs = pol, append(errs, perrs...)
		errs = append(errs, compileGate(cfg, i, &cfg.Routes[i], r)...)
		errs = append(errs, compileRouteEdge(cfg, t, i, &cfg.Routes[i], r)...) // after the gate: CORS drops fields through it
		methods := rc.Methods
		if rc.Aggregate != nil {
			agg, aerrs := compileAggregate(cfg, i, &cfg.Routes[i], r, byName)
			r.agg, errs = agg, append(errs, aerrs...)
			t.aggs = append(t.aggs, agg)
			if len(methods) == 0 {
				methods = []string{"GET", "HEAD"} // others get 405 with Allow
			}
		}
		if len(methods) == 0 {
			methods = []string{"*"}
		}
		for _, m := range methods {
			if err := b.Add(rc.Host, m, rc.Path, r); err != nil {
				errs = append(errs, cfg.Errorf(p+".path", err.Error()))
			}
		}
	}
	tree, err := b.Build()
	if err != nil {
		errs = append(errs, cfg.Errorf("routes", err.Error()))
	}
	t.tree = tree
	if len(errs) > 0 {
		t.close()
		return nil, errs
	}
	return t, nil
}

// reusableEndpoints are the endpoints of a previous table's upstream that a
// new table may take over (compile), each at most once.
type reusableEndpoints []*pool.Endpoint

// reusable returns the endpoints of t's upstream named like uc when its
// health settings are those of uc (endpoints carry health state, so a
// change of settings starts afresh); nil when there are none. t may be nil.
func (t *table) reusable(uc config.Upstream) reusableEndpoints {
	if t == nil {
		return nil
	}
	for i, old := range t.upstreams {
		oc := t.cfg.Upstreams[i]
		// TLS too: an idle connection must not carry requests the new
		// config sends encrypted, or the other way round.
		if old.name == uc.Name && reflect.DeepEqual(oc.Health, uc.Health) && reflect.DeepEqual(oc.TLS, uc.TLS) {
			return append(reusableEndpoints(nil), old.eps...)
		}
	}
	return nil
}

// take removes and returns the endpoint for addr with weight w, or nil.
func (r reusableEndpoints) take(addr string, w int) *pool.Endpoint {
	if w == 0 {
		w = 1 // as pool.NewEndpoint
	}
	for i, ep := range r {
		if ep != nil && ep.Addr == addr && ep.Weight == w {
			r[i] = nil
			return ep
		}
	}
	return nil
}

// retireDropped retires the endpoints of old that t did not take over, so
// that the loops close their idle connections now rather than after the
// idle timeout. Call it once t has replaced old.
func (t *table) retireDropped(old *table) {
	kept := map[*pool.Endpoint]bool{}
	for _, u := range t.upstreams {
		for _, ep := range u.eps {
			kept[ep] = true
		}
	}
	for _, u := range old.upstreams {
		for _, ep := range u.eps {
			if !kept[ep] {
				ep.Retire()
			}
		}
	}
}

// close stops the table's health checks.
func (t *table) close() {
	for _, stop := range t.stopHealth {
		stop()
	}
	t.stopHealth = nil
}

func renderDirect(d *config.Direct) *direct {
	var h []byte
	h = append(h, "HTTP/1.1 "...)
	h = strconv.AppendInt(h, int64(d.Status), 10)
	h = append(h, ' ')
	h = append(h, reason(d.Status)...)
	h = append(h, "\r\n"...)
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h = append(h, k...)
		h = append(h, ": "...)
		h = append(h, d.Headers[k]...)
		h = append(h, "\r\n"...)
	}
	h = append(h, "Content-Length: "...)
	h = strconv.AppendInt(h, int64(len(d.Body)), 10)
	h = append(h, "\r\n"...)
	return &direct{head: h, body: []byte(d.Body)}
}

// parseRewrite splits "/v2/:id/*rest" into literal and parameter parts: a
// parameter name runs to the next '/'.
func parseRewrite(s string) []rewritePart {
	return parseTemplate(s, func(c byte) bool { return c != '/' })
}

// parseTemplate splits a template into literal and parameter parts; a
// parameter starts at ':' or '*' and its name runs while inName holds.
// Parts after a '?' in a literal are marked query (aggregatepath.go
// escapes values there).
func parseTemplate(s string, inName func(byte) bool) []rewritePart {
	var parts []rewritePart
	query := false
	for len(s) > 0 {
		i := strings.IndexAny(s, ":*")
		if i < 0 {
			parts = append(parts, rewritePart{lit: []byte(s), query: query})
			break
		}
		if i > 0 {
			parts = append(parts, rewritePart{lit: []byte(s[:i]), query: query})
			query = query || strings.IndexByte(s[:i], '?') >= 0
		}
		s = s[i+1:]
		j := 0
		for j < len(s) && inName(s[j]) {
			j++
		}
		parts = append(parts, rewritePart{param: s[:j], query: query})
		s = s[j:]
	}
	return parts
}

// appendTemplate appends a template with the route's parameters
// substituted (as received: still percent-encoded). A catch-all value's
// leading '/' is dropped after a literal that ends in one.
func appendTemplate(b []byte, parts []rewritePart, params *trie.Params) []byte {
	for _, p := range parts {
		if p.param == "" {
			b = append(b, p.lit...)
			continue
		}
		v := params.Get(p.param)
		if len(v) > 0 && v[0] == '/' && len(b) > 0 && b[len(b)-1] == '/' {
			v = v[1:]
		}
		b = append(b, v...)
	}
	return b
}
