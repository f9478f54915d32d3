package bench

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Scenario is one workload: how the upstream answers, what every contender
// is configured to do, and how hotload drives it.
type Scenario struct {
	Name string
	// Desc says in one line what the scenario measures (it heads its table).
	Desc string
	// Echo are hotecho flags besides -addr.
	Echo []string
	// Load are hotload flags besides -c, -t, -d, --json and the target.
	Load []string
	// Headers are sent with every request (and with the probe); each is
	// also passed to hotload as -H.
	Headers []string
	Features
	// Routes, when above 0, configures that many exact-path routes and
	// spreads the requests over all of them (hotload --targets).
	Routes int
	// Unique makes every request of a run ask for a URL no other request
	// of the bench asked for (a distinct query string, through hotload
	// --targets): every cache lookup misses.
	Unique bool
	// Expect are the statuses that count as answers; any other status is
	// an error. Nil means 200–399.
	Expect []int
	// Probe checks one response of a contender before it is measured, so
	// that a config that silently does something else (no compression, say)
	// is caught. Nil checks for a status in Expect.
	Probe func(*http.Response) error
	// TLS terminates the client connections (tls.go): every contender
	// serves one ECDSA P-256 certificate, TLS 1.3 with X25519 only.
	TLS bool
	// H2C has the clients speak HTTP/2 in cleartext with prior knowledge
	// (hotload --h2); the upstream stays HTTP/1.1 keep-alive.
	H2C bool
	// Idle makes the scenario a memory measurement instead of a load run
	// (idle.go): Options.IdleConns client connections, each after one
	// proxied request, held open; the figure is the server's RSS growth
	// per connection.
	Idle bool
	// Body, when set, makes every request a POST with this body (hotload
	// --body-file; the probe sends it too).
	Body []byte
	// Path is the request target ("" means /bench).
	Path string
	// Stream makes the load one bidirectional gRPC stream
	// (bench/cmd/grpcstream, built by make bench into the bin directory)
	// to hotecho --grpc's echo stream, instead of hotload: requests are
	// messages, latency is each message's round trip. The probe is the
	// scenario's own request (Path, Body, Headers).
	Stream bool
}

// grpcHealthCall completes a gRPC scenario: hotecho --grpc behind HTTP/2
// on both sides, requests (or the probe) calling grpc.health.v1.Health/Check
// with the 5-byte empty message, which must succeed.
func grpcHealthCall(s Scenario) Scenario {
	s.Echo = []string{"--grpc"}
	s.Headers = []string{"Content-Type: application/grpc", "TE: trailers"}
	s.H2C = true
	s.Body = []byte{0, 0, 0, 0, 0}
	s.Path = "/grpc.health.v1.Health/Check"
	s.Features = Features{GRPC: true}
	s.Probe = grpcOK
	return s
}

// grpcOK checks that a gRPC call succeeded (grpc-status 0).
func grpcOK(resp *http.Response) error {
	_, _ = io.Copy(io.Discard, resp.Body)
	if st := resp.Trailer.Get("Grpc-Status") + resp.Header.Get("Grpc-Status"); st != "0" {
		return fmt.Errorf("grpc-status %q, want 0", st)
	}
	return nil
}

// path is the request target of s.
func (s *Scenario) path() string {
	if s.Path == "" {
		return "/bench"
	}
	return s.Path
}

// Features are the per-route policies a scenario switches on. The zero value
// is plain proxying.
type Features struct {
	Cache     bool       // cache responses for 60 s
	RateLimit *RateLimit // limit requests per client IP
	Gzip      *Gzip      // compress responses
	// UpstreamPipeline is hotpath's pool.pipeline: requests of different
	// clients share an upstream connection, their heads written together.
	// nginx and HAProxy have no equivalent and run their plain config.
	UpstreamPipeline int
	// UpstreamH2C is hotpath's upstreams[].protocol h2c: every client's
	// requests multiplexed onto an HTTP/2 connection to hotecho --h2c.
	// nginx and HAProxy run their HTTP/1.1 keep-alive config (their best).
	UpstreamH2C bool
	// GRPC: the upstream is a gRPC server (hotecho --grpc) and every
	// contender speaks HTTP/2 to it (hotpath protocol h2c, nginx
	// grpc_pass, HAProxy proto h2).
	GRPC bool
	// AccessLog writes a line per request to a file in the contender's
	// directory (hotpath access_log.path, nginx access_log, HAProxy's
	// httplog to stdout, which the harness sends to a file).
	AccessLog bool
	// The rest are hotpath's only; the peers run their plain config.
	MetricsOff bool // metrics.enabled: false
	RequestID  bool // request_id: true on the route
	HeaderRule bool // one request header set on the route
	APIKey     bool // auth.api_key with benchAPIKey (the load sends it)
	JWT        bool // auth.jwt, HS256 with benchJWTSecret (the load sends a token)
}

