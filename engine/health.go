package engine

import (
	"time"

	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/pool"
)

// Passive health events. Endpoints are ejected and come back inside
// pool.Endpoint, on whichever loop ends the request that tips them, and the
// loops write no logs (a log write is a system call). A watcher goroutine
// compares every endpoint's state with what it saw a second before and logs
// each ejection and return; the metrics read the endpoints' counters at
// scrape (upstreamHealth).

// healthWatchEvery is how often the watcher looks.
const healthWatchEvery = time.Second

// watchHealth logs endpoints' ejections and returns until done is closed.
func (s *Server) watchHealth(done <-chan struct{}) {
	type seen struct {
		ejected    bool
		ejections  uint64
		activeDown bool
	}
	last := map[*pool.Endpoint]seen{}
	tick := time.NewTicker(healthWatchEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		t := s.tbl.Load()
		for _, u := range t.upstreams {
			for _, e := range u.eps {
				// An endpoint first seen starts from zero: every ejection
				// happened since the server started.
				now := seen{ejected: e.Ejected(), ejections: e.Ejections(), activeDown: e.ActiveDown()}
				was := last[e]
				last[e] = now
				ejectedSince := now.ejections > was.ejections
				if ejectedSince {
					s.log.Warn("endpoint ejected by passive health checks", "upstream", u.name, "endpoint", e.Addr,
						"ejections", now.ejections)
				}
				if (was.ejected || ejectedSince) && !now.ejected {
					s.log.Info("endpoint back from ejection", "upstream", u.name, "endpoint", e.Addr)
				}
				switch {
				case now.activeDown && !was.activeDown:
					s.log.Warn("endpoint down by active health checks", "upstream", u.name, "endpoint", e.Addr)
				case was.activeDown && !now.activeDown:
					s.log.Info("endpoint up by active health checks", "upstream", u.name, "endpoint", e.Addr)
				}
			}
		}
		for e := range last {
			if e.Retired() {
				delete(last, e)
			}
		}
	}
}

// upstreamHealth is the metrics' view of passive health, per upstream.
func (s *Server) upstreamHealth() []metrics.UpstreamHealth {
	t := s.tbl.Load()
	out := make([]metrics.UpstreamHealth, 0, len(t.upstreams))
	for _, u := range t.upstreams {
		h := metrics.UpstreamHealth{Name: u.name}
		for _, e := range u.eps {
			h.Ejections += e.Ejections()
			if e.Ejected() {
				h.Ejected++
			}
		}
		out = append(out, h)
	}
	return out
}
