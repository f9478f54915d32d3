package route

import (
	"time"

	"github.com/hotpath/hotpath/pool"
)

// Upstream is a compiled upstreams[] entry: what the engine needs to build
// its endpoints, balancer and health checks.
type Upstream struct {
	ID        int // index in Table.Upstreams: its metrics ID
	Name      string
	Protocol  string // http1, h2c or h2
	Endpoints []Endpoint
	Passive   *pool.PassiveConfig // health.passive; nil when off

	// Balancer is what pool.NewBalancer gets; Key and KeyName are what the
	// engine hashes per request: pool.KeyNone unless the kind hashes.
	Balancer pool.BalancerConfig
	Key      pool.KeyKind
	KeyName  string

	SlowStart          time.Duration
	RetryPercent       int // retry_budget.percent
	RetryMinConcurrent int // retry_budget.min_concurrent

	Limits     pool.Limits // pool: with config's 0s mapped onto pool's meaning
	MaxPending int         // pool.max_pending: waiters per endpoint per loop
	Pipeline   int         // pool.pipeline: outstanding requests per connection

	// Health is health.active (TLS left to the engine); nil when off.
	Health *pool.HealthCheck

	// Invalid is set when a field of the upstream is in error (reported):
	// the engine builds no balancer for it.
	Invalid bool
}

// Endpoint is one upstream server.
type Endpoint struct {
	Address string
	Weight  int
}
