package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/fleettest"
	"github.com/hotpath/hotpath/internal/testsupport"
	"github.com/hotpath/hotpath/remoteconfig"
)

// backend is an upstream that answers 200 with its name and counts its
// requests.
type backend struct {
	name  string
	addr  string
	hits  atomic.Int64
	conns atomic.Int64 // connections accepted
	stop  func()
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(name)))
		_, _ = io.WriteString(w, name)
	}), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx) // lets requests in progress finish
			<-done
		})
	}
	t.Cleanup(b.stop)
	return b
}

// startYAML starts a gateway on the config text y.
func startYAML(t *testing.T, y string, opts Options) *Gateway {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hotpath.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	opts.ConfigPath = p
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// load is an HTTP load on some URLs: conns keep-alive clients per URL,
// each sending GETs back to back (closed loop) or paced at perConn requests
// a second, counting answers by status. The suite paces its loads, so that
// they stay well past the limits they test without taking the cores from
// the packages tested beside them.
type load struct {
	ok, limited, other, errs atomic.Int64
	bodies                   sync.Map // body -> *atomic.Int64, for 200s
	firstErr                 atomic.Value
	stop                     chan struct{}
	wg                       sync.WaitGroup
}

func startLoad(urls []string, conns int) *load { return startPacedLoad(urls, conns, 0) }

// startPacedLoad is startLoad with each client paced at perConn requests a
// second (0: closed loop).
func startPacedLoad(urls []string, conns, perConn int) *load {
	l := &load{stop: make(chan struct{})}
	for _, u := range urls {
		for range conns {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				tr := &http.Transport{MaxIdleConnsPerHost: 1}
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				var tick <-chan time.Time
				if perConn > 0 {
					tk := time.NewTicker(time.Second / time.Duration(perConn)) // pacing an open-loop load
					defer tk.Stop()
					tick = tk.C
				}
				for {
					if tick != nil {
						select {
						case <-l.stop:
							return
						case <-tick:
						}
					}
					select {
					case <-l.stop:
						return
					default:
					}
					l.one(c, u)
				}
			}()
		}
	}
	return l
}

func (l *load) one(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		l.errs.Add(1)
		l.firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		l.errs.Add(1)
		l.firstErr.CompareAndSwap(nil, err.Error())
	case resp.StatusCode == 200:
		l.ok.Add(1)
		v, _ := l.bodies.LoadOrStore(string(b), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	case resp.StatusCode == 429:
		l.limited.Add(1)
	default:
		l.other.Add(1)
		l.firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %s", resp.StatusCode, b))
	}
}

func (l *load) halt() { close(l.stop); l.wg.Wait() }

// failures is every answer that was neither 200 nor 429, and every error.
func (l *load) failures() int64 { return l.other.Load() + l.errs.Load() }

func (l *load) String() string {
	return fmt.Sprintf("200: %d, 429: %d, other: %d, errors: %d (first: %v)", l.ok.Load(), l.limited.Load(), l.other.Load(), l.errs.Load(), l.firstErr.Load())
}

// eventually polls cond until it holds, or fails the test after 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Eventually(t, 30*time.Second, what, cond)
}

// metric scrapes one sample from g's /metrics (-1 when absent).
func metric(t *testing.T, g *Gateway, name string, labels ...string) float64 {
	t.Helper()
	_, body := do(t, "GET", "http://"+g.AdminAddr()+"/metrics")
	return sample(parseExposition(t, body), name, labels...)
}

// globalLimitYAML is two instances' shared config: /limited is limited to
// rate per second fleet-wide (one bucket for the route), / is not.
func globalLimitYAML(redis, up string, rate, burst int, interval time.Duration) string {
	return fmt.Sprintf(`workers: 2
listeners: [{address: 127.0.0.1:0}]
admin: {address: 127.0.0.1:0}
redis:
  - {name: main, address: %q, sync_interval: %s, instances: 2}
upstreams:
  - {name: app, endpoints: [{address: %q}]}
routes:
  - name: limited
    path: /limited
    upstream: app
    rate_limit: {rate: %d, burst: %d, key: [route], scope: global, redis: main}
`, redis, interval, up, rate, burst)
}

