package h2

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testServer serves h2c with prior knowledge on 127.0.0.1:0 with a
// ServerConn per connection over a plain net.Conn, one goroutine each, the
// way an event loop would drive it: read what is there, Feed until
// EventNone, answer, write Output once. Every request is answered 200 with
// body once it is complete (a HEAD without the body); request bodies are
// counted and consumed.
type testServer struct {
	ln   net.Listener
	body []byte
	lim  Limits
	wg   sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   []Error // why connections ended, in order
	resets   int     // EventReset seen
	requests int     // EventRequest seen
	trailers int     // EventTrailers seen
	bodyIn   int64   // request body bytes seen
}

func startServer(t testing.TB, lim Limits, body string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, body: []byte(body), lim: lim, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) addr() string { return s.ln.Addr().String() }

func (s *testServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *testServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// errors returns the reasons connections ended so far.
func (s *testServer) errors() []Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Error(nil), s.closed...)
}

// counts returns the requests, trailer sections and body bytes seen.
func (s *testServer) counts() (requests, trailers int, bodyIn int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.trailers, s.bodyIn
}

// pendingBody is what is left to send of a stream's response.
type pendingBody struct {
	rest []byte
	head bool // a HEAD request: no body
}

func (s *testServer) serve(nc net.Conn) {
	now := func() int64 { return time.Now().UnixNano() }
	sc := NewServerConn(s.lim, now())
	pending := map[uint32]*pendingBody{}
	buf := make([]byte, 0, 64<<10)
	rb := make([]byte, 32<<10)
	for {
		if out := sc.Output(); len(out) > 0 {
			if _, err := nc.Write(out); err != nil {
				return
			}
			sc.ClearOutput()
		}
		if sc.Closed() || sc.goAway && sc.Streams() == 0 {
			return
		}
		n, err := nc.Read(rb)
		if n > 0 {
			buf = append(buf, rb[:n]...)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			if n == 0 {
				return
			}
		}
		t := now()
		off := 0
		for {
			k, ev := sc.Feed(buf[off:], t)
			off += k
			switch ev.Kind {
			case EventNone:
			case EventRequest:
				s.mu.Lock()
				s.requests++
				s.mu.Unlock()
				p := &pendingBody{head: string(ev.Request.Method) == "HEAD"}
				pending[ev.Stream] = p
				if ev.EndStream {
					s.respond(sc, ev.Stream, p, t)
				}
				continue
			case EventData:
				s.mu.Lock()
				s.bodyIn += int64(len(ev.Data))
				s.mu.Unlock()
				sc.Consumed(ev.Stream, len(ev.Data))
				if ev.EndStream {
					s.respond(sc, ev.Stream, pending[ev.Stream], t)
				}
				continue
			case EventTrailers:
				s.mu.Lock()
				s.trailers++
				s.mu.Unlock()
				s.respond(sc, ev.Stream, pending[ev.Stream], t)
				continue
			case EventWritable:
				if p := pending[ev.Stream]; p != nil {
					s.send(sc, ev.Stream, p, t)
				}
				continue
			case EventReset:
				s.mu.Lock()
				s.resets++
				s.mu.Unlock()
				delete(pending, ev.Stream)
				continue
			case EventGoAway:
				continue
			case EventClose:
				s.mu.Lock()
				s.closed = append(s.closed, ev.Err)
				s.mu.Unlock()
			}
			break
		}
		buf = buf[:copy(buf, buf[off:])]
	}
}

func (s *testServer) respond(sc *ServerConn, id uint32, p *pendingBody, now int64) {
	if p == nil {
		return
	}
	if err := sc.StartHeaders(id, 200); err != nil {
		return
	}
	sc.FieldString("content-type", "text/plain")
	sc.FieldString("content-length", strconv.Itoa(len(s.body)))
	if p.head || len(s.body) == 0 {
		sc.EndHeaders(true)
		return
	}
	sc.EndHeaders(false)
	p.rest = s.body
	s.send(sc, id, p, now)
}

func (s *testServer) send(sc *ServerConn, id uint32, p *pendingBody, now int64) {
	n, err := sc.WriteData(id, p.rest, true, now)
	if err != nil {
		return
	}
	p.rest = p.rest[n:]
}
