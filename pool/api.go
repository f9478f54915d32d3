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
type Endpoint struct {
	Addr   string // host:port
	Weight int    // >= 1

	inflight atomic.Int64 // requests in flight on all loops
	down     atomic.Bool  // ejected by active or passive health checks
	// more atomics (EWMA latency, failure counters, ejection deadline) live
	// in the implementation.
	state endpointState
}

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
	KeyNone KeyKind = iota
	KeyClientIP
	KeyHeader
	KeyCookie
	KeyPath
)

// Idle is a per-loop LIFO stack of idle keep-alive connections to one
// endpoint. It belongs to one event loop and is not safe for concurrent use
// (it needs no lock because only its loop touches it).
type Idle[C any] struct {
	MaxIdle     int           // most idle connections kept; more are closed by the caller
	IdleTimeout time.Duration // idle longer than this: evicted by Expire

	items []idleItem[C]
}

type idleItem[C any] struct {
	conn  C
	since time.Time
}
