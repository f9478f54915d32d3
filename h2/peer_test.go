package h2

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// peer drives a ServerConn with frames written by x/net's Framer and HPACK
// encoder (an independent implementation), and reads what the connection
// sends back with x/net's Framer.
type peer struct {
	t   testing.TB
	c   *ServerConn
	now int64

	wire bytes.Buffer // written by the client, not yet fed
	in   []byte       // fed and not consumed (a partial frame)
	fr   *http2.Framer
	hb   bytes.Buffer
	enc  *hpack.Encoder

	consumed int // bytes Feed consumed in total
}

// rec is a copy of an Event that outlives the next Feed.
type rec struct {
	Kind      EventKind
	Stream    uint32
	EndStream bool
	Data      string
	Code      ErrCode
	Remote    bool
	Err       Error
	Method    string
	Path      string
	Host      string
	Fields    []string // "name: value"
	CL        int64
}

func newPeer(t testing.TB, lim Limits) *peer {
	p := &peer{t: t, c: NewServerConn(lim, 1)}
	p.fr = http2.NewFramer(&p.wire, nil)
	p.enc = hpack.NewEncoder(&p.hb)
	p.wire.WriteString(Preface)
	p.fr.WriteSettings()
	if evs := p.flush(); len(evs) != 0 {
		t.Fatalf("events after the preface: %+v", evs)
	}
	p.frames() // our SETTINGS, WINDOW_UPDATE, the ACK
	return p
}

// block encodes name, value pairs.
func (p *peer) block(kv ...string) []byte {
	p.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), p.hb.Bytes()...)
}

// get writes a GET request on stream id.
func (p *peer) get(id uint32, end bool, extra ...string) {
	kv := append([]string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "example.com"}, extra...)
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.block(kv...), EndStream: end, EndHeaders: true})
}

// raw writes a frame as given.
func (p *peer) raw(t FrameType, flags uint8, stream uint32, payload []byte) {
	p.wire.Write(AppendFrameHeader(nil, len(payload), t, flags, stream))
	p.wire.Write(payload)
}

// flush feeds everything written so far and returns the events.
func (p *peer) flush() []rec {
	p.in = append(p.in, p.wire.Bytes()...)
	p.wire.Reset()
	var out []rec
	for {
		n, ev := p.c.Feed(p.in, p.now)
		if n > len(p.in) {
			p.t.Fatalf("Feed consumed %d of %d bytes", n, len(p.in))
		}
		p.in = p.in[n:]
		p.consumed += n
		if ev.Kind == EventNone {
			return out
		}
		out = append(out, record(ev))
		if ev.Kind == EventClose {
			return out
		}
	}
}

func record(ev *Event) rec {
	r := rec{Kind: ev.Kind, Stream: ev.Stream, EndStream: ev.EndStream, Data: string(ev.Data),
		Code: ev.Code, Remote: ev.Remote, Err: ev.Err}
	if q := ev.Request; q != nil {
		r.Method, r.Path, r.Host, r.CL = string(q.Method), string(q.Path), string(q.Host), q.ContentLength
		for _, f := range q.Fields {
			r.Fields = append(r.Fields, string(f.Name)+": "+string(f.Value))
		}
	}
	return r
}

// frame is a frame the connection sent.
type frame struct {
	Type   http2.FrameType
	Stream uint32
	Flags  http2.Flags
	Code   http2.ErrCode // RST_STREAM, GOAWAY
	Last   uint32        // GOAWAY
	Data   string        // DATA
	Incr   uint32        // WINDOW_UPDATE
	Fields []hpack.HeaderField
}

// frames parses and clears the connection's output.
func (p *peer) frames() []frame {
	out := p.c.Output()
	fr := http2.NewFramer(nil, bytes.NewReader(out))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	var fs []frame
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.t.Fatalf("the connection wrote a frame x/net refuses: %v (% x)", err, out)
		}
		h := f.Header()
		x := frame{Type: h.Type, Stream: h.StreamID, Flags: h.Flags}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			x.Code = f.ErrCode
		case *http2.GoAwayFrame:
			x.Code, x.Last = f.ErrCode, f.LastStreamID
		case *http2.DataFrame:
			x.Data = string(f.Data())
		case *http2.WindowUpdateFrame:
			x.Incr = f.Increment
		case *http2.MetaHeadersFrame:
			x.Fields = f.Fields
		}
		fs = append(fs, x)
	}
	p.c.ClearOutput()
	return fs
}

// find returns the first frame of type t on stream (any stream when
// stream is ^0).
func find(fs []frame, t http2.FrameType, stream uint32) (frame, bool) {
	for _, f := range fs {
		if f.Type == t && (stream == ^uint32(0) || f.Stream == stream) {
			return f, true
		}
	}
	return frame{}, false
}

// status is the :status of a HEADERS frame.
func (f frame) status() string {
	for _, h := range f.Fields {
		if h.Name == ":status" {
			return h.Value
		}
	}
	return ""
}

// respond answers stream id with 200 and body.
func (p *peer) respond(id uint32, body string) {
	if err := p.c.StartHeaders(id, 200); err != nil {
		p.t.Fatal(err)
	}
	p.c.EndHeaders(body == "")
	if body != "" {
		if n, err := p.c.WriteData(id, []byte(body), true, p.now); err != nil || n != len(body) {
			p.t.Fatalf("WriteData: %d, %v", n, err)
		}
	}
}

func kinds(evs []rec) []EventKind {
	var k []EventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}
