package trie

import "errors"

// Build errors. Add and Build wrap them with the routes involved, so callers
// test with errors.Is and print the error for the operator:
//
//	trie: conflicting parameter names: GET /users/:name conflicts with GET /users/:id
var (
	// ErrBadPattern: the path pattern is malformed (not starting with '/',
	// an empty segment, a "." or ".." segment, a '%' or another byte that a
	// pattern may not hold, an empty or repeated parameter name).
	ErrBadPattern = errors.New("trie: bad pattern")
	// ErrBadHost: the host is not "", an exact host name or "*.suffix".
	ErrBadHost = errors.New("trie: bad host")
	// ErrBadMethod: the method is not an HTTP token or "*".
	ErrBadMethod = errors.New("trie: bad method")
	// ErrDuplicateRoute: the same host, method and pattern were added twice.
	ErrDuplicateRoute = errors.New("trie: duplicate route")
	// ErrParamConflict: two routes name the parameter (or catch-all) at the
	// same position differently, such as /users/:id and /users/:name.
	ErrParamConflict = errors.New("trie: conflicting parameter names")
	// ErrCatchAllNotLast: a "*name" catch-all is followed by more pattern.
	ErrCatchAllNotLast = errors.New("trie: catch-all must be the last segment")
	// ErrTooManyParams: the pattern names more than MaxParams parameters.
	ErrTooManyParams = errors.New("trie: too many parameters")
	// ErrBuilt: the Builder was used after Build.
	ErrBuilt = errors.New("trie: builder already built")
)

// Status is the HTTP status code a gateway answers for a lookup result that
// is not Found: 404, 405, 400, and 308 for RedirectSlash (308 keeps the
// method and body; a caller that prefers 301 for GET may choose it).
func (r Result) Status() int {
	switch r {
	case Found:
		return 200
	case MethodNotAllowed:
		return 405
	case BadPath:
		return 400
	case RedirectSlash:
		return 308
	default:
		return 404
	}
}

// String names the result, for logs and test failures.
func (r Result) String() string {
	switch r {
	case Found:
		return "Found"
	case NotFound:
		return "NotFound"
	case MethodNotAllowed:
		return "MethodNotAllowed"
	case BadPath:
		return "BadPath"
	case RedirectSlash:
		return "RedirectSlash"
	}
	return "Result(?)"
}
