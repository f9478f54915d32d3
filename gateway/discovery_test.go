package gateway

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hotpath/hotpath/internal/fleettest"
)

// hits returns how many 200s the load got from the backend named name.
func (l *load) hits(name string) int64 {
	if v, ok := l.bodies.Load(name); ok {
		return v.(interface{ Load() int64 }).Load()
	}
	return 0
}

// waitTraffic waits until the load has had n more answers from backend b.
func waitTraffic(t *testing.T, l *load, b *backend, n int64) {
	t.Helper()
	from := l.hits(b.name)
	eventually(t, "traffic to "+b.name, func() bool { return l.hits(b.name) >= from+n })
}

// waitNoTraffic waits until backend b gets no request while the load gets
// 200 answers from others: the gateway no longer picks it.
func waitNoTraffic(t *testing.T, l *load, b *backend) {
	t.Helper()
	eventually(t, b.name+" dropped", func() bool {
		before, ok := b.hits.Load(), l.ok.Load()
		eventually(t, "answers", func() bool { return l.ok.Load() >= ok+50 })
		return b.hits.Load() == before
	})
}

func register(t *testing.T, c *clientv3.Client, key string, b *backend, lease clientv3.LeaseID) {
	t.Helper()
	var opts []clientv3.OpOption
	if lease != 0 {
		opts = append(opts, clientv3.WithLease(lease))
	}
	v := fmt.Sprintf(`{"address": %q, "weight": 1, "metadata": {"name": %q}}`, b.addr, b.name)
	if _, err := c.Put(context.Background(), key, v, opts...); err != nil {
		t.Fatal(err)
	}
}

// TestEtcdDiscoveryUnderLoad adds and removes endpoints in etcd while two
// gateways are under load: no request fails, traffic follows the set
// without a reload, and with etcd restarted the gateways keep serving on
// the last set and resume watching.
func TestEtcdDiscoveryUnderLoad(t *testing.T) {
	e := fleettest.Etcd(t)
	c := etcdClient(t, e.Addr)
	a, b, d := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "d")
	lease, err := c.Grant(context.Background(), 60)
	if err != nil {
		t.Fatal(err)
	}
	register(t, c, "/services/api/a", a, lease.ID)
	y := fmt.Sprintf(`workers: 2
listeners: [{address: 127.0.0.1:0}]
admin: {address: 127.0.0.1:0}
etcd: {endpoints: [%q]}
upstreams:
  - name: api
    discovery: {etcd: {prefix: /services/api/}}
    health: {passive: {}}
routes:
  - {name: api, path: /*p, upstream: api}
`, e.Addr)
	gs := []*Gateway{startYAML(t, y, Options{}), startYAML(t, y, Options{})}
	l := startPacedLoad([]string{"http://" + gs[0].Engine().Addr() + "/x", "http://" + gs[1].Engine().Addr() + "/x"}, 2, 300)
	defer func() {
		l.halt()
		if l.failures() != 0 {
			t.Errorf("requests failed: %v", l)
		}
		t.Logf("%v; a %d, b %d, d %d", l, l.hits("a"), l.hits("b"), l.hits("d"))
	}()
	waitTraffic(t, l, a, 50)

	register(t, c, "/services/api/b", b, lease.ID)
	waitTraffic(t, l, b, 50)
	// a deregisters (as a service does before it stops), then stops once
	// the gateways have let go of it.
	if _, err := c.Delete(context.Background(), "/services/api/a"); err != nil {
		t.Fatal(err)
	}
	waitNoTraffic(t, l, a)
	a.stop()
	waitTraffic(t, l, b, 50)

	e.Kill()
	waitTraffic(t, l, b, 100) // serving on the last set with etcd down
	e.Restart()
	c2 := etcdClient(t, e.Addr)
	bConns := b.conns.Load()
	register(t, c2, "/services/api/d", d, 0)
	waitTraffic(t, l, d, 50) // watching again
	// b stayed in the set: its keep-alive connections stayed with it.
	if n := b.conns.Load(); n != bConns {
		t.Errorf("b got %d new connections when d was added, want none (its pooled connections are kept)", n-bConns)
	}
	for _, g := range gs {
		if n := metric(t, g, "hotpath_discovery_endpoints", "upstream", "api"); n != 2 {
			t.Errorf("discovery_endpoints = %v, want 2 (b, d)", n)
		}
	}
}

