package loadgen

import "errors"

// Errors returned by the configuration, targets, fail-if and report
// functions; they are wrapped with the offending value, test them with
// errors.Is.
var (
	ErrBadURL        = errors.New("loadgen: bad target URL")
	ErrMixedHosts    = errors.New("loadgen: all targets must be on the same host:port")
	ErrBadTargets    = errors.New("loadgen: bad targets file")
	ErrBadConfig     = errors.New("loadgen: bad configuration")
	ErrUnreachable   = errors.New("loadgen: target unreachable")
	ErrBadFailIf     = errors.New("loadgen: bad --fail-if condition")
	ErrBadReport     = errors.New("loadgen: bad JSON report")
	ErrBadHeader     = errors.New("loadgen: bad header (want 'Name: value')")
	ErrHistogramFull = errors.New("loadgen: histograms of different geometry cannot be merged")
	ErrNoResponse    = errors.New("loadgen: no request got a response")
	ErrBadObjective  = errors.New("loadgen: bad ramp")
)
