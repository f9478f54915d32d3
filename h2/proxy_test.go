package h2

import (
	"bytes"
	"strings"
	"testing"
)

// proxyPair is a proxy-mode ClientConn and a ServerConn joined in memory.
type proxyPair struct {
	t  testing.TB
	c  ClientConn
	s  *ServerConn
	cv []ClientEvent // client events, Fields and Data copied
	sv []Event       // server events (request heads not kept)
	sd map[uint32][]byte
}

func newProxyPair(t testing.TB, lim Limits, cl ClientLimits) *proxyPair {
	p := &proxyPair{t: t, s: NewServerConn(lim, 1), sd: map[uint32][]byte{}}
	p.c.InitProxy(cl)
	p.pump()
	return p
}

// pump moves bytes both ways until neither side has output.
func (p *proxyPair) pump() {
	for i := 0; i < 100; i++ {
		moved := false
		if out := p.c.Output(); len(out) > 0 {
			in := append([]byte(nil), out...)
			p.c.ClearOutput()
			moved = true
			for off := 0; ; {
				n, ev := p.s.Feed(in[off:], 1)
				off += n
				if ev.Kind == EventNone {
					break
				}
				if ev.Kind == EventData {
					p.sd[ev.Stream] = append(p.sd[ev.Stream], ev.Data...)
				}
				p.sv = append(p.sv, Event{Kind: ev.Kind, Stream: ev.Stream, EndStream: ev.EndStream})
			}
		}
		if out := p.s.Output(); len(out) > 0 {
			in := append([]byte(nil), out...)
			p.s.ClearOutput()
			moved = true
			for off := 0; ; {
				n, ev := p.c.Feed(in[off:])
				off += n
				if ev.Kind == ClientNone {
					break
				}
				e := *ev
				e.Data = append([]byte(nil), ev.Data...)
				e.Fields = nil
				for _, f := range ev.Fields {
					e.Fields = append(e.Fields, Field{Name: append([]byte(nil), f.Name...), Value: append([]byte(nil), f.Value...)})
				}
				p.cv = append(p.cv, e)
			}
		}
		if !moved {
			return
		}
	}
	p.t.Fatal("the pair never went quiet")
}

