package aggregate

import "errors"

// Why a part failed. Each becomes the part's "error" string in the merged
// object (Error without the package prefix), with the status of Status.
var (
	ErrNoHealthyEndpoint = errors.New("aggregate: no healthy endpoint")
	ErrConnect           = errors.New("aggregate: connect failed")
	ErrTimeout           = errors.New("aggregate: timeout")
	ErrCanceled          = errors.New("aggregate: canceled")
	ErrUpstream          = errors.New("aggregate: upstream error")
	ErrBodyTooLarge      = errors.New("aggregate: body too large")
	ErrInvalidJSON       = errors.New("aggregate: invalid JSON")
)

// Status maps a part failure to the status reported for it (a failed
// upstream status is reported as itself, not through Status).
func Status(err error) int {
	switch err {
	case ErrNoHealthyEndpoint:
		return 503
	case ErrTimeout:
		return 504
	}
	return 502
}

// reason is err's text without the package prefix.
func reason(err error) string {
	const prefix = "aggregate: "
	s := err.Error()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}
