package metrics

// classLabels name the slots of codes outside the IANA registry, by class
// (codes.go).
var classLabels = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Reason is why the request parser refused a request: the statuses of
// RFC 9110/9112 the gateway answers with, plus a few named causes that
// operators want to tell apart from a generic 400.
type Reason uint8

// Reasons. The zero value is ReasonBadRequest.
const (
	ReasonBadRequest       Reason = iota // 400: malformed request line or header field
	ReasonRequestTimeout                 // 408: the head or body did not arrive in time
	ReasonBodyTooLarge                   // 413: Content-Length or body above the limit
	ReasonURITooLong                     // 414: request line above the limit
	ReasonHeadersTooLarge                // 431: head or field count above the limit
	ReasonNotImplemented                 // 501: unknown transfer coding
	ReasonVersion                        // 505: HTTP version other than 1.0 and 1.1
	ReasonAmbiguousFraming               // 400: Content-Length with Transfer-Encoding, duplicate Content-Length
	ReasonInvalidChunked                 // 400: malformed chunk size, extension or CRLF
	ReasonHTTP2Preface                   // HTTP/2 preface on an HTTP/1.1 listener; closed without answer
	ReasonBadPath                        // 400: a path that cannot be routed (dot segment, encoded '/' under path_normalization: reject, ...)
	numReasons
)

var reasonLabels = [numReasons]string{
	ReasonBadRequest:       "bad_request",
	ReasonRequestTimeout:   "request_timeout",
	ReasonBodyTooLarge:     "body_too_large",
	ReasonURITooLong:       "uri_too_long",
	ReasonHeadersTooLarge:  "headers_too_large",
	ReasonNotImplemented:   "not_implemented",
	ReasonVersion:          "version_not_supported",
	ReasonAmbiguousFraming: "ambiguous_framing",
	ReasonInvalidChunked:   "invalid_chunked",
	ReasonHTTP2Preface:     "http2_preface",
	ReasonBadPath:          "bad_path",
}

var reasonStatus = [numReasons]int{
	ReasonBadRequest:       400,
	ReasonRequestTimeout:   408,
	ReasonBodyTooLarge:     413,
	ReasonURITooLong:       414,
	ReasonHeadersTooLarge:  431,
	ReasonNotImplemented:   501,
	ReasonVersion:          505,
	ReasonAmbiguousFraming: 400,
	ReasonInvalidChunked:   400,
	ReasonHTTP2Preface:     0,
	ReasonBadPath:          400,
}

// String returns the reason's label value, e.g. "uri_too_long".
func (r Reason) String() string {
	if r >= numReasons {
		return "unknown"
	}
	return reasonLabels[r]
}

// Status returns the HTTP status the gateway answers for r, or 0 when it
// closes the connection without an answer.
func (r Reason) Status() int {
	if r >= numReasons {
		return 400
	}
	return reasonStatus[r]
}

// ReasonForStatus maps a rejection status (as returned by parser.Status) to
// its generic Reason. Callers that know a more precise cause (framing,
// chunked, HTTP/2 preface) pass that Reason instead.
func ReasonForStatus(status int) Reason {
	switch status {
	case 408:
		return ReasonRequestTimeout
	case 413:
		return ReasonBodyTooLarge
	case 414:
		return ReasonURITooLong
	case 431:
		return ReasonHeadersTooLarge
	case 501:
		return ReasonNotImplemented
	case 505:
		return ReasonVersion
	}
	return ReasonBadRequest
}

// ErrorClass is the kind of upstream failure counted by Shard.UpstreamError
// (label "kind").
type ErrorClass uint8

// Upstream error classes.
const (
	ErrorConnect           ErrorClass = iota // dial refused, unreachable or failed
	ErrorTimeout                             // connect, header or read timeout
	ErrorReset                               // connection reset or closed mid-exchange
	ErrorBadResponse                         // the response head or framing failed to parse
	ErrorPoolExhausted                       // max_conns reached: no connection to send on
	ErrorNoHealthyEndpoint                   // every endpoint ejected or unhealthy
	numErrorClasses
)

var errorLabels = [numErrorClasses]string{"connect", "timeout", "reset", "bad_response", "pool_exhausted", "no_healthy_endpoint"}

