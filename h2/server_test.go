package h2

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func TestRequestHead(t *testing.T) {
	p := newPeer(t, Limits{})
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: p.block(
		":method", "POST", ":scheme", "https", ":path", "/a/b?c=d", ":authority", "Example.com:8443",
		"host", "example.com:8443", "content-length", "3", "cookie", "a=1", "cookie", "b=2", "te", "trailers")})
	p.fr.WriteData(1, false, []byte("ab"))
	p.fr.WriteData(1, true, []byte("c"))
	evs := p.flush()
	want := []rec{
		{Kind: EventRequest, Stream: 1, Method: "POST", Path: "/a/b?c=d", Host: "Example.com:8443", CL: 3,
			Fields: []string{"host: example.com:8443", "content-length: 3", "cookie: a=1", "cookie: b=2", "te: trailers"}},
		{Kind: EventData, Stream: 1, Data: "ab"},
		{Kind: EventData, Stream: 1, Data: "c", EndStream: true},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %+v", evs)
	}
	for i := range want {
		if !equalRec(evs[i], want[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, evs[i], want[i])
		}
	}
}

func TestAppendCookie(t *testing.T) {
	r := Request{Fields: []Field{{Name: []byte("cookie"), Value: []byte("a=1")}, {Name: []byte("x"), Value: []byte("y")},
		{Name: []byte("cookie"), Value: []byte("b=2")}}}
	if got := string(r.AppendCookie([]byte("Cookie: "))); got != "Cookie: a=1; b=2" {
		t.Errorf("got %q", got)
	}
	if got := (&Request{}).AppendCookie(nil); got != nil {
		t.Errorf("no cookie: %q", got)
	}
}

// SETTINGS not acknowledged, idle connections: timestamps for the
// engine's timers.
func TestTimestamps(t *testing.T) {
	c := NewServerConn(Limits{}, 100)
	if c.SettingsUnackedSince() != 100 || c.IdleSince() != 100 {
		t.Fatalf("unacked %d idle %d", c.SettingsUnackedSince(), c.IdleSince())
	}
	in := []byte(Preface)
	in = AppendFrameHeader(in, 0, FrameSettings, 0, 0)
	in = AppendSettingsAck(in)
	c.Feed(in, 200)
	if c.SettingsUnackedSince() != 0 {
		t.Errorf("acknowledged SETTINGS still unacked since %d", c.SettingsUnackedSince())
	}
}

func equalRec(a, b rec) bool {
	return a.Kind == b.Kind && a.Stream == b.Stream && a.EndStream == b.EndStream && a.Data == b.Data &&
		a.Method == b.Method && a.Path == b.Path && a.Host == b.Host && a.CL == b.CL && slices.Equal(a.Fields, b.Fields)
}

