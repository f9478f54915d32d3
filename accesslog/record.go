package accesslog

import (
	"net/netip"
	"time"
)

// CacheStatus is the response cache's part in a request.
type CacheStatus uint8

// Cache statuses; the zero value is CacheNone ("-").
const (
	CacheNone CacheStatus = iota
	CacheHit
	CacheMiss
	CacheStale
)

var cacheText = [...]string{"-", "HIT", "MISS", "STALE"}

// LimiterResult is the rate limiter's decision on a request.
type LimiterResult uint8

// Limiter results; the zero value is LimiterNone ("-", no limiter on the
// route).
const (
	LimiterNone LimiterResult = iota
	LimiterAllowed
	LimiterRejected
	LimiterShadow // over the limit, let through because the limiter is in shadow mode
)

var limiterText = [...]string{"-", "allowed", "rejected", "shadow"}

// Reason says why the gateway answered a request itself, or why an
// exchange with the upstream failed, like Envoy's response flags. The
// engine sets it where it decides; the zero value (no reason) leaves the
// field out.
type Reason uint8

// Reasons.
const (
	ReasonNone Reason = iota
	// The upstream side.
	ReasonConnectFailure        // 502: the dial was refused or failed
	ReasonConnectTimeout        // 504: no connection within timeouts.connect
	ReasonUpstreamReset         // 502 (or a cut response): the upstream closed or reset the connection
	ReasonUpstreamHeaderTimeout // 504: no response head within timeouts.upstream_header
	ReasonUpstreamReadTimeout   // the upstream went quiet mid-body (timeouts.upstream_read)
	ReasonUpstreamBadResponse   // 502: the response head or its framing did not parse
	ReasonNoHealthyEndpoint     // 503: every endpoint ejected or down
	ReasonPoolExhausted         // 503: max_conns busy and the pending queue full, or waited past timeouts.pending
	ReasonShuttingDown          // 503: the gateway is draining
	// The client side: the parser's refusals, by kind.
	ReasonClientTimeout       // 408: the head or body did not arrive in time
	ReasonBadRequest          // 400: a malformed request line or field
	ReasonAmbiguousFraming    // 400: Content-Length with Transfer-Encoding, duplicate Content-Length
	ReasonInvalidChunked      // 400: malformed chunked body
	ReasonBadPath             // 400: a path that cannot be routed (router.path_normalization)
	ReasonUnderscoreHeader    // 400: an underscore in a field name (limits.underscores_in_headers: reject)
	ReasonBodyTooLarge        // 413: the parser's body limit
	ReasonURITooLong          // 414
	ReasonHeadersTooLarge     // 431
	ReasonNotImplemented      // 501: an unknown transfer coding
	ReasonVersionNotSupported // 505
	// Routing and route policies.
	ReasonNoRoute            // 404
	ReasonMethodNotAllowed   // 405
	ReasonRateLimited        // 429: the route's rate limit
	ReasonMaxInFlight        // 503: the route's max_in_flight
	ReasonAuthMissing        // 401: no credential
	ReasonAuthInvalid        // 401: a bad, expired or unknown credential
	ReasonAuthForbidden      // 403: a valid credential without a required claim
	ReasonAuthBusy           // 503: the basic-auth verifier pool was full
	ReasonClientCert         // 403: client_cert.required without a verified certificate
	ReasonIPFilter           // 403: an ip_filter refuses the client address
	ReasonMaxBody            // 413: the route's max_body
	ReasonCORSRefused        // 403: a CORS preflight the route's cors refuses
	ReasonOnlyIfCached       // 504: Cache-Control only-if-cached and nothing cached
	ReasonAggregateSaturated // 503: the aggregate route's max_concurrent
	ReasonNoHost             // 400: https_redirect without a Host
	ReasonLocal              // any other response the gateway generated with status >= 400
	numReasons
)

var reasonText = [numReasons]string{
	ReasonConnectFailure: "connect_failure", ReasonConnectTimeout: "connect_timeout",
	ReasonUpstreamReset: "upstream_reset", ReasonUpstreamHeaderTimeout: "upstream_header_timeout",
	ReasonUpstreamReadTimeout: "upstream_read_timeout", ReasonUpstreamBadResponse: "upstream_bad_response",
	ReasonNoHealthyEndpoint: "no_healthy_endpoint", ReasonPoolExhausted: "pool_exhausted",
	ReasonShuttingDown: "shutting_down", ReasonClientTimeout: "client_timeout",
	ReasonBadRequest: "bad_request", ReasonAmbiguousFraming: "ambiguous_framing",
	ReasonInvalidChunked: "invalid_chunked", ReasonBadPath: "bad_path",
	ReasonUnderscoreHeader: "underscore_header", ReasonBodyTooLarge: "body_too_large",
	ReasonURITooLong: "uri_too_long", ReasonHeadersTooLarge: "headers_too_large",
	ReasonNotImplemented: "not_implemented", ReasonVersionNotSupported: "version_not_supported",
	ReasonNoRoute: "no_route", ReasonMethodNotAllowed: "method_not_allowed",
	ReasonRateLimited: "rate_limited", ReasonMaxInFlight: "max_in_flight",
	ReasonAuthMissing: "auth_missing", ReasonAuthInvalid: "auth_invalid",
	ReasonAuthForbidden: "auth_forbidden", ReasonAuthBusy: "auth_busy",
	ReasonClientCert: "client_cert", ReasonIPFilter: "ip_filter", ReasonMaxBody: "max_body",
	ReasonCORSRefused: "cors_refused", ReasonOnlyIfCached: "only_if_cached",
	ReasonAggregateSaturated: "aggregate_saturated", ReasonNoHost: "no_host", ReasonLocal: "local",
}

// String returns the reason as the log writes it ("" for ReasonNone).
func (r Reason) String() string {
	if r >= numReasons {
		return ""
	}
	return reasonText[r]
}

// Record is one request as the engine saw it. The []byte fields are views
// (typically into the connection's read buffer); Append copies what it
// needs, so they only have to stay valid during the call.
type Record struct {
	// Time is when the request's first byte arrived, in Unix nanoseconds of
	// the loop clock.
	Time   int64
	Client netip.AddrPort
	// ClientIP is the client address resolved through trusted_proxies
	// (the peer's address when the peer is not a trusted proxy); the zero
	// Addr leaves the field out.
	ClientIP netip.Addr
	Method   []byte
	Host     []byte
	Path     []byte // the request-target's path; a "?query" in it is split off when Query is nil
	Query    []byte // without the '?'
	Protocol []byte // "HTTP/1.1"
	Status   int
	// BytesSent and BytesReceived count the response and request bytes on
	// the client connection, heads included.
	BytesSent, BytesReceived int64
	// Duration is from Time to the last response byte written.
	Duration time.Duration
	// Upstream is the endpoint address ("10.0.1.2:8080"); empty when no
	// upstream was involved (cache hit, direct response, rejection).
	Upstream         string
	UpstreamDuration time.Duration
	Cache            CacheStatus
	Limiter          LimiterResult
	Route            string
	UserAgent        []byte
	RequestID        []byte
	// Reason is why the gateway answered itself or the upstream failed.
	Reason Reason
}
