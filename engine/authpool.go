package engine

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hotpath/hotpath/auth"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/trie"
)

// Basic credentials off the loop.
//
// bcrypt takes tens of milliseconds, which on the event loop would stall
// every connection of that loop: a client sending wrong passwords could
// deny service to all tenants. So a Basic credential that the loop's
// auth.Cache cannot answer (neither verified within auth.MaxCacheAge nor
// failed within auth.FailTTL) is verified by a Server-wide pool of worker
// goroutines (half as many as Ps: authWorkers), and the request is parked meanwhile, as a cache follower is
// (cachepath.go):
//
//   - park (gateBegin): the request head is copied (ps.authHead: its bytes
//     leave the read buffer when begin returns) and an authJob, new for
//     every park, is queued; the exchange is parked on it (park.go). The connection processes no further input
//     while parked: pipelined requests and the request body wait in its
//     input, and the usual backlog pause bounds them. A full queue answers
//     503 with Retry-After: 1 at once (reason "busy" in
//     hotpath_auth_rejections_total).
//   - verify: a worker runs auth.Basic.Verify on the job's copy of the
//     decoded credential, clears the copy and posts authResumed to the
//     request's own loop with EventLoop.Execute, as loop.dial hands back a
//     connect.
//   - resume (authResumed, on the loop): a job that is not the exchange's
//     current park is ignored: the connection closed, the wait timed out,
//     or a later request parked. Otherwise the head is
//     parsed again from the copy, the outcome goes into the loop's
//     auth.Cache, and the exchange continues exactly as without the park
//     (401, or the identity fields, the route's policies and the upstream).
//   - deadline: a parked request waits at most timeouts.pending (dispatch
//     arms dlAuthWait), then is answered 503 with Retry-After: 1; the job
//     is cancelled, so a worker that has not started it skips the bcrypt.
//   - close, drain, reload: closing the connection cancels the job
//     (exchange.end → unpark). A drain lets the parked request finish like any
//     in-flight one; a reload does not touch it (it resumes on the table and
//     verifier it started with). The workers stop after the loops have.
//
// Only cache misses come here; a cached credential is answered on the loop
// with nothing allocated, and JWT and API keys (microseconds) are always
// verified on the loop.

// authQueuePerWorker bounds the verifier queue: with bcrypt at tens of
// milliseconds, 8 jobs per worker is about half a second of backlog at
// cost 10, so a flood is refused with 503 quickly instead of making every
// login wait behind it.
const authQueuePerWorker = 8

// authWorkers is the default pool size: half the Ps, at least one. bcrypt
// never blocks, so a worker holds its P for the whole check; with every P
// running bcrypt, a loop woken by epoll waits for the scheduler to preempt
// one (10 ms slices), several times per request. Measured with
// BenchmarkBasicFlood on 2 cores, four clients sending wrong passwords: a
// cached-credential client's median latency on the same loop was 47 ms
// with two workers, 0.3-0.5 ms with one (0.07-0.12 ms without the flood).
func authWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// authPool is the Server's pool of Basic-credential verifiers, started on
// first use. submit is called from the loops; close after they stopped.
type authPool struct {
	workers int // authWorkers() when 0
	queue   int // queued jobs beyond the running ones; workers*authQueuePerWorker when 0
	// verify replaces (*auth.Basic).Verify in tests (blocking or counting).
	verify func(b *auth.Basic, cred []byte) bool

	once   sync.Once
	jobs   chan *authJob
	quit   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
}

// authJob is one parked request's verification, and its park's hook. The
// loop fills it, the worker owns it from submit until it posts the result
// back, and then the loop reads ok; cancelled is the only field both touch
// meanwhile.
type authJob struct {
	wake
	basic     *auth.Basic
	cred      []byte // decoded "user:password"; the worker clears it
	ok        bool
	cancelled atomic.Bool // the request stopped waiting: skip the bcrypt
}

func (p *authPool) start() {
	if p.workers <= 0 {
		p.workers = authWorkers()
	}
	if p.queue <= 0 {
		p.queue = p.workers * authQueuePerWorker
	}
	p.jobs = make(chan *authJob, p.queue)
	p.quit = make(chan struct{})
	p.wg.Add(p.workers)
	for range p.workers {
		go p.run()
	}
}

