package metrics

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Options configure a Collector.
type Options struct {
	// Loops is the number of event loops; Loop and Table.Shard accept
	// 0..Loops-1. At least 1.
	Loops int
	// MaxRoutes and MaxUpstreams bound the distinct names ever installed
	// (the label cardinality); 0 means 1024 and 256.
	MaxRoutes, MaxUpstreams int
	// CacheSize, if set, is called at scrape for hotpath_cache_size_bytes.
	CacheSize func() int64
	// AccessLogDropped, if set, is called at scrape for
	// hotpath_accesslog_dropped_total (accesslog.Log.Dropped).
	AccessLogDropped func() uint64
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

	// evictions and evictedBytes are written by the cache's own goroutines.
	evict struct {
		_     [64]byte
		n     uint64
		bytes uint64
		_     [48]byte
	}

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
	upstreams []*upstreamSlot // distinct, exported
	unmatched int
	// Overflowed is how many of the installed routes count under OtherRoute
	// because the distinct route names reached Options.MaxRoutes.
	Overflowed int
}

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
	c := &Collector{
		opts:      opts,
		loops:     make([]*Loop, opts.Loops),
		routes:    map[string]*routeSlot{},
		upstreams: map[string]*upstreamSlot{},
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

// CacheEvicted counts one entry of n bytes evicted from the response cache.
// Unlike the loop counters it may be called from any goroutine (the cache's
// eviction callback).
func (c *Collector) CacheEvicted(n int) {
	atomic.AddUint64(&c.evict.n, 1)
	atomic.AddUint64(&c.evict.bytes, uint64(n))
}

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
				s.cells[j] = new(routeCell) // 64 bytes: one cache line
			}
			c.routes[n] = s
		}
		rs[i] = s
		if !seen[n] {
			seen[n] = true
			t.routes = append(t.routes, s)
		}
	}
	clear(seen)
	us := make([]*upstreamSlot, len(l.Upstreams))
	for i, n := range l.Upstreams {
		s := c.upstreams[n]
		if s == nil {
			s = &upstreamSlot{name: n, cells: make([]*upstreamCell, loops)}
			for j := range s.cells {
				s.cells[j] = new(upstreamCell) // 256 bytes: four cache lines
			}
			c.upstreams[n] = s
		}
		us[i] = s
		if !seen[n] {
			seen[n] = true
			t.upstreams = append(t.upstreams, s)
		}
	}
	for j := range t.shards {
		sh := &t.shards[j]
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
