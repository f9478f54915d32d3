package h2

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// closedWith checks that the last event is EventClose with err and that
// the connection wrote GOAWAY with code.
func closedWith(t *testing.T, p *peer, evs []rec, err Error, code http2.ErrCode) {
	t.Helper()
	if len(evs) == 0 || evs[len(evs)-1].Kind != EventClose || evs[len(evs)-1].Err != err {
		t.Fatalf("want EventClose %v, got %+v", err, tail(evs))
	}
	g, ok := find(p.frames(), http2.FrameGoAway, 0)
	if !ok || g.Code != code {
		t.Fatalf("want GOAWAY %v, got %+v", code, g)
	}
}

func tail(evs []rec) []rec {
	if len(evs) > 3 {
		return evs[len(evs)-3:]
	}
	return evs
}

// Rapid reset (CVE-2023-44487): streams opened and reset at once, as fast
// as the client can write them.
func TestRapidReset(t *testing.T) {
	p := newPeer(t, Limits{})
	var evs []rec
	id := uint32(1)
	for ; id < 2*1000; id += 2 {
		p.get(id, true)
		p.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		evs = append(evs, p.flush()...)
		if p.c.Closed() {
			break
		}
	}
	closedWith(t, p, evs, ErrRapidReset, http2.ErrCodeEnhanceYourCalm)
	if n := (id + 1) / 2; n != DefaultMaxPrematureResets+1 {
		t.Errorf("closed after %d streams, want %d", n, DefaultMaxPrematureResets+1)
	}
}

// A browser that cancels some of its requests is not an attacker: resets
// fewer than completed responses never close the connection.
func TestResetsWithCompletions(t *testing.T) {
	p := newPeer(t, Limits{MaxPrematureResets: 10})
	for id := uint32(1); id < 2000; id += 4 {
		p.get(id, true)
		p.get(id+2, true)
		p.fr.WriteRSTStream(id+2, http2.ErrCodeCancel)
		p.flush()
		p.respond(id, "ok")
		p.frames()
	}
	if p.c.Closed() {
		t.Fatal("closed a connection that completes as many streams as it resets")
	}
}

// CONTINUATION flood (CVE-2024-27316): a header block that never ends is
// refused once past MaxHeaderBlock, before the rest is even sent.
func TestContinuationFlood(t *testing.T) {
	p := newPeer(t, Limits{})
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(":method", "GET")})
	junk := make([]byte, MinMaxFrameSize)
	for i := range junk {
		junk[i] = 0x40 // literal with indexing: undecodable if ever decoded
	}
	total := 0
	var evs []rec
	for i := 0; i < 100 && !p.c.Closed(); i++ {
		p.fr.WriteContinuation(1, false, junk)
		total += len(junk) + FrameHeaderLen
		evs = append(evs, p.flush()...)
	}
	closedWith(t, p, evs, ErrHeaderBlockSize, http2.ErrCodeEnhanceYourCalm)
	if total > 2*DefaultMaxHeaderListSize+2*len(junk) {
		t.Errorf("read %d bytes of a header block before refusing it", total)
	}
	if cap(p.c.hbBuf) > 4*DefaultMaxHeaderListSize {
		t.Errorf("the header block buffer grew to %d bytes", cap(p.c.hbBuf))
	}
}

// Empty CONTINUATION frames cost no block bytes: they spend the control
// budget instead.
func TestEmptyContinuationFlood(t *testing.T) {
	p := newPeer(t, Limits{})
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(":method", "GET")})
	var evs []rec
	for i := 0; i < 5000 && !p.c.Closed(); i++ {
		p.fr.WriteContinuation(1, false, nil)
		evs = append(evs, p.flush()...)
	}
	closedWith(t, p, evs, ErrFlood, http2.ErrCodeEnhanceYourCalm)
}