// redisCalls returns the calls INFO commandstats counts for all commands
// (script-internal ones included) and for script calls alone (what the
// instances send).
func redisCalls(t *testing.T, addr string) (all, scripts int64) {
	t.Helper()
	info, err := fleettest.RedisCommand(addr, "INFO commandstats")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		n, _ := strconv.ParseInt(v, 10, 64)
		all += n
		if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
			scripts += n
		}
	}
	return all, scripts
}

// TestGlobalRateLimitTwoGateways runs two gateways sharing a limit through
// a real Redis, both loaded past it. Apart they would admit twice the
// limit; together they admit it. The bound here is loose (the suite runs
// on two busy cores with the race detector): the ±5% figure is measured by
// TestGlobalRateLimitFigures under -fleet.long.
func TestGlobalRateLimitTwoGateways(t *testing.T) {
	r := fleettest.Redis(t)
	up := newBackend(t, "app")
	const rate, burst = 200, 20
	y := globalLimitYAML(r.Addr, up.addr, rate, burst, 50*time.Millisecond)
	gs := []*Gateway{startYAML(t, y, Options{}), startYAML(t, y, Options{})}
	for _, g := range gs {
		eventually(t, "redis_up", func() bool { return metric(t, g, "hotpath_globallimit_redis_up", "redis", "main") == 1 })
	}
	allBefore, scriptsBefore := redisCalls(t, r.Addr)
	start := time.Now()
	// 800 req/s offered to each gateway: four times the shared limit.
	l := startPacedLoad([]string{"http://" + gs[0].Engine().Addr() + "/limited", "http://" + gs[1].Engine().Addr() + "/limited"}, 2, 400)
	eventually(t, "3s of load", func() bool { return time.Since(start) >= 3*time.Second })
	l.halt()
	elapsed := time.Since(start)
	all, scripts := redisCalls(t, r.Addr)
	limit := rate*elapsed.Seconds() + burst
	t.Logf("%v in %v: admitted %d, limit %.0f (%.2fx); redis calls %d (%d script calls), %.4f per admitted",
		l, elapsed.Round(time.Millisecond), l.ok.Load(), limit, float64(l.ok.Load())/limit, all-allBefore, scripts-scriptsBefore, float64(all-allBefore)/float64(l.ok.Load()))
	if l.failures() != 0 {
		t.Errorf("requests failed: %v", l)
	}
	if l.limited.Load() == 0 {
		t.Fatalf("the load never went past the limit: %v", l)
	}
	if got := float64(l.ok.Load()); got > 1.5*limit || got < 0.5*limit {
		t.Errorf("the two gateways admitted %.0f, want the shared limit %.0f (within 0.5x..1.5x; apart they would admit 2x)", got, limit)
	}
}

// TestGlobalRateLimitRedisDown kills Redis under load: no request fails,
// each gateway falls back to its share (metrics), and both go back to
// sharing when Redis returns.
func TestGlobalRateLimitRedisDown(t *testing.T) {
	r := fleettest.Redis(t)
	up := newBackend(t, "app")
	y := globalLimitYAML(r.Addr, up.addr, 200, 20, 20*time.Millisecond)
	gs := []*Gateway{startYAML(t, y, Options{}), startYAML(t, y, Options{})}
	for _, g := range gs {
		eventually(t, "redis_up", func() bool { return metric(t, g, "hotpath_globallimit_redis_up", "redis", "main") == 1 })
	}
	l := startPacedLoad([]string{"http://" + gs[0].Engine().Addr() + "/limited", "http://" + gs[1].Engine().Addr() + "/limited"}, 1, 500)
	defer l.halt()
	eventually(t, "some admitted", func() bool { return l.ok.Load() > 50 })
	r.Kill()
	for _, g := range gs {
		eventually(t, "the fallback", func() bool { return metric(t, g, "hotpath_globallimit_redis_up", "redis", "main") == 0 })
	}
	okAtKill := l.ok.Load()
	eventually(t, "admissions during the fallback", func() bool { return l.ok.Load() > okAtKill+20 })
	r.Restart()
	for _, g := range gs {
		eventually(t, "recovery", func() bool { return metric(t, g, "hotpath_globallimit_redis_up", "redis", "main") == 1 })
		if n := metric(t, g, "hotpath_globallimit_fallbacks_total", "redis", "main"); n != 1 {
			t.Errorf("fallbacks_total = %v, want 1", n)
		}
	}
	l.halt()
	l.stop = make(chan struct{}) // the deferred halt finds a fresh channel
	if l.failures() != 0 {
		t.Errorf("requests failed while redis was down: %v", l)
	}
	t.Logf("%v", l)
}

