// Package gateway runs hotpath as one process: the engine on its
// configuration, the admin listener beside it (metrics, pprof, health,
// config, reload, cache purge), reloads from the configuration's source,
// the process log, and the order of a graceful shutdown. cmd/hotpath parses
// flags and signals and calls it; tests drive it the same way.
//
//	cfg, err := config.Load(path)
//	log, level := gateway.NewLogger(cfg.Log, os.Stderr)
//	g, err := gateway.New(cfg, gateway.Options{ConfigPath: path, Logger: log, Level: level})
//	err = g.Start()
//	...
//	err = g.Reload()        // SIGHUP, or POST /reload on the admin listener
//	err = g.Shutdown(ctx)   // drain the engine, then stop the admin listener
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hotpath/hotpath/admin"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/engine"
	"github.com/hotpath/hotpath/remoteconfig"
)

// Options configure a Gateway.
type Options struct {
	// ConfigPath is the file Reload reads; "" means the embedded default.
	ConfigPath string
	// Logger is the process log; nil means slog.Default().
	Logger *slog.Logger
	// Level, if set, is the Logger's level, updated by Reload from
	// log.level.
	Level *slog.LevelVar
	// EngineOptions are passed to engine.New (tests: WithAccessLogOutput).
	EngineOptions []engine.Option
	// Remote, when set, is the configuration's source instead of
	// ConfigPath: Start watches it and applies each change as Reload does,
	// and publishes this instance's status beside it (fleet.go). Revision
	// is the etcd revision the cfg given to New was read at.
	Remote   *remoteconfig.Etcd
	Revision int64
	// Build is the binary's version, commit and build date, exported as
	// the labels of hotpath_build_info ("" is exported as "unknown").
	Build Build
}

// Build identifies the running binary.
type Build struct{ Version, Commit, Date string }

// Gateway is a running hotpath process. Its methods are safe for
// concurrent use.
type Gateway struct {
	opts  Options
	log   *slog.Logger
	srv   *engine.Server
	admin *admin.Server // nil when admin.address is ""
	reg   *prometheus.Registry

	mu         sync.Mutex // serializes Reload and discovery updates
	reloads    *prometheus.CounterVec
	lastReload prometheus.Gauge

	// The fleet (fleet.go): base is the last configuration loaded (the
	// engine runs it with discovered endpoints composed in); running and
	// seen are the etcd revisions of the remote configuration.
	fleet         *fleet
	base          *config.Config
	running, seen atomic.Int64
}

// NewLogger returns the process logger that c asks for (text or JSON on w)
// and the LevelVar that Reload updates.
func NewLogger(c config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(parseLevel(c.Level))
	ho := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho)), level
	}
	return slog.New(slog.NewTextHandler(w, ho)), level
}

// parseLevel maps a validated log.level to its slog level.
func parseLevel(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}

