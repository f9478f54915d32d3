package pool

import (
	"math"
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

// Defaults for PassiveConfig, as in Envoy's outlier detection.
const (
	DefaultBaseEjection = 30 * time.Second
	DefaultMaxEjection  = 300 * time.Second
)

// ewmaDecay is the time constant of the peak-EWMA latency: a sample's weight
// falls by 1/e every ewmaDecay (Finagle and linkerd use 10 s).
const ewmaDecay = 10 * time.Second

// maxBackoffShift caps the ejection doubling so the shift cannot overflow.
const maxBackoffShift = 30

var endpointIDs atomic.Int64

// epoch anchors monoNow: time.Since reads the monotonic clock.
var epoch = time.Now()

// monoNow is monotonic nanoseconds since process start, always > 0.
func monoNow() int64 { return int64(time.Since(epoch)) + 1 }

// NewEndpoint returns an endpoint for addr (host:port) with the given weight
// (0 means 1; a negative weight is kept and refused by NewBalancer) and the
// next process-unique ID. It starts healthy, with passive ejection disabled.
func NewEndpoint(addr string, weight int) *Endpoint {
	if weight == 0 {
		weight = 1
	}
	return &Endpoint{Addr: addr, Weight: weight, ID: int(endpointIDs.Add(1) - 1)}
}

// EndpointIDs is the number of endpoint IDs assigned so far: every Endpoint
// made by NewEndpoint has 0 <= ID < EndpointIDs(). Size per-loop arrays by it.
func EndpointIDs() int { return int(endpointIDs.Load()) }

// PassiveConfig is passive health checking (outlier detection, as in Envoy):
// after ConsecutiveFailures failed requests in a row (End(_, true)), the
// endpoint is ejected for BaseEjection; each further ejection doubles the
// time, up to MaxEjection. A successful request resets the failure count, and
// the doubling starts again from BaseEjection once the endpoint has stayed
// un-ejected for MaxEjection after its last ejection ended.
type PassiveConfig struct {
	ConsecutiveFailures int           // 0 disables passive ejection
	BaseEjection        time.Duration // 0 means DefaultBaseEjection
	MaxEjection         time.Duration // 0 means max(DefaultMaxEjection, BaseEjection)
}

// endpointState is the lock-free state behind Endpoint's methods. Every field
// is an independent atomic word; the few read-modify-write sequences that span
// two words (EWMA value and stamp, ejection deadline and back-off count) are
// approximate under races, which only blurs a statistic: the decisions that
// must be exact (one ejection per failure streak) are made with one CAS.
type endpointState struct {
	// clock replaces monoNow in tests (passive ejection with a fake clock).
	// Set it before the endpoint is shared; nil means monoNow.
	clock func() int64

	ewma      atomic.Int64 // peak-EWMA latency in ns at time stamp
	ewmaStamp atomic.Int64 // monoNow of the last EWMA update, 0 = no sample yet

	threshold atomic.Int32 // PassiveConfig.ConsecutiveFailures, 0 = off
	baseEject atomic.Int64 // ns
	maxEject  atomic.Int64 // ns
	failures  atomic.Int32 // consecutive failed requests

	// ejectedUntil is the monoNow at which the passive ejection ends; 0 means
	// not ejected. Healthy clears it lazily (CAS) once the time has passed.
	ejectedUntil atomic.Int64
	lastEjectEnd atomic.Int64 // end of the last ejection, never cleared
	ejections    atomic.Int32 // ejections since the back-off last reset

	ejectionsTotal atomic.Uint64 // every ejection, for metrics
	// upSince is when the endpoint last came back (a passive ejection
	// ended, or active checks found it healthy again), for slow start; 0
	// when it never went away.
	upSince atomic.Int64
}

func (e *Endpoint) now() int64 {
	if c := e.state.clock; c != nil {
		return c()
	}
	return monoNow()
}

// Begin counts a request in flight; call it when the request is sent to this
// endpoint (after Pick), and End exactly once when it completes.
func (e *Endpoint) Begin() { e.inflight.Add(1) }

// End counts a request as finished after latency (time to the full response,
// or to the failure). failed means the upstream failed the request (connect
// error, reset, timeout, 5xx if the engine counts those); it feeds passive
// ejection. A failed request is fed to the EWMA as at least twice the current
// latency, so that fast failures do not attract traffic under p2c_ewma.
func (e *Endpoint) End(latency time.Duration, failed bool) {
	e.inflight.Add(-1)
	now := e.now()
	if failed {
		if c := time.Duration(e.state.ewma.Load()) * 2; latency < c {
			latency = c
		}
		e.observe(now, int64(latency))
		e.fail(now)
		return
	}
	e.observe(now, int64(latency))
	// Only write when needed: the word is shared by every loop.
	if e.state.failures.Load() != 0 {
		e.state.failures.Store(0)
	}
}

// InFlight is the number of requests in flight on this endpoint, all loops.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// Healthy reports whether the endpoint may receive requests: it is not
// marked down by active health checks and not passively ejected. It reads
// the clock only while an ejection is pending.
func (e *Endpoint) Healthy() bool {
	if e.down.Load() {
		return false
	}
	u := e.state.ejectedUntil.Load()
	return u == 0 || e.ejectionOver(u)
}

func (e *Endpoint) ejectionOver(until int64) bool {
	now := e.now()
	if now < until {
		return false
	}
	if e.state.ejectedUntil.CompareAndSwap(until, 0) {
		e.state.upSince.Store(now) // back: slow start begins
	}
	return true
}

// warmth is the share of picks an endpoint in slow start takes: it grows
// linearly from a tenth to all over window after it came back.
func (e *Endpoint) warmth(now, window int64) float64 {
	u := e.state.upSince.Load()
	if u == 0 || now-u >= window {
		return 1
	}
	return max(float64(now-u)/float64(window), 0.1)
}

// Ejections is how many times passive health checking ejected the
// endpoint.
func (e *Endpoint) Ejections() uint64 { return e.state.ejectionsTotal.Load() }

// Ejected reports whether passive health checking has ejected the endpoint
// now (for status pages; balancers use Healthy).
func (e *Endpoint) Ejected() bool {
	u := e.state.ejectedUntil.Load()
	return u != 0 && !e.ejectionOver(u)
}

// HealthChecks returns how many active health checks of the endpoint
// passed and failed so far.
func (e *Endpoint) HealthChecks() (passed, failed uint64) {
	return e.checksPassed.Load(), e.checksFailed.Load()
}

// ActiveDown reports whether active health checks have marked the endpoint
// down (for status pages; balancers use Healthy).
func (e *Endpoint) ActiveDown() bool { return e.down.Load() }

// SetActiveHealthy sets the active health state, as the checker started by
// StartHealthChecks does; an operator drain can use it too. It does not touch
// passive ejection.
func (e *Endpoint) SetActiveHealthy(ok bool) {
	if was := e.down.Swap(!ok); was && ok {
		e.state.upSince.Store(e.now()) // back: slow start begins
	}
}

// EWMA is the endpoint's peak-EWMA latency now: it jumps to any slower
// sample at once and decays towards faster samples, and towards zero while
// no request completes, with a time constant of 10 s (as in Finagle and
// linkerd). Zero until the first End.
func (e *Endpoint) EWMA() time.Duration { return time.Duration(e.cost(e.now())) }

// cost is the EWMA decayed to now, in ns.
func (e *Endpoint) cost(now int64) float64 {
	v := e.state.ewma.Load()
	if v == 0 {
		return 0
	}
	td := now - e.state.ewmaStamp.Load()
	if td <= 0 {
		return float64(v)
	}
	return float64(v) * math.Exp(-float64(td)/float64(ewmaDecay))
}

func (e *Endpoint) observe(now, rtt int64) {
	if rtt < 0 {
		rtt = 0
	}
	prev := e.state.ewmaStamp.Swap(now)
	w := 0.0 // a first sample (prev == 0) replaces the zero value outright
	if prev != 0 && now > prev {
		w = math.Exp(-float64(now-prev) / float64(ewmaDecay))
	} else if prev != 0 {
		w = 1 - 1.0/16 // same clock tick: a small fixed step
	}
	for {
		old := e.state.ewma.Load()
		nv := rtt
		if rtt < old {
			nv = int64(float64(old)*w + float64(rtt)*(1-w))
		}
		if e.state.ewma.CompareAndSwap(old, nv) {
			return
		}
	}
}

// SetPassive configures passive ejection; it may be called at any time and
// keeps the current failure count and any ejection in progress.
func (e *Endpoint) SetPassive(cfg PassiveConfig) {
	base := cfg.BaseEjection
	if base <= 0 {
		base = DefaultBaseEjection
	}
	maxE := cfg.MaxEjection
	if maxE <= 0 {
		maxE = max(DefaultMaxEjection, base)
	}
	maxE = max(maxE, base)
	th := max(cfg.ConsecutiveFailures, 0)
	th = min(th, math.MaxInt32)
	e.state.baseEject.Store(int64(base))
	e.state.maxEject.Store(int64(maxE))
	e.state.threshold.Store(int32(th))
}

// fail counts a failed request and ejects the endpoint when the streak
// reaches the threshold. Failures of requests that were already in flight
// when an ejection began neither extend it nor count towards the next one.
func (e *Endpoint) fail(now int64) {
	th := e.state.threshold.Load()
	if th <= 0 {
		return
	}
	if u := e.state.ejectedUntil.Load(); u != 0 && now < u {
		return
	}
	if e.state.failures.Add(1) < th {
		return
	}
	e.eject(now)
}

func (e *Endpoint) eject(now int64) {
	u := e.state.ejectedUntil.Load()
	if u != 0 && now < u {
		return // another loop ejected it meanwhile
	}
	base, maxE := e.state.baseEject.Load(), e.state.maxEject.Load()
	if last := e.state.lastEjectEnd.Load(); last != 0 && now-last >= maxE {
		e.state.ejections.Store(0) // healthy long enough: back-off starts over
	}
	k := min(e.state.ejections.Load(), maxBackoffShift)
	d := base << k
	if d > maxE || d <= 0 {
		d = maxE
	}
	// The one CAS that decides: of several loops crossing the threshold at
	// once, only the winner ejects and advances the back-off.
	if !e.state.ejectedUntil.CompareAndSwap(u, now+d) {
		return
	}
	e.state.ejections.Add(1)
	e.state.ejectionsTotal.Add(1)
	e.state.lastEjectEnd.Store(now + d)
	e.state.failures.Store(0)
}
