package echoserver

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
)

// DefaultSize is the body size when Config.Size is 0: len("Hello, World!").
const DefaultSize = 13

// helloBody is the default body; larger sizes repeat a printable pattern.
const helloBody = "Hello, World!"

// Dist is the distribution of the jitter added to Config.Delay.
type Dist uint8

const (
	// Uniform adds a value drawn uniformly from [-Jitter, +Jitter].
	Uniform Dist = iota
	// Normal adds a value from a normal distribution with mean 0 and
	// standard deviation Jitter.
	Normal
	// Exponential adds a value from an exponential distribution with mean
	// Jitter (a long right tail, as real service times have).
	Exponential
)

// String returns the name ParseDist accepts.
func (d Dist) String() string {
	switch d {
	case Normal:
		return "normal"
	case Exponential:
		return "exponential"
	}
	return "uniform"
}

// StatusWeight is one entry of a status mix: Status is answered with
// probability Weight / (sum of all weights).
type StatusWeight struct {
	Status int
	Weight int
}

// Stall holds responses periodically, like a garbage-collection pause: during
// the first Pause of every Every-long window (windows counted from the
// server's start, see Server.Epoch), a response is held until the stall part
// of the window ends, then the usual delay applies.
type Stall struct {
	Pause time.Duration
	Every time.Duration
}

// Config shapes the responses. The zero value answers 200 with a 13-byte
// body at once.
type Config struct {
	// Size is the body size in bytes (DefaultSize when 0). Bodies of any
	// size are prepared once and sent without copying.
	Size int
	// Chunked sends the body with Transfer-Encoding: chunked, in chunks of
	// at most ChunkSize bytes, instead of Content-Length.
	Chunked bool
	// ChunkSize is the largest chunk when Chunked (default 16 KiB).
	ChunkSize int
	// Delay is added before every response (a time.Sleep on the
	// connection's own goroutine: other connections are not held).
	Delay time.Duration
	// Jitter spreads Delay per JitterDist; the total is never below 0.
	Jitter     time.Duration
	JitterDist Dist
	// StatusMix picks each response's status by weight; empty means 200.
	StatusMix []StatusWeight
	// Echo answers with the request itself (request line, header fields,
	// blank line, body) instead of the fixed body.
	Echo bool
	// Stall holds responses periodically; zero means never.
	Stall Stall
	// IdleTimeout closes keep-alive connections idle this long (default
	// 60 s).
	IdleTimeout time.Duration
	// H2C serves HTTP/2 over cleartext TCP (prior knowledge) beside
	// HTTP/1.1, from Go's net/http server instead of fasthttp (h2c.go).
	H2C bool
	// GRPC serves grpc-go's standard health service instead (grpc.go).
	GRPC bool
}

// Server is a configured fasthttp server. Create it with New; it is safe for
// concurrent use.
type Server struct {
	cfg      Config
	body     []byte
	mix      []int // cumulative weights, parallel to cfg.StatusMix
	mixTotal int
	epoch    time.Time
	srv      *fasthttp.Server
	h2c      *http.Server // Config.H2C (h2c.go)
	grpc     *grpc.Server // Config.GRPC (grpc.go)

	// Logf, when set before Serve, reports accept errors that Serve
	// waits out (running out of file descriptors).
	Logf func(format string, args ...any)
}

// New validates cfg and prepares the response bytes.
func New(cfg Config) (*Server, error) {
	if cfg.Size < 0 {
		return nil, fmt.Errorf("%w: %d", ErrBadSize, cfg.Size)
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 16 << 10
	}
	if cfg.Delay < 0 || cfg.Jitter < 0 {
		return nil, ErrBadDelay
	}
	if cfg.Stall.Pause < 0 || cfg.Stall.Every < 0 || (cfg.Stall.Pause > 0 && cfg.Stall.Pause >= cfg.Stall.Every) {
		return nil, fmt.Errorf("%w: pause %v every %v", ErrBadStall, cfg.Stall.Pause, cfg.Stall.Every)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	s := &Server{cfg: cfg, body: makeBody(cfg.Size), epoch: time.Now()}
	for _, sw := range cfg.StatusMix {
		if sw.Status < 100 || sw.Status > 999 || sw.Weight <= 0 {
			return nil, fmt.Errorf("%w: %d:%d", ErrBadStatusMix, sw.Status, sw.Weight)
		}
		s.mixTotal += sw.Weight
		s.mix = append(s.mix, s.mixTotal)
	}
	s.srv = &fasthttp.Server{
		Handler:               s.Handle,
		Name:                  "hotecho",
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		IdleTimeout:           cfg.IdleTimeout,
		CloseOnShutdown:       true,
		// A benchmark upstream must not refuse load it can carry.
		Concurrency: 1 << 20,
		// Echo mode and large request bodies: accept up to 64 MiB.
		MaxRequestBodySize: 64 << 20,
	}
	if cfg.H2C && !cfg.fastH2() {
		s.h2c = s.newH2C() // h2c.go: net/http for what the fast mode lacks
	}
	if cfg.GRPC {
		s.grpc = newGRPC()
	}
	return s, nil
}

// makeBody returns n bytes: "Hello, World!" repeated (cut to n).
func makeBody(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += len(helloBody) {
		copy(b[i:], helloBody)
	}
	return b
}

// Epoch is the time the stall windows are counted from (the time New ran).
func (s *Server) Epoch() time.Time { return s.epoch }

// Body returns the fixed body (do not modify it).
func (s *Server) Body() []byte { return s.body }

// Serve serves connections from ln until Shutdown. It returns nil after a
// Shutdown. Running out of file descriptors does not end it: accepting
// waits until connections close (patientListener), reported through
// s.Logf when set.
func (s *Server) Serve(ln net.Listener) error {
	logf := s.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if s.grpc != nil {
		return serveGRPC(s.grpc, &patientListener{Listener: ln, logf: logf})
	}
	if s.h2c != nil {
		err := s.h2c.Serve(&patientListener{Listener: ln, logf: logf})
		if err == http.ErrServerClosed {
			return nil
		}
		return err
	}
	if s.cfg.fastH2() {
		return s.srv.Serve(newSniffListener(&patientListener{Listener: ln, logf: logf}, s)) // h2fast.go
	}
	return s.srv.Serve(&patientListener{Listener: ln, logf: logf})
}

// Shutdown stops accepting, closes idle connections and waits for responses
// in flight until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.grpc != nil {
		return shutdownGRPC(ctx, s.grpc)
	}
	if s.h2c != nil {
		return s.h2c.Shutdown(ctx)
	}
	return s.srv.ShutdownWithContext(ctx)
}

