package engine

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hotpath/hotpath/cache"
	"github.com/hotpath/hotpath/compression"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
)

// Background revalidation (stale-while-revalidate, RFC 5861).
//
// When a request finds a stale entry inside its stale-while-revalidate
// window, the cache makes exactly one such request per key the refresh
// leader; it is answered from the entry at once like a hit, and the refresh
// runs here, in a goroutine of its own, off the event loops: it dials the
// endpoint the balancer picked, sends the upstream request head the engine
// built for the triggering request (with Connection: close, and without
// the client's conditional and Range fields),
// reads the response under the route's timeouts, compresses it for the
// entry's coding, stores it and completes the flight. The request is
// conditional on the stale entry's validators (its ETag and Last-Modified,
// instead of the client's): a 304 Not Modified freshens the stored
// response, keeping its body (RFC 9111 §4.3.4), so an unchanged resource
// costs the upstream no body. Nobody waits for it:
// the client connection that triggered it is free at once. At most
// maxRefreshes run at a time; past that, a refresh is skipped and the next
// request in the window claims it again.

const maxRefreshes = 64

var (
	errRefreshStopped  = errors.New("engine: refresh: server stopping")
	errRefreshStatus   = errors.New("engine: refresh: upstream answered 5xx")
	errRefreshTooLarge = errors.New("engine: refresh: response larger than max_object_bytes")
)

// refresher runs and tracks the background refreshes of a Server.
type refresher struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	running int
	stopped bool
	conns   map[net.Conn]struct{}
}

// refreshJob is everything a refresh needs, copied off the loop.
type refreshJob struct {
	ep        *pool.Endpoint
	stale     *cache.Entry // the entry being refreshed: its validators and body
	head      []byte
	req       *reqSnapshot
	ticket    cache.Ticket
	cache     *cache.Cache
	policy    cache.Policy
	comp      *compression.Config
	enc       compression.Encoding
	maxObject int64
	limits    parser.Limits
	connect   time.Duration
	upHeader  time.Duration
	upRead    time.Duration
	now       func() time.Time
	stats     *PolicyStats
}

// startRefresh starts the background refresh for the stale entry d was just
// answered with (d is the refresh leader).
func (d *exchange) startRefresh(rt *route, rp *routePolicy, t cache.Ticket, stale *cache.Entry) {
	ep := rt.up.pick.Pick(d.hashKey(rt.up), nil)
	if d.isHead || ep == nil {
		rp.cache.Fail(t) // nothing to store from a HEAD; the next GET claims it
		return
	}
	d.buildRequestHead(rt, ep) // d.head is free: a stale hit goes nowhere else
	snap := &reqSnapshot{}
	fv := d.forwarded(rt)
	snap.take(&d.req, fv.h[:fv.n], d.pol.variant)
	tbl := d.tbl
	job := &refreshJob{
		ep:        ep,
		stale:     stale,
		head:      refreshHead(d.head, stale),
		req:       snap,
		ticket:    t,
		cache:     rp.cache,
		policy:    rp.cpol,
		comp:      rp.comp,
		enc:       d.pol.enc,
		maxObject: tbl.pol.store.MaxObjectBytes,
		limits:    tbl.limits,
		connect:   time.Duration(tbl.timeouts.connect),
		upHeader:  time.Duration(tbl.timeouts.upstreamHeader),
		upRead:    time.Duration(tbl.timeouts.upstreamRead),
		now:       d.lp.srv.wallNow,
		stats:     rp.stats,
	}
	if !d.lp.srv.pol.refresh.start(job) {
		rp.cache.Fail(t)
	}
}

// refreshHead copies an upstream request head for a refresh: the client's
// conditional and Range fields dropped, the stale entry's validators
// (If-None-Match, If-Modified-Since) and Connection: close added.
func refreshHead(h []byte, stale *cache.Entry) []byte {
	out := make([]byte, 0, len(h)+20)
	i := bytes.Index(h, crlf) + 2
	out = append(out, h[:i]...) // the request line
	for b := h[i:]; ; {
		name, _, line, rest, ok := parser.CutField(b)
		if !ok {
			break
		}
		b = rest
		if !conditionalOrRange(name) {
			out = append(out, line...)
		}
	}
	if stale != nil && stale.Status() == 200 {
		if v := stale.ETag(); v != nil {
			out = append(out, "If-None-Match: "...)
			out = append(out, v...)
			out = append(out, crlf...)
		}
		if v := stale.LastModified(); v != nil {
			out = append(out, "If-Modified-Since: "...)
			out = append(out, v...)
			out = append(out, crlf...)
		}
	}
	return append(out, "Connection: close\r\n\r\n"...)
}

func (r *refresher) start(j *refreshJob) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.running >= maxRefreshes {
		return false
	}
	r.running++
	r.wg.Add(1)
	j.stats.Refreshes.Add(1)
	go r.run(j)
	return true
}

func (r *refresher) run(j *refreshJob) {
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
		r.wg.Done()
	}()
	start := time.Now()
	j.ep.Begin()
	e, err := j.fetch(r)
	j.ep.End(time.Since(start), err != nil && err != errRefreshTooLarge && err != errRefreshStopped)
	if err != nil {
		j.cache.Fail(j.ticket)
		return
	}
	j.cache.Complete(j.ticket, e) // e nil: not storable; the flight ends all the same
}