// String returns the class's label value, e.g. "timeout".
func (e ErrorClass) String() string {
	if e >= numErrorClasses {
		return "unknown"
	}
	return errorLabels[e]
}

// RetryReason is why a request was sent again to another endpoint
// (Shard.UpstreamRetry, label "reason").
type RetryReason uint8

// Retry reasons, as routes[].retry.on names them (the statuses share one).
const (
	RetryConnect RetryReason = iota // the request never reached the upstream
	RetryReset                      // the upstream closed or reset before a response
	RetryTimeout                    // no response head within timeouts.upstream_header
	RetryStatus                     // the upstream answered 502, 503 or 504
	numRetryReasons
)

var retryLabels = [numRetryReasons]string{"connect_failure", "reset", "timeout", "status"}

// String returns the reason's label value.
func (r RetryReason) String() string {
	if r >= numRetryReasons {
		return "unknown"
	}
	return retryLabels[r]
}

// TimeoutKind is the deadline counted by Loop.Timeout (label "kind"); the
// names follow the config's timeouts section.
type TimeoutKind uint8

// Timeout kinds.
const (
	TimeoutClientHeader   TimeoutKind = iota // request head incomplete (408)
	TimeoutClientBody                        // client idle mid request body (408)
	TimeoutClientFlush                       // client did not read the last response
	TimeoutKeepalive                         // idle keep-alive client closed
	TimeoutConnect                           // upstream connect (504)
	TimeoutUpstreamHeader                    // upstream response head late (504)
	TimeoutUpstreamRead                      // upstream idle mid response body
	numTimeoutKinds
)

var timeoutLabels = [numTimeoutKinds]string{"client_header", "client_body", "client_flush", "keepalive", "connect", "upstream_header", "upstream_read"}

// String returns the kind's label value, e.g. "upstream_header".
func (k TimeoutKind) String() string {
	if k >= numTimeoutKinds {
		return "unknown"
	}
	return timeoutLabels[k]
}

// CacheResult is the outcome of a cache lookup counted by
// Shard.CacheResult.
type CacheResult uint8

// Cache lookup results.
const (
	CacheHit   CacheResult = iota // fresh entry served
	CacheMiss                     // no usable entry; forwarded upstream
	CacheStale                    // stale entry served (stale-while-revalidate, stale-if-error)
	numCacheResults
)

var cacheLabels = [numCacheResults]string{"hit", "miss", "stale"}

// LimitMode says whether a limiter rejection was enforced or only recorded
// (shadow mode), for Shard.LimiterReject.
type LimitMode uint8

// Limiter modes.
const (
	LimitEnforced LimitMode = iota
	LimitShadow
	numLimitModes
)

var limitLabels = [numLimitModes]string{"enforce", "shadow"}

// UnmatchedRoute is the route label of requests that matched no route (and
// of requests refused before routing, if the engine counts those): its ID
// is Table.Unmatched().
const UnmatchedRoute = "_unmatched"

// OtherRoute is the route label shared by the routes installed beyond
// Options.MaxRoutes distinct names: their requests are still counted, under
// one label, so that a config with more routes than the bound loads.
const OtherRoute = "_other"

// Buckets are the upper bounds, in seconds, of the request and upstream
// latency histograms. They are fixed so that every loop records into a fixed array.
var Buckets = [numBuckets]float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

const numBuckets = 14

// bucketNanos are Buckets in nanoseconds, compared on the hot path.
var bucketNanos = func() (b [numBuckets]int64) {
	for i, s := range Buckets {
		b[i] = int64(s*1e9 + 0.5)
	}
	return b
}()

// AuthReason is why a route's auth refused a request, counted by
// Shard.AuthRejected.
type AuthReason uint8

// Auth reasons.
const (
	AuthMissing    AuthReason = iota // no credential: 401
	AuthInvalid                      // bad, expired or unknown credential: 401
	AuthForbidden                    // valid token without a required claim: 403
	AuthBusy                         // the Basic verifier pool was full or too slow: 503
	AuthClientCert                   // client_cert required and no verified client certificate: 403
	numAuthReasons
)

var authLabels = [numAuthReasons]string{"missing", "invalid", "forbidden", "busy", "client_cert"}