// HPACK bomb: one large entry in the dynamic table, then a block that
// refers to it many times, one byte each. The request is answered 431
// without the decoded list ever being held, and the connection goes on.
func TestHPACKBomb(t *testing.T) {
	p := newPeer(t, Limits{})
	big := strings.Repeat("b", 4000)
	p.get(1, true, "x-bomb", big) // inserted in the dynamic table (x/net indexes it)
	evs := p.flush()
	if len(evs) != 1 || evs[0].Kind != EventRequest {
		t.Fatalf("first request: %+v", evs)
	}
	p.respond(1, "")
	p.frames()
	// 62 is the newest dynamic entry: x-bomb.
	block := p.block(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "example.com")
	for range 10000 {
		block = append(block, 0x80|62)
	}
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:4096], EndStream: true})
	for rest := block[4096:]; len(rest) > 0; {
		n := min(len(rest), 4096)
		p.fr.WriteContinuation(3, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	evs = p.flush()
	if len(evs) != 0 {
		t.Fatalf("the bomb reached the engine: %+v", evs)
	}
	h, ok := find(p.frames(), http2.FrameHeaders, 3)
	if !ok || h.status() != "431" {
		t.Fatalf("want a 431 on stream 3, got %+v", h)
	}
	if cap(p.c.bufs.list.buf) > DefaultMaxHeaderListSize {
		t.Errorf("decode buffer grew to %d", cap(p.c.bufs.list.buf))
	}
	p.get(5, true)
	if evs := p.flush(); len(evs) != 1 || evs[0].Kind != EventRequest {
		t.Fatalf("the connection did not go on: %+v", evs)
	}
}

// Floods of frames that cost work and carry none.
func TestControlFloods(t *testing.T) {
	ping := func(p *peer) { p.fr.WritePing(false, [8]byte{1}) }
	tests := []struct {
		name  string
		setup func(p *peer)
		frame func(p *peer)
	}{
		{name: "ping", frame: ping},
		{name: "settings", frame: func(p *peer) { p.fr.WriteSettings() }},
		{name: "priority", frame: func(p *peer) { p.fr.WritePriority(3, http2.PriorityParam{StreamDep: 0, Weight: 1}) }},
		{name: "window-update", setup: func(p *peer) { p.get(1, false) }, frame: func(p *peer) { p.fr.WriteWindowUpdate(0, 1) }},
		{name: "empty-data", setup: func(p *peer) { p.get(1, false) }, frame: func(p *peer) { p.fr.WriteData(1, false, nil) }},
		{name: "unknown-type", frame: func(p *peer) { p.raw(0xfa, 0, 0, []byte("x")) }},
		{name: "rst-closed-stream", setup: func(p *peer) { p.get(1, true); p.flush(); p.respond(1, "") },
			frame: func(p *peer) { p.fr.WriteRSTStream(1, http2.ErrCodeCancel) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, Limits{})
			if tc.setup != nil {
				tc.setup(p)
				p.flush()
				p.frames()
			}
			var evs []rec
			sent := 0
			for ; sent < 3*DefaultMaxControlFrames && !p.c.Closed(); sent++ {
				tc.frame(p)
				evs = append(evs, p.flush()...)
				if len(p.c.Output()) > 1<<20 {
					t.Fatal("output grows without bound")
				}
			}
			closedWith(t, p, evs, ErrFlood, http2.ErrCodeEnhanceYourCalm)
			if sent > DefaultMaxControlFrames+1 {
				t.Errorf("closed after %d frames, want %d", sent, DefaultMaxControlFrames+1)
			}
		})
	}
	// The same frames at the budget's rate are fine.
	t.Run("ping-at-rate", func(t *testing.T) {
		p := newPeer(t, Limits{})
		for range 5 * DefaultMaxControlFrames {
			p.now += 1_000_000 // one a millisecond: ControlFrameRate
			ping(p)
			p.flush()
			p.frames()
		}
		if p.c.Closed() {
			t.Fatal("closed a connection that pings at the allowed rate")
		}
	})
}

