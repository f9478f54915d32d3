package config

import (
	"cmp"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Balancers lists the balancer names an upstream may use.
var Balancers = []string{"round_robin", "weighted_round_robin", "least_conn", "p2c", "p2c_ewma", "maglev", "ring_hash"}

// MaxPipeline caps upstreams[].pool.pipeline: more outstanding requests
// per connection only lengthen the queue a slow response blocks.
const MaxPipeline = 256

// reporter records a problem at a field path; the checks take one, and
// the problem is located at the field's line, or at its nearest
// ancestor's when the source leaves the field out (a required one).
type reporter func(path, format string, args ...any)

func (c *Config) validate() Errors {
	var errs Errors
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.Errorf(path, fmt.Sprintf(format, args...)))
	}

	c.validateListeners(bad)
	c.validateLimits(bad)
	names := c.validateUpstreams(bad) // upstream name -> index

	unroutable := map[int]bool{} // routes left out of validateRouteTable
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if !strings.HasPrefix(r.Path, "/") {
			bad(p+".path", "must start with '/', got %q", r.Path)
			unroutable[i] = true
		}
		for j, m := range r.Methods {
			if !isToken(m) || m != strings.ToUpper(m) {
				bad(fmt.Sprintf("%s.methods[%d]", p, j), "not an HTTP method: %q", m)
				unroutable[i] = true
			}
		}
		if r.Retry.Attempts < 0 {
			bad(p+".retry.attempts", "must be 0 (off) or positive, got %d", r.Retry.Attempts)
		}
		if r.Retry.MaxBodyBytes < 0 {
			bad(p+".retry.max_body_bytes", "must not be negative")
		}
		for j, on := range r.Retry.On {
			switch on {
			case "connect_failure", "reset", "timeout", "502", "503", "504":
			default:
				bad(fmt.Sprintf("%s.retry.on[%d]", p, j), "want connect_failure, reset, timeout, 502, 503 or 504, got %q", on)
			}
		}
		switch {
		case r.Aggregate != nil:
			c.validateAggregate(i, &c.Routes[i], names, bad)
		case r.Upstream == "" && r.Direct == nil:
			bad(p, "needs upstream, direct or aggregate")
		case r.Upstream != "" && r.Direct != nil:
			bad(p+".direct", "a route has either upstream or direct, not both")
		case r.Upstream != "":
			if _, ok := names[r.Upstream]; !ok {
				bad(p+".upstream", "unknown upstream %q", r.Upstream)
			}
		}
		switch r.Protocol {
		case "":
		case "grpc":
			if j, ok := names[r.Upstream]; !ok || r.Upstream == "" {
				bad(p+".protocol", "grpc needs an upstream (with protocol h2c or h2)")
			} else if up := c.Upstreams[j].Protocol; up != "h2c" && up != "h2" {
				bad(p+".protocol", "grpc needs HTTP/2 to the upstream: upstream %q has protocol %q (set h2c or h2)", r.Upstream, cmp.Or(up, "http1"))
			}
		default:
			bad(p+".protocol", "unknown protocol %q (want grpc, or leave it out)", r.Protocol)
		}
		if d := r.Direct; d != nil {
			if d.Status < 200 || d.Status > 599 {
				bad(p+".direct.status", "must be 200..599, got %d", d.Status)
			}
			for k, v := range d.Headers {
				if !isToken(k) {
					bad(p+".direct.headers."+k, "not a header name")
				}
				if strings.ContainsAny(v, "\r\n") {
					bad(p+".direct.headers."+k, "value must not contain CR or LF")
				}
				switch strings.ToLower(k) {
				case "content-length", "transfer-encoding", "connection":
					bad(p+".direct.headers."+k, "is set by the gateway")
				}
			}
		}
		if r.StripPrefix != "" && !strings.HasPrefix(r.StripPrefix, "/") {
			bad(p+".strip_prefix", "must start with '/', got %q", r.StripPrefix)
		}
		if r.Rewrite != "" && !strings.HasPrefix(r.Rewrite, "/") {
			bad(p+".rewrite", "must start with '/', got %q", r.Rewrite)
		}
		if r.Rewrite != "" && r.StripPrefix != "" {
			bad(p+".rewrite", "use either strip_prefix or rewrite, not both")
		}
		seenProto := map[string]int{}
		for j, proto := range r.Upgrade {
			pp := fmt.Sprintf("%s.upgrade[%d]", p, j)
			name := strings.ToLower(proto)
			switch {
			case !isToken(proto):
				bad(pp, "not a protocol name (a token such as websocket): %q", proto)
			case name == "h2c":
				bad(pp, "h2c cannot be tunnelled: HTTP/2 over cleartext upgrades the connection the gateway itself speaks HTTP/1.1 on")
			default:
				if k, dup := seenProto[name]; dup {
					bad(pp, "duplicate protocol %q (also upgrade[%d])", proto, k)
				}
				seenProto[name] = j
			}
		}
		if strings.ContainsAny(r.HostRewrite, " \t\r\n/") {
			bad(p+".host_rewrite", "not a host: %q", r.HostRewrite)
		}
	}
	c.validateRouteTable(unroutable, bad)
	c.validateObservability(bad)
	c.validateTLS(bad)
	c.validateFleet(bad)
	c.validateAuth(bad)
	c.validatePolicies(bad)
	c.validateEdge(bad)
	return errs
}

