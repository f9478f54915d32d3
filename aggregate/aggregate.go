package aggregate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotpath/hotpath/pool"
)

// Spec is a route's compiled aggregation. It is immutable once built,
// except for its count of aggregations in flight, and safe for concurrent
// use by every loop.
type Spec struct {
	Parts   []Part
	Timeout time.Duration // the whole aggregation
	MaxBody int64         // per part, bytes
	FailAll bool          // fail: all: any failed part fails the response (502)
	// MaxConcurrent bounds the aggregations of this Spec in flight; Start
	// refuses beyond it.
	MaxConcurrent int64

	inflight atomic.Int64
	// Saturated counts the aggregations Start refused for MaxConcurrent.
	Saturated atomic.Int64
	// PartFailures counts failed parts (timeouts, errors, bad statuses),
	// not those canceled because the client left or another part failed
	// a FailAll Spec.
	PartFailures atomic.Int64
}

// Part is one upstream request of a Spec.
type Part struct {
	Name     string
	Balancer pool.Balancer // picks the part's endpoint (health applies)
	Host     string        // Host sent; "" sends the endpoint's address
}

// InFlight is the number of the Spec's aggregations running now.
func (s *Spec) InFlight() int64 { return s.inflight.Load() }

// Field is a request header field sent to a part.
type Field struct{ Name, Value string }

// PartRequest is what one part sends: its request target (path and
// query, already escaped), the hash key for its balancer, and the fields
// forwarded to it.
type PartRequest struct {
	Target string
	Key    uint64
	Fields []Field
}

// Request is one aggregation's input, one PartRequest per Spec part in the
// same order. The engine builds it on the event loop; the Client owns it
// once Start returns.
type Request struct {
	Parts []PartRequest
}

// Result is a finished aggregation.
type Result struct {
	// Status is 200, or 502 when the Spec is FailAll and a part failed.
	Status int
	// Body is the JSON object: the parts by name in Spec order, or with
	// FailAll and a failure, {"error": ..., "part": ..., "status": N}.
	Body []byte
	// Failed counts the parts that failed.
	Failed int
}

// Options configure a Client. Zero values take the defaults.
type Options struct {
	// ConnectTimeout is read at each new connection (default 3s), so a
	// reloaded timeouts.connect applies without a new Client.
	ConnectTimeout func() time.Duration
	// MaxIdlePerHost is the idle keep-alive connections kept per endpoint
	// address (default 256).
	MaxIdlePerHost int
	// IdleTimeout closes a keep-alive connection idle this long (default 60s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a part's response head (default 64 KiB).
	MaxHeaderBytes int64
}

// Client runs aggregations on its own goroutines through one keep-alive
// HTTP/1.1 transport shared by every Spec (connections are pooled per
// endpoint address, so they survive a reload). Its methods are safe for
// concurrent use.
type Client struct {
	tr     *http.Transport
	ctx    context.Context // canceled by Close: every aggregation stops
	cancel context.CancelFunc

	mu     sync.RWMutex // Start's Add against Close's Wait
	closed bool
	wg     sync.WaitGroup
}

// NewClient returns a Client; Close it to stop its goroutines and close
// its connections.
func NewClient(o Options) *Client {
	if o.ConnectTimeout == nil {
		o.ConnectTimeout = func() time.Duration { return 3 * time.Second }
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = 256
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	connect := o.ConnectTimeout
	c := &Client{
		tr: &http.Transport{
			Proxy: nil, // never the environment's HTTP_PROXY: parts go to the configured endpoints
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				d := net.Dialer{Timeout: connect(), KeepAlive: 30 * time.Second}
				return d.DialContext(ctx, network, addr)
			},
			MaxIdleConns:           0, // bounded per host below
			MaxIdleConnsPerHost:    o.MaxIdlePerHost,
			IdleConnTimeout:        o.IdleTimeout,
			MaxResponseHeaderBytes: o.MaxHeaderBytes,
			DisableCompression:     true, // the part's bytes as sent; no gzip round trip
			ForceAttemptHTTP2:      false,
		},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Close stops every running aggregation (their done callbacks still run,
// with canceled parts), waits for the Client's goroutines and closes its
// connections. Start refuses after Close.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.tr.CloseIdleConnections()
}

// Start runs the aggregation r of s in the background and returns at once.
// It reports false, starting nothing, when s already has MaxConcurrent
// aggregations in flight or the Client is closed. Otherwise done is called
// exactly once, on one of the Client's goroutines, within about s.Timeout;
// cancel ends the aggregation early (done still runs; the result is then
// meant to be dropped).
func (c *Client) Start(s *Spec, r *Request, done func(*Result)) (cancel context.CancelFunc, ok bool) {
	if s.inflight.Add(1) > s.MaxConcurrent {
		s.inflight.Add(-1)
		s.Saturated.Add(1)
		return nil, false
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		s.inflight.Add(-1)
		return nil, false
	}
	c.wg.Add(1)
	c.mu.RUnlock()
	ctx, cancel := context.WithTimeout(c.ctx, s.Timeout)
	go func() {
		defer c.wg.Done()
		res := c.run(ctx, cancel, s, r)
		cancel()
		s.inflight.Add(-1)
		done(res)
	}()
	return cancel, true
}

// outcome is one part's result: its JSON value, or the failure.
type outcome struct {
	value  []byte
	err    error
	status int // the failed upstream status, or Status(err)
}

// run fetches every part (the first on this goroutine, the others on
// their own) and merges the outcomes.
func (c *Client) run(ctx context.Context, cancel context.CancelFunc, s *Spec, r *Request) *Result {
	outs := make([]outcome, len(s.Parts))
	var (
		wg    sync.WaitGroup
		first atomic.Int32 // 1 + index of the first failed part under FailAll
	)
	fetch := func(i int) {
		o := &outs[i]
		c.fetch(ctx, s, &s.Parts[i], &r.Parts[i], o)
		if o.err != nil && s.FailAll && first.CompareAndSwap(0, int32(i)+1) {
			cancel() // the response fails anyway: stop the other parts
		}
	}
	for i := 1; i < len(s.Parts); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fetch(i)
		}()
	}
	if len(s.Parts) > 0 {
		fetch(0)
	}
	wg.Wait()
	return merge(s, outs, int(first.Load())-1)
}