// A client cannot make the connection hold more than its windows: DATA past
// the stream window is a stream error, past the connection window a
// connection error.
func TestFlowControlEnforced(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		p := newPeer(t, Limits{})
		p.get(1, false)
		p.flush()
		chunk := make([]byte, MinMaxFrameSize)
		for range 4 {
			p.fr.WriteData(1, false, chunk) // 64 KiB: within 65535? no: 65536
		}
		evs := p.flush()
		if last := evs[len(evs)-1]; last.Kind != EventReset || last.Code != CodeFlowControl {
			t.Fatalf("want EventReset FLOW_CONTROL_ERROR, got %+v", last)
		}
		if r, ok := find(p.frames(), http2.FrameRSTStream, 1); !ok || r.Code != http2.ErrCodeFlowControl {
			t.Fatalf("want RST_STREAM FLOW_CONTROL_ERROR, got %+v", r)
		}
		if w := p.c.recvWindow + p.c.recvCredit; w != int64(DefaultConnWindowSize) {
			t.Errorf("connection window %d: the dropped stream's bytes were not credited back", w)
		}
	})
	t.Run("connection", func(t *testing.T) {
		p := newPeer(t, Limits{InitialWindowSize: 1 << 20, ConnWindowSize: 1 << 16})
		chunk := make([]byte, MinMaxFrameSize)
		var evs []rec
		for id := uint32(1); id < 20 && !p.c.Closed(); id += 2 {
			p.get(id, false)
			p.fr.WriteData(id, false, chunk)
			evs = append(evs, p.flush()...)
		}
		closedWith(t, p, evs, ErrFlowControl, http2.ErrCodeFlowControl)
	})
}

// A frame larger than SETTINGS_MAX_FRAME_SIZE is refused from its header,
// before its payload arrives.
func TestFrameTooLarge(t *testing.T) {
	p := newPeer(t, Limits{})
	var h [FrameHeaderLen]byte
	AppendFrameHeader(h[:0], MinMaxFrameSize+1, FrameData, 0, 1)
	p.wire.Write(h[:])
	evs := p.flush()
	closedWith(t, p, evs, ErrFrameSize, http2.ErrCodeFrameSize)
}

func TestMaxConcurrentStreams(t *testing.T) {
	p := newPeer(t, Limits{MaxConcurrentStreams: 3})
	for id := uint32(1); id <= 7; id += 2 {
		p.get(id, false)
	}
	evs := p.flush()
	if len(evs) != 3 {
		t.Fatalf("want 3 requests, got %+v", evs)
	}
	if r, ok := find(p.frames(), http2.FrameRSTStream, 7); !ok || r.Code != http2.ErrCodeRefusedStream {
		t.Fatalf("want RST_STREAM REFUSED_STREAM on 7, got %+v", r)
	}
	p.respond(1, "")             // the request had not ended: reset with NO_ERROR, slot freed
	p.fr.WriteData(1, true, nil) // in flight before the reset: ignored
	p.get(9, true)
	if evs := p.flush(); len(evs) != 1 || evs[0].Kind != EventRequest || evs[0].Stream != 9 {
		t.Fatalf("a freed slot takes a new stream: %+v", evs)
	}
}