// Malformed requests (RFC 9113 §8.1.1) are reset with PROTOCOL_ERROR by the
// connection and never reach the engine.
func TestMalformedRequests(t *testing.T) {
	base := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "example.com"}
	with := func(kv ...string) []string { return append(slices.Clone(base), kv...) }
	tests := []struct {
		name string
		kv   []string
		end  bool
	}{
		{name: "uppercase-name", kv: with("X-Up", "1")},
		{name: "connection", kv: with("connection", "keep-alive")},
		{name: "keep-alive", kv: with("keep-alive", "5")},
		{name: "transfer-encoding", kv: with("transfer-encoding", "chunked")},
		{name: "upgrade", kv: with("upgrade", "websocket")},
		{name: "te-gzip", kv: with("te", "gzip")},
		{name: "no-method", kv: []string{":scheme", "http", ":path", "/"}},
		{name: "no-scheme", kv: []string{":method", "GET", ":path", "/"}},
		{name: "no-path", kv: []string{":method", "GET", ":scheme", "http"}},
		{name: "empty-path", kv: []string{":method", "GET", ":scheme", "http", ":path", ""}},
		{name: "relative-path", kv: []string{":method", "GET", ":scheme", "http", ":path", "a/b"}},
		{name: "star-not-options", kv: []string{":method", "GET", ":scheme", "http", ":path", "*"}},
		{name: "space-in-path", kv: []string{":method", "GET", ":scheme", "http", ":path", "/a b"}},
		{name: "duplicate-method", kv: with(":method", "GET")},
		{name: "pseudo-after-regular", kv: []string{":method", "GET", "x", "1", ":scheme", "http", ":path", "/"}},
		{name: "status-in-request", kv: with(":status", "200")},
		{name: "unknown-pseudo", kv: with(":foo", "bar")},
		{name: "protocol", kv: with(":protocol", "websocket")},
		{name: "userinfo", kv: []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "u@example.com"}},
		{name: "host-mismatch", kv: with("host", "other.example")},
		{name: "bad-host", kv: []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "a b"}},
		{name: "bad-port", kv: []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a:8x"}},
		{name: "cr-in-value", kv: with("x", "a\rb")},
		{name: "nul-in-value", kv: with("x", "a\x00b")},
		{name: "leading-space", kv: with("x", " a")},
		{name: "bad-name", kv: with("x y", "1")},
		{name: "bad-content-length", kv: with("content-length", "1x")},
		{name: "two-content-lengths", kv: with("content-length", "1", "content-length", "2")},
		{name: "content-length-no-body", kv: with("content-length", "5"), end: true},
		{name: "connect-with-path", kv: []string{":method", "CONNECT", ":authority", "a:443", ":path", "/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, Limits{})
			p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: tc.end, BlockFragment: p.block(tc.kv...)})
			if evs := p.flush(); len(evs) != 0 {
				t.Fatalf("reached the engine: %+v", evs)
			}
			if r, ok := find(p.frames(), http2.FrameRSTStream, 1); !ok || r.Code != http2.ErrCodeProtocol {
				t.Fatalf("want RST_STREAM PROTOCOL_ERROR, got %+v", r)
			}
			p.fr.WriteData(1, true, []byte("late")) // in flight before the reset: ignored
			p.get(3, true)
			if evs := p.flush(); len(evs) != 1 || evs[0].Kind != EventRequest {
				t.Fatalf("the connection did not go on: %+v", evs)
			}
		})
	}
	t.Run("options-star", func(t *testing.T) {
		p := newPeer(t, Limits{})
		p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
			BlockFragment: p.block(":method", "OPTIONS", ":scheme", "http", ":path", "*", ":authority", "[::1]:80")})
		if evs := p.flush(); len(evs) != 1 || evs[0].Path != "*" || evs[0].Host != "[::1]:80" {
			t.Fatalf("got %+v", evs)
		}
	})
}

// Content-length against the DATA received (§8.1.1).
func TestContentLengthChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []string
	}{
		{name: "short", data: []string{"ab"}},
		{name: "long", data: []string{"abc", "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, Limits{})
			p.get(1, false, "content-length", "3")
			for i, d := range tc.data {
				p.fr.WriteData(1, i == len(tc.data)-1, []byte(d))
			}
			evs := p.flush()
			if last := evs[len(evs)-1]; last.Kind != EventReset || last.Code != CodeProtocol {
				t.Fatalf("want EventReset PROTOCOL_ERROR, got %+v", evs)
			}
		})
	}
}

func TestTrailers(t *testing.T) {
	p := newPeer(t, Limits{})
	p.get(1, false)
	p.fr.WriteData(1, false, []byte("body"))
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: p.block("x-sum", "42")})
	evs := p.flush()
	if len(evs) != 3 || evs[2].Kind != EventTrailers || !slices.Equal(evs[2].Fields, []string{"x-sum: 42"}) {
		t.Fatalf("got %+v", evs)
	}
	// Response trailers.
	if err := p.c.StartHeaders(1, 200); err != nil {
		t.Fatal(err)
	}
	p.c.EndHeaders(false)
	p.c.WriteData(1, []byte("x"), false, 0)
	p.c.StartTrailers(1)
	p.c.FieldString("grpc-status", "0")
	p.c.EndHeaders(false) // trailers end the stream whatever the flag
	fs := p.frames()
	if len(fs) != 3 || fs[2].Type != http2.FrameHeaders || fs[2].Flags&http2.FlagHeadersEndStream == 0 {
		t.Fatalf("got %+v", fs)
	}
	if p.c.Streams() != 0 {
		t.Errorf("%d streams left", p.c.Streams())
	}
	t.Run("trailers-without-end-stream", func(t *testing.T) {
		p := newPeer(t, Limits{})
		p.get(1, false)
		p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: p.block("x-sum", "42")})
		if evs := p.flush(); evs[len(evs)-1].Kind != EventReset || evs[len(evs)-1].Code != CodeProtocol {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("pseudo-in-trailers", func(t *testing.T) {
		p := newPeer(t, Limits{})
		p.get(1, false)
		p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: p.block(":path", "/")})
		if evs := p.flush(); evs[len(evs)-1].Kind != EventReset {
			t.Fatalf("got %+v", evs)
		}
	})
}

