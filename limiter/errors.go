package limiter

import "errors"

// Configuration errors returned by New, NewConcurrency, ParseTrustedProxies,
// ParseKeyKind and NewKeySpec. They are refused at config load; nothing on the request
// path returns an error.
var (
	ErrRate        = errors.New("limiter: rate must be a positive, finite number of requests per second (at most 1e9)")
	ErrBurst       = errors.New("limiter: burst must be at least 1")
	ErrWindow      = errors.New("limiter: burst/rate (the time to refill a full bucket) must be at most 30 days")
	ErrSlots       = errors.New("limiter: slots must be between 0 (default) and 1<<30")
	ErrPolicyName  = errors.New("limiter: policy name must be printable ASCII")
	ErrMax         = errors.New("limiter: max in-flight must be at least 1")
	ErrTrustedCIDR = errors.New("limiter: bad trusted proxy address or CIDR")
	ErrKeySpec     = errors.New("limiter: bad key part (want client_ip, route, host, path, header or query; the last two with a name)")
)

// Status codes for the two ways a limiter refuses a request.
const (
	// StatusTooManyRequests answers a request a rate limiter rejected
	// (send Retry-After and the RateLimit fields with it: AppendHeaders).
	StatusTooManyRequests = 429
	// StatusServiceUnavailable answers a request refused because a
	// Concurrency limit was full.
	StatusServiceUnavailable = 503
)
