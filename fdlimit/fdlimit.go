// Package fdlimit raises the process's open-file limit. hotpath, hotecho
// and hotload hold one descriptor per connection, so each raises the soft
// RLIMIT_NOFILE to the hard limit at start (what systemd's LimitNOFILE or
// `ulimit -Hn` allow) and reports both.
package fdlimit

import "golang.org/x/sys/unix"

// Limit is the open-file limit before and after Raise.
type Limit struct {
	Before uint64 // soft limit found
	Soft   uint64 // soft limit now
	Hard   uint64
}

// Raise sets the soft RLIMIT_NOFILE to the hard limit. On an error the
// limit is unchanged and Limit says what it is.
func Raise() (Limit, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return Limit{}, err
	}
	l := Limit{Before: rl.Cur, Soft: rl.Cur, Hard: rl.Max}
	if rl.Cur >= rl.Max {
		return l, nil
	}
	rl.Cur = rl.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return l, err
	}
	l.Soft = rl.Max
	return l, nil
}

// Current returns the soft and hard limits without changing them.
func Current() (Limit, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return Limit{}, err
	}
	return Limit{Before: rl.Cur, Soft: rl.Cur, Hard: rl.Max}, nil
}
