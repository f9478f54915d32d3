package engine

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/hotpath/hotpath/accesslog"
	"github.com/hotpath/hotpath/aggregate"
	"github.com/hotpath/hotpath/compression"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/parser"
	compiled "github.com/hotpath/hotpath/route"
)

// Response aggregation (docs/aggregate.md): a route with an aggregate:
// section is answered by the gateway with one JSON object merged from
// several upstream requests. The fan-out runs off the loop, in package
// aggregate's worker goroutines with a net/http keep-alive client; the
// loop only prepares the parts and writes the result.
//
//   - begin: after the route's auth, header rules and policies (rate limit,
//     max_in_flight) let the request through, aggBegin renders each part's
//     target and forwarded fields while the head is readable, and starts
//     the aggregation. The exchange is local (a request body is read and
//     dropped) and parked: dispatch writes nothing, and pipelined requests
//     wait in the connection's input, as behind any response.
//   - The aggregation's done callback runs on a worker goroutine. It
//     compresses the body when the route negotiated a coding, then posts
//     aggResumed to the connection's own loop (EventLoop.Execute, as
//     cacheWaiter.Resume and dial do). No loop ever waits for it.
//   - The exchange is parked on the aggregation (park.go), whose number
//     tells a stale resume from the current one: when the client closes,
//     or the exchange ends otherwise, unpark cancels the aggregation, so a
//     late resume finds the park over and is dropped; nothing is written
//     to a closed connection.
//   - Server.stop closes the Client after the loops stop: running
//     aggregations are canceled and their goroutines waited for. A drain
//     (Shutdown) lets parked requests finish like any in-flight exchange;
//     their responses carry Connection: close.
//
// What does not apply: the response cache (refused by config validation),
// hotpath_upstream_* metrics and the access log's upstream fields (a part is
// not an exchange of the client connection's), pipelining and retries.
// Endpoint health does apply: parts pick endpoints with the upstream's
// balancer and report their outcome to it.

// routeAgg is a route's compiled aggregate: section.
type routeAgg struct {
	route string
	spec  *aggregate.Spec
	parts []aggPart
}

// aggPart is one part's request template.
type aggPart struct {
	target  compiled.Template
	up      *upstream
	headers []string // client fields forwarded, lower case
}

// aggState is a client connection's aggregation state, allocated on its
// first aggregated request and reused.
type aggState struct {
	scr []byte // scratch for the fields every part gets
}

// aggHandle is a running aggregation: its park's wake and hook.
type aggHandle struct {
	wake
	cancel context.CancelFunc
}

// stop cancels the aggregation; its result will be dropped.
func (h *aggHandle) stop() bool {
	h.cancel()
	return true
}

// compileAggregate builds route r's aggregation from its compiled parts
// (compiled.Compile resolved their upstreams) and rc's limits.
func compileAggregate(rc *config.Route, rd *compiled.Route, r *route, ups []*upstream) *routeAgg {
	a := rc.Aggregate
	spec := &aggregate.Spec{
		Timeout:       a.Timeout,
		MaxBody:       int64(a.MaxBodyBytes),
		FailAll:       a.Fail == config.AggregateAll,
		MaxConcurrent: int64(a.MaxConcurrent),
	}
	ra := &routeAgg{route: r.name, spec: spec}
	for _, pc := range rd.Aggregate.Parts {
		up := ups[pc.Upstream]
		ra.parts = append(ra.parts, aggPart{target: pc.Target, up: up, headers: pc.Headers})
		spec.Parts = append(spec.Parts, aggregate.Part{Name: pc.Name, Balancer: up.bal, Host: string(r.hostRewrite)})
	}
	return ra
}

