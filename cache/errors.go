package cache

import "errors"

// Reasons Store refuses to store a response. They are not failures: the
// response is still sent to the client, it is only not kept. Metrics can
// count them by value.
var (
	ErrMethod         = errors.New("cache: only responses to GET are stored")
	ErrStatus         = errors.New("cache: status is not in the cacheable list")
	ErrNoStore        = errors.New("cache: Cache-Control no-store")
	ErrPrivate        = errors.New("cache: Cache-Control private (a shared cache must not store it)")
	ErrNoCache        = errors.New("cache: Cache-Control no-cache (would need revalidation on every use)")
	ErrAuthorization  = errors.New("cache: request is authorized (Authorization, or the route's auth) and the response does not allow sharing it")
	ErrSetCookie      = errors.New("cache: response sets a cookie")
	ErrCookie         = errors.New("cache: request carries a cookie and the response has no explicit freshness")
	ErrVaryStar       = errors.New("cache: Vary: *")
	ErrNotFresh       = errors.New("cache: no positive freshness lifetime (explicit, or the route's ttl/default_ttl)")
	ErrTooLarge       = errors.New("cache: response larger than max_entry_bytes")
	ErrRequestNoStore = errors.New("cache: request Cache-Control no-store")
	ErrRejected       = errors.New("cache: ristretto's admission policy refused the entry")
	ErrNoTicket       = errors.New("cache: the ticket is not from a cacheable Lookup (Bypass)")
)

// Configuration errors returned by New.
var (
	ErrMaxBytes = errors.New("cache: max_bytes must be positive")
)

// StatusGatewayTimeout answers a request with Cache-Control
// only-if-cached that the cache cannot serve (RFC 9111 §5.2.1.7).
const StatusGatewayTimeout = 504