// New compiles cfg into an engine and prepares the admin listener; nothing
// listens until Start.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	g := &Gateway{opts: opts, log: opts.Logger, base: cfg}
	if g.log == nil {
		g.log = slog.Default()
	}
	g.running.Store(opts.Revision)
	g.seen.Store(opts.Revision)
	g.fleet = newFleet(g.log, opts.Remote)
	if errs := checkRedis(cfg); errs != nil {
		g.fleet.close()
		return nil, errs
	}
	if err := g.fleet.reconcileDiscovery(cfg); err != nil {
		g.fleet.close()
		return nil, err
	}
	srv, err := engine.New(g.fleet.compose(cfg), append([]engine.Option{engine.WithLogger(g.log)}, opts.EngineOptions...)...)
	if err != nil {
		g.fleet.close()
		return nil, err
	}
	g.srv = srv
	g.warn(cfg)

	g.reg = prometheus.NewRegistry()
	g.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hotpath_config_reloads_total",
		Help: "Configuration reloads (SIGHUP or POST /reload), by result.",
	}, []string{"result"})
	g.reloads.WithLabelValues("success")
	g.reloads.WithLabelValues("failure")
	g.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hotpath_config_last_reload_success_timestamp_seconds",
		Help: "When the running configuration was loaded (Unix seconds).",
	})
	g.lastReload.SetToCurrentTime()
	g.reg.MustRegister(buildInfo(opts.Build))
	g.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		g.reloads, g.lastReload,
	)
	if c := srv.Collector(); c != nil {
		g.reg.MustRegister(c)
	}
	g.reg.MustRegister(newFleetCollector(g.fleet, func() (int64, int64, bool) {
		return g.running.Load(), g.seen.Load(), opts.Remote != nil
	}))

	if cfg.Admin.Address != "" {
		token, err := readAdminToken(cfg.Admin.TokenFile)
		if err != nil {
			g.fleet.close()
			return nil, err
		}
		ao := admin.Options{
			Token:        token,
			Addr:         cfg.Admin.Address,
			Registry:     g.reg,
			Ready:        srv.Ready,
			Config:       g.config,
			Reload:       g.adminReload,
			DisablePprof: !cfg.Admin.Pprof,
			Logger:       g.log,
			AllowedHosts: cfg.Admin.AllowedHosts,
		}
		if p, ok := any(srv).(admin.CachePurger); ok {
			ao.Purger = p
		}
		if g.admin, err = admin.New(ao); err != nil {
			g.fleet.close()
			return nil, err
		}
		if !loopback(cfg.Admin.Address) && token == "" {
			g.log.Warn("admin listener is not on loopback and has no admin.token_file: anyone who reaches it can reload the config, purge the cache, read the config and take profiles",
				"address", cfg.Admin.Address)
		}
	}
	return g, nil
}

// buildInfo is the hotpath_build_info gauge: 1, with the build in labels.
func buildInfo(b Build) prometheus.Gauge {
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hotpath_build_info",
		Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": orUnknown(b.Version), "commit": orUnknown(b.Commit),
			"date": orUnknown(b.Date), "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Start binds the gateway's listeners, then the admin listener.
func (g *Gateway) Start() error {
	raiseOpenFileLimit(g.log)
	if err := g.srv.Start(); err != nil {
		return err
	}
	if g.admin != nil {
		if err := g.admin.Start(); err != nil {
			_ = g.srv.Close()
			return err
		}
	}
	if err := g.fleet.bindLimits(g.base, g.srv); err != nil {
		g.log.Error("global rate limits not shared", "err", err)
	}
	g.startFleet()
	return nil
}

// Engine returns the gateway's engine.
func (g *Gateway) Engine() *engine.Server { return g.srv }

// AdminAddr returns the admin listener's address ("" when it is off).
func (g *Gateway) AdminAddr() string {
	if g.admin == nil {
		return ""
	}
	return g.admin.Addr()
}

// Registry returns the Prometheus registry served on /metrics.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// Reload loads the configuration again from its source and swaps it in.
// On error (a config.Errors listing every problem, a read error, ...) the
// running configuration keeps serving.
func (g *Gateway) Reload() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	cfg, rev, err := g.load()
	if err == nil {
		err = g.apply(cfg)
	}
	g.reported(rev, err)
	return err
}

// apply swaps cfg in: discovery sources follow it, the engine reloads it
// with the discovered endpoints, and global limits are rebound. Call with
// g.mu held.
func (g *Gateway) apply(cfg *config.Config) error {
	var err error
	if errs := checkRedis(cfg); errs != nil {
		err = errs
	}
	if err == nil {
		err = g.fleet.reconcileDiscovery(cfg)
	}
	if err == nil {
		err = g.srv.Reload(g.fleet.compose(cfg))
	}
	if err != nil {
		_ = g.fleet.reconcileDiscovery(g.base) // back to the running sources
		return err
	}
	g.base = cfg
	if err := g.fleet.bindLimits(cfg, g.srv); err != nil {
		g.log.Error("global rate limits not shared", "err", err)
	}
	if g.opts.Level != nil {
		g.opts.Level.Set(parseLevel(cfg.Log.Level))
	}
	g.warn(cfg)
	return nil
}

