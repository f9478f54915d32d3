package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/discovery"
	"github.com/hotpath/hotpath/engine"
	"github.com/hotpath/hotpath/globallimit"
	"github.com/hotpath/hotpath/remoteconfig"
)

// fleet is the gateway's part in a fleet of instances (docs/fleet.md): the
// Syncers of its global rate limits, the discovery sources of its
// upstreams, and the configuration watched in etcd. Everything here runs
// in background goroutines and reaches the engine through a reload.
type fleet struct {
	log    *slog.Logger
	remote *remoteconfig.Etcd // nil: the configuration is a file

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	notify chan struct{} // a discovery source has a new set (buffer 1)

	closeOnce sync.Once

	mu      sync.Mutex // guards the maps and etcd
	syncers map[string]*redisSync
	sources map[string]*source
	etcd    *clientv3.Client // discovery's client when not remote's
	etcdKey string           // the config.Etcd it was made from
}

// redisSync is the Syncer of one redis entry and the settings it was made
// with (a change replaces it).
type redisSync struct {
	key string
	s   *globallimit.Syncer
}

// source runs one upstream's discovery and keeps its last good answer.
type source struct {
	key    string // upstream name and discovery settings
	cancel context.CancelFunc
	done   chan struct{}
	first  chan struct{} // closed at the first report, answer or failure
	once   sync.Once

	eps      atomic.Pointer[[]discovery.Endpoint] // nil until the first answer
	updates  atomic.Int64                         // answers that changed the set
	failures atomic.Int64
	failing  bool // the last report was a failure (the source goroutine's own)
}

