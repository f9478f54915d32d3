package config

import (
	_ "embed"
	"time"
)

// Config is the whole gateway configuration. Load and Parse fill it, apply
// defaults and validate it; the engine compiles it into an immutable routing
// table.
type Config struct {
	// Workers is the number of event loops (one per core when 0). Every
	// loop accepts on every listener, so there is one count for the whole
	// gateway. listeners[].workers, its old spelling, works for one more
	// release (EventLoops).
	Workers   int        `yaml:"workers"`
	Listeners []Listener `yaml:"listeners"`
	Limits    Limits     `yaml:"limits"`
	Timeouts  Timeouts   `yaml:"timeouts"`
	Forwarded Forwarded  `yaml:"forwarded"`
	Router    Router     `yaml:"router"`
	Upstreams []Upstream `yaml:"upstreams"`
	Routes    []Route    `yaml:"routes"`

	// Observability: see observability.go.
	Admin     Admin     `yaml:"admin"`
	Metrics   Metrics   `yaml:"metrics"`
	AccessLog AccessLog `yaml:"access_log"`
	Log       Log       `yaml:"log"`
	// TrustedProxies are the addresses (CIDRs) whose X-Forwarded-For the
	// gateway believes: for client_ip rate-limit keys, and when forwarding
	// X-Forwarded-For (see policies.go).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Cache is the response cache's shared memory (policies.go).
	Cache CacheStore `yaml:"cache"`
	// RequestID turns routes[].request_id on for every route (auth.go).
	RequestID bool `yaml:"request_id"`
	// Redis and Etcd are the fleet's shared systems (fleet.go).
	Redis []Redis `yaml:"redis"`
	Etcd  Etcd    `yaml:"etcd"`
	// IPFilter allows and denies client addresses for every route
	// (edge.go).
	IPFilter IPFilter `yaml:"ip_filter"`

	// Source is the file name used in messages ("<default>" for the
	// embedded config).
	Source string `yaml:"-"`
	// Text is the source text the config was parsed from (served by the
	// admin API's GET /config). Do not modify it.
	Text []byte `yaml:"-"`
	// lines maps a field path ("routes[2].upstream") to its line.
	lines map[string]int
	// deprecations are the old spellings the source uses (Warnings).
	deprecations Errors
}

// Listener is one address the gateway accepts connections on.
type Listener struct {
	// Address is host:port, e.g. "0.0.0.0:8080".
	Address string `yaml:"address"`
	// Workers is deprecated: write the top-level workers. Until the next
	// release a listener's non-zero value stands for it (EventLoops), and
	// one that differs from another's or from the top-level value is a
	// config error.
	Workers int `yaml:"workers"`
	// Protocols are what clients may speak: http1 (always), h2c (HTTP/2 in
	// cleartext with prior knowledge: a connection that starts with the
	// HTTP/2 preface). Default [http1]: a preface is answered 400.
	Protocols []string `yaml:"protocols"`
	// HTTP2 bounds what an HTTP/2 client may make the gateway hold
	// (docs/http2.md); zero values are the defaults.
	HTTP2 HTTP2 `yaml:"http2"`
	// TLS makes the listener HTTPS (tls.go).
	TLS *ListenerTLS `yaml:"tls"`
	// HTTPSRedirect answers every request on this plain listener with a
	// redirect to the same URL over HTTPS (tls.go).
	HTTPSRedirect *HTTPSRedirect `yaml:"https_redirect"`
}

// HTTP2 are a listener's HTTP/2 limits, each an h2.Limits field.
type HTTP2 struct {
	MaxConcurrentStreams   int  `yaml:"max_concurrent_streams"`  // 100
	MaxHeaderListBytes     Size `yaml:"max_header_list_bytes"`   // 32 KiB; larger: 431
	MaxHeaders             int  `yaml:"max_headers"`             // 100
	MaxHeaderBlockBytes    Size `yaml:"max_header_block_bytes"`  // 64 KiB; larger: GOAWAY
	HeaderTableBytes       Size `yaml:"header_table_bytes"`      // 4 KiB
	MaxFrameBytes          Size `yaml:"max_frame_bytes"`         // 16 KiB
	StreamWindowBytes      Size `yaml:"stream_window_bytes"`     // 64 KiB
	ConnectionWindowBytes  Size `yaml:"connection_window_bytes"` // 1 MiB
	MaxPrematureResets     int  `yaml:"max_premature_resets"`    // 100
	MaxControlFrames       int  `yaml:"max_control_frames"`      // 1000
	ControlFramesPerSecond int  `yaml:"control_frames_per_second"`
}