// validateListeners checks workers and the listeners: addresses, protocols,
// HTTP/2 limits and the one worker count they share.
func (c *Config) validateListeners(bad reporter) {
	if len(c.Listeners) == 0 {
		bad("listeners", "at least one listener is required")
	}
	if c.Workers < 0 {
		bad("workers", "must be 0 (one per core) or more")
	}
	listenAt := map[string]int{}
	workersAt := -1 // the first listener that sets workers
	for i, l := range c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if err := checkHostPort(l.Address); err != nil {
			bad(p+".address", "%v", err)
		} else if !strings.HasSuffix(l.Address, ":0") {
			// With SO_REUSEPORT a second bind of the same address would
			// succeed silently and split its connections.
			if j, dup := listenAt[l.Address]; dup {
				bad(p+".address", "duplicate listener %q (also listeners[%d])", l.Address, j)
			}
			listenAt[l.Address] = i
		}
		for j, proto := range l.Protocols {
			if proto != "http1" && proto != "h2c" {
				bad(fmt.Sprintf("%s.protocols[%d]", p, j), "want http1 or h2c, got %q", proto)
			}
		}
		h := l.HTTP2
		for _, f := range []struct {
			name string
			v    int64
		}{
			{"max_concurrent_streams", int64(h.MaxConcurrentStreams)}, {"max_header_list_bytes", int64(h.MaxHeaderListBytes)},
			{"max_headers", int64(h.MaxHeaders)}, {"max_header_block_bytes", int64(h.MaxHeaderBlockBytes)},
			{"header_table_bytes", int64(h.HeaderTableBytes)}, {"stream_window_bytes", int64(h.StreamWindowBytes)},
			{"connection_window_bytes", int64(h.ConnectionWindowBytes)}, {"max_premature_resets", int64(h.MaxPrematureResets)},
			{"max_control_frames", int64(h.MaxControlFrames)}, {"control_frames_per_second", int64(h.ControlFramesPerSecond)},
		} {
			if f.v < 0 {
				bad(p+".http2."+f.name, "must not be negative")
			}
		}
		if mf := h.MaxFrameBytes; mf != 0 && (mf < 16384 || mf > 1<<24-1) {
			bad(p+".http2.max_frame_bytes", "want 16384 to 16777215 (RFC 9113 §6.5.2), got %d", mf)
		}
		if w := h.StreamWindowBytes; w > 1<<31-1 {
			bad(p+".http2.stream_window_bytes", "must be at most 2147483647 (RFC 9113 §6.9.1)")
		}
		if w := h.ConnectionWindowBytes; w > 1<<31-1 {
			bad(p+".http2.connection_window_bytes", "must be at most 2147483647 (RFC 9113 §6.9.1)")
		}
		switch {
		case l.Workers < 0:
			bad(p+".workers", "must be 0 (one per core) or more")
		case l.Workers == 0:
		case c.Workers > 0 && l.Workers != c.Workers:
			bad(p+".workers", "is %d but workers is %d; all listeners share the event loops (set the top-level workers only)", l.Workers, c.Workers)
		case workersAt < 0:
			workersAt = i
		case l.Workers != c.Listeners[workersAt].Workers:
			// Every event loop accepts on every listener: there is one
			// worker count for all of them.
			bad(p+".workers", "is %d but listeners[%d].workers is %d; all listeners share the event loops (set it once, or equal everywhere)",
				l.Workers, workersAt, c.Listeners[workersAt].Workers)
		}
	}
}

