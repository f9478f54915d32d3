package pool

// This file fixes the package's API so that engine/ can be written against it
// while the implementation lands. Add to it; do not change these signatures
// without updating every caller.

import (
	"sync/atomic"
	"time"
)

// Endpoint is one upstream address. It is shared by every event loop, so its
// mutable state is atomics only; connections to it are per loop (see Idle).
// Create endpoints with NewEndpoint so that each gets its ID.
type Endpoint struct {
	Addr   string // host:port
	Weight int    // >= 1
	// ID is dense and unique in the process (0, 1, 2, ... in creation order,
	// across reloads), assigned by NewEndpoint, so the engine can index
	// per-loop arrays by it; EndpointIDs says how many have been assigned.
	ID int

	// inflight counts requests in flight on all loops (Begin +1, End -1).
	inflight atomic.Int64
	// down is the active health checker's verdict (true: failed its
	// UnhealthyThreshold); passive ejection lives in state.
	down atomic.Bool
	// checksPassed and checksFailed count the active health checker's
	// probes (for the metrics).
	checksPassed, checksFailed atomic.Uint64
	// state holds the EWMA latency and the passive outlier-detection words.
	state endpointState
	// retired is set when a reload dropped the endpoint (Retire).
	retired atomic.Bool
}

// Retire marks the endpoint as dropped from the configuration: no new
// request picks it, and the loops close its idle connections at their next
// tick instead of keeping them until the idle timeout.
func (e *Endpoint) Retire() { e.retired.Store(true) }

// Retired reports whether Retire was called.
func (e *Endpoint) Retired() bool { return e.retired.Load() }

// Balancer picks an endpoint for a request. Implementations are safe for
// concurrent use from every loop without locks and do not allocate. key is a
// 64-bit xxhash of the request's hash key for consistent-hash balancers (the
// engine computes it only when KeyKind != KeyNone) and is ignored by the
// others. Pick returns nil when no endpoint is healthy (the engine answers 503).
type Balancer interface {
	Pick(key uint64) *Endpoint
}

// KeyKind says what a consistent-hash balancer hashes.
type KeyKind uint8

const (
	KeyNone     KeyKind = iota
	KeyClientIP         // the downstream peer's IP address
	KeyHeader           // the value of the request header named KeyName
	KeyCookie           // the value of the cookie named KeyName (see CookieValue)
	KeyPath             // the request path (without the query)
)

// Idle is a per-loop LIFO stack of idle keep-alive connections to one
// endpoint. It belongs to one event loop and is not safe for concurrent use
// (it needs no lock because only its loop touches it). The zero value is
// ready to use; its storage is allocated once, at the first Put, with room
// for MaxIdle connections, and reused afterwards.
type Idle[C comparable] struct {
	// MaxIdle is the most idle connections kept; a Put beyond it hands back
	// the oldest for the caller to close. 0 means DefaultMaxIdle; a negative
	// value keeps none (every Put hands its connection back).
	MaxIdle int
	// IdleTimeout is how long a connection may sit idle: Get does not return
	// one idle longer, and Expire closes them. 0 means DefaultIdleTimeout; a
	// negative value means never.
	IdleTimeout time.Duration

	// items is a ring buffer: the oldest idle connection is at head, the most
	// recent at (head+n-1) % len(items).
	items []idleItem[C]
	head  int
	n     int
}

type idleItem[C any] struct {
	conn  C
	since time.Time
}