// submit queues j, starting the workers on first use. It reports false
// when the queue is full or the pool closed.
func (p *authPool) submit(j *authJob) bool {
	p.once.Do(p.start)
	if p.closed.Load() {
		return false
	}
	select {
	case p.jobs <- j:
		return true
	default:
		return false
	}
}

// close stops the workers and waits for them; queued jobs are dropped
// (their connections are gone with the loops). It is idempotent.
func (p *authPool) close() {
	if p.closed.Swap(true) {
		return
	}
	started := true
	p.once.Do(func() { started = false })
	if started {
		close(p.quit)
		p.wg.Wait()
	}
}

func (p *authPool) run() {
	defer p.wg.Done()
	for {
		select {
		case <-p.quit:
			return
		case j := <-p.jobs:
			p.check(j)
		}
	}
}

// check verifies j and posts the outcome to j's loop.
func (p *authPool) check(j *authJob) {
	if !j.cancelled.Load() {
		if p.verify != nil {
			j.ok = p.verify(j.basic, j.cred)
		} else {
			j.ok = j.basic.Verify(j.cred)
		}
	}
	clear(j.cred)
	j.cred = nil
	j.post(func() { j.d.authResumed(j) })
}

// stop cancels the job: a worker that has not started it skips the bcrypt.
func (j *authJob) stop() bool {
	j.cancelled.Store(true)
	return true
}

// retryAfter1 is the field of a 503 for a full verifier pool.
var retryAfter1 = []byte("Retry-After: 1\r\n")

// parkForAuth queues the verification of cred (the decoded credential,
// owned by the job from here) and parks the request, keeping a copy of its
// head. It returns true: the request is parked, or answered 503 when the
// pool is full.
func (d *exchange) parkForAuth(g *gate, ps *policyState, cred, head []byte) bool {
	j := &authJob{wake: d.newWake(), basic: g.basic, cred: cred}
	if !d.lp.srv.auth.submit(j) {
		clear(cred)
		d.authBusy()
		return true
	}
	d.parkOn(parkAuth, j, nil)
	ps.authHead = append(ps.authHead[:0], head...)
	return true
}

// authBusy answers 503 with Retry-After: 1 for a request whose Basic
// credential could not be verified in time.
func (d *exchange) authBusy() {
	d.authRejected(metrics.AuthBusy)
	d.renderLocal(503, retryAfter1)
}

// authResumed runs on d's loop when the worker has checked j.
func (d *exchange) authResumed(j *authJob) {
	if !d.woken(parkAuth, j.seq) {
		return // the request ended, or stopped waiting, meanwhile
	}
	ps := d.pol
	d.cl.setDeadline(dlNone, 0)
	if !d.reparse() {
		d.lp.srv.log.Error("engine: a parked request head no longer parses to its route; connection closed")
		d.cl.abort()
		return
	}
	rt := d.rt
	g := rt.gate
	user, st := d.lp.authCache().BasicVerified(g.basic, d.credential(g), j.ok, d.lp.srv.wallNow().UnixNano())
	if st == auth.OK {
		d.appendUser(g, ps, user)
		d.beginRoute(rt)
	} else {
		d.authRefused(g, st)
	}
	d.dispatch()
	d.cl.resume() // input that arrived while parked: the body, pipelined requests
}

// reparse points d.req, its Connection fields and route match into the
// copy of the parked head. The head parsed and routed to d.rt before, on
// the same table, so it does again.
func (d *exchange) reparse() bool {
	ps := d.pol
	r := &d.req
	r.Reset()
	r.Limits = d.tbl.limits
	if n, err := r.Parse(ps.authHead); err != nil || n != len(ps.authHead) {
		return false
	}
	d.conn = connectionFields(d.connArr[:0], r.Headers)
	ps.view.built = false
	res, ok := d.lookup(d.tbl)
	return ok && res == trie.Found && d.match.Value == d.rt
}

// authWaitExpired answers a request still parked after timeouts.pending.
func (d *exchange) authWaitExpired() {
	d.cl.setDeadline(dlNone, 0)
	if !d.parkedOn(parkAuth) {
		return
	}
	d.unpark()
	d.authBusy()
	d.dispatch()
	d.cl.resume()
}

// authEnd lets go of a large parked head. A wait for a Basic check was
// stopped before (exchange.end → unpark: the job is cancelled and its late
// result ignored).
func (d *exchange) authEnd() {
	ps := d.pol
	if cap(ps.authHead) > 16<<10 {
		ps.authHead = nil // a large head is not kept per connection
	}
}