// RateLimit is a per-client-IP token bucket.
type RateLimit struct {
	Rate  int // requests per second
	Burst int // requests above the rate allowed at once
}

// Gzip is response compression.
type Gzip struct {
	MinLength int // bytes; smaller bodies pass uncompressed
	Level     int // 1..9
}

// any reports whether f asks for anything beyond proxying.
func (f Features) any() bool { return f.names() != "" }

// names lists the features switched on, for messages.
func (f Features) names() string {
	var s []string
	if f.Cache {
		s = append(s, "cache")
	}
	if f.RateLimit != nil {
		s = append(s, "rate_limit")
	}
	if f.Gzip != nil {
		s = append(s, "compression")
	}
	if f.UpstreamPipeline > 0 {
		s = append(s, "pool.pipeline")
	}
	if f.UpstreamH2C {
		s = append(s, "upstream protocol h2c")
	}
	if f.GRPC {
		s = append(s, "gRPC upstream")
	}
	for _, o := range []struct {
		on   bool
		name string
	}{{f.AccessLog, "access_log"}, {f.MetricsOff, "metrics off"}, {f.RequestID, "request_id"},
		{f.HeaderRule, "headers"}, {f.APIKey, "auth.api_key"}, {f.JWT, "auth.jwt"}} {
		if o.on {
			s = append(s, o.name)
		}
	}
	return strings.Join(s, ", ")
}

// ok reports whether status counts as an answer in s.
func (s *Scenario) ok(status int) bool {
	if s.Expect == nil {
		return status >= 200 && status < 400
	}
	return slices.Contains(s.Expect, status)
}