// Limits bound what a peer can make the gateway parse or hold.
type Limits struct {
	MaxRequestLineBytes Size `yaml:"max_request_line_bytes" old:"max_request_line"` // 414 beyond
	MaxHeadBytes        Size `yaml:"max_head_bytes" old:"max_head"`                 // a request head; 431 beyond
	MaxHeaders          int  `yaml:"max_headers"`                                   // header fields; 431 beyond
	AllowBareLF         bool `yaml:"allow_bare_lf"`                                 // accept LF line endings (off: smuggling risk)
	// MaxBufferedBytes caps the bytes the gateway buffers for one
	// connection in each direction before it stops reading the other side.
	MaxBufferedBytes Size `yaml:"max_buffered_bytes"`
	// UnderscoresInHeaders decides what happens to a request header whose
	// name has an underscore ("X_User_Id"): "drop" (the default: not
	// forwarded, as nginx does), "reject" (400) or "forward". CGI-style
	// upstreams (WSGI, PHP, Rack) read "X_User_Id" and "X-User-Id" as one
	// variable, so a client could forge a field the gateway sets.
	UnderscoresInHeaders string `yaml:"underscores_in_headers"`
	// MaxConnections caps the client connections open at once, all
	// listeners and loops (0, the default: half of what the open-file
	// limit leaves after the descriptors open at start and a reserve,
	// since each client may hold an upstream connection). At the cap the
	// gateway stops accepting until connections close; new clients wait
	// in the listen backlog.
	MaxConnections int `yaml:"max_connections"`
	// MaxBodyBytes caps a request body in bytes on every route that does not
	// set its own max_body_bytes (0, the default: no cap): 413 (edge.go).
	MaxBodyBytes Size `yaml:"max_body_bytes" old:"max_body"`
	// PerIP limits each client address when its connections are accepted
	// (edge.go).
	PerIP PerIP `yaml:"per_ip"`
}

// Timeouts are the gateway's deadlines. Every one has a safe default.
type Timeouts struct {
	ClientHeader   time.Duration `yaml:"client_header"`               // whole request head must arrive within this (408)
	ClientBody     time.Duration `yaml:"client_body"`                 // idle time between request body bytes (408)
	ClientIdle     time.Duration `yaml:"client_idle" old:"keepalive"` // an idle client keep-alive connection is closed after this
	Connect        time.Duration `yaml:"connect"`                     // upstream connect (504)
	UpstreamHeader time.Duration `yaml:"upstream_header"`             // request sent → response head complete (504)
	UpstreamRead   time.Duration `yaml:"upstream_read"`               // idle time between response body bytes
	Drain          time.Duration `yaml:"drain"`                       // graceful shutdown: in-flight requests get this long

	// ClientSend closes a client that has bytes queued for it and has
	// taken none of them for this long (a slow-read attack, or a peer that
	// vanished): the connection is reset and its upstream released.
	ClientSend time.Duration `yaml:"client_send"`
	// Pending is how long a request may wait for a connection to an
	// endpoint whose pool is at max_conns, or for a worker to check its
	// basic-auth credential (503 after).
	Pending time.Duration `yaml:"pending"`
	// TunnelIdle closes an upgraded connection (a WebSocket) that carried
	// no byte in either direction for this long.
	TunnelIdle time.Duration `yaml:"tunnel_idle"`
}

// Forwarded switches the headers the gateway adds to proxied requests and
// responses.
type Forwarded struct {
	XForwardedFor   bool   `yaml:"x_forwarded_for"`   // append the client address
	XForwardedProto bool   `yaml:"x_forwarded_proto"` // "http"
	XForwardedHost  bool   `yaml:"x_forwarded_host"`  // the client's Host
	Via             bool   `yaml:"via"`               // "1.1 <via_name>" on requests and responses
	ViaName         string `yaml:"via_name"`          // pseudonym in Via (default "hotpath")
}

// Router holds routing-table policies.
type Router struct {
	// TrailingSlash is "strict" (404), "redirect" (308 to the other form) or
	// "ignore" (match either form).
	TrailingSlash string `yaml:"trailing_slash"`
	// PathNormalization says what a path holding an encoded '/' ("%2F"),
	// an encoded '\' ("%5C") or a raw '\' gets, since an upstream may decode
	// it into a separator after the gateway routed it as one segment:
	// "reject" (400, the default), "decode" ("%2F" becomes '/' before
	// routing and is forwarded decoded; '\' is still refused) or "keep"
	// (routed and forwarded as sent; only for upstreams that do not decode).
	PathNormalization string `yaml:"path_normalization"`
}