func (p *proxyPair) events(kind ClientEventKind) []ClientEvent {
	var out []ClientEvent
	for _, e := range p.cv {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestProxyRoundTrip: a request with a body past the server's windows, a
// response with a body past the client's stream window (credited as it is
// consumed) and trailers.
func TestProxyRoundTrip(t *testing.T) {
	p := newProxyPair(t, Limits{InitialWindowSize: 1 << 14}, ClientLimits{StreamWindow: 1 << 15})
	if !p.c.GotSettings() || !p.c.CanStart() {
		t.Fatal("not ready after the SETTINGS exchange")
	}
	id := p.c.StartRequest(7, []byte("POST"), []byte("http"), []byte("up.test"), []byte("/echo?x=1"))
	p.c.RequestField([]byte("Content-Type"), []byte("text/plain"))
	p.c.RequestField([]byte("Connection"), []byte("close")) // dropped
	p.c.RequestField([]byte("TE"), []byte("trailers"))
	p.c.EndRequest(false)
	body := bytes.Repeat([]byte("b"), 100000)
	rest := body
	for i := 0; len(rest) > 0 && i < 100; i++ {
		n, err := p.c.WriteData(id, rest, true)
		if err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
		p.pump()
		for _, e := range p.sv {
			if e.Kind == EventData {
				p.s.Consumed(e.Stream, 0) // credited below, by length
			}
		}
		if got := p.sd[id]; len(got) > 0 {
			p.s.Consumed(id, len(got))
			p.sd[id] = p.sd[id][:0]
			p.pump()
		}
	}
	if len(rest) != 0 {
		t.Fatalf("request body stuck with %d bytes left", len(rest))
	}
	// The server answers with a body larger than the client's stream window.
	resp := bytes.Repeat([]byte("r"), 100000)
	if err := p.s.StartHeaders(id, 200); err != nil {
		t.Fatal(err)
	}
	p.s.FieldString("content-type", "text/plain")
	_ = p.s.EndHeaders(false)
	sent, got := 0, 0
	for i := 0; i < 100 && got < len(resp); i++ {
		n, _ := p.s.WriteData(id, resp[sent:], false, 1)
		sent += n
		p.pump()
		for _, e := range p.events(ClientData) {
			got += len(e.Data)
			p.c.Consumed(e.Stream, len(e.Data))
		}
		p.cv = p.cv[:0]
		p.pump()
	}
	if got != len(resp) {
		t.Fatalf("response body: %d of %d bytes", got, len(resp))
	}
	_ = p.s.StartTrailers(id)
	p.s.FieldString("grpc-status", "0")
	_ = p.s.EndHeaders(true)
	p.pump()
	tr := p.events(ClientTrailers)
	if len(tr) != 1 || tr[0].Tag != 7 || string(tr[0].Fields[0].Name) != "grpc-status" || !tr[0].EndStream {
		t.Fatalf("trailers: %+v", tr)
	}
	if p.c.Streams() != 0 {
		t.Fatalf("%d streams open after both ends", p.c.Streams())
	}
}

// TestProxyHeadersAndErrors: the response head's fields, an interim head,
// RST_STREAM both ways, GOAWAY with the last stream processed.
func TestProxyHeadersAndErrors(t *testing.T) {
	p := newProxyPair(t, Limits{}, ClientLimits{})
	a := p.c.StartRequest(1, []byte("GET"), []byte("https"), []byte("h"), []byte("/"))
	p.c.EndRequest(true)
	b := p.c.StartRequest(2, []byte("DELETE"), []byte("http"), []byte("h"), []byte("/x"))
	p.c.EndRequest(true)
	p.pump()
	_ = p.s.StartHeaders(a, 103)
	p.s.FieldString("link", "</s.css>")
	_ = p.s.EndHeaders(false)
	_ = p.s.StartHeaders(a, 204)
	p.s.FieldString("x-a", strings.Repeat("v", 300))
	_ = p.s.EndHeaders(true)
	p.s.Reset(b, CodeRefusedStream)
	p.pump()
	hs := p.events(ClientHeaders)
	if len(hs) != 2 || hs[0].Status != 103 || hs[1].Status != 204 || !hs[1].EndStream || len(hs[1].Fields[0].Value) != 300 {
		t.Fatalf("heads: %+v", hs)
	}
	rs := p.events(ClientReset)
	if len(rs) != 1 || rs[0].Tag != 2 || rs[0].Code != CodeRefusedStream {
		t.Fatalf("resets: %+v", rs)
	}
	// The client resets a stream: the server sees it.
	c := p.c.StartRequest(3, []byte("GET"), []byte("http"), []byte("h"), []byte("/slow"))
	p.c.EndRequest(true)
	p.pump()
	p.c.Reset(c, CodeCancel)
	p.pump()
	if p.sv[len(p.sv)-1].Kind != EventReset || p.sv[len(p.sv)-1].Stream != c {
		t.Fatalf("server events: %+v", p.sv)
	}
	// GOAWAY: streams above the last one were not processed.
	d := p.c.StartRequest(4, []byte("GET"), []byte("http"), []byte("h"), []byte("/d"))
	p.c.EndRequest(true)
	p.s.GoAway(CodeNo) // before it reads d's HEADERS: last stream is c
	p.pump()
	ga := p.events(ClientGoAway)
	if len(ga) != 1 || ga[0].LastStream >= d || p.c.CanStart() {
		t.Fatalf("goaway: %+v, can start %v", ga, p.c.CanStart())
	}
}

// FuzzClientProxy feeds arbitrary bytes to a proxy-mode connection with
// streams open: it must not panic, and must consume sanely.
func FuzzClientProxy(f *testing.F) {
	p := newProxyPair(f, Limits{}, ClientLimits{})
	id := p.c.StartRequest(0, []byte("GET"), []byte("http"), []byte("h"), []byte("/"))
	p.c.EndRequest(true)
	p.pump()
	_ = p.s.StartHeaders(id, 200)
	_ = p.s.EndHeaders(false)
	_, _ = p.s.WriteData(id, []byte("hello"), false, 1)
	_ = p.s.StartTrailers(id)
	p.s.FieldString("grpc-status", "0")
	_ = p.s.EndHeaders(true)
	f.Add(append([]byte(nil), p.s.Output()...))
	f.Add([]byte{0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		var c ClientConn
		c.InitProxy(ClientLimits{})
		for i := 0; i < 3; i++ {
			c.StartRequest(uint32(i), []byte("POST"), []byte("http"), []byte("h"), []byte("/"))
			c.EndRequest(false)
		}
		off := 0
		for i := 0; i < 10000 && off <= len(in); i++ {
			n, ev := c.Feed(in[off:])
			if n < 0 || off+n > len(in) {
				t.Fatalf("consumed %d of %d", n, len(in)-off)
			}
			off += n
			if ev.Kind == ClientData {
				c.Consumed(ev.Stream, len(ev.Data))
			}
			if ev.Kind == ClientNone || ev.Kind == ClientClose {
				break
			}
		}
	})
}
