package loadgen

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpath/hotpath/h2"
)

// h2cServer is Go's HTTP/2 server (x/net's, bundled in net/http) over h2c
// with prior knowledge, an implementation independent of package h2. It answers with size bytes (a
// "size" query parameter) and counts requests by method and the body bytes
// received.
type h2cServer struct {
	url      string
	twoIn    chan struct{} // closed once two requests are in flight at once
	requests sync.Map      // method -> *atomic.Int64
	bodyIn   atomic.Int64
	maxConc  atomic.Int64
	closeTwo sync.Once
	conc     atomic.Int64
}

func startH2c(t *testing.T, maxStreams uint32) *h2cServer {
	t.Helper()
	s := &h2cServer{twoIn: make(chan struct{})}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.conc.Add(1)
		defer s.conc.Add(-1)
		for {
			m := s.maxConc.Load()
			if n <= m || s.maxConc.CompareAndSwap(m, n) {
				break
			}
		}
		if n == 2 {
			s.closeTwo.Do(func() { close(s.twoIn) })
		}
		// Until two requests have met, each waits a little for another:
		// concurrent streams meet at once, serial ones never do.
		select {
		case <-s.twoIn:
		case <-time.After(50 * time.Millisecond):
		case <-r.Context().Done():
		}
		v, _ := s.requests.LoadOrStore(r.Method, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		b, _ := io.Copy(io.Discard, r.Body)
		s.bodyIn.Add(b)
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		if size == 0 {
			size = 13
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write([]byte(strings.Repeat("x", size)))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true) // prior knowledge
	srv := &http.Server{Handler: h, Protocols: &p, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: int(maxStreams)}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.url = "http://" + ln.Addr().String()
	return s
}

func (s *h2cServer) count(method string) int64 {
	v, ok := s.requests.Load(method)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func TestRunHTTP2(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		method string
		body   string
		path   string
		check  func(t *testing.T, s *h2cServer, res *Result)
	}{
		{name: "closed loop", cfg: Config{Connections: 2, Pipeline: 10}, check: func(t *testing.T, s *h2cServer, res *Result) {
			if res.Connects != 2 || res.Status[200] != res.Requests {
				t.Fatalf("connects %d, status %v", res.Connects, res.Status)
			}
			if s.maxConc.Load() < 2 {
				t.Errorf("at most %d requests in flight at the server: streams are not concurrent", s.maxConc.Load())
			}
		}},
		{name: "constant rate", cfg: Config{Connections: 4, Pipeline: 4, Rate: 400, Duration: 500 * time.Millisecond},
			check: func(t *testing.T, s *h2cServer, res *Result) {
				if res.Requests < 150 || res.Requests > 201 {
					t.Fatalf("requests %d, want about 200", res.Requests)
				}
			}},
		{name: "post", method: "POST", body: "0123456789", cfg: Config{Connections: 1, Pipeline: 4},
			check: func(t *testing.T, s *h2cServer, res *Result) {
				// Requests still in the server when the run ended may
				// be counted without their body yet.
				if b := s.bodyIn.Load(); b < 10*res.Requests || b > 10*s.count("POST") {
					t.Fatalf("server got %d body bytes in %d POSTs", s.bodyIn.Load(), s.count("POST"))
				}
			}},
		{name: "head", method: "HEAD", cfg: Config{Connections: 1, Pipeline: 2}, check: func(t *testing.T, s *h2cServer, res *Result) {
			if s.count("HEAD") < res.Requests {
				t.Fatalf("server saw %d HEAD", s.count("HEAD"))
			}
		}},
		// 300 kB a response: a slow (race, CPU-starved) run needs longer than
		// the others to finish one.
		{name: "large body", path: "/?size=300000", cfg: Config{Connections: 2, Pipeline: 4, Duration: 3 * time.Second}, check: func(t *testing.T, s *h2cServer, res *Result) {
			if res.BytesIn < res.Requests*300000 {
				t.Fatalf("bytes in %d for %d responses of 300000", res.BytesIn, res.Requests)
			}
		}},
		{name: "server limit below pipeline", cfg: Config{Connections: 1, Pipeline: 50}, check: func(t *testing.T, s *h2cServer, res *Result) {
			if s.maxConc.Load() > 5 {
				t.Fatalf("%d in flight past the server's 5 streams", s.maxConc.Load())
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxStreams := uint32(100)
			if strings.Contains(tc.name, "server limit") {
				maxStreams = 5
			}
			s := startH2c(t, maxStreams)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			tg, err := NewTarget(method, s.url+tc.path, []string{"X-Test: 1", "Connection: keep-alive"}, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			cfg := tc.cfg
			cfg.HTTP2 = true
			cfg.Targets = []Target{tg}
			if cfg.Duration == 0 {
				cfg.Duration = 300 * time.Millisecond
			}
			res := mustRun(t, cfg)
			checkCounts(t, res)
			tc.check(t, s, res)
		})
	}
}

func TestHTTP2NoKeepAlive(t *testing.T) {
	tg, _ := NewTarget("GET", "http://127.0.0.1:1/", nil, "")
	if _, err := (Config{Targets: []Target{tg}, HTTP2: true, NoKeepAlive: true}).withDefaults(); err == nil {
		t.Fatal("HTTP/2 without keep-alive accepted")
	}
}

// h2Loop is a loop with one HTTP/2 connection in memory: its requests go
// to an h2.ServerConn that answers each with 200 and a body.
func h2Loop(t testing.TB, depth int) (*loop, *conn, *h2.ServerConn) {
	tg, err := NewTarget("GET", "http://127.0.0.1:1/a", []string{"User-Agent: hotload"}, "")
	if err != nil {
		t.Fatal(err)
	}
	l := &loop{stats: newStats(), end: 1 << 62, depth: depth, targets: []Target{tg}}
	l.conns = []conn{{rbuf: make([]byte, readBufSize), wbuf: make([]byte, 0, 4096), q: make([]flight, depth), heapIdx: -1}}
	c := &l.conns[0]
	c.h2 = newH2Conn(h2Templates(Config{HTTP2: true, Targets: l.targets}), depth)
	c.h2.reset(c)
	c.fd = -1 // writes fail with EBADF: what the loop queues is what is measured
	return l, c, h2.NewServerConn(h2.Limits{}, 1)
}

// h2Round sends up to depth requests, has the server answer them and frames
// the answers.
func h2Round(t testing.TB, l *loop, c *conn, s *h2.ServerConn) {
	c.closeMe, c.woff = false, 0
	l.fill(c, 1000)
	in := c.wbuf
	c.wbuf = c.wbuf[:0]
	for off := 0; ; {
		n, ev := s.Feed(in[off:], 1)
		off += n
		if ev.Kind == h2.EventNone {
			break
		}
		if ev.Kind == h2.EventRequest {
			s.StartHeaders(ev.Stream, 200)
			s.FieldString("content-length", "2")
			s.EndHeaders(false)
			s.WriteData(ev.Stream, []byte("ok"), true, 1)
		}
		if ev.Kind == h2.EventClose {
			t.Fatalf("server: %v", ev.Err)
		}
	}
	c.rlen = copy(c.rbuf, s.Output())
	s.ClearOutput()
	if !l.consume(c, 2000) {
		t.Fatal("consume failed")
	}
}

func TestH2Allocs(t *testing.T) {
	l, c, s := h2Loop(t, 16)
	for range 4 {
		h2Round(t, l, c, s) // settings exchanged, HPACK tables warm, buffers sized
	}
	before := l.stats.requests
	allocs := testing.AllocsPerRun(200, func() { h2Round(t, l, c, s) })
	if allocs != 0 {
		t.Errorf("an HTTP/2 round of 16 requests allocates %.1f times, want 0", allocs)
	}
	if l.stats.requests-before < 200*16 || c.qn != 0 {
		t.Errorf("recorded %d responses, %d in flight", l.stats.requests-before, c.qn)
	}
}

// BenchmarkH2Round is the client side of 16 HTTP/2 requests and responses
// (and the in-memory server's work).
func BenchmarkH2Round(b *testing.B) {
	l, c, s := h2Loop(b, 16)
	b.ReportAllocs()
	for b.Loop() {
		h2Round(b, l, c, s)
	}
}