// TestDNSDiscoveryUnderLoad changes an SRV record (TTL 1s) under load: the
// gateway moves to the new endpoint with no failed request, and a failing
// resolver keeps the last answer.
func TestDNSDiscoveryUnderLoad(t *testing.T) {
	s := fleettest.DNS(t)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	srv := func(bs ...*backend) []string {
		var rrs []string
		for i, x := range bs {
			_, port, _ := net.SplitHostPort(x.addr)
			rrs = append(rrs, fmt.Sprintf("_api._tcp.internal. 1 IN SRV 10 %d %s %s.internal.", 10*(i+1), port, x.name))
		}
		return rrs
	}
	s.Set(t, "a.internal", dns.TypeA, "a.internal. 1 IN A 127.0.0.1")
	s.Set(t, "b.internal", dns.TypeA, "b.internal. 1 IN A 127.0.0.1")
	s.Set(t, "_api._tcp.internal", dns.TypeSRV, srv(a)...)
	y := fmt.Sprintf(`workers: 2
listeners: [{address: 127.0.0.1:0}]
admin: {address: 127.0.0.1:0}
upstreams:
  - name: api
    balancer: weighted_round_robin
    discovery: {dns: {name: _api._tcp.internal, type: SRV, resolver: %q, refresh: 1s}}
routes:
  - {name: api, path: /*p, upstream: api}
`, s.Addr)
	g := startYAML(t, y, Options{})
	l := startPacedLoad([]string{"http://" + g.Engine().Addr() + "/x"}, 4, 300)
	defer func() {
		l.halt()
		if l.failures() != 0 {
			t.Errorf("requests failed: %v", l)
		}
		t.Logf("%v; a %d, b %d", l, l.hits("a"), l.hits("b"))
	}()
	waitTraffic(t, l, a, 50)
	s.Set(t, "_api._tcp.internal", dns.TypeSRV, srv(a, b)...) // weights 10 and 20
	waitTraffic(t, l, b, 50)
	s.Set(t, "_api._tcp.internal", dns.TypeSRV, srv(b)...)
	waitNoTraffic(t, l, a)
	a.stop()
	s.Fail(true)
	eventually(t, "a failed query", func() bool { return metric(t, g, "hotpath_discovery_failures_total", "upstream", "api") > 0 })
	waitTraffic(t, l, b, 100) // the last answer keeps serving
	if n := metric(t, g, "hotpath_discovery_updates_total", "upstream", "api"); n != 3 {
		t.Errorf("discovery_updates_total = %v, want 3", n)
	}
}

// TestDiscoveryBeforeTheFirstAnswer: until a source answers, the listed
// endpoints serve, and an upstream with none answers 503; the first answer
// replaces them.
func TestDiscoveryBeforeTheFirstAnswer(t *testing.T) {
	s := fleettest.DNS(t)
	s.Fail(true)
	listed, found := newBackend(t, "listed"), newBackend(t, "found")
	_, port, _ := net.SplitHostPort(found.addr)
	y := fmt.Sprintf(`workers: 1
listeners: [{address: 127.0.0.1:0}]
admin: {address: 127.0.0.1:0}
upstreams:
  - name: listed
    endpoints: [{address: %q}]
    discovery: {dns: {name: api.internal, port: %s, resolver: %q, refresh: 1s}}
  - name: none
    discovery: {dns: {name: api.internal, port: %s, resolver: %q, refresh: 1s}}
routes:
  - {name: listed, path: /listed, upstream: listed}
  - {name: none, path: /none, upstream: none}
`, listed.addr, port, s.Addr, port, s.Addr)
	g := startYAML(t, y, Options{})
	base := "http://" + g.Engine().Addr()
	if got := get(t, base+"/listed"); got != "listed" {
		t.Errorf("before an answer, /listed = %q, want the listed endpoint", got)
	}
	if code, _ := do(t, "GET", base+"/none"); code != 503 {
		t.Errorf("before an answer, /none = %d, want 503", code)
	}
	s.Set(t, "api.internal", dns.TypeA, "api.internal. 1 IN A 127.0.0.1")
	s.Fail(false)
	eventually(t, "the first answer on /listed", func() bool { return get(t, base+"/listed") == "found" })
	eventually(t, "the first answer on /none", func() bool { return get(t, base+"/none") == "found" })
}
