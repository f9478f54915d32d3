package engine

import (
	"fmt"
	"reflect"
	"sort"
	"sync/atomic"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/h2"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
	compiled "github.com/hotpath/hotpath/route" // engine's route is the trie's value
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
	pathNorm    trie.Normalization   // router.path_normalization
	underscores compiled.Underscores // limits.underscores_in_headers (forward.go)
	upstreams   []*upstream

	limits   parser.Limits
	maxBuf   int // limits.max_buffered_bytes: pause the other side above it
	timeouts timeouts
	fwd      compiled.Forwarded
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
	direct       *compiled.Direct
	strip        []byte
	rewrite      compiled.Template
	hostRewrite  []byte
	preserveHost bool
	upgrade      [][]byte     // protocols clients may switch to, lower case (tunnel.go)
	pol          *routePolicy // rate limit, max_in_flight, cache, compression; nil when none
	gate         *gate        // auth, header edits, request IDs; nil when none (authpath.go)
	agg          *routeAgg    // aggregate: the parts and their limits; nil when none (aggregatepath.go)
	retry        retryPolicy  // retry.go
	edge         *routeEdge   // ip_filter, max_body, cors; nil when none (edge.go)
}

// compile turns a validated config into a table: package route compiles
// what needs no runtime object (compiled.Compile: settings, templates,
// direct responses, keys, the upstreams' and routes' descriptions), then
// compile builds the endpoints, balancers, TLS clients, policies, gates and
// the routing tree from it. Every problem of both is returned, sorted by
// line, as config.Errors. It starts active health checks; the caller stops them with table.close when the table is retired
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
	ct, errs := compiled.Compile(cfg)
	t := &table{
		cfg:         cfg,
		limits:      ct.Limits,
		maxBuf:      ct.MaxBufferedBytes,
		pathNorm:    ct.PathNorm,
		underscores: ct.Underscores,
		timeouts: timeouts{
			clientHeader:   ct.Timeouts.ClientHeader,
			clientBody:     ct.Timeouts.ClientBody,
			keepalive:      ct.Timeouts.ClientIdle,
			connect:        ct.Timeouts.Connect,
			upstreamHeader: ct.Timeouts.UpstreamHeader,
			upstreamRead:   ct.Timeouts.UpstreamRead,
			clientSend:     ct.Timeouts.ClientSend,
			pending:        ct.Timeouts.Pending,
			tunnelIdle:     ct.Timeouts.TunnelIdle,
		},
		fwd:        ct.Forwarded,
		viaLine:    ct.Via,
		errorsOnly: ct.ErrorsOnly,
	}
	t.pol.store = ct.Store
	for i := range cfg.Listeners {
		t.listeners = append(t.listeners, compileListenerProtocols(&cfg.Listeners[i])) // h2conn.go
	}

	t.redirects = compileRedirects(cfg) // tls.go
	errs = append(errs, compileTablePolicy(cfg, t)...)
	errs = append(errs, compileTableEdge(cfg, t)...)
	ups := make([]*upstream, len(ct.Upstreams)) // by config index, those in error included
	for i := range ct.Upstreams {
		ut := &ct.Upstreams[i]
		u := &upstream{id: i, name: ut.Name, proto: upstreamProto(ut.Protocol)}
		var tlsErrs config.Errors
		u.tls, tlsErrs = compileUpstreamTLS(cfg, i) // tls.go
		errs = append(errs, tlsErrs...)
		reuse := prev.reusable(cfg.Upstreams[i])
		for _, e := range ut.Endpoints {
			if ep := reuse.take(e.Address, e.Weight); ep != nil {
				u.eps = append(u.eps, ep)
				continue
			}
			ep := pool.NewEndpoint(e.Address, e.Weight)
			if ut.Passive != nil {
				ep.SetPassive(*ut.Passive)
			}
			u.eps = append(u.eps, ep)
		}
		// An upstream in error is kept for its routes, which are compiled
		// for their own problems; the table is not used.
		ups[i] = u
		if ut.Invalid {
			continue
		}
		bal, err := pool.NewBalancer(ut.Balancer, u.eps)
		if err != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("upstreams[%d].balancer", i), err.Error()))
			continue
		}
		u.bal, u.key, u.keyName = bal, ut.Key, ut.KeyName
		u.pick = pool.Picker{Balancer: bal, Endpoints: u.eps, SlowStart: ut.SlowStart}
		u.budget = &pool.RetryBudget{Percent: ut.RetryPercent, MinConcurrent: ut.RetryMinConcurrent}
		u.limits = ut.Limits
		u.maxPending = ut.MaxPending
		u.pipeline = ut.Pipeline
		if ut.Health != nil {
			u.checked = true
			hc := *ut.Health
			if u.tls != nil {
				hc.TLS = u.tls.Config // checked over TLS, as requests are
			}
			t.stopHealth = append(t.stopHealth, pool.StartHealthChecks(u.eps, hc))
		}
		t.upstreams = append(t.upstreams, u)
	}

	b := trie.NewBuilder[*route](ct.Trie)
	for i := range ct.Routes {
		rd, rc := &ct.Routes[i], &cfg.Routes[i]
		r := &route{
			id: i, name: rd.Name, grpcOnly: rd.GRPCOnly, preserveHost: rd.PreserveHost,
			direct: rd.Direct, strip: rd.Strip, rewrite: rd.Rewrite, hostRewrite: rd.HostRewrite,
			upgrade: rd.Upgrade, retry: compileRetry(rc.Retry),
		}
		if rc.Upstream != "" {
			if rd.Upstream < 0 {
				continue // reported by validation
			}
			r.up = ups[rd.Upstream]
		}
		pol, perrs := compilePolicy(cfg, t, i, rc, rd)
		r.pol, errs = pol, append(errs, perrs...)
		errs = append(errs, compileGate(cfg, i, rc, rd, r)...)
		errs = append(errs, compileRouteEdge(cfg, t, i, rc, r)...) // after the gate: CORS drops fields through it
		if rd.Aggregate != nil {
			agg := compileAggregate(rc, rd, r, ups)
			r.agg = agg
			t.aggs = append(t.aggs, agg)
		}
		for _, m := range rd.Methods {
			if err := b.Add(rd.Host, m, rd.Path, r); err != nil {
				errs = append(errs, cfg.Errorf(fmt.Sprintf("routes[%d].path", i), err.Error()))
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
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
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
