package engine

import (
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/limiter"
)

// GlobalLimit is a route's rate limit with scope global in the current
// table: the tracked limiter its loops decide on, which the gateway binds to
// the Syncer of the limit's Redis (package globallimit).
type GlobalLimit struct {
	// Route is the route's name, the limit's name in the fleet.
	Route  string
	Config config.RateLimit
	GCRA   *limiter.GCRA
}

// GlobalLimits returns the global rate limits of the current table, in
// route order. A limiter survives a reload that leaves its route and
// rate_limit unchanged, like any other.
func (s *Server) GlobalLimits() []GlobalLimit {
	var out []GlobalLimit
	for _, rp := range s.tbl.Load().pol.routes {
		if rp.rlGlobal != nil && rp.rl != nil {
			out = append(out, GlobalLimit{Route: rp.name, Config: *rp.rlGlobal, GCRA: rp.rl})
		}
	}
	return out
}

// Clock returns the loops' clock, the `now` their limiters decide with
// (monotonic nanoseconds since the Server was created).
func (s *Server) Clock() int64 { return s.now() }