// Interim responses: 103 Early Hints, 100 Continue, then the final head;
// 101 is refused (RFC 9113 §8.6); a second final head is refused.
func TestResponseHeads(t *testing.T) {
	p := newPeer(t, Limits{})
	p.get(1, true)
	p.flush()
	c := p.c
	if err := c.StartHeaders(1, 101); err != ErrHeadState {
		t.Errorf("101: %v", err)
	}
	if _, err := c.WriteData(1, []byte("x"), false, 0); err != ErrHeadState {
		t.Errorf("DATA before the head: %v", err)
	}
	for _, st := range []int{103, 100} {
		c.StartHeaders(1, st)
		c.FieldString("Link", "</a.css>; rel=preload")
		c.EndHeaders(true) // an interim head never ends the stream
	}
	c.StartHeaders(1, 404)
	c.FieldString("Content-Type", "text/html")
	c.FieldString("Connection", "close")        // dropped: connection-specific
	c.FieldString("Transfer-Encoding", "chunk") // dropped
	c.FieldString("X-Custom-Name", "v")
	c.EndHeaders(false)
	if err := c.StartHeaders(1, 200); err != ErrHeadState {
		t.Errorf("second final head: %v", err)
	}
	c.WriteData(1, nil, true, 0)
	fs := p.frames()
	var got []string
	for _, f := range fs {
		if f.Type == http2.FrameHeaders {
			var kv []string
			for _, h := range f.Fields {
				kv = append(kv, h.Name+"="+h.Value)
			}
			got = append(got, strings.Join(kv, " "))
		}
	}
	want := []string{
		":status=103 link=</a.css>; rel=preload",
		":status=100 link=</a.css>; rel=preload",
		":status=404 content-type=text/html x-custom-name=v",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heads:\n%q\nwant\n%q", got, want)
	}
	if last := fs[len(fs)-1]; last.Type != http2.FrameData || last.Flags&http2.FlagDataEndStream == 0 {
		t.Errorf("want an empty DATA with END_STREAM last, got %+v", last)
	}
}

// Response DATA respects both send windows; a cut-short write marks the
// stream blocked until a WINDOW_UPDATE or SETTINGS opens it.
func TestSendFlowControl(t *testing.T) {
	p := newPeer(t, Limits{})
	p.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
	p.get(1, true)
	p.get(3, true)
	p.now = 5
	p.flush()
	p.frames()
	c := p.c
	body := []byte(strings.Repeat("x", 100))
	for _, id := range []uint32{1, 3} {
		c.StartHeaders(id, 200)
		c.EndHeaders(false)
		if n, err := c.WriteData(id, body, true, 7); n != 10 || err != nil {
			t.Fatalf("stream %d: WriteData took %d, %v; want 10", id, n, err)
		}
	}
	if b := c.BlockedSince(); b != 7 {
		t.Errorf("BlockedSince %d, want 7", b)
	}
	// A stream WINDOW_UPDATE unblocks that stream only.
	p.fr.WriteWindowUpdate(3, 50)
	evs := p.flush()
	if len(evs) != 1 || evs[0].Kind != EventWritable || evs[0].Stream != 3 {
		t.Fatalf("got %+v", evs)
	}
	if n, _ := c.WriteData(3, body[10:], true, 8); n != 50 {
		t.Fatalf("took %d, want 50", n)
	}
	// SETTINGS_INITIAL_WINDOW_SIZE applies to open streams (§6.9.2).
	p.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
	evs = p.flush()
	if !slices.Equal(kinds(evs), []EventKind{EventWritable, EventWritable}) {
		t.Fatalf("got %+v", evs)
	}
	c.WriteData(1, body[10:], true, 9)
	c.WriteData(3, body[60:], true, 9)
	if c.BlockedSince() != 0 || c.Streams() != 0 {
		t.Errorf("blocked since %d, %d streams", c.BlockedSince(), c.Streams())
	}
	var sent int
	for _, f := range p.frames() {
		sent += len(f.Data)
	}
	if sent != 2*len(body) {
		t.Errorf("sent %d body bytes, want %d", sent, 2*len(body))
	}
	if c.sendWindow != DefaultWindow-2*int64(len(body)) {
		t.Errorf("connection window %d", c.sendWindow)
	}
}