// Upstream is a named group of endpoints behind one balancer.
type Upstream struct {
	Name      string     `yaml:"name"`
	Endpoints []Endpoint `yaml:"endpoints"`
	// Balancer is round_robin, weighted_round_robin, least_conn, p2c,
	// p2c_ewma, maglev or ring_hash.
	Balancer string `yaml:"balancer"`
	// HashKey is what maglev and ring_hash hash: client_ip, path,
	// header:<Name> or cookie:<name>.
	HashKey string `yaml:"hash_key"`
	Pool    Pool   `yaml:"pool"`
	Health  Health `yaml:"health"`
	// TLS makes connections to the endpoints TLS (tls.go).
	TLS *UpstreamTLS `yaml:"tls"`
	// Protocol is what the gateway speaks to the endpoints: http1 (the
	// default), h2c (HTTP/2 over cleartext TCP, prior knowledge) or h2
	// (HTTP/2 over TLS, negotiated with ALPN h2; needs a tls section). Over
	// HTTP/2 each loop keeps a few connections per endpoint and multiplexes
	// the requests of all its clients onto them (docs/http2.md).
	Protocol string `yaml:"protocol"`
	// Discovery finds the endpoints in DNS or etcd (fleet.go).
	Discovery *Discovery `yaml:"discovery"`
	// SlowStart ramps an endpoint's share of requests up from a tenth to
	// all over this time after it comes back (its ejection ended, or active
	// checks found it healthy again); 0 (the default) turns it off.
	SlowStart time.Duration `yaml:"slow_start"`
	// RetryBudget bounds the retries in flight on this upstream.
	RetryBudget RetryBudget `yaml:"retry_budget"`
}

// RetryBudget bounds an upstream's retries in flight (as Envoy's retry
// budget): at most Percent of its requests in flight, but always
// MinConcurrent, so that retries cannot multiply an outage's load.
// Retries of requests that never reached the upstream (a refused or timed
// out connect) are free. The defaults let the requests in flight on one
// of two endpoints that dies all be retried on the other.
type RetryBudget struct {
	Percent       int `yaml:"percent"`        // default 50
	MinConcurrent int `yaml:"min_concurrent"` // default 10
}

// Endpoint is one upstream server.
type Endpoint struct {
	Address string `yaml:"address"` // host:port
	Weight  int    `yaml:"weight"`  // >= 1, default 1
}

// Pool configures upstream keep-alive connections (per event loop).
type Pool struct {
	MaxIdle     int           `yaml:"max_idle"`     // idle connections kept per endpoint per loop
	MaxConns    int           `yaml:"max_conns"`    // connections per endpoint per loop, 0 = unlimited
	IdleTimeout time.Duration `yaml:"idle_timeout"` // idle connection closed after this
	MaxRequests int           `yaml:"max_requests"` // requests per connection, 0 = unlimited

	// MaxPending bounds the requests that wait, per endpoint per loop and
	// in arrival order, for a connection when max_conns are all busy; a
	// request beyond it, or one still waiting after timeouts.pending, is
	// answered 503. 0 answers 503 at once.
	MaxPending int `yaml:"max_pending"`

	// Pipeline lets one keep-alive connection carry up to this many
	// outstanding requests from different clients of the same event loop,
	// answered in order, with the request heads queued during one batch of
	// events written together. Only idempotent requests without a body are
	// pipelined (docs/pipeline.md). 0 or 1 is off: one request per
	// connection at a time.
	Pipeline int `yaml:"pipeline"`
}

// Health configures active and passive health checking.
type Health struct {
	Active  *ActiveHealth  `yaml:"active"`
	Passive *PassiveHealth `yaml:"passive"`
}

// ActiveHealth probes every endpoint with GET Path.
type ActiveHealth struct {
	Path               string        `yaml:"path"`
	Interval           time.Duration `yaml:"interval"`
	Timeout            time.Duration `yaml:"timeout"`
	HealthyThreshold   int           `yaml:"healthy_threshold"`
	UnhealthyThreshold int           `yaml:"unhealthy_threshold"`
	// GRPC checks with the gRPC health protocol (grpc.health.v1.Health/
	// Check) instead of a GET of Path: healthy when the answer is SERVING.
	// Needs protocol h2c or h2.
	GRPC *GRPCHealth `yaml:"grpc"`
}