// fetch makes part p's request and fills o.
func (c *Client) fetch(ctx context.Context, s *Spec, p *Part, pr *PartRequest, o *outcome) {
	defer func() {
		if o.err != nil {
			if o.err != ErrCanceled {
				s.PartFailures.Add(1)
			}
			if o.status == 0 {
				o.status = Status(o.err)
			}
		}
	}()
	ep := p.Balancer.Pick(pr.Key)
	if ep == nil {
		o.err = ErrNoHealthyEndpoint
		return
	}
	path, query, _ := strings.Cut(pr.Target, "?")
	h := make(http.Header, len(pr.Fields))
	for _, f := range pr.Fields {
		h.Add(f.Name, f.Value)
	}
	host := p.Host
	if host == "" {
		host = ep.Addr
	}
	req := (&http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Scheme: "http", Host: ep.Addr, Opaque: path, RawQuery: query}, // Opaque: the target's bytes as rendered, not re-escaped
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       host,
	}).WithContext(ctx)
	start := time.Now()
	ep.Begin()
	failed := false
	defer func() { ep.End(time.Since(start), failed) }()
	resp, err := c.tr.RoundTrip(req)
	if err != nil {
		o.err, failed = classify(ctx, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		o.err, o.status = errStatus, resp.StatusCode
		failed = resp.StatusCode >= 502 && resp.StatusCode <= 504
		return
	}
	if resp.ContentLength > s.MaxBody {
		o.err = ErrBodyTooLarge
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.MaxBody+1))
	if err != nil {
		o.err, failed = classify(ctx, err)
		return
	}
	if int64(len(body)) > s.MaxBody {
		o.err = ErrBodyTooLarge
		return
	}
	switch {
	case !isJSON(resp.Header.Get("Content-Type")):
		o.value = appendString(make([]byte, 0, len(body)+2), body)
	case len(bytes.TrimSpace(body)) == 0:
		o.value = nullValue
	case !validJSON(body):
		o.err = ErrInvalidJSON
	default:
		o.value = body
	}
}

// errStatus marks a part answered with a non-2xx status (the reason is
// "status N").
var errStatus = errors.New("aggregate: status")

var nullValue = []byte("null")

// classify maps a transport error to a part failure, and whether it counts
// against the endpoint's health (a canceled aggregation does not).
func classify(ctx context.Context, err error) (error, bool) {
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return ErrTimeout, true
	case context.Canceled:
		return ErrCanceled, false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if op.Timeout() {
			return ErrTimeout, true
		}
		return ErrConnect, true
	}
	return ErrUpstream, true
}

// merge renders the Result from the parts' outcomes; failed is the index
// of the part that failed a FailAll Spec, or -1.
func merge(s *Spec, outs []outcome, failed int) *Result {
	res := &Result{Status: 200}
	for i := range outs {
		if outs[i].err != nil {
			res.Failed++
		}
	}
	if s.FailAll && res.Failed > 0 {
		if failed < 0 {
			failed = 0
			for outs[failed].err == nil {
				failed++
			}
		}
		res.Status = 502
		b := append(make([]byte, 0, 96), `{"error":`...)
		b = appendString(b, []byte("part "+s.Parts[failed].Name+": "+failure(&outs[failed])))
		b = append(b, `,"part":`...)
		b = appendString(b, []byte(s.Parts[failed].Name))
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(outs[failed].status), 10)
		res.Body = append(b, '}')
		return res
	}
	n := 2
	for i := range outs {
		n += len(s.Parts[i].Name) + len(outs[i].value) + 48
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i := range outs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, []byte(s.Parts[i].Name))
		b = append(b, ':')
		o := &outs[i]
		if o.err == nil {
			b = append(b, o.value...)
			continue
		}
		b = append(b, `{"error":`...)
		b = appendString(b, []byte(failure(o)))
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(o.status), 10)
		b = append(b, '}')
	}
	res.Body = append(b, '}')
	return res
}

// failure is the "error" text of a failed outcome.
func failure(o *outcome) string {
	if o.err == errStatus {
		return "status " + strconv.Itoa(o.status)
	}
	return reason(o.err)
}