// Large DATA is split at the peer's SETTINGS_MAX_FRAME_SIZE.
func TestDataSplit(t *testing.T) {
	p := newPeer(t, Limits{})
	p.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	p.fr.WriteWindowUpdate(0, 1<<20)
	p.get(1, true)
	p.flush()
	p.frames()
	p.c.StartHeaders(1, 200)
	p.c.EndHeaders(false)
	body := make([]byte, 40000)
	if n, _ := p.c.WriteData(1, body, true, 0); n != len(body) {
		t.Fatalf("took %d", n)
	}
	var sizes []int
	for _, f := range p.frames() {
		if f.Type == http2.FrameData {
			sizes = append(sizes, len(f.Data))
		}
	}
	if !slices.Equal(sizes, []int{16384, 16384, 7232}) {
		t.Errorf("DATA sizes %v", sizes)
	}
}

// Consumed credits the peer's windows with WINDOW_UPDATE once half a window
// is owed; not consuming keeps the window closed.
func TestConsumedCredits(t *testing.T) {
	p := newPeer(t, Limits{})
	p.get(1, false)
	p.flush()
	chunk := make([]byte, 16000)
	for range 3 {
		p.fr.WriteData(1, false, chunk)
	}
	p.flush()
	if fs := p.frames(); len(fs) != 0 {
		t.Fatalf("credited before Consumed: %+v", fs)
	}
	p.c.Consumed(1, 16000)
	if fs := p.frames(); len(fs) != 0 {
		t.Fatalf("credited less than half a window: %+v", fs)
	}
	p.c.Consumed(1, 32000)
	fs := p.frames()
	w, ok := find(fs, http2.FrameWindowUpdate, 1)
	if !ok || w.Incr != 48000 {
		t.Fatalf("want a stream WINDOW_UPDATE of 48000, got %+v", fs)
	}
}

// GOAWAY with NO_ERROR drains: streams open finish, new ones are ignored.
func TestGracefulGoAway(t *testing.T) {
	p := newPeer(t, Limits{})
	p.get(1, true)
	p.get(3, false)
	p.flush()
	p.c.GoAway(CodeNo)
	g, ok := find(p.frames(), http2.FrameGoAway, 0)
	if !ok || g.Last != 3 || g.Code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %+v", g)
	}
	p.get(5, true)
	p.fr.WriteData(3, true, []byte("end"))
	evs := p.flush()
	if len(evs) != 1 || evs[0].Kind != EventData || evs[0].Stream != 3 {
		t.Fatalf("got %+v", evs)
	}
	if !p.c.Draining() || p.c.Streams() != 2 {
		t.Fatalf("draining %v with %d streams", p.c.Draining(), p.c.Streams())
	}
	p.respond(1, "a")
	p.respond(3, "b")
	if p.c.Streams() != 0 || p.c.IdleSince() == 0 {
		t.Errorf("streams %d, idle since %d", p.c.Streams(), p.c.IdleSince())
	}
}

