// Package globallimit shares rate limits across a fleet of gateway
// instances through Redis, without a Redis round trip per request.
//
// Each instance decides every request locally, on a tracked limiter.GCRA,
// exactly as a local limit does. A Syncer, one per Redis deployment, runs in
// a background goroutine: every SyncInterval it drains what its instance's
// event loops decided per key (limiter.GCRA.Drain), charges the admissions
// to a fleet-wide GCRA bucket per key in Redis with one Lua script per limit
// (all limits in one pipelined round trip), and receives each bucket's state
// back, which the key adopts (limiter.GCRA.Adopt): the fleet's last known
// state plus what this instance admitted since. The other instances'
// admissions since the previous sync are charged at the next one, so the
// fleet as a whole admits the limit (within one sync interval's worth of
// requests, paid back afterwards), not N times the limit.
//
// When Redis cannot be reached the Syncer falls back, per limit, to a local
// share (each instance enforces a part of the limit on its own,
// limiter.GCRA.SetShare) or fails open (admits everything); it logs once
// per change of state, counts the fallbacks, keeps probing, and goes back
// to syncing by itself. What the instance admitted during a fallback is not
// charged to the fleet afterwards.
//
// Keys in Redis are <prefix>{<limit>}:<16 hex digits of the key's fleet
// hash>, one string per active key holding its TAT in microseconds of the
// Redis server's clock, expiring once the bucket is full again; the hash
// tag keeps one limit's keys in one Cluster slot, so one script serves them.
//
//	s, err := globallimit.New(globallimit.Options{Name: "main", Addrs: []string{"127.0.0.1:6379"}, SyncInterval: 200 * time.Millisecond})
//	s.Start()
//	s.Bind([]globallimit.Limit{{Name: "api", GCRA: g, Share: 0.5}}, engineClock)
//	...
//	s.Close()
package globallimit
