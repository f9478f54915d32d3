package config

import (
	"errors"
	"testing"
	"time"
)

func TestFleetSectionsParse(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
redis:
  - {name: main, address: "127.0.0.1:6379", instances: 3}
etcd: {endpoints: ["127.0.0.1:2379"]}
upstreams:
  - name: dns
    discovery: {dns: {name: api.internal, type: SRV}}
  - name: kv
    discovery: {etcd: {prefix: /services/api/}}
routes:
  - path: /a
    upstream: dns
    rate_limit: {rate: 1000, scope: global, redis: main}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redis[0]
	if r.SyncInterval != 200*time.Millisecond || r.KeyPrefix != "hotpath:" || r.Instances != 3 || r.DialTimeout != time.Second {
		t.Errorf("redis %+v", r)
	}
	if d := c.Upstreams[0].Discovery.DNS; d.Type != "SRV" || d.Refresh != 10*time.Second || d.Timeout != 2*time.Second {
		t.Errorf("dns %+v", d)
	}
	if rl := c.Routes[0].RateLimit; rl.Scope != ScopeGlobal || rl.Fallback != FallbackLocalShare || rl.LocalShare != 0 {
		t.Errorf("rate_limit %+v", rl)
	}
	if c.Etcd.DialTimeout != 5*time.Second {
		t.Errorf("etcd %+v", c.Etcd)
	}
}

func TestFleetErrorsNameFieldAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		paths      []string
	}{
		{name: "redis", yaml: `
redis:
  - {name: main}
  - {name: main, address: "x", cluster: ["a"], sync_interval: 1ms, instances: 0, db: 2}
`, paths: []string{"redis[0]", "redis[1].name", "redis[1].address", "redis[1].cluster[0]", "redis[1].db", "redis[1]", "redis[1].sync_interval", "redis[1].instances"}},
		{name: "global limit", yaml: `
upstreams: [{name: app, endpoints: [{address: "127.0.0.1:1"}]}]
routes:
  - {path: /a, upstream: app, rate_limit: {rate: 1, scope: global}}
  - {path: /b, upstream: app, rate_limit: {rate: 1, scope: global, redis: nope, fallback: close, local_share: 2}}
  - {path: /c, upstream: app, rate_limit: {rate: 1, scope: fleet, redis: x}}
`, paths: []string{"routes[0].rate_limit.redis", "routes[1].rate_limit.redis", "routes[1].rate_limit.fallback", "routes[1].rate_limit.local_share", "routes[2].rate_limit.scope"}},
		{name: "discovery", yaml: `
upstreams:
  - {name: a, discovery: {}}
  - {name: b, discovery: {dns: {name: x, type: MX, refresh: 10ms, resolver: nope}}}
  - {name: c, discovery: {dns: {name: x}}}
  - {name: d, discovery: {dns: {name: x, type: SRV, port: 80}}}
  - {name: e, discovery: {etcd: {prefix: ""}}}
  - {name: f}
`, paths: []string{"upstreams[0].discovery", "upstreams[1].discovery.dns.type", "upstreams[1].discovery.dns.refresh", "upstreams[1].discovery.dns.resolver",
			"upstreams[2].discovery.dns.port", "upstreams[3].discovery.dns.port", "upstreams[4].discovery.etcd.prefix", "upstreams[4].discovery.etcd", "upstreams[5].endpoints"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want Errors", err)
			}
			got := map[string]*FieldError{}
			for _, e := range errs {
				got[e.Path] = e
			}
			for _, p := range tc.paths {
				e := got[p]
				if e == nil {
					t.Errorf("no error at %s; got:\n%v", p, err)
					continue
				}
				if e.Line == 0 {
					t.Errorf("%s: no line", p)
				}
			}
		})
	}
}