// validateLimits checks the limits, timeouts, forwarded and router
// sections.
func (c *Config) validateLimits(bad reporter) {
	positive := positiveCheck(bad)
	positive("limits.max_request_line_bytes", int(c.Limits.MaxRequestLineBytes))
	positive("limits.max_head_bytes", int(c.Limits.MaxHeadBytes))
	positive("limits.max_headers", c.Limits.MaxHeaders)
	switch c.Limits.UnderscoresInHeaders {
	case "drop", "reject", "forward":
	default:
		bad("limits.underscores_in_headers", "want drop, reject or forward, got %q", c.Limits.UnderscoresInHeaders)
	}
	if c.Limits.MaxConnections < 0 {
		bad("limits.max_connections", "must be 0 (derived from the open-file limit) or positive, got %d", c.Limits.MaxConnections)
	}
	if c.Limits.MaxBufferedBytes < 64<<10 {
		bad("limits.max_buffered_bytes", "must be at least 65536 (64 KiB), got %d", c.Limits.MaxBufferedBytes)
	}
	for _, t := range []struct {
		path string
		set  bool
	}{
		{"timeouts.client_header", c.Timeouts.ClientHeader > 0},
		{"timeouts.client_body", c.Timeouts.ClientBody > 0},
		{"timeouts.client_idle", c.Timeouts.ClientIdle > 0},
		{"timeouts.connect", c.Timeouts.Connect > 0},
		{"timeouts.upstream_header", c.Timeouts.UpstreamHeader > 0},
		{"timeouts.upstream_read", c.Timeouts.UpstreamRead > 0},
		{"timeouts.client_send", c.Timeouts.ClientSend > 0},
		{"timeouts.pending", c.Timeouts.Pending > 0},
		{"timeouts.tunnel_idle", c.Timeouts.TunnelIdle > 0},
	} {
		if !t.set {
			bad(t.path, "must be positive")
		}
	}
	if !isToken(c.Forwarded.ViaName) {
		bad("forwarded.via_name", "must be a token (letters, digits, -._~), got %q", c.Forwarded.ViaName)
	}
	switch c.Router.TrailingSlash {
	case "strict", "redirect", "ignore":
	default:
		bad("router.trailing_slash", "want strict, redirect or ignore, got %q", c.Router.TrailingSlash)
	}
	switch c.Router.PathNormalization {
	case "reject", "decode", "keep":
	default:
		bad("router.path_normalization", "want reject, decode or keep, got %q", c.Router.PathNormalization)
	}
}

// validateUpstreams checks each upstream (name, endpoints, balancer, pool,
// health, retry budget) and returns the upstreams by name.
// validateUpstreamProtocol checks upstreams[].protocol (engine/up2.go).
func (c *Config) validateUpstreamProtocol(p string, u Upstream, bad reporter) {
	switch u.Protocol {
	case "", "http1":
	case "h2c":
		if u.TLS != nil {
			bad(p+".protocol", "h2c is HTTP/2 over cleartext TCP, but the upstream has a tls section: use protocol h2 (HTTP/2 over TLS)")
		}
	case "h2":
		if u.TLS == nil {
			bad(p+".protocol", "h2 is HTTP/2 over TLS (ALPN h2) and needs a tls section (tls: {} for the defaults); use h2c for cleartext HTTP/2")
		}
	default:
		bad(p+".protocol", "unknown protocol %q (want http1, h2c or h2)", u.Protocol)
	}
	if (u.Protocol == "h2c" || u.Protocol == "h2") && u.Pool.Pipeline > 1 {
		bad(p+".pool.pipeline", "is for HTTP/1.1 upstreams; protocol %s multiplexes requests already (set 0)", u.Protocol)
	}
}