// remoteGateway starts a gateway on the configuration in etcd at key.
func remoteGateway(t *testing.T, etcdAddr, key, instance string) *Gateway {
	t.Helper()
	remote, err := remoteconfigOpen("etcd://"+etcdAddr+key, instance)
	if err != nil {
		t.Fatal(err)
	}
	cfg, rev, err := remote.Load(context.Background())
	if err != nil {
		_ = remote.Close()
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Remote: remote, Revision: rev, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

func remoteYAML(body string) string {
	return fmt.Sprintf(`workers: 1
listeners: [{address: 127.0.0.1:0}]
admin: {address: 127.0.0.1:0}
routes:
  - {name: v, path: /v, direct: {body: %q}}
`, body)
}

// get returns the body of a GET (and "" with the status when it is not 200).
func get(t *testing.T, url string) string {
	t.Helper()
	code, body := do(t, "GET", url)
	if code != 200 {
		return fmt.Sprintf("status %d", code)
	}
	return body
}

// TestConfigFromEtcd runs two gateways on one configuration key: a change
// reaches both; a bad document is refused by both (the old one keeps
// serving) and their status keys say so; with etcd restarted they keep
// serving and resume watching.
func TestConfigFromEtcd(t *testing.T) {
	e := fleettest.Etcd(t)
	c := etcdClient(t, e.Addr)
	ctx := context.Background()
	const key = "/hotpath/config"
	if _, err := c.Put(ctx, key, remoteYAML("one")); err != nil {
		t.Fatal(err)
	}
	gs := []*Gateway{remoteGateway(t, e.Addr, key, "a"), remoteGateway(t, e.Addr, key, "b")}
	for _, g := range gs {
		if got := get(t, "http://"+g.Engine().Addr()+"/v"); got != "one" {
			t.Fatalf("GET /v = %q", got)
		}
	}
	status := func(instance string) (st struct {
		Revision, Seen int64
		Error          string
	}) {
		resp, err := c.Get(ctx, "/hotpath/status/"+instance)
		if err != nil || len(resp.Kvs) == 0 {
			return st
		}
		_ = json.Unmarshal(resp.Kvs[0].Value, &st)
		return st
	}
	put, err := c.Put(ctx, key, remoteYAML("two"))
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range gs {
		eventually(t, "the new config", func() bool { return get(t, "http://"+g.Engine().Addr()+"/v") == "two" })
		eventually(t, "the status", func() bool { return status(string(rune('a'+i))).Revision == put.Header.Revision })
	}

	bad, err := c.Put(ctx, key, "routes:\n  - {name: v, path: no-slash, direct: {body: x}}\n")
	if err != nil {
		t.Fatal(err)
	}
	for i := range gs {
		inst := string(rune('a' + i))
		eventually(t, "the refusal in "+inst+"'s status", func() bool {
			st := status(inst)
			return st.Seen == bad.Header.Revision && st.Revision == put.Header.Revision && strings.Contains(st.Error, "routes[0].path")
		})
	}
	for _, g := range gs {
		if got := get(t, "http://"+g.Engine().Addr()+"/v"); got != "two" {
			t.Errorf("after the bad config, GET /v = %q, want the old config's", got)
		}
	}

	e.Kill()
	for _, g := range gs {
		if got := get(t, "http://"+g.Engine().Addr()+"/v"); got != "two" {
			t.Errorf("with etcd down, GET /v = %q", got)
		}
	}
	e.Restart()
	c2 := etcdClient(t, e.Addr)
	if _, err := c2.Put(ctx, key, remoteYAML("three")); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		eventually(t, "the config put after etcd restarted", func() bool { return get(t, "http://"+g.Engine().Addr()+"/v") == "three" })
	}
}

func etcdClient(t *testing.T, addr string) *clientv3.Client {
	t.Helper()
	c, err := remoteconfig.NewClient([]string{addr}, 5*time.Second, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func remoteconfigOpen(url, instance string) (*remoteconfig.Etcd, error) {
	return remoteconfig.Open(url, remoteconfig.Options{Instance: instance, Logger: slog.New(slog.DiscardHandler)})
}