// reported counts and logs the outcome of loading the configuration
// (revision rev when it comes from etcd), and publishes it in the status
// key. Call with g.mu held.
func (g *Gateway) reported(rev int64, err error) {
	if g.opts.Remote != nil && rev > 0 {
		g.seen.Store(rev)
		if err == nil {
			g.running.Store(rev)
		}
		g.opts.Remote.Report(g.running.Load(), rev, err)
	}
	if err != nil {
		g.reloads.WithLabelValues("failure").Inc()
		g.log.Error("reload refused; the previous config keeps serving", "source", g.source(), "revision", rev, "err", err)
		return
	}
	g.reloads.WithLabelValues("success").Inc()
	g.lastReload.SetToCurrentTime()
}

// warn logs the config's warnings (config.Config.Warnings), as hotpath
// -check prints them.
func (g *Gateway) warn(cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		g.log.Warn("config warning", "source", cfg.Source, "line", w.Line, "field", w.Path, "warning", strings.TrimPrefix(w.Msg, "warning: "))
	}
}

// load reads the configuration from its source; rev is the etcd revision
// of a remote one (0 for a file).
func (g *Gateway) load() (*config.Config, int64, error) {
	if r := g.opts.Remote; r != nil {
		return r.Load(context.Background())
	}
	if g.opts.ConfigPath == "" {
		cfg, err := config.Parse("<default>", config.DefaultYAML())
		return cfg, 0, err
	}
	cfg, err := config.Load(g.opts.ConfigPath)
	return cfg, 0, err
}

// startFleet starts the background work of the fleet: applying discovery
// changes, and watching the remote configuration with its status.
func (g *Gateway) startFleet() {
	f := g.fleet
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			select {
			case <-f.ctx.Done():
				return
			case <-f.notify:
			}
			g.mu.Lock()
			if err := g.srv.Reload(f.compose(g.base)); err != nil {
				g.log.Error("discovered endpoints refused; the previous ones keep serving", "err", err)
			}
			g.mu.Unlock()
		}
	}()
	r := g.opts.Remote
	if r == nil {
		return
	}
	r.Report(g.running.Load(), g.seen.Load(), nil)
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		r.RunStatus(f.ctx)
	}()
	go func() {
		defer f.wg.Done()
		r.Watch(f.ctx, g.seen.Load(), func(doc []byte, rev int64) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if f.ctx.Err() != nil {
				return
			}
			var cfg *config.Config
			err := remoteconfig.ErrNoConfig
			if doc != nil {
				cfg, err = config.Parse(r.Name(), doc)
			}
			if err == nil {
				err = g.apply(cfg)
			}
			g.reported(rev, err)
		})
	}()
}

func (g *Gateway) source() string {
	if g.opts.Remote != nil {
		return g.opts.Remote.Name()
	}
	if g.opts.ConfigPath == "" {
		return "<default>"
	}
	return g.opts.ConfigPath
}

// adminReload is Reload for POST /reload: an invalid configuration is the
// caller's fault (400), anything else a server error (500).
func (g *Gateway) adminReload() error {
	err := g.Reload()
	var errs config.Errors
	if errors.As(err, &errs) {
		return fmt.Errorf("%w: %w", admin.ErrBadRequest, err)
	}
	return err
}

// config serves GET /config: the running configuration's source text.
func (g *Gateway) config() ([]byte, string) {
	return g.srv.Config().Redact(), "application/yaml"
}

// Shutdown drains the engine (so /readyz answers 503 from the start) until
// ctx is done, then stops the admin listener, giving its requests in
// progress up to a second more.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.fleet.close()
	err := g.srv.Shutdown(ctx)
	if g.admin != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if aerr := g.admin.Shutdown(actx); aerr != nil && err == nil {
			err = aerr
		}
	}
	return err
}

// Close stops the engine and the admin listener at once.
func (g *Gateway) Close() error {
	g.fleet.close()
	err := g.srv.Close()
	if g.admin != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace: close what is open
		_ = g.admin.Shutdown(ctx)
	}
	return err
}

