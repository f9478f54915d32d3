package engine

import (
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
)

// Retries (routes[].retry, docs/resilience.md): a request whose attempt
// failed is sent again to an endpoint it has not tried.
//
//   - A request whose bytes never reached an upstream (the connect was
//     refused or timed out, or a connection failed while the request was
//     being written) is retried whatever its method: the upstream cannot
//     have acted on it. Its body has not been read from the client yet (a
//     body waits in the client's input while the upstream connects).
//   - After the request went out, only an idempotent one is retried, and
//     only before any byte of the response reached the client: when the
//     upstream closed or reset the connection before a response (reset),
//     sent no response head within timeouts.upstream_header (timeout), or
//     answered 502, 503 or 504 (when the route lists them). A body is kept
//     while it is forwarded, up to retry.max_body_bytes, so that it can be
//     sent again; a request with a larger body is not retried once sent.
//   - Each retry goes through the upstream's Picker: never an endpoint the
//     request tried, slow start, panic mode (pool/pick.go). The attempt that
//     failed counts against its endpoint's passive health.
//   - The upstream's retry budget (at most retry_budget.percent of its
//     requests in flight, at least min_concurrent) bounds the retries in
//     flight, so that retries cannot multiply an outage's load. A request
//     holds its budget token from its first retry until it ends.
//
// The RFC 9112 §9.3.1 retry of an idempotent request without a body on a
// fresh connection to the same endpoint, when a pooled connection turns out
// closed before any response byte (up.onClose), comes first: it is the
// keep-alive race, not a failure of the endpoint.

// retryPolicy is a route's compiled retry section.
type retryPolicy struct {
	attempts int
	on       [metrics.RetryStatus + 1]bool // by reason
	statuses [3]bool                       // 502, 503, 504
	maxBody  int
}

func compileRetry(rc config.Retry) retryPolicy {
	p := retryPolicy{attempts: rc.Attempts, maxBody: int(rc.MaxBodyBytes)}
	for _, on := range rc.On {
		switch on {
		case "connect_failure":
			p.on[metrics.RetryConnect] = true
		case "reset":
			p.on[metrics.RetryReset] = true
		case "timeout":
			p.on[metrics.RetryTimeout] = true
		case "502", "503", "504":
			p.on[metrics.RetryStatus] = true
			p.statuses[on[2]-'2'] = true
		}
	}
	return p
}

// onStatus reports whether an upstream answer with status is retried.
func (p *retryPolicy) onStatus(status int) bool {
	return status >= 502 && status <= 504 && p.statuses[status-502]
}

// afterSend reports whether anything is retried once the request went out.
func (p *retryPolicy) afterSend() bool {
	return p.attempts > 0 && (p.on[metrics.RetryReset] || p.on[metrics.RetryTimeout] || p.on[metrics.RetryStatus])
}

// keepBodyFor decides whether the request body is kept while forwarded, so
// that a retry after the request went out can send it again.
func (d *exchange) keepBodyFor(rt *route) {
	d.keepBody = false
	d.bodyKept = d.bodyKept[:0]
	if d.reqBody.Kind() == parser.BodyNone || !d.idempotent || !rt.retry.afterSend() {
		return
	}
	if d.reqBody.Kind() == parser.BodyLength && d.reqBody.Left() > int64(rt.retry.maxBody) {
		return
	}
	d.keepBody = true
}

// keep appends forwarded body bytes to the kept copy, or gives the copy up
// when the body outgrows retry.max_body_bytes.
func (d *exchange) keep(p []byte) {
	if len(d.bodyKept)+len(p) > d.rt.retry.maxBody {
		d.keepBody = false
		d.bodyKept = d.bodyKept[:0]
		return
	}
	d.bodyKept = append(d.bodyKept, p...)
}

// retry sends the request again to an endpoint it has not tried after its
// attempt failed for why; it reports false when the route's policy, the
// request or the upstream's budget does not allow one, or no endpoint is
// left, and the caller then fails the exchange as before. The upstream
// connection of the failed attempt, if still attached, is dropped.
func (d *exchange) retry(why metrics.RetryReason) bool {
	rt := d.rt
	if rt == nil || rt.up == nil || d.ep == nil || d.started || d.local || d.cl.gone() {
		return false
	}
	p := &rt.retry
	if int(d.attempts) >= p.attempts || !p.on[why] {
		return false
	}
	if why != metrics.RetryConnect {
		// The request went out: only an idempotent one, and only with
		// its body in hand.
		if !d.idempotent || (d.reqBody.Kind() != parser.BodyNone && (!d.keepBody || !d.reqDone)) {
			return false
		}
	}
	up := rt.up
	// A request that never reached the upstream costs it nothing: only
	// retries of requests that went out take from the budget.
	if d.budget == nil && why != metrics.RetryConnect {
		if !up.budget.Acquire(pool.InFlight(up.eps)) {
			if mt := d.tbl.mt; mt != nil {
				mt.Shard(d.lp.obs.id).RetryBudgetExhausted(up.id)
			}
			return false
		}
		d.budget = up.budget
	}
	failed := d.ep
	d.tried.Add(failed)
	next := up.pick.Pick(d.hashKey(up), &d.tried)
	if next == nil {
		return false
	}
	d.observeAttemptFailed(why)
	d.dropUpstream(true) // the failed attempt counts against its endpoint
	d.attempts++
	d.retried = true
	if mt := d.tbl.mt; mt != nil {
		mt.Shard(d.lp.obs.id).UpstreamRetry(up.id, why)
	}
	d.useEndpoint(rt, next)
	d.acquire(false)
	return true
}

// useEndpoint points the exchange at ep: its per-loop connections, the
// request head's Host when it names the endpoint, and the endpoint's
// request accounting.
func (d *exchange) useEndpoint(rt *route, ep *pool.Endpoint) {
	if d.hostEnd > d.hostAt && !rt.preserveHost && rt.hostRewrite == nil {
		d.head = spliceHost(d.head, int(d.hostAt), int(d.hostEnd), ep.Addr)
		d.hostEnd = d.hostAt + int32(len(ep.Addr))
	}
	d.ep, d.epStart = ep, d.lp.now
	d.conns = d.lp.connsFor(ep, rt.up.limits)
	ep.Begin()
}

// spliceHost replaces head[at:end] (the Host value) with host. It
// allocates, on the rare retry path only.
func spliceHost(head []byte, at, end int, host string) []byte {
	tail := append([]byte(nil), head[end:]...)
	head = append(head[:at], host...)
	return append(head, tail...)
}

// releaseRetry gives the exchange's retry budget token back, if it holds
// one; exchange.end calls it.
func (d *exchange) releaseRetry() {
	if d.budget != nil {
		d.budget.Release()
		d.budget = nil
	}
}