func newFleet(log *slog.Logger, remote *remoteconfig.Etcd) *fleet {
	f := &fleet{log: log, remote: remote, notify: make(chan struct{}, 1),
		syncers: map[string]*redisSync{}, sources: map[string]*source{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

// discoveryWait bounds how long New and a reload wait for the first answer
// of new discovery sources before compiling (they are asked in parallel).
const discoveryWait = 10 * time.Second

// reconcileDiscovery starts the sources cfg names that are not running,
// stops those it no longer names, and waits (bounded) for the first answer
// of the new ones.
func (f *fleet) reconcileDiscovery(cfg *config.Config) error {
	f.mu.Lock()
	var started []*source
	want := map[string]bool{}
	for _, u := range cfg.Upstreams {
		if u.Discovery == nil {
			continue
		}
		b, _ := json.Marshal(u.Discovery)
		key := u.Name + " " + string(b)
		want[u.Name] = true
		if s := f.sources[u.Name]; s != nil && s.key == key {
			continue
		}
		src, err := f.newSource(cfg, u)
		if err != nil {
			f.mu.Unlock()
			return err
		}
		if old := f.sources[u.Name]; old != nil {
			old.stop()
		}
		s := &source{key: key, done: make(chan struct{}), first: make(chan struct{})}
		ctx, cancel := context.WithCancel(f.ctx)
		s.cancel = cancel
		f.sources[u.Name] = s
		started = append(started, s)
		name := u.Name
		go func() {
			defer close(s.done)
			src.Run(ctx, func(eps []discovery.Endpoint, err error) { f.report(name, s, eps, err) })
		}()
	}
	for name, s := range f.sources {
		if !want[name] {
			s.stop()
			delete(f.sources, name)
		}
	}
	f.mu.Unlock()
	deadline := time.NewTimer(discoveryWait)
	defer deadline.Stop()
	for _, s := range started {
		select {
		case <-s.first:
		case <-deadline.C:
			return nil // compile with what there is; the source goes on
		}
	}
	return nil
}

func (s *source) stop() {
	s.cancel()
	<-s.done
}

// report takes a source's answer: a changed set is stored and the gateway
// notified; a failure keeps the last set.
func (f *fleet) report(upstream string, s *source, eps []discovery.Endpoint, err error) {
	defer s.once.Do(func() { close(s.first) })
	if err != nil {
		// Logged once per change of state; every failure is counted.
		s.failures.Add(1)
		if !s.failing {
			s.failing = true
			f.log.Warn("discovery failing; keeping the last endpoints until it answers", "upstream", upstream, "err", err)
		}
		return
	}
	if s.failing {
		s.failing = false
		f.log.Info("discovery answering again", "upstream", upstream)
	}
	if old := s.eps.Load(); old != nil && discovery.Equal(*old, eps) {
		return
	}
	s.eps.Store(&eps)
	s.updates.Add(1)
	f.log.Info("discovery: endpoints changed", "upstream", upstream, "endpoints", len(eps))
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// newSource builds the discovery source of upstream u. Call with f.mu held.
func (f *fleet) newSource(cfg *config.Config, u config.Upstream) (discovery.Source, error) {
	if d := u.Discovery.DNS; d != nil {
		return &discovery.DNS{Name: d.Name, Type: dns.StringToType[d.Type], Port: d.Port,
			Refresh: d.Refresh, Resolver: d.Resolver, Timeout: d.Timeout}, nil
	}
	c, err := f.etcdClient(cfg)
	if err != nil {
		return nil, err
	}
	return &discovery.Etcd{Client: c, Prefix: u.Discovery.Etcd.Prefix, Timeout: cfg.Etcd.DialTimeout}, nil
}

// etcdClient returns the client for cfg's etcd section: the remote
// configuration's when the section names no endpoints. Call with f.mu held.
func (f *fleet) etcdClient(cfg *config.Config) (*clientv3.Client, error) {
	if len(cfg.Etcd.Endpoints) == 0 {
		if f.remote == nil {
			return nil, fmt.Errorf("etcd discovery needs etcd.endpoints")
		}
		return f.remote.Client(), nil
	}
	b, _ := json.Marshal(cfg.Etcd)
	if f.etcd != nil && f.etcdKey == string(b) {
		return f.etcd, nil
	}
	password, err := readSecret("etcd.password_file", cfg.Etcd.PasswordFile)
	if err != nil {
		return nil, err
	}
	c, err := remoteconfig.NewClient(cfg.Etcd.Endpoints, cfg.Etcd.DialTimeout, cfg.Etcd.Username, password)
	if err != nil {
		return nil, err
	}
	// The previous client may still serve running sources; it is closed
	// with the fleet.
	if f.etcd != nil {
		old := f.etcd
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			<-f.ctx.Done()
			_ = old.Close()
		}()
	}
	f.etcd, f.etcdKey = c, string(b)
	return c, nil
}

// compose returns cfg with each discovered upstream's endpoints replaced
// by its source's last answer (the listed endpoints serve until the first).
func (f *fleet) compose(cfg *config.Config) *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *cfg
	c.Upstreams = append([]config.Upstream(nil), cfg.Upstreams...)
	for i, u := range c.Upstreams {
		s := f.sources[u.Name]
		if u.Discovery == nil || s == nil {
			continue
		}
		if eps := s.eps.Load(); eps != nil {
			list := make([]config.Endpoint, len(*eps))
			for j, ep := range *eps {
				list[j] = config.Endpoint{Address: ep.Address, Weight: ep.Weight}
			}
			c.Upstreams[i].Endpoints = list
		}
	}
	return &c
}

// checkRedis reads every redis password file, so that New, a reload and
// -check refuse a configuration whose file cannot be read.
func checkRedis(cfg *config.Config) config.Errors {
	var errs config.Errors
	for i, r := range cfg.Redis {
		files := []struct{ field, path string }{{fmt.Sprintf("redis[%d].password_file", i), r.PasswordFile}}
		if s := r.Sentinel; s != nil {
			files = append(files, struct{ field, path string }{fmt.Sprintf("redis[%d].sentinel.password_file", i), s.PasswordFile})
		}
		for _, f := range files {
			if _, err := readSecret(f.field, f.path); err != nil {
				errs = append(errs, cfg.Errorf(f.field, fmt.Sprintf("cannot read: %v", errors.Unwrap(err))))
			}
		}
	}
	return errs
}

// bindLimits gives each global rate limit of srv's current table to the
// Syncer of its redis, creating, replacing and stopping Syncers as cfg's
// redis section says.
func (f *fleet) bindLimits(cfg *config.Config, srv *engine.Server) error {
	byRedis := map[string][]globallimit.Limit{}
	for _, gl := range srv.GlobalLimits() {
		share := 0.0 // fail_open
		if gl.Config.Fallback == config.FallbackLocalShare {
			share = gl.Config.LocalShare
			if share == 0 {
				for _, r := range cfg.Redis {
					if r.Name == gl.Config.Redis {
						share = 1 / float64(r.Instances)
					}
				}
			}
		}
		byRedis[gl.Config.Redis] = append(byRedis[gl.Config.Redis], globallimit.Limit{Name: gl.Route, GCRA: gl.GCRA, Share: share})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range cfg.Redis {
		limits := byRedis[r.Name]
		if len(limits) == 0 {
			continue
		}
		b, _ := json.Marshal(r)
		rs := f.syncers[r.Name]
		if rs == nil || rs.key != string(b) {
			s, err := newSyncer(r, f.log)
			if err != nil {
				return err
			}
			if rs != nil {
				rs.s.Close()
			}
			s.Start()
			rs = &redisSync{key: string(b), s: s}
			f.syncers[r.Name] = rs
		}
		rs.s.Bind(limits, srv.Clock)
	}
	for name, rs := range f.syncers {
		if len(byRedis[name]) == 0 {
			rs.s.Close()
			delete(f.syncers, name)
		}
	}
	return nil
}

func newSyncer(r config.Redis, log *slog.Logger) (*globallimit.Syncer, error) {
	password, err := readSecret("redis.password_file", r.PasswordFile)
	if err != nil {
		return nil, err
	}
	o := globallimit.Options{
		Name: r.Name, Username: r.Username, Password: password, DB: r.DB,
		DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout,
		SyncInterval: r.SyncInterval, KeyPrefix: r.KeyPrefix, Logger: log,
	}
	switch {
	case r.Address != "":
		o.Addrs = []string{r.Address}
	case r.Sentinel != nil:
		o.Addrs, o.MasterName = r.Sentinel.Addresses, r.Sentinel.Master
		if o.SentinelPassword, err = readSecret("redis.sentinel.password_file", r.Sentinel.PasswordFile); err != nil {
			return nil, err
		}
	default:
		o.Addrs, o.Cluster = r.Cluster, true
	}
	return globallimit.New(o)
}

// readSecret reads a password file ("" when none is configured).
func readSecret(field, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// close stops every background goroutine of the fleet; later calls do
// nothing.
func (f *fleet) close() { f.closeOnce.Do(f.closeNow) }

func (f *fleet) closeNow() {
	f.cancel()
	f.mu.Lock()
	for name, s := range f.sources {
		s.stop()
		delete(f.sources, name)
	}
	for name, rs := range f.syncers {
		rs.s.Close()
		delete(f.syncers, name)
	}
	if f.etcd != nil {
		_ = f.etcd.Close()
		f.etcd = nil
	}
	f.mu.Unlock()
	f.wg.Wait()
	if f.remote != nil {
		_ = f.remote.Close()
	}
}

// fleetCollector exports the fleet's state at scrape time (const metrics,
// as metrics.Collector does for the loops' counters).
type fleetCollector struct {
	f                                         *fleet
	redisUp, syncs, fallbacks, keys, commands *prometheus.Desc
	discUpdates, discFailures, discEndpoints  *prometheus.Desc
	remoteRev                                 *prometheus.Desc
	rev                                       func() (running, seen int64, ok bool)
}

func newFleetCollector(f *fleet, rev func() (int64, int64, bool)) *fleetCollector {
	return &fleetCollector{
		f:   f,
		rev: rev,
		redisUp: prometheus.NewDesc("hotpath_globallimit_redis_up",
			"1 while global rate limits sync through this redis, 0 while they run on their fallback.", []string{"redis"}, nil),
		syncs: prometheus.NewDesc("hotpath_globallimit_syncs_total",
			"Sync round trips to redis, by result.", []string{"redis", "result"}, nil),
		fallbacks: prometheus.NewDesc("hotpath_globallimit_fallbacks_total",
			"Times the global rate limits fell back because redis was unreachable.", []string{"redis"}, nil),
		keys: prometheus.NewDesc("hotpath_globallimit_keys_synced_total",
			"Rate-limit keys sent to redis (one per active key per sync).", []string{"redis"}, nil),
		commands: prometheus.NewDesc("hotpath_globallimit_redis_commands_total",
			"Commands sent to redis (script calls and probes).", []string{"redis"}, nil),
		discUpdates: prometheus.NewDesc("hotpath_discovery_updates_total",
			"Discovery answers that changed an upstream's endpoints.", []string{"upstream"}, nil),
		discFailures: prometheus.NewDesc("hotpath_discovery_failures_total",
			"Failed discovery queries or watches (the last endpoints were kept).", []string{"upstream"}, nil),
		discEndpoints: prometheus.NewDesc("hotpath_discovery_endpoints",
			"Endpoints in an upstream's last discovery answer.", []string{"upstream"}, nil),
		remoteRev: prometheus.NewDesc("hotpath_config_etcd_revision",
			"The etcd revision of the running configuration (running) and the latest one read (seen).", []string{"which"}, nil),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.redisUp, c.syncs, c.fallbacks, c.keys, c.commands, c.discUpdates, c.discFailures, c.discEndpoints, c.remoteRev} {
		ch <- d
	}
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	c.f.mu.Lock()
	var stats []globallimit.Stats
	for _, rs := range c.f.syncers {
		stats = append(stats, rs.s.Stats())
	}
	type disc struct {
		name                    string
		updates, failures, nEps int64
	}
	var ds []disc
	for name, s := range c.f.sources {
		d := disc{name: name, updates: s.updates.Load(), failures: s.failures.Load()}
		if eps := s.eps.Load(); eps != nil {
			d.nEps = int64(len(*eps))
		}
		ds = append(ds, d)
	}
	c.f.mu.Unlock()
	for _, st := range stats {
		up := 0.0
		if st.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.redisUp, prometheus.GaugeValue, up, st.Name)
		ch <- prometheus.MustNewConstMetric(c.syncs, prometheus.CounterValue, float64(st.Syncs), st.Name, "ok")
		ch <- prometheus.MustNewConstMetric(c.syncs, prometheus.CounterValue, float64(st.Failures), st.Name, "failed")
		ch <- prometheus.MustNewConstMetric(c.fallbacks, prometheus.CounterValue, float64(st.Fallbacks), st.Name)
		ch <- prometheus.MustNewConstMetric(c.keys, prometheus.CounterValue, float64(st.Keys), st.Name)
		ch <- prometheus.MustNewConstMetric(c.commands, prometheus.CounterValue, float64(st.Commands), st.Name)
	}
	for _, d := range ds {
		ch <- prometheus.MustNewConstMetric(c.discUpdates, prometheus.CounterValue, float64(d.updates), d.name)
		ch <- prometheus.MustNewConstMetric(c.discFailures, prometheus.CounterValue, float64(d.failures), d.name)
		ch <- prometheus.MustNewConstMetric(c.discEndpoints, prometheus.GaugeValue, float64(d.nEps), d.name)
	}
	if running, seen, ok := c.rev(); ok {
		ch <- prometheus.MustNewConstMetric(c.remoteRev, prometheus.GaugeValue, float64(running), "running")
		ch <- prometheus.MustNewConstMetric(c.remoteRev, prometheus.GaugeValue, float64(seen), "seen")
	}
}