func (c *Config) validateUpstreams(bad reporter) map[string]int {
	positive := positiveCheck(bad)
	names := map[string]int{}
	for i, u := range c.Upstreams {
		p := fmt.Sprintf("upstreams[%d]", i)
		switch {
		case u.Name == "":
			bad(p+".name", "is required")
		default:
			if j, dup := names[u.Name]; dup {
				bad(p+".name", "duplicate upstream %q (also upstreams[%d])", u.Name, j)
			}
			names[u.Name] = i
		}
		if len(u.Endpoints) == 0 && u.Discovery == nil {
			bad(p+".endpoints", "at least one endpoint is required (or discovery)")
		}
		for j, e := range u.Endpoints {
			ep := fmt.Sprintf("%s.endpoints[%d]", p, j)
			if err := checkHostPort(e.Address); err != nil {
				bad(ep+".address", "%v", err)
			}
			if e.Weight < 1 {
				bad(ep+".weight", "must be 1 or more, got %d", e.Weight)
			}
		}
		if !contains(Balancers, u.Balancer) {
			bad(p+".balancer", "unknown balancer %q (want one of %s)", u.Balancer, strings.Join(Balancers, ", "))
		}
		if u.HashKey != "" {
			if _, _, err := ParseHashKey(u.HashKey); err != nil {
				bad(p+".hash_key", "%v", err)
			}
		} else if u.Balancer == "maglev" || u.Balancer == "ring_hash" {
			bad(p+".hash_key", "is required by balancer %s (%s)", u.Balancer, hashKeyKinds.want())
		}
		if u.Pool.MaxIdle < 0 {
			bad(p+".pool.max_idle", "must not be negative")
		}
		if u.Pool.MaxConns < 0 {
			bad(p+".pool.max_conns", "must not be negative")
		}
		if u.Pool.MaxPending < 0 {
			bad(p+".pool.max_pending", "must not be negative")
		}
		if u.Pool.Pipeline < 0 || u.Pool.Pipeline > MaxPipeline {
			bad(p+".pool.pipeline", "must be between 0 and %d, got %d", MaxPipeline, u.Pool.Pipeline)
		}
		c.validateUpstreamProtocol(p, u, bad)
		if u.Pool.MaxRequests < 0 {
			bad(p+".pool.max_requests", "must not be negative")
		}
		if u.Pool.IdleTimeout <= 0 {
			bad(p+".pool.idle_timeout", "must be positive")
		}
		if a := u.Health.Active; a != nil {
			hp := p + ".health.active"
			switch {
			case a.GRPC != nil:
				if u.Protocol != "h2c" && u.Protocol != "h2" {
					bad(hp+".grpc", "the gRPC health protocol needs HTTP/2: set the upstream's protocol to h2c or h2")
				}
			case !strings.HasPrefix(a.Path, "/"):
				bad(hp+".path", "must start with '/', got %q", a.Path)
			}
			if a.Interval <= 0 {
				bad(hp+".interval", "must be positive")
			}
			if a.Timeout <= 0 {
				bad(hp+".timeout", "must be positive")
			} else if a.Interval > 0 && a.Timeout > a.Interval {
				bad(hp+".timeout", "must not exceed interval (%v)", a.Interval)
			}
			positive(hp+".healthy_threshold", a.HealthyThreshold)
			positive(hp+".unhealthy_threshold", a.UnhealthyThreshold)
		}
		if ph := u.Health.Passive; ph != nil {
			pp := p + ".health.passive"
			if ph.ConsecutiveFailures < 0 {
				bad(pp+".consecutive_failures", "must be 0 (off) or positive, got %d", ph.ConsecutiveFailures)
			}
			if ph.BaseEjection <= 0 {
				bad(pp+".base_ejection", "must be positive")
			}
			if ph.MaxEjection < ph.BaseEjection {
				bad(pp+".max_ejection", "must be at least base_ejection (%v)", ph.BaseEjection)
			}
		}
		if u.SlowStart < 0 {
			bad(p+".slow_start", "must not be negative")
		}
		if b := u.RetryBudget; b.Percent < 0 || b.Percent > 100 {
			bad(p+".retry_budget.percent", "want 0 to 100, got %d", b.Percent)
		}
		if u.RetryBudget.MinConcurrent < 0 {
			bad(p+".retry_budget.min_concurrent", "must not be negative")
		}
	}
	return names
}

// positiveCheck returns a check that reports a value that is not positive.
func positiveCheck(bad reporter) func(path string, v int) {
	return func(path string, v int) {
		if v <= 0 {
			bad(path, "must be positive")
		}
	}
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port in %q", addr)
	}
	_ = host // "" (all interfaces), a name or an IP: all fine
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
