package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultAddr is the admin listener's address when Options.Addr is empty:
// loopback only, as Envoy's admin port is usually kept.
const DefaultAddr = "127.0.0.1:9901"

// Options configure a Server. Only Registry is required.
type Options struct {
	// Addr is host:port to listen on; "" means DefaultAddr, port 0 picks a
	// free port (see Server.Addr).
	Addr string
	// Registry is served on /metrics. Register the metrics Collector and
	// collectors.NewGoCollector / NewProcessCollector on it.
	Registry *prometheus.Registry
	// Ready reports readiness for /readyz: false before the first config
	// is loaded and while draining. nil means always ready.
	Ready func() bool
	// Config returns the running config and its content type
	// ("application/yaml", "application/json") for GET /config. nil: 404.
	Config func() ([]byte, string)
	// Reload loads the config again for POST /reload. An error wrapping
	// ErrBadRequest (or config.Errors, wrapped by the caller) answers 400,
	// any other 500. nil: 404.
	Reload func() error
	// Purger serves POST /cache/purge. nil answers 501:
	// the gateway was built without a response cache.
	Purger CachePurger
	// Token, when not empty, is the bearer token every endpoint but
	// /metrics, /healthz and /readyz asks for (Authorization: Bearer
	// <token>, compared in constant time); others get 401.
	Token string
	// AllowedHosts are host names (no port) a request's Host may carry
	// besides localhost, IP addresses and the host of Addr; ["*"] allows
	// any. See guard.go: the admin API refuses other names and cross-site
	// requests, with or without Token.
	AllowedHosts []string
	// DisablePprof leaves /debug/pprof/ out of the mux.
	DisablePprof bool
	// MutexProfileFraction and BlockProfileRate, if non-zero, are set at
	// Start (runtime.SetMutexProfileFraction, runtime.SetBlockProfileRate)
	// so that the mutex and block profiles have samples.
	MutexProfileFraction int
	BlockProfileRate     int
	// Logger receives the listener's errors; nil means slog.Default().
	Logger *slog.Logger
}

// CachePurger is implemented by a gateway with a response cache. Callers
// building Options check for it with a type assertion on the gateway
// (`if p, ok := srv.(admin.CachePurger); ok { opts.Purger = p }`). Purges
// invalidate; they cannot count what they removed.
type CachePurger interface {
	// PurgeCache invalidates the cached responses whose host is host and
	// whose path starts with prefix ("" for every path); host "" with no
	// prefix invalidates everything. An error is answered 409 (for
	// example: no route caches).
	PurgeCache(host, prefix string) error
	// PurgeCacheURL invalidates every stored variant of one URL.
	PurgeCacheURL(host, path, query string) error
}

// Server is the admin HTTP server.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	srv     *http.Server
	mu      sync.Mutex
	ln      net.Listener
	served  chan struct{}
	started bool

	blockRate atomic.Int64 // last rate set: the runtime has no getter

	hosts   map[string]bool // names the Host check allows (guard.go); read-only after New
	anyHost bool            // AllowedHosts has "*"
}

// New builds the Server and its routes; Start binds the listener.
func New(opts Options) (*Server, error) {
	if opts.Registry == nil {
		return nil, ErrNoRegistry
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), served: make(chan struct{})}
	s.allowHosts()
	s.routes()
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: /debug/pprof/profile and /trace stream for as
		// many seconds as asked, and net/http/pprof refuses a duration
		// longer than the server's WriteTimeout.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler returns the admin handler (the mux behind the browser guard and
// the token check), for tests and for embedding.
func (s *Server) Handler() http.Handler {
	if s.opts.Token == "" {
		return s.guard(s.mux)
	}
	want := sha256.Sum256([]byte(s.opts.Token))
	return s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unguarded(r.URL.Path) { // for scrapers and probes
			s.mux.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotpath admin"`)
			text(w, http.StatusUnauthorized, "unauthorized: this endpoint needs Authorization: Bearer <admin token>")
			return
		}
		s.mux.ServeHTTP(w, r)
	}))
}

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
		EnableOpenMetrics: true,
	}))
	if !s.opts.DisablePprof {
		// Index also serves the named profiles: heap, allocs, goroutine,
		// mutex, block, threadcreate.
		m.HandleFunc("/debug/pprof/", pprof.Index)
		m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		m.HandleFunc("/debug/pprof/profile", pprof.Profile)
		m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		m.HandleFunc("/debug/pprof/trace", pprof.Trace)
		m.HandleFunc("GET /debug/pprof/rates", s.getRates)
		m.HandleFunc("POST /debug/pprof/rates", s.setRates)
	}
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok") })
	m.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Config != nil {
		m.HandleFunc("GET /config", s.config)
	}
	if s.opts.Reload != nil {
		m.HandleFunc("/reload", s.reload)
	}
	m.HandleFunc("/cache/purge", s.purge)
}

