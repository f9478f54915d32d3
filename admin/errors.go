package admin

import "errors"

var (
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("admin: already started")
	// ErrNoRegistry: Options.Registry is nil.
	ErrNoRegistry = errors.New("admin: no prometheus registry")
	// ErrBadRequest wraps a Reload error that is the caller's fault (an
	// invalid config); the handler answers 400 for it and 500 for others.
	ErrBadRequest = errors.New("admin: bad request")
)
