package engine

import (
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnet v2.10.0 has no way to stop reading a connection: in level-triggered
// mode it reads whenever the socket is readable and appends what the handler
// leaves unconsumed to an unbounded inbound buffer. To bound memory when one
// side is slower than the other, the engine removes EPOLLIN from the socket's
// interest set in the loop's own epoll instance and puts it back later.
//
// The epoll descriptor is not exported. epollFD (gnetlayout.go) reads it
// once per loop by reflection. It returns -1 rather than guessing when an
// upgrade changed gnet's layout, in which case the engine falls back to
// closing a connection whose buffered bytes exceed four times the limit.
//
// gnet itself rewrites the interest set when it flushes a connection's
// output (EPOLL_CTL_MOD to read, or read|write). That can re-enable reading
// a paused connection; the engine then re-applies the pause at the next
// OnTraffic, so at most one read buffer (64 KiB) slips in per flush.

// epollEvents mirror gnet's netpoll ReadEvents and WriteEvents (level
// triggered, fd in the event data).
const (
	epollRead  = unix.EPOLLIN | unix.EPOLLPRI
	epollWrite = unix.EPOLLOUT
)

// setReading turns read interest for c on or off in the loop's epoll set,
// keeping write interest while c has output pending (gnet waits for EPOLLOUT
// to flush it).
func setReading(epfd int, c gnet.Conn, on bool) bool {
	if s, ok := c.(*up2stream); ok {
		return s.setReading(on) // an HTTP/2 upstream stream (up2.go)
	}
	if epfd < 0 {
		return false
	}
	var ev uint32
	if on {
		ev = epollRead
	}
	if c.OutboundBuffered() > 0 {
		ev |= epollWrite
	}
	fd := c.Fd()
	return unix.EpollCtl(epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: ev, Fd: int32(fd)}) == nil
}

// stopAccepting removes the loop's listening sockets from its epoll set so
// that it accepts no more connections (they wait in the backlog and are reset
// when the engine stops).
func stopAccepting(epfd int, fds []int) {
	if epfd < 0 {
		return
	}
	for _, fd := range fds {
		_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
}