// GRPCHealth is a gRPC health check.
type GRPCHealth struct {
	Service string `yaml:"service"` // the service asked about; "" is the server as a whole
}

// PassiveHealth ejects an endpoint after consecutive failed requests
// (connect errors, resets, timeouts, 502/503/504). It is on by default
// (3 failures, 10s doubling up to 5m); consecutive_failures: 0 turns it
// off. When every endpoint that active checks find up is ejected, they are
// all used anyway (panic mode).
type PassiveHealth struct {
	ConsecutiveFailures int           `yaml:"consecutive_failures"`
	BaseEjection        time.Duration `yaml:"base_ejection"`
	MaxEjection         time.Duration `yaml:"max_ejection"`
}

// Route maps host, methods and a path pattern to an upstream, a direct
// response or an aggregation of upstream requests.
type Route struct {
	Name string `yaml:"name"`
	// Host is "" (any), an exact host or "*.example.com".
	Host string `yaml:"host"`
	// Path is a pattern: static segments, ":name" parameters and a final
	// "*name" catch-all.
	Path string `yaml:"path"`
	// Methods the route answers; empty means any.
	Methods  []string `yaml:"methods"`
	Upstream string   `yaml:"upstream"`
	// Protocol grpc makes the route serve gRPC calls only (docs/grpc.md):
	// other requests get 415, and its upstream must speak HTTP/2 (h2c or
	// h2). "" serves anything; gRPC calls are recognised on any route by
	// their content-type.
	Protocol string  `yaml:"protocol"`
	Direct   *Direct `yaml:"direct"`
	// Aggregate answers the route with a JSON object merged from several
	// upstream requests (aggregate.go); instead of upstream or direct.
	Aggregate *Aggregate `yaml:"aggregate"`
	// StripPrefix removes this prefix from the path before proxying.
	StripPrefix string `yaml:"strip_prefix"`
	// Rewrite replaces the path with a template in which ":name" and
	// "*name" are replaced by the route's parameters, e.g. "/v2/users/:id".
	Rewrite string `yaml:"rewrite"`
	// HostRewrite sends this Host to the upstream instead of the client's.
	HostRewrite string `yaml:"host_rewrite"`
	// PreserveHost passes the client's Host through (default true); false
	// sends the endpoint's address.
	PreserveHost bool `yaml:"preserve_host"`
	// Upgrade lists the protocols a client may switch to with an HTTP/1.1
	// Upgrade request (RFC 9110 §7.8) on this route, case-insensitively;
	// default [websocket]. An empty list refuses every upgrade: such a
	// request is forwarded as plain HTTP, without Upgrade. h2c is never
	// tunnelled.
	Upgrade []string `yaml:"upgrade"`

	// Policies (policies.go): a rate limit per key, a bound on requests in
	// flight (503 beyond; 0 = unlimited), a response cache and compression.
	RateLimit   *RateLimit   `yaml:"rate_limit"`
	MaxInFlight int          `yaml:"max_in_flight"`
	Cache       *RouteCache  `yaml:"cache"`
	Compression *Compression `yaml:"compression"`

	// Auth and header edits (auth.go). RequestID sends X-Request-Id
	// upstream and to the client: the client's when it is valid (1 to 128
	// of A-Z a-z 0-9 - _ . : + / =), else a generated one. The top-level
	// request_id turns it on for every route.
	Auth      *Auth        `yaml:"auth"`
	Headers   *HeaderRules `yaml:"headers"`
	RequestID bool         `yaml:"request_id"`

	// Edge protection (edge.go): client addresses allowed and denied on
	// top of the top-level ip_filter, the largest request body (0:
	// limits.max_body_bytes; 413 beyond) and CORS.
	IPFilter     *IPFilter `yaml:"ip_filter"`
	MaxBodyBytes Size      `yaml:"max_body_bytes" old:"max_body"`
	CORS         *CORS     `yaml:"cors"`
	// ClientCert requires a verified client certificate (mTLS) and passes
	// its identity upstream (tls.go).
	ClientCert *ClientCert `yaml:"client_cert"`

	// Retry sends a failed request again, to another endpoint.
	Retry Retry `yaml:"retry"`
}

