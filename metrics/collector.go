package metrics

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Options configure a Collector.
type Options struct {
	// Loops is the number of event loops; Loop and Table.Shard accept
	// 0..Loops-1. At least 1.
	Loops int
	// MaxRoutes, MaxUpstreams and MaxEndpoints bound the distinct names
	// ever installed (the label cardinality); 0 means 1024, 256 and 4096.
	// Endpoints past MaxEndpoints are not counted per endpoint.
	MaxRoutes, MaxUpstreams, MaxEndpoints int
	// Cache, if set, is called at scrape for the response cache's
	// counters (package cache's Stats); ok false (no route caches) leaves
	// the hotpath_cache_* store series out.
	Cache func() (s CacheStats, ok bool)
	// AccessLogDropped and AccessLogWriteErrors, if set, are called at
	// scrape for hotpath_accesslog_dropped_total and
	// hotpath_access_log_write_errors_total (accesslog.Log's Dropped and
	// WriteErrors).
	AccessLogDropped, AccessLogWriteErrors func() uint64
	// Aggregates, if set, is called at scrape for the aggregate routes'
	// counters.
	Aggregates func() []AggregateStats
	// Endpoints, if set, is called at scrape for each configured
	// endpoint's health and in-flight requests.
	Endpoints func() []EndpointState
	// Accept, if set, is called at scrape for the connection budget's
	// metrics (engine/fdguard.go).
	Accept func() AcceptStats
	// Edge, if set, is called at scrape for edge protection's counters
	// (engine/edge.go).
	Edge func() EdgeStats
	// TLS, if set, is called at scrape for the TLS listeners' and
	// upstreams' handshake counters (engine/tls.go).
	TLS func() []TLSStats
	// GRPC, if set, is called at scrape for the gRPC calls per method and
	// code (engine/grpcstats.go).
	GRPC func() []GRPCStats
	// Upstreams, if set, is called at scrape for the endpoints' passive
	// health (hotpath_upstream_ejections_total, _endpoints_ejected).
	Upstreams func() []UpstreamHealth
}

// CacheStats are the response cache's counters (cache.Stats).
type CacheStats struct {
	Stores, StoredBytes     uint64
	Rejections              uint64 // refused by the admission policy
	Evictions, EvictedBytes uint64
	Expirations             uint64
	SizeBytes               int64
}

// AggregateStats are one aggregate route's counters (engine.AggregateStats).
type AggregateStats struct {
	Route        string
	InFlight     int64
	Saturated    uint64
	PartFailures uint64
}

// UpstreamHealth is an upstream's passive health: ejections so far and
// endpoints ejected now.
type UpstreamHealth struct {
	Name      string
	Ejections uint64
	Ejected   int
}

// AcceptStats is what the engine's connection budget did: the client
// connection cap, connections closed at once at the cap, times a loop
// stopped accepting, and the loops not accepting now.
type AcceptStats struct {
	MaxConnections int64
	Refused        uint64
	Pauses         uint64
	PausedLoops    int64
}

// Labels are the route and upstream names of one configuration, in the
// order of their dense IDs: route i is Labels.Routes[i]. Two routes with the
// same name share their counters.
type Labels struct {
	Routes    []string
	Upstreams []string
	// Limited and Cached, if set, say which routes (by ID) have a rate
	// limiter and a response cache: only those export
	// hotpath_limiter_rejections_total and hotpath_cache_lookups_total
	// series. Nil: none has.
	Limited, Cached []bool
	// Endpoints are the upstreams' endpoints: they get per-endpoint
	// counters (endpoint.go).
	Endpoints []Endpoint
}

// Collector owns every loop's counters and exports their sums as a
// prometheus.Collector. Loop, Install and the prometheus methods are safe
// for concurrent use.
type Collector struct {
	opts  Options
	loops []*Loop

	// table is the Table the next scrape exports; Install swaps it.
	table atomic.Pointer[Table]

	mu        sync.Mutex // serialises Install; guards the maps
	routes    map[string]*routeSlot
	upstreams map[string]*upstreamSlot
	endpoints map[[2]string]*endpointSlot

	desc descs
}