// purge answers POST /cache/purge with {"purged":true}:
//
//	?host=H&prefix=/P   every response of host H under /P (prefix "" = all of H)
//	?host=H&path=/P&query=Q   one URL, every variant
//	(no parameters)     everything
func (s *Server) purge(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		text(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	if s.opts.Purger == nil {
		text(w, http.StatusNotImplemented, "no response cache in this gateway")
		return
	}
	q := r.URL.Query()
	host, prefix, path := q.Get("host"), q.Get("prefix"), q.Get("path")
	var err error
	switch {
	case prefix != "" && prefix[0] != '/', path != "" && path[0] != '/':
		text(w, http.StatusBadRequest, "prefix and path must start with '/'")
		return
	case prefix != "" && path != "":
		text(w, http.StatusBadRequest, "give prefix or path, not both")
		return
	case path != "":
		err = s.opts.Purger.PurgeCacheURL(host, path, q.Get("query"))
	default:
		err = s.opts.Purger.PurgeCache(host, prefix)
	}
	if err != nil {
		text(w, http.StatusConflict, err.Error())
		return
	}
	s.opts.Logger.Info("cache purged via admin API", "host", host, "prefix", prefix, "path", path)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, "{\"purged\":true}\n")
}

func text(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Ready != nil && !s.opts.Ready() {
		text(w, http.StatusServiceUnavailable, "not ready")
		return
	}
	text(w, http.StatusOK, "ready")
}

func (s *Server) config(w http.ResponseWriter, _ *http.Request) {
	body, ctype := s.opts.Config()
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		text(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	err := s.opts.Reload()
	switch {
	case err == nil:
		s.opts.Logger.Info("config reloaded via admin API")
		text(w, http.StatusOK, "reloaded")
	case errors.Is(err, ErrBadRequest):
		s.opts.Logger.Warn("admin reload refused", "err", err)
		text(w, http.StatusBadRequest, err.Error())
	default:
		s.opts.Logger.Error("admin reload failed", "err", err)
		text(w, http.StatusInternalServerError, err.Error())
	}
}

func (s *Server) getRates(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"mutex\":%d,\"block\":%d}\n", runtime.SetMutexProfileFraction(-1), s.blockRate.Load())
}

// setRates sets the mutex profile fraction (mutex=N: one in N contention
// events, 0 off) and the block profile rate (block=N: one sample per N
// nanoseconds blocked, 0 off) from query parameters; either may be left
// out. It answers with the rates now in force.
func (s *Server) setRates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	parse := func(name string) (int, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("%s: want a non-negative integer, got %q", name, v)
		}
		return n, true, nil
	}
	mutex, setMutex, err1 := parse("mutex")
	block, setBlock, err2 := parse("block")
	if err := errors.Join(err1, err2); err != nil {
		text(w, http.StatusBadRequest, err.Error())
		return
	}
	if setMutex {
		runtime.SetMutexProfileFraction(mutex)
	}
	if setBlock {
		s.SetBlockProfileRate(block)
	}
	s.getRates(w, r)
}

// SetBlockProfileRate calls runtime.SetBlockProfileRate and remembers the
// rate for GET /debug/pprof/rates.
func (s *Server) SetBlockProfileRate(rate int) {
	runtime.SetBlockProfileRate(rate)
	s.blockRate.Store(int64(rate))
}

// Start binds Options.Addr, applies the profile rates and serves in a
// goroutine. It returns once the listener is bound (so Addr is final) or
// with the bind error.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	s.ln, s.started = ln, true
	if s.opts.MutexProfileFraction != 0 {
		runtime.SetMutexProfileFraction(s.opts.MutexProfileFraction)
	}
	if s.opts.BlockProfileRate != 0 {
		s.SetBlockProfileRate(s.opts.BlockProfileRate)
	}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logger.Error("admin listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.opts.Logger.Info("admin listener started", "addr", ln.Addr().String())
	return nil
}

// Addr returns the bound address ("127.0.0.1:40123" for port 0) after
// Start, else Options.Addr.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.opts.Addr
}

// Shutdown stops accepting, waits for requests in progress until ctx ends
// (a running CPU profile is one of them), then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.served
	return err
}