// Retry is a route's retry policy. A request whose bytes never reached an
// upstream (connect refused or timed out, a reused connection that failed
// before the request was written) is retried whatever its method; the
// other conditions apply to idempotent requests (GET, HEAD, OPTIONS, PUT,
// DELETE, TRACE) before any byte of the response reached the client.
type Retry struct {
	// Attempts is the most retries after the first try (default 2; 0
	// turns retries off). Each goes to an endpoint the request has not
	// tried, within the upstream's retry_budget.
	Attempts int `yaml:"attempts"`
	// On lists when to retry: connect_failure, reset (the upstream closed
	// or reset the connection before a response), timeout (no response
	// head within timeouts.upstream_header), and the statuses 502, 503 and
	// 504. Default [connect_failure, reset, timeout].
	On []string `yaml:"on"`
	// MaxBodyBytes is the largest request body kept for a retry after the
	// request was sent (default 64 KiB): a request with a larger body is
	// retried only before its first byte went out.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
}

// Direct is a response the gateway answers itself.
type Direct struct {
	Status  int               `yaml:"status"`
	Body    string            `yaml:"body"`
	Headers map[string]string `yaml:"headers"`
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration's text.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Line returns the line of the field at path ("routes[2].upstream") in the
// source, or 0 when unknown.
func (c *Config) Line(path string) int { return c.lines[path] }

// setDefaults fills zero values; it runs before decoding so that a value in
// the file overrides it.
func (c *Config) setDefaults() {
	c.Listeners = []Listener{{Address: "127.0.0.1:8080"}}
	c.Limits = Limits{
		MaxRequestLineBytes:  8 << 10,
		MaxHeadBytes:         32 << 10,
		MaxHeaders:           100,
		MaxBufferedBytes:     1 << 20,
		UnderscoresInHeaders: "drop",
	}
	c.Timeouts = Timeouts{
		ClientHeader:   10 * time.Second,
		ClientBody:     30 * time.Second,
		ClientIdle:     75 * time.Second,
		Connect:        3 * time.Second,
		UpstreamHeader: 30 * time.Second,
		UpstreamRead:   60 * time.Second,
		ClientSend:     60 * time.Second,
		Pending:        3 * time.Second,
		TunnelIdle:     5 * time.Minute,
		Drain:          15 * time.Second,
	}
	c.Forwarded = Forwarded{XForwardedFor: true, XForwardedProto: true, XForwardedHost: true, Via: true, ViaName: "hotpath"}
	c.Router = Router{TrailingSlash: "strict", PathNormalization: "reject"}
	c.setObservabilityDefaults()
	c.Cache.setDefaults()
	c.Etcd.setDefaults()
}

// defaulter is implemented by list elements that have defaults; the decoder
// calls it on each new element before decoding into it.
type defaulter interface{ setDefaults() }

func (u *Upstream) setDefaults() {
	u.Balancer = "round_robin"
	u.Pool = Pool{MaxIdle: 64, IdleTimeout: 60 * time.Second, MaxPending: 1024}
	u.Health.Passive = &PassiveHealth{}
	u.Health.Passive.setDefaults()
	u.RetryBudget = RetryBudget{Percent: 50, MinConcurrent: 10}
}

func (e *Endpoint) setDefaults() { e.Weight = 1 }

func (r *Route) setDefaults() {
	r.PreserveHost = true
	r.Upgrade = []string{"websocket"}
	r.Retry = Retry{Attempts: 2, On: []string{"connect_failure", "reset", "timeout"}, MaxBodyBytes: 64 << 10}
}

func (a *ActiveHealth) setDefaults() {
	a.Path = "/healthz"
	a.Interval = 5 * time.Second
	a.Timeout = time.Second
	a.HealthyThreshold = 2
	a.UnhealthyThreshold = 3
}

func (p *PassiveHealth) setDefaults() {
	p.ConsecutiveFailures = 3
	p.BaseEjection = 10 * time.Second
	p.MaxEjection = 5 * time.Minute
}

func (d *Direct) setDefaults() { d.Status = 200 }

func (l *Listener) setDefaults() {}

// EventLoops is the number of event loops: workers, else (the deprecated
// spelling) the first non-zero listeners[].workers, else 0 (one per core).
func (c *Config) EventLoops() int {
	if c.Workers > 0 {
		return c.Workers
	}
	for _, l := range c.Listeners {
		if l.Workers > 0 {
			return l.Workers
		}
	}
	return 0
}