// probe checks resp with s.Probe, or its status against s.Expect.
func (s *Scenario) probe(resp *http.Response) error {
	if !s.ok(resp.StatusCode) {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if s.Probe != nil {
		return s.Probe(resp)
	}
	return nil
}

// Size of the bodies of the 16 KiB scenarios.
const bigBody = 16 << 10

// manyRoutes is the number of routes of the many_routes scenario.
const manyRoutes = 10000

// Scenarios returns every scenario in the order they run.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name: "passthrough_small",
			Desc: "13-byte body from hotecho, keep-alive on both sides",
		},
		{
			Name: "passthrough_16k",
			Desc: "16 KiB body from hotecho, keep-alive on both sides",
			Echo: []string{"--size", fmt.Sprint(bigBody)},
		},
		{
			Name: "keepalive_off",
			Desc: "a new client connection for every request (hotload --no-keepalive); upstream keep-alive stays on",
			Load: []string{"--no-keepalive"},
		},
		{
			Name: "pipelined",
			Desc: "16 requests in flight per client connection (hotload -p 16)",
			Load: []string{"-p", "16"},
		},
		{
			Name:     "upstream_pipeline",
			Desc:     "passthrough_small, but hotpath pipelines up to 16 requests of different clients on one upstream connection (pool.pipeline: 16, off by default and hotpath-only: nginx and HAProxy run their passthrough config)",
			Features: Features{UpstreamPipeline: 16},
		},
		{
			Name:     "cache_hit",
			Desc:     "every request a cache hit (13-byte body cached for 60 s); the upstream CPU note shows whether the upstream was spared",
			Features: Features{Cache: true},
		},
		{
			Name:     "rate_limited",
			Desc:     "per-client-IP rate limit far above the offered load (1 000 000/s, burst 1000): the limiter's cost",
			Features: Features{RateLimit: &RateLimit{Rate: 1000000, Burst: 1000}},
		},
		{
			Name:     "rate_limit_reject",
			Desc:     "per-client-IP limit of 1000/s (burst 100), far below the offered load: the cost of answering 429",
			Features: Features{RateLimit: &RateLimit{Rate: 1000, Burst: 100}},
			Expect:   []int{200, 429},
		},
		{
			Name:     "gzip",
			Desc:     "16 KiB compressible body gzipped by the proxy (level 5 where settable; Accept-Encoding: gzip)",
			Echo:     []string{"--size", fmt.Sprint(bigBody)},
			Headers:  []string{"Accept-Encoding: gzip"},
			Features: Features{Gzip: &Gzip{MinLength: 1024, Level: 5}},
			Probe: func(resp *http.Response) error {
				if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
					return fmt.Errorf("response not gzipped (Content-Encoding %q)", ce)
				}
				return nil
			},
		},
		{
			Name:   "many_routes",
			Desc:   fmt.Sprintf("%d exact-path routes in the config, requests spread over all of them", manyRoutes),
			Routes: manyRoutes,
		},
		{
			Name: "h2_small",
			Desc: "passthrough_small from HTTP/2 clients (h2c with prior knowledge, 10 streams in flight per connection), HTTP/1.1 keep-alive upstream (goal: CPU per request below HAProxy's)",
			Load: []string{"--h2", "-p", "10"},
			H2C:  true,
		},
		{
			Name:     "passthrough_small_h2up",
			Desc:     "passthrough_small with hotpath's upstream over HTTP/2 (protocol h2c to hotecho --h2c: all clients' requests multiplexed on one connection); nginx and HAProxy on their HTTP/1.1 keep-alive upstream (goal: CPU per request at most 0.67x nginx's)",
			Echo:     []string{"--h2c"},
			Features: Features{UpstreamH2C: true},
		},
		grpcHealthCall(Scenario{
			Name: "grpc_unary",
			Desc: "gRPC unary calls (grpc.health.v1.Health/Check, the 5-byte empty message) from h2c clients, 10 in flight per connection, to grpc-go's health service; HTTP/2 on both sides for every contender (goal: CPU per call at most HAProxy's)",
			Load: []string{"--h2", "-p", "10", "-m", "POST"},
		}),
		grpcHealthCall(Scenario{
			Name:   "grpc_stream",
			Desc:   "messages through one bidirectional gRPC stream (bench/cmd/grpcstream: 100 32-byte messages in flight, echoed by grpc-go behind the proxy), HTTP/2 on both sides for every contender; req/s and CPU/req are per message, latency is a message's round trip (issue 14: report)",
			Stream: true, // the health call is the probe only
		}),
		{
			Name: "idle_conns",
			Desc: "memory per idle keep-alive client connection: N connections (-idle-conns, 10 000), one proxied request each, then held idle; the server's RSS growth divided by N (goal: at most 1 KB, below HAProxy)",
			Idle: true,
		},
		{
			Name: "tls_keepalive",
			Desc: "passthrough_small over kept-alive TLS connections (TLS 1.3, ECDSA P-256, X25519; goal: CPU per request at most nginx's)",
			Load: tlsLoad,
			TLS:  true,
		},
		{
			Name: "tls_handshake",
			Desc: "a new TLS connection per request, no resumption: CPU per request is CPU per full handshake (goal: handshakes per CPU-second at least 0.8x nginx's)",
			Load: append([]string{"--no-keepalive"}, tlsLoad...),
			TLS:  true,
		},
		{
			Name: "tls_resume",
			Desc: "a new TLS connection per request resuming a session (tickets): CPU per resumed handshake",
			Load: append([]string{"--no-keepalive", "--tls-resume"}, tlsLoad...),
			TLS:  true,
		},
	}
}

// selectScenarios returns the scenarios named in names (all when empty), in
// their usual order.
func selectScenarios(names []string) ([]Scenario, error) {
	all := Scenarios()
	if len(names) == 0 {
		return all, nil
	}
	var out []Scenario
	for _, n := range names {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("bench: unknown scenario %q (known: %s)", n, scenarioNames(all))
		}
		out = append(out, all[i])
	}
	slices.SortStableFunc(out, func(a, b Scenario) int {
		return slices.IndexFunc(all, func(s Scenario) bool { return s.Name == a.Name }) -
			slices.IndexFunc(all, func(s Scenario) bool { return s.Name == b.Name })
	})
	return slices.CompactFunc(out, func(a, b Scenario) bool { return a.Name == b.Name }), nil
}

func scenarioNames(ss []Scenario) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// routePath is the path of route i in many_routes.
func routePath(i int) string { return fmt.Sprintf("/svc/%d/items", i) }
