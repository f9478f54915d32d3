package h2

import (
	"strconv"
	"testing"
)

// pair runs a ClientConn against a ServerConn in memory; the server
// answers every complete request with status 200 + stream ID and a body.
type pair struct {
	t    testing.TB
	c    ClientConn
	s    *ServerConn
	toS  []byte
	toC  []byte
	body string
}

func newPair(t testing.TB, lim Limits, tps ...*RequestTemplate) *pair {
	p := &pair{t: t, s: NewServerConn(lim, 1), body: "response body"}
	p.c.Init(tps)
	return p
}

// pump moves bytes both ways until both sides are quiet and returns the
// client's events.
func (p *pair) pump() []ClientEvent {
	var evs []ClientEvent
	for range 100 {
		p.toS = append(p.toS, p.c.Output()...)
		p.c.ClearOutput()
		for {
			n, ev := p.s.Feed(p.toS, 1)
			p.toS = p.toS[n:]
			if ev.Kind == EventNone {
				break
			}
			if ev.Kind == EventClose {
				p.t.Fatalf("server closed: %v", ev.Err)
			}
			if ev.Kind == EventData {
				p.s.Consumed(ev.Stream, len(ev.Data))
			}
			if ev.EndStream {
				st := 200 + int(ev.Stream%50)
				p.s.StartHeaders(ev.Stream, st)
				p.s.EndHeaders(false)
				p.s.WriteData(ev.Stream, []byte(p.body), true, 1)
			}
		}
		p.toC = append(p.toC, p.s.Output()...)
		p.s.ClearOutput()
		for {
			n, ev := p.c.Feed(p.toC)
			p.toC = p.toC[n:]
			if ev.Kind == ClientNone {
				break
			}
			evs = append(evs, *ev)
		}
		if len(p.c.Output()) == 0 && len(p.s.Output()) == 0 && len(p.toS) == 0 {
			return evs
		}
	}
	p.t.Fatal("no quiet")
	return nil
}

func TestClientConn(t *testing.T) {
	get := NewRequestTemplate("GET", "http", "example.com:8080", "/items?id=7", [][2]string{{"User-Agent", "hotload"}, {"x-trace", "abc"}}, nil)
	post := NewRequestTemplate("POST", "http", "example.com:8080", "/", [][2]string{{"content-length", "5"}}, []byte("hello"))
	p := newPair(t, Limits{}, get, post)
	p.pump()
	var sizes []int
	for round := range 3 {
		for k := range 10 {
			tp := k % 2
			if !p.c.CanOpen(len([]byte("hello"))) {
				t.Fatal("cannot open")
			}
			before := len(p.c.Output())
			id := p.c.Open(tp, uint32(100*round+k))
			if round == 0 && k < 2 || round == 2 && k < 2 {
				sizes = append(sizes, len(p.c.Output())-before)
			}
			_ = id
		}
		evs := p.pump()
		if len(evs) != 10 {
			t.Fatalf("round %d: %d events: %+v", round, len(evs), evs)
		}
		seen := map[uint32]bool{}
		for _, ev := range evs {
			if ev.Kind != ClientDone || ev.Status != 200+int(ev.Stream%50) {
				t.Fatalf("event %+v", ev)
			}
			seen[ev.Tag] = true
		}
		if len(seen) != 10 || p.c.InFlight() != 0 {
			t.Fatalf("tags %v, in flight %d", seen, p.c.InFlight())
		}
	}
	// The first use inserts the fields; later uses are indexed.
	if sizes[2] >= sizes[0] || sizes[3] >= sizes[1] {
		t.Errorf("frame sizes first %v, later %v: want later ones smaller", sizes[:2], sizes[2:])
	}
}

// A server whose HPACK table is too small for the templates gets literals.
func TestClientConnSmallTable(t *testing.T) {
	long := make([][2]string, 0, 80)
	for i := range 80 {
		long = append(long, [2]string{"x-h" + strconv.Itoa(i), "value-value-value-value-" + strconv.Itoa(i)})
	}
	tp := NewRequestTemplate("GET", "http", "h", "/", long, nil)
	p := newPair(t, Limits{}, tp)
	for range 3 {
		p.c.Open(0, 0)
		if evs := p.pump(); len(evs) != 1 || evs[0].Kind != ClientDone {
			t.Fatalf("%+v", evs)
		}
	}
	if !p.c.literal {
		t.Error("templates larger than the table are sent as literals")
	}
	small := NewRequestTemplate("GET", "http", "h", "/", [][2]string{{"x-a", "1"}}, nil)
	p = newPair(t, Limits{HeaderTableSize: 16}, small)
	p.c.Open(0, 0) // sent before the server's SETTINGS arrive: indexed
	p.pump()
	for range 3 {
		p.c.Open(0, 0)
		if evs := p.pump(); len(evs) != 1 || evs[0].Kind != ClientDone {
			t.Fatalf("%+v", evs)
		}
	}
	if !p.c.literal {
		t.Error("a server table of 16 bytes turns the client to literals")
	}
}

// One stream until the server's SETTINGS arrive; then its limit, or none.
func TestClientConnConcurrencyBeforeSettings(t *testing.T) {
	var c ClientConn
	c.Init([]*RequestTemplate{NewRequestTemplate("GET", "http", "h", "/", nil, nil)})
	c.Open(0, 0)
	if c.CanOpen(0) {
		t.Fatal("a second stream before the server's SETTINGS")
	}
	in := AppendFrameHeader(nil, 0, FrameSettings, 0, 0) // no MAX_CONCURRENT_STREAMS: unlimited
	if n, ev := c.Feed(in); n != len(in) || ev.Kind != ClientNone {
		t.Fatalf("%d %+v", n, ev)
	}
	for range 500 {
		if !c.CanOpen(0) {
			t.Fatal("limited without a limit")
		}
		c.Open(0, 0)
	}
}
