package profiles

import "errors"

var (
	// ErrUnreachable: the pprof endpoint did not answer (New, Probe).
	ErrUnreachable = errors.New("profiles: pprof endpoint unreachable")
	// ErrOptions: Options are incomplete or inconsistent.
	ErrOptions = errors.New("profiles: invalid options")
	// ErrKind: an unknown profile kind.
	ErrKind = errors.New("profiles: unknown profile kind")
	// ErrNotStarted: Finish without Start; the run ended before its window.
	ErrNotStarted = errors.New("profiles: the measured window never started; no profiles taken")
	// ErrFinished: Finish was called twice.
	ErrFinished = errors.New("profiles: capture already finished")
	// ErrNotRun: a directory is not a run or baseline (no manifest.json).
	ErrNotRun = errors.New("profiles: not a run directory")
	// ErrNoBaseline: no baseline of that name.
	ErrNoBaseline = errors.New("profiles: no such baseline")
	// ErrNoProfile: a run or baseline has no profile of the kind asked.
	ErrNoProfile = errors.New("profiles: profile not found")
)