// Bytes arriving one at a time give the same events as in one piece.
func TestFeedByteByByte(t *testing.T) {
	whole := newPeer(t, Limits{})
	split := newPeer(t, Limits{})
	for _, p := range []*peer{whole, split} {
		p.get(1, false, "x-long", strings.Repeat("v", 300))
		p.fr.WriteData(1, false, []byte("hello"))
		p.fr.WritePing(false, [8]byte{9})
		p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: false, EndStream: true, BlockFragment: p.block("x-t", "1")[:1]})
		p.fr.WriteContinuation(1, true, p.block("x-t", "1")[1:])
	}
	a := whole.flush()
	var b []rec
	wire := append([]byte(nil), split.wire.Bytes()...)
	split.wire.Reset()
	for _, c := range wire {
		split.wire.WriteByte(c)
		b = append(b, split.flush()...)
	}
	if len(a) != len(b) || len(a) != 3 {
		t.Fatalf("whole %+v\nsplit %+v", a, b)
	}
	for i := range a {
		if !equalRec(a[i], b[i]) {
			t.Errorf("event %d: %+v vs %+v", i, a[i], b[i])
		}
	}
}

func TestPrefaceAndFirstSettings(t *testing.T) {
	c := NewServerConn(Limits{}, 0)
	if n, ev := c.Feed([]byte("PRI * HTTP/2"), 0); n != 0 || ev.Kind != EventNone {
		t.Fatalf("partial preface: %d %v", n, ev.Kind)
	}
	if _, ev := c.Feed([]byte("GET / HTTP/1.1\r\n\r\n"), 0); ev.Kind != EventClose || ev.Err != ErrPreface {
		t.Fatalf("HTTP/1.1: %+v", ev)
	}
	c = NewServerConn(Limits{}, 0)
	in := append([]byte(Preface), AppendPing(nil, false, [8]byte{})...)
	if _, ev := c.Feed(in, 0); ev.Kind != EventClose || ev.Err != ErrFirstSettings {
		t.Fatalf("PING first: %+v", ev)
	}
}

// A client that reads slowly makes progress: BlockedSince moves with it.
func TestBlockedSinceMovesWithProgress(t *testing.T) {
	p := newPeer(t, Limits{})
	p.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	p.get(1, true)
	p.flush()
	c := p.c
	c.StartHeaders(1, 200)
	c.EndHeaders(false)
	body := []byte(strings.Repeat("x", 100))
	n, _ := c.WriteData(1, body, true, 10)
	p.fr.WriteWindowUpdate(1, 5)
	p.flush()
	n2, _ := c.WriteData(1, body[n:], true, 20)
	if n != 10 || n2 != 5 || c.BlockedSince() != 20 {
		t.Fatalf("took %d then %d, blocked since %d; want 10, 5, 20", n, n2, c.BlockedSince())
	}
	if n3, _ := c.WriteData(1, body[n+n2:], true, 30); n3 != 0 || c.BlockedSince() != 20 {
		t.Fatalf("no progress at 30: blocked since %d, want 20", c.BlockedSince())
	}
}

// Connections of one loop sharing Buffers: requests on both, and an idle
// connection holds no decode buffer of its own.
func TestSharedBuffers(t *testing.T) {
	var b Buffers
	a, z := newPeer(t, Limits{}), newPeer(t, Limits{})
	a.c.SetBuffers(&b)
	z.c.SetBuffers(&b)
	for id := uint32(1); id < 20; id += 2 {
		for _, p := range []*peer{a, z} {
			p.get(id, true, "x-id", strconv.Itoa(int(id)))
			evs := p.flush()
			if len(evs) != 1 || evs[0].Kind != EventRequest || evs[0].Fields[0] != "x-id: "+strconv.Itoa(int(id)) {
				t.Fatalf("%+v", evs)
			}
			p.respond(id, "ok")
			if h, ok := find(p.frames(), http2.FrameHeaders, id); !ok || h.status() != "200" {
				t.Fatalf("response %+v", h)
			}
		}
	}
	if cap(a.c.own.list.buf) != 0 || cap(z.c.own.list.buf) != 0 || cap(b.list.buf) == 0 {
		t.Errorf("own buffers %d and %d, shared %d", cap(a.c.own.list.buf), cap(z.c.own.list.buf), cap(b.list.buf))
	}
}
