package pool

import "errors"

// Errors from NewBalancer and ParseKeyKind. NewBalancer wraps them with
// detail (the offending kind, address or weight); test with errors.Is.
var (
	ErrUnknownKind  = errors.New("pool: unknown balancer kind")
	ErrNoEndpoints  = errors.New("pool: no endpoints")
	ErrNilEndpoint  = errors.New("pool: nil endpoint")
	ErrBadWeight    = errors.New("pool: endpoint weight must be at least 1")
	ErrWeightsLarge = errors.New("pool: endpoint weights too large")
	ErrNoKey        = errors.New("pool: hash balancer needs a key")
	ErrNoKeyName    = errors.New("pool: header and cookie keys need a name")
	ErrUnknownKey   = errors.New("pool: unknown hash key kind")
)

// Health check failures, kept unexported: they only decide a check's outcome.
var (
	errStatus      = errors.New("pool: health check status not expected")
	errBadResponse = errors.New("pool: health check response malformed")
)