// stop ends running refreshes (their connections are closed) and waits.
func (r *refresher) stop() {
	r.mu.Lock()
	r.stopped = true
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *refresher) track(c net.Conn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !add {
		delete(r.conns, c)
		return true
	}
	if r.stopped {
		return false
	}
	if r.conns == nil {
		r.conns = map[net.Conn]struct{}{}
	}
	r.conns[c] = struct{}{}
	return true
}

// fetch makes the upstream request and stores the response.
func (j *refreshJob) fetch(r *refresher) (*cache.Entry, error) {
	conn, err := net.DialTimeout("tcp", j.ep.Addr, j.connect)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if !r.track(conn, true) {
		return nil, errRefreshStopped
	}
	defer r.track(conn, false)
	reqTime := j.now()
	_ = conn.SetDeadline(time.Now().Add(j.upHeader))
	if _, err := conn.Write(j.head); err != nil {
		return nil, err
	}
	var resp parser.Response
	buf := make([]byte, 0, 16<<10)
	n, err := j.readHead(conn, &resp, &buf)
	if err != nil {
		return nil, err
	}
	respTime := j.now()
	if resp.Status >= 500 {
		return nil, errRefreshStatus
	}
	if resp.Status == 304 && j.stale != nil && j.stale.Status() == 200 {
		_, fields := appendStoreFields(nil, nil, resp.Headers, compression.Identity)
		fresh := j.stale.Freshened(&cache.Response{Status: 304, Header: fields, RequestTime: reqTime, ResponseTime: respTime})
		e, err := j.cache.Store(j.ticket, &j.req.creq, fresh, &j.policy)
		if e == nil {
			return nil, err
		}
		j.stats.CacheStored.Add(1)
		j.stats.Revalidated.Add(1)
		return e, nil
	}
	body, err := j.readBody(conn, &resp, buf[n:])
	if err != nil {
		return nil, err
	}
	enc := compression.Identity
	if j.enc != compression.Identity && j.comp != nil && resp.Status != 206 {
		cr := compression.Response{Status: resp.Status, ContentType: resp.ContentType,
			ContentEncoding: resp.ContentEncoding, ContentLength: int64(len(body)), CacheControl: resp.CacheControl}
		if j.comp.Should(&cr) {
			coded, err := j.comp.Encode(j.enc, make([]byte, 0, len(body)/2+64), body)
			if err != nil {
				return nil, err
			}
			enc, body = j.enc, coded
		}
	}
	_, fields := appendStoreFields(nil, nil, resp.Headers, enc)
	e, err := j.cache.Store(j.ticket, &j.req.creq, &cache.Response{
		Status: resp.Status, Header: fields, Body: body, RequestTime: reqTime, ResponseTime: respTime,
	}, &j.policy)
	if e == nil {
		return nil, err
	}
	j.stats.CacheStored.Add(1)
	return e, nil // ErrRejected still hands the entry to the flight's waiters
}

// readHead reads until the final response head is parsed (1xx skipped). buf
// keeps everything read; it returns the head's length in *buf.
func (j *refreshJob) readHead(conn net.Conn, resp *parser.Response, buf *[]byte) (int, error) {
	resp.Limits = j.limits
	off := 0
	for {
		if off < len(*buf) {
			n, err := resp.Parse((*buf)[off:], false)
			switch {
			case err == nil && resp.Status < 200:
				off += n
				resp.Reset()
				resp.Limits = j.limits
				continue
			case err == nil:
				*buf = (*buf)[off:]
				return n, nil
			case err != parser.ErrNeedMore:
				return 0, err
			}
		}
		if len(*buf) == cap(*buf) {
			if len(*buf) >= 1<<20 {
				return 0, ErrUpstreamMalformed // the parser's limits stop a head long before
			}
			*buf = append(*buf, make([]byte, len(*buf))...)[:len(*buf)]
		}
		m, err := conn.Read((*buf)[len(*buf):cap(*buf)])
		*buf = (*buf)[:len(*buf)+m]
		if err != nil && m == 0 {
			return 0, err
		}
	}
}

// readBody reads the response body after the head (rest is what was read
// with it), decoding chunked framing, up to maxObject bytes.
func (j *refreshJob) readBody(conn net.Conn, resp *parser.Response, rest []byte) ([]byte, error) {
	if resp.Body == parser.BodyLength && resp.ContentLength > j.maxObject {
		return nil, errRefreshTooLarge
	}
	var (
		body    []byte
		framing parser.Body
		pending = append([]byte(nil), rest...) // read, not yet consumed
		rb      = make([]byte, 32<<10)
		eof     bool
	)
	framing.StartResponse(resp)
	if framing.Done() {
		return nil, nil
	}
	for {
		used := 0
		for used < len(pending) {
			m, data, done, err := framing.Decode(pending[used:])
			if err != nil {
				return nil, err
			}
			body = append(body, data...)
			used += m
			if done {
				return body, nil
			}
			if m == 0 {
				break // an incomplete chunk line: wait for more
			}
		}
		pending = append(pending[:0], pending[used:]...)
		if eof && framing.Kind() == parser.BodyClose {
			return body, nil
		}
		if int64(len(body)) > j.maxObject {
			return nil, errRefreshTooLarge
		}
		if eof {
			return nil, io.ErrUnexpectedEOF
		}
		_ = conn.SetReadDeadline(time.Now().Add(j.upRead))
		m, err := conn.Read(rb)
		pending = append(pending, rb[:m]...)
		if err == io.EOF {
			eof = true
		} else if err != nil {
			return nil, err
		}
	}
}
