package echoserver

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// patientListener keeps accepting when the process runs out of file
// descriptors. fasthttp's Serve returns on any accept error that is not a
// timeout, so one EMFILE under a connection flood would stop hotecho for
// good. Here such an error makes Accept wait (5 ms, doubling up to 500 ms)
// while established connections close, then try again; the connections
// that came meanwhile wait in the listen backlog. Each burst is reported
// once through logf, when it starts and when accepting works again.
type patientListener struct {
	net.Listener
	logf func(format string, args ...any)

	mu      sync.Mutex // guards the burst state (Accept may run on several goroutines)
	waiting bool
	since   time.Time
	count   int
}

// exhausted reports whether err means the process or system has no
// descriptor or memory left for a new connection: transient, as
// connections close.
func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (l *patientListener) Accept() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.recovered()
			return c, nil
		}
		if !exhausted(err) {
			return nil, err
		}
		l.exhausted(err)
		time.Sleep(backoff)
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func (l *patientListener) exhausted(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if !l.waiting {
		l.waiting, l.since = true, time.Now()
		l.logf("hotecho: accept: %v; waiting for connections to close (new ones wait in the backlog)", err)
	}
}

func (l *patientListener) recovered() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting {
		l.logf("hotecho: accepting again after %v (%d failed accepts)", time.Since(l.since).Round(time.Millisecond), l.count)
		l.waiting, l.count = false, 0
	}
}
