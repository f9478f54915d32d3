package engine

import (
	"reflect"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/netpoll"
)

// Every read of gnet's unexported internals is in this file. gnet v2.10.0
// exports neither a connection's loop's epoll descriptor (pause.go stops
// reading a connection by changing its interest set), nor the loop's
// listening sockets (fdguard stops accepting at the descriptor budget),
// nor its netpoll poller (pipeline.go queues a flush at the end of the
// loop's batch of events). They are read by reflection through
// conn.loop, never on the request path (once per loop, or at a rare
// event), and the layout is pinned to gnet v2.10.0 by TestEpollFDLayout
// and TestPollerLayout, which fail loudly if an upgrade changes it. Each
// reader returns a zero value (-1, nil) rather than guessing. A TLS
// connection is unwrapped first (rawConn, tls.go).

// gnetLoop returns the struct gnet's conn.loop points to for c, or an
// invalid Value.
func gnetLoop(c gnet.Conn) reflect.Value {
	v := reflect.ValueOf(rawConn(c))
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	v = v.Elem().FieldByName("loop")
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}
	}
	return v.Elem()
}

// epollFD returns the epoll descriptor of the loop that owns c
// (conn.loop.poller.fd; reading an unexported int needs no unsafe), or -1.
func epollFD(c gnet.Conn) int {
	v := gnetLoop(c)
	if !v.IsValid() {
		return -1
	}
	v = v.FieldByName("poller")
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return -1
	}
	v = v.Elem().FieldByName("fd")
	if !v.IsValid() || v.Kind() != reflect.Int {
		return -1
	}
	return int(v.Int())
}

// listenerFDs returns the listening sockets of the loop that owns c
// (conn.loop.listeners' keys; each loop has its own with SO_REUSEPORT), or
// nil.
func listenerFDs(c gnet.Conn) []int {
	v := gnetLoop(c)
	if !v.IsValid() {
		return nil
	}
	v = v.FieldByName("listeners")
	if !v.IsValid() || v.Kind() != reflect.Map || v.Type().Key().Kind() != reflect.Int {
		return nil
	}
	var fds []int
	for _, k := range v.MapKeys() {
		fds = append(fds, int(k.Int()))
	}
	return fds
}

// pollerOf returns the netpoll poller of the loop that owns c
// (conn.loop.poller, checked to be a *netpoll.Poller), or nil.
func pollerOf(c gnet.Conn) *netpoll.Poller {
	v := gnetLoop(c)
	if !v.IsValid() {
		return nil
	}
	v = v.FieldByName("poller")
	if !v.IsValid() || v.Type() != reflect.TypeFor[*netpoll.Poller]() || v.IsNil() {
		return nil
	}
	return (*netpoll.Poller)(v.UnsafePointer())
}
