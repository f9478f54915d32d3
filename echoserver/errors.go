package echoserver

import "errors"

// Errors returned by New and the Parse functions; wrapped with the offending
// value, test them with errors.Is.
var (
	ErrBadSize      = errors.New("echoserver: body size must be >= 0")
	ErrBadDelay     = errors.New("echoserver: delay and jitter must be >= 0")
	ErrBadDist      = errors.New("echoserver: jitter distribution must be uniform, normal or exponential")
	ErrBadStatusMix = errors.New("echoserver: status mix must be status:weight[,status:weight...] with 100<=status<=999, weight>0")
	ErrBadStall     = errors.New("echoserver: stall must be PAUSE/EVERY with 0 < PAUSE < EVERY (e.g. 200ms/5s)")
)
