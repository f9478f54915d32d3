package profiles

import "errors"

var (
	// ErrNoGo: Diff needs the go command on PATH (go tool pprof).
	ErrNoGo = errors.New("profiles: go command not found on PATH")
	// ErrNoProfile: a run or baseline directory has no profile of the kind asked.
	ErrNoProfile = errors.New("profiles: profile not found")
	// ErrOptions: Options are incomplete (BaseURL, Dir or Duration).
	ErrOptions = errors.New("profiles: invalid options")
	// ErrFinished: Finish was called twice.
	ErrFinished = errors.New("profiles: capture already finished")
)