// routeSlot is the storage of one route name: one cell per loop.
type routeSlot struct {
	name  string
	cells []*routeCell
}

// upstreamSlot is the storage of one upstream name: one cell per loop.
type upstreamSlot struct {
	name  string
	cells []*upstreamCell
}

// Table is the label set of one configuration and its per-loop Shards. It
// is immutable once Install returns it; the engine keeps it next to its
// routing table so that requests in flight record into the table they
// started with (which, per name, is the same storage as the next one).
type Table struct {
	shards    []Shard
	routes    []*routeSlot    // distinct, exported
	features  []uint8         // of routes: hasLimiter | hasCache
	upstreams []*upstreamSlot // distinct, exported
	endpoints []*endpointSlot // distinct, exported
	unmatched int
	// Overflowed is how many of the installed routes count under OtherRoute
	// because the distinct route names reached Options.MaxRoutes.
	Overflowed int
}

// Route features, in Table.features.
const (
	hasLimiter = 1 << iota
	hasCache
)

// Shard returns loop's view of t. Call it once per loop and table, not per
// request.
func (t *Table) Shard(loop int) *Shard { return &t.shards[loop] }

// Unmatched returns the route ID that counts requests matching no route
// (label UnmatchedRoute): len(Labels.Routes).
func (t *Table) Unmatched() int { return t.unmatched }

// New returns a Collector with an empty Table installed (only the
// unmatched route), so that Loop counters work before the first config.
func New(opts Options) *Collector {
	if opts.Loops < 1 {
		opts.Loops = 1
	}
	if opts.MaxRoutes <= 0 {
		opts.MaxRoutes = 1024
	}
	if opts.MaxUpstreams <= 0 {
		opts.MaxUpstreams = 256
	}
	if opts.MaxEndpoints <= 0 {
		opts.MaxEndpoints = 4096
	}
	c := &Collector{
		opts:      opts,
		loops:     make([]*Loop, opts.Loops),
		routes:    map[string]*routeSlot{},
		upstreams: map[string]*upstreamSlot{},
		endpoints: map[[2]string]*endpointSlot{},
		desc:      newDescs(),
	}
	for i := range c.loops {
		c.loops[i] = new(Loop) // whole cache lines: its own size class, 64-byte aligned
	}
	if _, err := c.Install(Labels{}); err != nil {
		panic(err) // unreachable: no names
	}
	return c
}

// Loop returns the process-wide counter block of loop i.
func (c *Collector) Loop(i int) *Loop { return c.loops[i] }

// Loops returns Options.Loops.
func (c *Collector) Loops() int { return len(c.loops) }