var (
	contentTypeText = []byte("text/plain")
	healthBody      = []byte("ok")
	healthPath      = []byte("/healthz")
)

// Handle is the fasthttp request handler.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == string(healthPath) {
		ctx.Response.Header.SetContentTypeBytes(contentTypeText)
		ctx.Response.SetBodyRaw(healthBody)
		return
	}
	if s.cfg.Stall.Every > 0 {
		if d := s.stallWait(time.Now()); d > 0 {
			time.Sleep(d)
		}
	}
	if d := s.delay(); d > 0 {
		time.Sleep(d)
	}
	ctx.Response.SetStatusCode(s.status())
	ctx.Response.Header.SetContentTypeBytes(contentTypeText)
	body := s.body
	if s.cfg.Echo {
		body = echoBytes(&ctx.Request)
	}
	if s.cfg.Chunked {
		ctx.Response.SetBodyStream(&chunkReader{b: body, max: s.cfg.ChunkSize}, -1)
		return
	}
	ctx.Response.SetBodyRaw(body)
}

// stallWait returns how long a response at now must be held: the rest of the
// stall part of its window, or 0 outside it.
func (s *Server) stallWait(now time.Time) time.Duration {
	into := now.Sub(s.epoch) % s.cfg.Stall.Every
	if into < s.cfg.Stall.Pause {
		return s.cfg.Stall.Pause - into
	}
	return 0
}

// delay returns Delay plus jitter per the configured distribution, at least 0.
func (s *Server) delay() time.Duration {
	d, j := s.cfg.Delay, float64(s.cfg.Jitter)
	if j == 0 {
		return d
	}
	var x float64
	switch s.cfg.JitterDist {
	case Normal:
		x = rand.NormFloat64() * j
	case Exponential:
		x = rand.ExpFloat64() * j
	default:
		x = (rand.Float64()*2 - 1) * j
	}
	d += time.Duration(math.Round(x))
	return max(d, 0)
}

// status picks a status from the mix.
func (s *Server) status() int {
	if s.mixTotal == 0 {
		return fasthttp.StatusOK
	}
	r := rand.IntN(s.mixTotal)
	for i, c := range s.mix {
		if r < c {
			return s.cfg.StatusMix[i].Status
		}
	}
	return s.cfg.StatusMix[len(s.mix)-1].Status
}

// echoBytes renders the request as the client could have sent it: request
// line and header fields (as fasthttp normalised them), CRLF, body.
func echoBytes(req *fasthttp.Request) []byte {
	head := req.Header.Header() // ends with the blank line
	body := req.Body()
	out := make([]byte, 0, len(head)+len(body))
	out = append(out, head...)
	return append(out, body...)
}

// chunkReader hands the body out max bytes at a time; fasthttp writes each
// Read as one chunk.
type chunkReader struct {
	b   []byte
	max int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.max, len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// Describe is the one-line summary of cfg that hotecho prints on start.
func (c Config) Describe() string {
	size := c.Size
	if size == 0 {
		size = DefaultSize
	}
	out := "size " + strconv.Itoa(size)
	if c.Chunked {
		out += " chunked"
	}
	if c.Echo {
		out += " echo"
	}
	if c.H2C {
		out += " h2c"
	}
	if c.GRPC {
		out += " grpc health service"
	}
	if c.Delay > 0 || c.Jitter > 0 {
		out += " delay " + c.Delay.String()
		if c.Jitter > 0 {
			out += "±" + c.Jitter.String() + " " + c.JitterDist.String()
		}
	}
	if len(c.StatusMix) > 0 {
		out += " status-mix " + FormatStatusMix(c.StatusMix)
	}
	if c.Stall.Every > 0 {
		out += " stall " + c.Stall.Pause.String() + "/" + c.Stall.Every.String()
	}
	return out
}