// aggBegin starts the aggregation for the request just routed to rt. The
// exchange is local; it is parked unless the route is saturated, in which
// case d.out holds a 503.
func (d *exchange) aggBegin(rt *route) {
	ra := rt.agg
	d.local = true
	if d.agg == nil {
		d.agg = &aggState{}
	}
	st := d.agg
	req := &aggregate.Request{Parts: make([]aggregate.PartRequest, len(ra.parts))}
	common := d.aggCommonFields(rt)
	for i := range ra.parts {
		p := &ra.parts[i]
		pr := &req.Parts[i]
		pr.Target = string(d.appendPartTarget(st.scr[:0], p.target))
		pr.Key = d.hashKey(p.up)
		pr.Fields = d.aggFields(p, rt, common)
	}
	var enc compression.Encoding
	var comp *compression.Config
	if ps := d.pol; ps != nil && ps.rp != nil && ps.rp.comp != nil {
		enc, comp = ps.enc, ps.rp.comp
	}
	h := &aggHandle{wake: d.newWake()}
	cancel, ok := d.lp.srv.agg.Start(ra.spec, req, func(res *aggregate.Result) {
		// On a worker goroutine: the expensive part stays off the loop.
		body, coded := compressAggregate(res.Body, enc, comp)
		h.post(func() { h.d.aggResumed(h.seq, res.Status, body, coded) })
	})
	if !ok {
		d.setReason(accesslog.ReasonAggregateSaturated)
		d.renderLocal(503, nil)
		return
	}
	h.cancel = cancel
	d.parkOn(parkAgg, h, nil)
}

// aggCommonFields renders the fields every part gets: X-Forwarded-*, Via
// and the route's gate fields (identity, headers.request set/add,
// X-Request-Id), as for a proxied request.
func (d *exchange) aggCommonFields(rt *route) []aggregate.Field {
	st := d.agg
	b := d.appendForwarded(st.scr[:0], d.peerTrust(), false, false)
	if rt.gate != nil {
		b = d.appendGateRequest(b, rt.gate)
	}
	st.scr = b
	var fs []aggregate.Field
	for {
		name, value, _, rest, ok := parser.CutField(b)
		if !ok {
			return fs
		}
		b = rest
		if len(name) > 0 {
			fs = append(fs, aggregate.Field{Name: string(name), Value: string(value)})
		}
	}
}

// aggFields returns the fields part p sends: the client's fields it lists
// that a proxied request would forward (forward.go: not those the route's
// gate removes, credentials unless forward_credentials, injected and
// removed names; never a forwarding field, which common carries), then
// common.
func (d *exchange) aggFields(p *aggPart, rt *route, common []aggregate.Field) []aggregate.Field {
	fs := make([]aggregate.Field, 0, len(p.headers)+len(common))
	tr := d.peerTrust()
	for _, h := range d.req.Headers {
		if !d.forwardsField(rt, h.Name, tr) || forwardingField(h.Name) != fwdNone {
			continue
		}
		for _, name := range p.headers {
			if parser.EqualFold(h.Name, name) {
				fs = append(fs, aggregate.Field{Name: string(h.Name), Value: string(h.Value)})
				break
			}
		}
	}
	return append(fs, common...)
}

