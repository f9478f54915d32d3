package echoserver

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hotpath/hotpath/h2"
)

// The fast h2c mode (Config.H2C without the options only net/http serves:
// echo, delays, stalls): connections that start with the HTTP/2 preface
// are served by package h2's ServerConn on their own goroutine, one read
// and one write per batch of frames, nothing allocated per request, so
// that the upstream is not what a gateway benchmark measures (Go's
// net/http HTTP/2 server costs several times as much per request); the
// others go to the usual fasthttp server. Statuses, sizes and chunked
// (no content-length) bodies are as in HTTP/1.1.

// fastH2 reports whether cfg can be served by the fast h2c mode.
func (c Config) fastH2() bool {
	return c.H2C && !c.Echo && c.Delay == 0 && c.Jitter == 0 && c.Stall.Every == 0
}

// sniffListener hands fasthttp the connections that are not HTTP/2 and
// serves the others itself.
type sniffListener struct {
	net.Listener
	s     *Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	h2    map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newSniffListener(ln net.Listener, s *Server) *sniffListener {
	l := &sniffListener{Listener: ln, s: s, conns: make(chan net.Conn), done: make(chan struct{}), h2: map[net.Conn]struct{}{}}
	go l.acceptLoop()
	return l
}

func (l *sniffListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.Close()
			return
		}
		go l.sniff(c)
	}
}

// sniff reads until the bytes are the HTTP/2 preface or cannot be.
func (l *sniffListener) sniff(c net.Conn) {
	var buf [len(h2.Preface)]byte
	n := 0
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for n < len(buf) && bytes.HasPrefix([]byte(h2.Preface), buf[:n]) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			c.Close()
			return
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	if string(buf[:n]) == h2.Preface {
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			c.Close()
			return
		default:
		}
		l.h2[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		l.s.serveH2(c, buf[:n])
		l.mu.Lock()
		delete(l.h2, c)
		l.mu.Unlock()
		l.wg.Done()
		return
	}
	select {
	case l.conns <- &prefixConn{Conn: c, pre: append([]byte(nil), buf[:n]...)}:
	case <-l.done:
		c.Close()
	}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the HTTP/2 connections.
func (l *sniffListener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.h2 {
			c.Close()
		}
		l.mu.Unlock()
		_ = l.Listener.Close()
	})
	return nil
}

// prefixConn is a connection whose first bytes were read already.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// h2stream is a stream answered or waiting for its request's end.
type h2fastStream struct {
	id   uint32
	rest []byte // body the windows did not take yet
	open bool   // the request has not ended yet
	path bool   // /healthz
}

// serveH2 serves one HTTP/2 connection whose preface was read.
func (s *Server) serveH2(c net.Conn, preface []byte) {
	defer c.Close()
	sc := h2.NewServerConn(h2.Limits{MaxConcurrentStreams: 1000, InitialWindowSize: 1 << 20, ConnWindowSize: 16 << 20}, 1)
	buf := make([]byte, 256<<10)
	have := copy(buf, preface)
	var streams []h2fastStream
	clen := []byte(strconv.Itoa(len(s.body)))
	now := int64(1)
	respond := func(i int) {
		st := &streams[i]
		body := s.body
		status := s.status()
		if st.path {
			body, status = healthBody, 200
		}
		_ = sc.StartHeaders(st.id, status)
		sc.FieldString("content-type", "text/plain")
		if st.path {
			sc.FieldString("content-length", "2")
		} else if !s.cfg.Chunked {
			sc.Field([]byte("content-length"), clen)
		}
		_ = sc.EndHeaders(false)
		n, _ := sc.WriteData(st.id, body, true, now)
		st.rest, st.open = body[n:], false
	}
	find := func(id uint32) int {
		for i := range streams {
			if streams[i].id == id {
				return i
			}
		}
		return -1
	}
	drop := func(i int) {
		streams[i] = streams[len(streams)-1]
		streams = streams[:len(streams)-1]
	}
	for {
		now++
		off := 0
		for {
			m, ev := sc.Feed(buf[off:have], now)
			off += m
			if ev.Kind == h2.EventNone {
				break
			}
			switch ev.Kind {
			case h2.EventRequest:
				streams = append(streams, h2fastStream{id: ev.Stream, open: true, path: string(ev.Request.Path) == string(healthPath)})
				if ev.EndStream {
					respond(len(streams) - 1)
				}
			case h2.EventData, h2.EventTrailers:
				sc.Consumed(ev.Stream, len(ev.Data))
				if i := find(ev.Stream); i >= 0 && ev.EndStream || ev.Kind == h2.EventTrailers && i >= 0 {
					respond(i)
				}
			case h2.EventReset:
				if i := find(ev.Stream); i >= 0 {
					drop(i)
				}
			case h2.EventWritable:
				if i := find(ev.Stream); i >= 0 && len(streams[i].rest) > 0 {
					n, _ := sc.WriteData(ev.Stream, streams[i].rest, true, now)
					streams[i].rest = streams[i].rest[n:]
				}
			case h2.EventClose:
				_, _ = c.Write(sc.Output())
				return
			}
		}
		for i := 0; i < len(streams); {
			if !streams[i].open && len(streams[i].rest) == 0 {
				drop(i)
				continue
			}
			i++
		}
		have = copy(buf, buf[off:have])
		if out := sc.Output(); len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			sc.ClearOutput()
		}
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
	}
}
