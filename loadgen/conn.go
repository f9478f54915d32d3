package loadgen

import (
	"strconv"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/parser"
)

// Histogram geometry shared by every Result: microseconds from 1 µs to one
// minute, 3 significant digits. Histograms merge only when their geometry
// matches, so it is fixed.
const (
	histLowest  = 1
	histHighest = 60_000_000
	histDigits  = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// ErrorClass is a kind of failed request.
type ErrorClass uint8

// Error classes, as Result.Errors counts them.
const (
	ErrConnect     ErrorClass = iota // connect failed or was refused
	ErrRead                          // read failed, or the peer closed with requests in flight
	ErrWrite                         // write failed
	ErrTimeout                       // no complete response within Config.Timeout
	ErrBadResponse                   // the response could not be framed (parser error, unsolicited bytes)
	numErrorClasses
)

var errorClassNames = [numErrorClasses]string{"connect", "read", "write", "timeout", "bad_response"}

// String is the class's name in reports ("connect", "read", "write",
// "timeout", "bad_response").
func (e ErrorClass) String() string { return errorClassNames[e] }

// Connection states.
const (
	stClosed     uint8 = iota // no socket (waiting to reconnect)
	stConnecting              // non-blocking connect in progress
	stOpen                    // connected
)

// Response framing phases.
const (
	phHead uint8 = iota // reading a response head
	phBody              // skipping its body (c.body knows where it ends)
)

// flight is one request sent and not yet answered. Times are nanoseconds
// since the run's base (monotonic clock).
type flight struct {
	intended int64 // the schedule's send time (= sent in the closed loop)
	sent     int64
	head     bool // a HEAD request: its response has no body
}

// conn is one client connection, owned by one loop.
type conn struct {
	idx     int32
	gen     int32 // bumped on every new socket; stale epoll events are ignored
	fd      int
	state   uint8
	phase   uint8
	wantOut bool // EPOLLOUT is registered (connecting, or a write is pending)
	closeMe bool // close after this batch: the response said close, or an error

	rbuf []byte // rbuf[:rlen] holds unconsumed bytes (at most a partial head)
	rlen int
	wbuf []byte // wbuf[woff:] is still to be written
	woff int

	tls   *tlsSession // https: the connection's TLS (tls.go); nil for http
	tlsIn []byte      // https: ciphertext read buffer

	resp parser.Response
	body parser.Body
	h2   *h2conn // HTTP/2 (Config.HTTP2); nil for HTTP/1.1

	q      []flight // ring of requests in flight, len == Config.Pipeline
	qh, qn int
	next   int // next target, round robin

	// Open loop: the schedule. due = start + offset + k*interval.
	k       int64
	offset  int64
	due     int64
	connAt  int64 // when the current connect started
	wake    int64 // when the timer heap should look at this conn
	heapIdx int   // position in the loop's timer heap, -1 when absent
}

// maxCause bounds the errno values counted per error class (Linux's go up
// to 133); larger ones are counted as 0. The last index is causeTLS.
const maxCause = 160

// stats are one loop's figures; Run merges them into a Result.
type stats struct {
	hist, histU *hdrhistogram.Histogram
	status      [1000]int64
	errs        [numErrorClasses]int64
	// causes counts errs by errno: causes[class][errno]; errno 0 is a
	// failure without one (a read that met the peer's close), causeTLS
	// one of TLS itself (tls.go).
	causes   [numErrorClasses][maxCause]int64
	requests int64 // responses recorded
	sent     int64 // requests sent in the recorded period
	bytesIn  int64
	bytesOut int64
	connects int64
	lagSum   int64 // open loop: ns sends fell behind their intended time
	lagMax   int64
	tls      tlsStats // https: handshakes (tls.go)
}

func newStats() *stats { return &stats{hist: newHistogram(), histU: newHistogram()} }

// consume frames the responses in c.rbuf[:c.rlen], records each complete one
// at time now, and keeps only a partial head (moved to the front of rbuf).
// It returns false when the bytes cannot be framed (the connection must be
// closed; the error is counted). It does not allocate: bodies are skipped,
// heads are parsed in place.
func (l *loop) consume(c *conn, now int64) bool {
	if c.h2 != nil {
		return l.consumeH2(c, now)
	}
	buf := c.rbuf[:c.rlen]
	pos := 0
	for pos < len(buf) && !c.closeMe {
		switch c.phase {
		case phHead:
			if c.qn == 0 {
				return l.fail(c, ErrBadResponse) // bytes nobody asked for
			}
			n, err := c.resp.Parse(buf[pos:], c.q[c.qh].head)
			if err == parser.ErrNeedMore {
				goto keep
			}
			if err != nil {
				return l.fail(c, ErrBadResponse)
			}
			pos += n
			l.startBody(c, now)
		case phBody:
			n, done, err := c.body.Skip(buf[pos:])
			if err != nil {
				return l.fail(c, ErrBadResponse)
			}
			pos += n
			if done {
				l.complete(c, now)
			} else if n == 0 {
				goto keep
			}
		}
	}
keep:
	if pos > 0 {
		c.rlen = copy(c.rbuf, buf[pos:])
	}
	return true
}

// startBody sets up body framing after a head.
func (l *loop) startBody(c *conn, now int64) {
	r := &c.resp
	if r.Status < 200 && r.Status != 101 {
		r.Reset() // 1xx: the final response follows
		return
	}
	c.body.StartResponse(r)
	c.phase = phBody
	if c.body.Done() {
		l.complete(c, now)
	}
}

// closeDelimited reports whether c is reading a body that ends with the
// connection.
func (c *conn) closeDelimited() bool {
	return c.phase == phBody && c.body.Kind() == parser.BodyClose
}

// complete records the response to the oldest request in flight.
func (l *loop) complete(c *conn, now int64) {
	f := c.q[c.qh]
	c.qh++
	if c.qh == len(c.q) {
		c.qh = 0
	}
	c.qn--
	l.recordFlight(f, c.resp.Status, now)
	if !c.resp.KeepAlive || l.noKeepAlive {
		c.closeMe = true
	}
	c.resp.Reset()
	c.phase = phHead
}

// record adds v microseconds to h, clamped to the histogram's range.
func record(h *hdrhistogram.Histogram, v int64) {
	if v < histLowest {
		v = histLowest
	} else if v > histHighest {
		v = histHighest
	}
	_ = h.RecordValue(v) // in range: cannot fail
}

// failed counts a failed request of class e caused by err (an errno, or
// nil when there is none).
func (s *stats) failed(e ErrorClass, err error) {
	s.errs[e]++
	var n int
	if errno, ok := err.(unix.Errno); ok && int(errno) < causeTLS {
		n = int(errno)
	}
	s.causes[e][n]++
}

// causeName names errno n of class e in reports: "ECONNREFUSED", "EMFILE";
// 0 is "EOF" for reads (the peer closed with requests in flight) and
// "other" otherwise; causeTLS is "TLS" (tls.go).
func causeName(e ErrorClass, n int) string {
	if n == causeTLS {
		return "TLS"
	}
	if n == 0 {
		if e == ErrRead {
			return "EOF"
		}
		return "other"
	}
	if name := unix.ErrnoName(unix.Errno(n)); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(n)
}

// fail counts an error of class e on c and marks it for closing.
func (l *loop) fail(c *conn, e ErrorClass) bool {
	l.stats.errs[e]++
	c.closeMe = true
	return false
}