// appendPartTarget renders a part's request target. Parameter values are
// the raw path bytes; after a '?' the bytes that would end or split a
// query value (& = + ; # ? and anything outside the URI's characters) are
// percent-escaped, so a path parameter cannot add query parameters.
func (d *exchange) appendPartTarget(b []byte, parts compiled.Template) []byte {
	for i := range parts {
		p := &parts[i]
		if p.Param == "" || !p.Query {
			b = p.Append(b, &d.match.Params)
			continue
		}
		for _, c := range d.match.Params.Get(p.Param) {
			if queryValueByte(c) {
				b = append(b, c)
				continue
			}
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
	return b
}

const upperHex = "0123456789ABCDEF"

// queryValueByte reports whether c stands for itself in a query value:
// RFC 3986 unreserved characters, '%' (the path's escapes are kept) and the
// sub-delimiters and gen-delimiters that do not separate parameters.
func queryValueByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~%!$'()*,:@/", c) >= 0
}

// compressAggregate compresses a merged body for the negotiated coding
// when the route's compression settings want it (on the worker goroutine).
// It returns the body to send and the coding applied.
func compressAggregate(body []byte, enc compression.Encoding, comp *compression.Config) ([]byte, compression.Encoding) {
	if comp == nil || enc == compression.Identity || !comp.Should(&compression.Response{
		Status:        200,
		ContentType:   jsonType,
		ContentLength: int64(len(body)),
	}) {
		return body, compression.Identity
	}
	coded, err := comp.Encode(enc, make([]byte, 0, len(body)/2+64), body)
	if err != nil {
		return body, compression.Identity
	}
	return coded, enc
}

var jsonType = []byte("application/json")

// aggResumed runs on d's loop when the aggregation (park seq) finishes: it
// writes the response unless the exchange ended meanwhile.
func (d *exchange) aggResumed(seq uint32, status int, body []byte, enc compression.Encoding) {
	if !d.woken(parkAgg, seq) {
		return // the client closed, or the exchange ended: drop the result
	}
	d.renderAggregate(status, len(body), enc)
	d.respDone, d.started = true, true
	if d.isHead {
		body = nil
	}
	if len(body) > smallBody {
		d.obs.bytesOut += len(body) // writeHead sends it by reference, not in d.out
	}
	d.writeHead(body)
	d.maybeFinish()
}

// renderAggregate renders the merged response's head into d.out: the
// gateway's own fields only (no part's field reaches the client).
func (d *exchange) renderAggregate(status, n int, enc compression.Encoding) {
	d.local = true
	d.status = status
	if d.lp.srv.draining.Load() {
		d.closeAfter = true
	}
	b := appendStatusLine(d.out[:0], status, []byte(reason(status)))
	b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\r\n"...)
	if enc != compression.Identity {
		b = compression.AppendHeaders(b, enc)
	}
	if ps := d.pol; ps != nil && ps.rp != nil {
		if ps.rp.comp != nil {
			b = append(b, "Vary: Accept-Encoding\r\n"...)
		}
		b = d.appendPolicyFields(b)
	}
	b = append(b, d.tbl.viaLine...)
	b = d.appendGateResponse(b)
	b = d.appendConnection(b)
	d.out = append(b, "\r\n"...)
}

// aggEnd lets go of a large scratch when the exchange ends (a running
// aggregation was cancelled before: exchange.end → unpark).
func (d *exchange) aggEnd() {
	if st := d.agg; st != nil && cap(st.scr) > 16<<10 {
		st.scr = nil // a large scratch is not kept per connection
	}
}

// newAggregateClient is the Server's client for every aggregate route: one
// keep-alive transport across reloads, its connect timeout read from the
// current table.
func (s *Server) newAggregateClient() *aggregate.Client {
	return aggregate.NewClient(aggregate.Options{
		ConnectTimeout: func() time.Duration { return time.Duration(s.tbl.Load().timeouts.connect) },
	})
}

// AggregateStats is a snapshot of one aggregate route's counters. They
// belong to the routing table: a reload starts them (and the
// max_concurrent bound) afresh for the new table, while aggregations
// started before it finish on the old one.
type AggregateStats struct {
	Route        string
	InFlight     int64 // aggregations running now
	Saturated    int64 // requests answered 503 for max_concurrent
	PartFailures int64 // parts that failed (timeout, error, status, size)
}

// AggregateStats returns the current table's aggregate routes' counters,
// in config order.
func (s *Server) AggregateStats() []AggregateStats {
	t := s.tbl.Load()
	out := make([]AggregateStats, 0, len(t.aggs))
	for _, ra := range t.aggs {
		out = append(out, AggregateStats{
			Route:        ra.route,
			InFlight:     ra.spec.InFlight(),
			Saturated:    ra.spec.Saturated.Load(),
			PartFailures: ra.spec.PartFailures.Load(),
		})
	}
	return out
}