// Memory per connection stays bounded whatever arrives: a long mix of
// valid and hostile frames leaves every buffer within its limit.
func TestMemoryBounded(t *testing.T) {
	p := newPeer(t, Limits{})
	big := strings.Repeat("v", 3000)
	for round := range 200 {
		id := uint32(2*round + 1)
		p.now += 10_000_000
		p.get(id, round%2 == 0, "x-a", big, "x-b", big)
		if round%2 == 1 {
			p.fr.WriteData(id, false, make([]byte, 8000))
			p.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		p.fr.WritePing(false, [8]byte{})
		for _, ev := range p.flush() {
			if ev.Kind == EventRequest && ev.EndStream {
				p.respond(ev.Stream, "ok")
			}
		}
		p.frames()
		if p.c.Closed() {
			t.Fatalf("closed at round %d: %v", round, p.c.err)
		}
	}
	c := p.c
	if cap(c.bufs.list.buf) > DefaultMaxHeaderListSize || cap(c.hbBuf) > 2*DefaultMaxHeaderListSize ||
		cap(c.dec.table.data) > 2*DefaultHeaderTableSize || cap(c.streams.ids) > 2*DefaultMaxConcurrentStreams ||
		cap(c.dec.scratch) > 4*DefaultMaxHeaderListSize {
		t.Errorf("buffers: list %d, block %d, table %d, streams %d, scratch %d",
			cap(c.bufs.list.buf), cap(c.hbBuf), cap(c.dec.table.data), cap(c.streams.ids), cap(c.dec.scratch))
	}
}

// Stream IDs: even, decreasing, and frames on idle streams are connection
// errors (RFC 9113 §5.1, §5.1.1).
func TestStreamIDRules(t *testing.T) {
	tests := []struct {
		name  string
		write func(p *peer)
		err   Error
	}{
		{name: "even", write: func(p *peer) { p.get(2, true) }, err: ErrStreamID},
		{name: "decreasing", write: func(p *peer) { p.get(5, true); p.get(3, true) }, err: ErrStreamID},
		{name: "data-idle", write: func(p *peer) { p.fr.WriteData(1, true, []byte("x")) }, err: ErrIdleStream},
		{name: "window-update-idle", write: func(p *peer) { p.fr.WriteWindowUpdate(1, 1) }, err: ErrIdleStream},
		{name: "rst-idle", write: func(p *peer) { p.fr.WriteRSTStream(1, http2.ErrCodeCancel) }, err: ErrIdleStream},
		{name: "push-promise", write: func(p *peer) {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], 2)
			p.raw(FramePushPromise, FlagEndHeaders, 1, b[:])
		}, err: ErrPushPromise},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, Limits{})
			tc.write(p)
			evs := p.flush()
			if last := evs[len(evs)-1]; last.Kind != EventClose || last.Err != tc.err {
				t.Fatalf("want EventClose %v, got %+v", tc.err, evs)
			}
		})
	}
}

// The attacks over a real socket against the test server: the client gets
// the GOAWAY, the connection is closed, and the server's loop saw why.
func TestHostileOverTCP(t *testing.T) {
	tests := []struct {
		name   string
		attack func(fr *http2.Framer, enc func(kv ...string) []byte)
		err    Error
		code   http2.ErrCode
	}{
		{name: "rapid-reset", err: ErrRapidReset, code: http2.ErrCodeEnhanceYourCalm,
			attack: func(fr *http2.Framer, enc func(kv ...string) []byte) {
				for id := uint32(1); id < 2000; id += 2 {
					fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: enc(
						":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a")})
					fr.WriteRSTStream(id, http2.ErrCodeCancel)
				}
			}},
		{name: "continuation-flood", err: ErrHeaderBlockSize, code: http2.ErrCodeEnhanceYourCalm,
			attack: func(fr *http2.Framer, enc func(kv ...string) []byte) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(":method", "GET")})
				junk := make([]byte, 16000)
				for range 200 {
					if fr.WriteContinuation(1, false, junk) != nil {
						return // the server closed: what the test expects
					}
				}
			}},
		{name: "ping-flood", err: ErrFlood, code: http2.ErrCodeEnhanceYourCalm,
			attack: func(fr *http2.Framer, enc func(kv ...string) []byte) {
				for range 5000 {
					if fr.WritePing(false, [8]byte{}) != nil {
						return
					}
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Limits{}, "ok")
			nc, err := net.Dial("tcp", s.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			go func() {
				bw := bufio.NewWriter(nc)
				bw.WriteString(Preface)
				fr := http2.NewFramer(bw, nil)
				fr.WriteSettings()
				var hb bytes.Buffer
				he := hpack.NewEncoder(&hb)
				tc.attack(fr, func(kv ...string) []byte {
					hb.Reset()
					for i := 0; i+1 < len(kv); i += 2 {
						he.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
					}
					return hb.Bytes()
				})
				bw.Flush()
			}()
			fr := http2.NewFramer(nil, nc)
			var goAway *http2.GoAwayFrame
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					break // EOF or reset: the server closed
				}
				if g, ok := f.(*http2.GoAwayFrame); ok {
					goAway = g
				}
			}
			if goAway == nil || goAway.ErrCode != tc.code {
				t.Fatalf("want GOAWAY %v before the close, got %+v", tc.code, goAway)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !slices.Contains(s.errors(), tc.err) {
				if time.Now().After(deadline) {
					t.Fatalf("server errors %v, want %v", s.errors(), tc.err)
				}
				runtime.Gosched()
			}
		})
	}
}