// Done is closed when the engine's event loops have stopped.
func (g *Gateway) Done() <-chan struct{} { return g.srv.Done() }

// loopback reports whether the host of addr (host:port) is a loopback
// address or "localhost".
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Check validates cfg as New would without starting anything: the engine's
// routes, policies, balancers, TLS certificates, keys and CA files and the
// other files they read (engine.Check), the redis password files and the
// admin token file, all problems together.
func Check(cfg *config.Config) error {
	var errs config.Errors
	if err := engine.Check(cfg); err != nil {
		if !errors.As(err, &errs) {
			return err
		}
	}
	errs = append(errs, checkRedis(cfg)...)
	if _, err := readAdminToken(cfg.Admin.TokenFile); err != nil {
		errs = append(errs, cfg.Errorf("admin.token_file", strings.TrimPrefix(err.Error(), "admin.token_file: ")))
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

// CheckFile is hotpath -check: it reads and validates the config file at
// path and returns its warnings (config.Config.Warnings) and every problem
// found, as a config.Errors (or the read error), in one run. A config
// that validates is compiled as New would compile it (Check). One with
// field errors is compiled too (route.Compile and the engine tolerate
// it), and what compiling finds is added where it is news: not at a field
// already reported, below one, or beside one in the same section (a bad
// rate makes the limiter refuse the burst too). The files it names are
// checked for being readable first (and the admin token file for its
// content), since compiling skips a route whose upstream is unknown.
func CheckFile(path string) (config.Errors, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return CheckConfig(path, data)
}

// CheckConfig is CheckFile for a document read from elsewhere (hotpath
// -check etcd://...); source names it in messages.
func CheckConfig(source string, data []byte) (config.Errors, error) {
	cfg, errs := config.Check(source, data)
	if cfg == nil {
		return nil, errs
	}
	warnings := cfg.Warnings()
	if len(errs) == 0 {
		return append(warnings, engine.TLSWarnings(cfg)...), Check(cfg)
	}
	for _, f := range cfg.Files() {
		if _, err := os.ReadFile(f.File); err != nil {
			errs = append(errs, cfg.Errorf(f.Path, fmt.Sprintf("cannot read: %v", err)))
		} else if f.Path == "admin.token_file" {
			// Readable: its content is checked as Check would.
			if _, err := readAdminToken(f.File); err != nil {
				errs = append(errs, cfg.Errorf(f.Path, strings.TrimPrefix(err.Error(), "admin.token_file: ")))
			}
		}
	}
	var compiled config.Errors
	errors.As(Check(cfg), &compiled) // config.Errors, or nil
	reported := slices.Clone(errs)
	for _, e := range compiled {
		if !nearReported(e.Path, reported) {
			errs = append(errs, e)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return warnings, errs
}

// nearReported reports whether a problem compiling found at path is at a
// field of reported, below one, or beside one in the same section (not
// merely in the same list element: routes[0].path and routes[0].upstream
// are independent, rate_limit.rate and rate_limit.burst are not).
func nearReported(path string, reported config.Errors) bool {
	parent := func(p string) string {
		if i := strings.LastIndexAny(p, ".["); i >= 0 {
			return p[:i]
		}
		return ""
	}
	for _, r := range reported {
		switch {
		case path == r.Path, strings.HasPrefix(path, r.Path+"."), strings.HasPrefix(path, r.Path+"["):
			return true
		case parent(path) != "" && parent(path) == parent(r.Path) && !strings.HasSuffix(parent(path), "]"):
			return true
		}
	}
	return false
}

// minAdminToken is the shortest admin token accepted.
const minAdminToken = 16

// readAdminToken reads admin.token_file; "" when none is configured.
func readAdminToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < minAdminToken {
		return "", fmt.Errorf("admin.token_file: %s: the token must be at least %d bytes, got %d", path, minAdminToken, len(tok))
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("admin.token_file: %s: the token must be one word (no spaces or line breaks)", path)
	}
	return tok, nil
}
