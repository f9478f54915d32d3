package engine

import "errors"

// Errors the engine answers with a status of its own. They appear in logs
// and tests; Status maps each to the response the client gets.
var (
	ErrNoRoute           = errors.New("engine: no route")                        // 404
	ErrMethodNotAllowed  = errors.New("engine: method not allowed")              // 405
	ErrBadPath           = errors.New("engine: path cannot be routed")           // 400
	ErrEncodedSeparator  = errors.New("engine: encoded '/' or '\\' in path")     // 400 (router.path_normalization)
	ErrNoHealthyEndpoint = errors.New("engine: no healthy endpoint")             // 503
	ErrPoolExhausted     = errors.New("engine: upstream max_conns reached")      // 503
	ErrUpstreamConnect   = errors.New("engine: upstream connect failed")         // 502
	ErrConnectTimeout    = errors.New("engine: upstream connect timeout")        // 504
	ErrUpstreamTimeout   = errors.New("engine: upstream response timeout")       // 504
	ErrUpstreamClosed    = errors.New("engine: upstream closed before response") // 502
	ErrUpstreamMalformed = errors.New("engine: malformed upstream response")     // 502
	ErrClientTimeout     = errors.New("engine: client request timeout")          // 408
	ErrBadRequestBody    = errors.New("engine: malformed request body")          // 400
	ErrUnderscoreField   = errors.New("engine: underscore in a header name")     // 400 (limits.underscores_in_headers: reject)
	ErrShuttingDown      = errors.New("engine: shutting down")                   // 503
	ErrBodyTooLarge      = errors.New("engine: request body over max_body")      // 413 (edge.go)
	ErrNoHostToRedirect  = errors.New("engine: no Host to redirect to HTTPS")    // 400 (https_redirect, tls.go)
)

// Status maps an engine error to the HTTP status the client is answered
// with, or 0 for errors the engine does not answer (nil included).
func Status(err error) int {
	switch err {
	case ErrNoRoute:
		return 404
	case ErrMethodNotAllowed:
		return 405
	case ErrBadPath, ErrEncodedSeparator, ErrBadRequestBody, ErrUnderscoreField, ErrNoHostToRedirect:
		return 400
	case ErrNoHealthyEndpoint, ErrPoolExhausted, ErrShuttingDown:
		return 503
	case ErrUpstreamConnect, ErrUpstreamClosed, ErrUpstreamMalformed:
		return 502
	case ErrConnectTimeout, ErrUpstreamTimeout:
		return 504
	case ErrClientTimeout:
		return 408
	case ErrBodyTooLarge:
		return 413
	case ErrGRPCOverHTTP1, ErrNotGRPC:
		return 415
	}
	return 0
}