// Install builds the Table of a configuration and makes it the one
// exported. Names already installed keep their storage (and counts); new
// names start at zero. Route names beyond Options.MaxRoutes distinct ones
// share the OtherRoute label (Table.Overflowed says how many); upstream
// names beyond Options.MaxUpstreams make it fail, leaving the current Table
// in place (their connection gauges cannot be shared). Install allocates and
// takes a mutex: call it at config load, never on the request path.
func (c *Collector) Install(l Labels) (*Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	newUps := 0
	for _, n := range uniq(l.Upstreams) {
		if c.upstreams[n] == nil {
			newUps++
		}
	}
	if len(c.upstreams)+newUps > c.opts.MaxUpstreams {
		return nil, fmt.Errorf("%w: %d installed, %d new, max %d", ErrTooManyUpstreams, len(c.upstreams), newUps, c.opts.MaxUpstreams)
	}
	haveRoutes := len(c.routes) // the unmatched and other routes do not count
	if c.routes[UnmatchedRoute] != nil {
		haveRoutes--
	}
	if c.routes[OtherRoute] != nil {
		haveRoutes--
	}
	overflowed := 0
	routes := l.Routes
	admitted := map[string]bool{}
	for i, n := range l.Routes {
		if n == UnmatchedRoute || c.routes[n] != nil || admitted[n] {
			continue
		}
		if haveRoutes < c.opts.MaxRoutes {
			haveRoutes++
			admitted[n] = true
			continue
		}
		if overflowed == 0 {
			routes = append([]string(nil), l.Routes...)
		}
		routes[i] = OtherRoute
		overflowed++
	}
	l.Routes = routes

	loops := len(c.loops)
	t := &Table{shards: make([]Shard, loops), unmatched: len(l.Routes), Overflowed: overflowed}
	routeNames := append(l.Routes[:len(l.Routes):len(l.Routes)], UnmatchedRoute)
	seen := map[string]bool{}
	rs := make([]*routeSlot, len(routeNames))
	for i, n := range routeNames {
		s := c.routes[n]
		if s == nil {
			s = &routeSlot{name: n, cells: make([]*routeCell, loops)}
			for j := range s.cells {
				s.cells[j] = new(routeCell) // whole cache lines: its own size class, 64-byte aligned
			}
			c.routes[n] = s
		}
		rs[i] = s
		var f uint8
		if i < len(l.Limited) && l.Limited[i] {
			f |= hasLimiter
		}
		if i < len(l.Cached) && l.Cached[i] {
			f |= hasCache
		}
		if !seen[n] {
			seen[n] = true
			t.routes = append(t.routes, s)
			t.features = append(t.features, f)
		} else {
			t.features[slices.Index(t.routes, s)] |= f // two routes, one name
		}
	}
	clear(seen)
	us := make([]*upstreamSlot, len(l.Upstreams))
	for i, n := range l.Upstreams {
		s := c.upstreams[n]
		if s == nil {
			s = &upstreamSlot{name: n, cells: make([]*upstreamCell, loops)}
			for j := range s.cells {
				s.cells[j] = new(upstreamCell) // whole cache lines, as routeCell
			}
			c.upstreams[n] = s
		}
		us[i] = s
		if !seen[n] {
			seen[n] = true
			t.upstreams = append(t.upstreams, s)
		}
	}
	maxID := -1
	for _, e := range l.Endpoints {
		maxID = max(maxID, e.ID)
	}
	eps := make([]*endpointSlot, maxID+1) // by ID
	seenEP := map[*endpointSlot]bool{}
	for _, e := range l.Endpoints {
		if e.ID < 0 || eps[e.ID] != nil {
			continue
		}
		k := [2]string{e.Upstream, e.Addr}
		s := c.endpoints[k]
		if s == nil {
			if len(c.endpoints) >= c.opts.MaxEndpoints {
				continue
			}
			s = &endpointSlot{upstream: e.Upstream, addr: e.Addr, cells: make([]*endpointCell, loops)}
			for j := range s.cells {
				s.cells[j] = new(endpointCell)
			}
			c.endpoints[k] = s
		}
		eps[e.ID] = s
		if !seenEP[s] {
			seenEP[s] = true
			t.endpoints = append(t.endpoints, s)
		}
	}
	for j := range t.shards {
		sh := &t.shards[j]
		sh.eps = make([]*endpointCell, len(eps))
		for i, s := range eps {
			if s != nil {
				sh.eps[i] = s.cells[j]
			}
		}
		sh.routes = make([]*routeCell, len(rs))
		for i, s := range rs {
			sh.routes[i] = s.cells[j]
		}
		sh.ups = make([]*upstreamCell, len(us))
		for i, s := range us {
			sh.ups[i] = s.cells[j]
		}
	}
	c.table.Store(t)
	return t, nil
}

// Current returns the Table installed last.
func (c *Collector) Current() *Table { return c.table.Load() }

func uniq(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
