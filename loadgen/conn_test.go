package loadgen

import (
	"strconv"
	"strings"
	"testing"
)

// testLoop returns a loop with one connection for feeding bytes to consume
// without sockets.
func testLoop(depth int) (*loop, *conn) {
	l := &loop{stats: newStats(), end: 1 << 62, depth: depth}
	l.conns = []conn{{rbuf: make([]byte, readBufSize), q: make([]flight, depth), heapIdx: -1}}
	return l, &l.conns[0]
}

// inflight queues n requests on c as sent at time 0.
func inflight(c *conn, n int, head bool) {
	for range n {
		c.q[(c.qh+c.qn)%len(c.q)] = flight{head: head}
		c.qn++
	}
}

// feed appends b to c's buffer in pieces of step bytes, consuming after each.
func feed(t *testing.T, l *loop, c *conn, b string, step int) bool {
	t.Helper()
	for len(b) > 0 {
		n := min(step, len(b))
		if c.rlen+n > len(c.rbuf) {
			t.Fatalf("buffer full: %d + %d", c.rlen, n)
		}
		c.rlen += copy(c.rbuf[c.rlen:], b[:n])
		b = b[n:]
		if !l.consume(c, 1000) {
			return false
		}
	}
	return true
}

const (
	respLength  = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	respChunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: v\r\n\r\n"
	respEmpty   = "HTTP/1.1 204 No Content\r\n\r\n"
	resp503     = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
	respHead    = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"
	resp100     = "HTTP/1.1 100 Continue\r\n\r\n"
	respClose   = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
)

func TestConsumeFraming(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		requests  int
		head      bool
		want      int // responses completed
		status    map[int]int64
		closeConn bool
		bad       bool
	}{
		{name: "content-length", in: respLength, requests: 1, want: 1, status: map[int]int64{200: 1}},
		{name: "chunked", in: respChunked, requests: 1, want: 1, status: map[int]int64{200: 1}},
		{name: "no body", in: respEmpty, requests: 1, want: 1, status: map[int]int64{204: 1}},
		{name: "pipelined mix", in: respLength + respChunked + resp503 + respEmpty + respLength, requests: 5, want: 5,
			status: map[int]int64{200: 3, 503: 1, 204: 1}},
		{name: "head response has no body", in: respHead + respHead, requests: 2, head: true, want: 2, status: map[int]int64{200: 2}},
		{name: "1xx then final", in: resp100 + respLength, requests: 1, want: 1, status: map[int]int64{200: 1}},
		{name: "server closes", in: respClose, requests: 1, want: 1, status: map[int]int64{200: 1}, closeConn: true},
		{name: "partial head waits", in: "HTTP/1.1 200 OK\r\nContent-Le", requests: 1, want: 0},
		{name: "partial body waits", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", requests: 1, want: 0},
		{name: "garbage", in: "HTTP/9 what\r\n\r\n", requests: 1, bad: true},
		{name: "unsolicited", in: respLength + respLength, requests: 1, want: 1, bad: true},
	}
	for _, tc := range tests {
		for _, step := range []int{1, 7, 1 << 20} {
			t.Run(tc.name+"/step"+itoa(step), func(t *testing.T) {
				l, c := testLoop(8)
				inflight(c, tc.requests, tc.head)
				ok := feed(t, l, c, tc.in, step)
				if ok == tc.bad {
					t.Fatalf("consume ok=%v, want bad=%v", ok, tc.bad)
				}
				if tc.bad {
					if l.stats.errs[ErrBadResponse] != 1 {
						t.Fatalf("bad_response errors %d, want 1", l.stats.errs[ErrBadResponse])
					}
					return
				}
				if int(l.stats.requests) != tc.want {
					t.Fatalf("completed %d, want %d", l.stats.requests, tc.want)
				}
				for s, n := range tc.status {
					if l.stats.status[s] != n {
						t.Fatalf("status %d: %d, want %d", s, l.stats.status[s], n)
					}
				}
				if c.closeMe != tc.closeConn {
					t.Fatalf("closeMe %v, want %v", c.closeMe, tc.closeConn)
				}
				if tc.want == tc.requests && c.rlen != 0 {
					t.Fatalf("%d bytes left over", c.rlen)
				}
			})
		}
	}
}

func itoa(i int) string {
	if i >= 1<<20 {
		return "All"
	}
	return strconv.Itoa(i)
}

// pipelined is 16 responses of mixed framing, as one read could return them.
var pipelined = strings.Repeat(respLength+respChunked+resp503+respEmpty, 4)

func TestConsumeAllocs(t *testing.T) {
	l, c := testLoop(16)
	allocs := testing.AllocsPerRun(200, func() {
		inflight(c, 16, false)
		c.rlen = copy(c.rbuf, pipelined)
		if !l.consume(c, 1000) || c.qn != 0 {
			t.Fatal("not framed")
		}
	})
	if allocs != 0 {
		t.Fatalf("consume allocates %.1f times per batch, want 0", allocs)
	}
}

// BenchmarkConsume frames and records 16 pipelined responses per op.
func BenchmarkConsume(b *testing.B) {
	b.ReportAllocs()
	l, c := testLoop(16)
	b.SetBytes(int64(len(pipelined)))
	for b.Loop() {
		inflight(c, 16, false)
		c.rlen = copy(c.rbuf, pipelined)
		l.consume(c, 1000)
	}
}

func TestFillAllocs(t *testing.T) {
	l, c := testLoop(16)
	tg := Target{Method: "GET", URL: "http://127.0.0.1:1/"}
	if err := tg.check(); err != nil {
		t.Fatal(err)
	}
	tg.render(false)
	l.targets = []Target{tg}
	c.wbuf = make([]byte, 0, 16*len(tg.bytes))
	c.fd = -1 // writes fail with EBADF; fill's queueing is what is measured
	allocs := testing.AllocsPerRun(200, func() {
		c.qn, c.qh, c.closeMe, c.woff, c.wbuf = 0, 0, false, 0, c.wbuf[:0]
		l.fill(c, 1000)
	})
	if allocs != 0 {
		t.Fatalf("fill allocates %.1f times, want 0", allocs)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
