package route

import (
	"strings"
	"testing"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/pool"
	"github.com/hotpath/hotpath/trie"
)

// check decodes and validates a config document, failing on field errors.
func check(t *testing.T, doc string) *config.Config {
	t.Helper()
	cfg, errs := config.Check("t.yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	return cfg
}

// TestCompileRoutes: a route's description holds its templates, direct
// response, key and upstream index, defaults applied.
func TestCompileRoutes(t *testing.T) {
	cfg := check(t, `upstreams:
  - name: a
    endpoints: [{address: "127.0.0.1:9001"}]
  - name: b
    balancer: maglev
    hash_key: "header:X-User"
    endpoints: [{address: "127.0.0.1:9002", weight: 3}]
    pool: {max_idle: 0}
routes:
  - {path: "/users/:id/*rest", upstream: b, rewrite: "/v2/:id/*rest", upgrade: [WebSocket]}
  - name: hello
    path: /hello
    direct: {status: 200, body: hi, headers: {X-A: "1"}}
  - name: agg
    path: /both/:id
    aggregate:
      parts:
        - {name: one, upstream: a, path: "/one/:id?x=:id", headers: [X-Trace]}
  - name: limited
    path: /limited
    upstream: a
    methods: [POST]
    rate_limit: {rate: 10, per: 1s, key: [route, "header:X-Api-Key"]}
`)
	tb, errs := Compile(cfg)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(tb.Upstreams) != 2 || len(tb.Routes) != 4 {
		t.Fatalf("%d upstreams, %d routes", len(tb.Upstreams), len(tb.Routes))
	}
	if u := tb.Upstreams[1]; u.Key != pool.KeyHeader || u.KeyName != "X-User" || u.Limits.MaxIdle != -1 || u.Endpoints[0].Weight != 3 {
		t.Errorf("upstream b: %+v", u)
	}
	if u := tb.Upstreams[0]; u.Key != pool.KeyNone {
		t.Errorf("upstream a hashes: %+v", u)
	}
	r := tb.Routes[0]
	if r.Name != "/users/:id/*rest" || r.Upstream != 1 || r.Methods[0] != "*" || string(r.Upgrade[0]) != "websocket" {
		t.Errorf("route 0: %+v", r)
	}
	ps := trie.Params{N: 2, Arr: [trie.MaxParams]trie.Param{{Key: "id", Value: []byte("7")}, {Key: "rest", Value: []byte("/a/b")}}}
	if got := string(r.Rewrite.Append(nil, &ps)); got != "/v2/7/a/b" {
		t.Errorf("rewrite: %q", got)
	}
	if d := tb.Routes[1].Direct; d == nil || string(d.Head) != "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n" || string(d.Body) != "hi" {
		t.Errorf("direct: %+v", tb.Routes[1].Direct)
	}
	agg := tb.Routes[2]
	if agg.Upstream != -1 || strings.Join(agg.Methods, ",") != "GET,HEAD" || len(agg.Aggregate.Parts) != 1 {
		t.Fatalf("aggregate: %+v", agg)
	}
	if p := agg.Aggregate.Parts[0]; p.Upstream != 0 || p.Headers[0] != "x-trace" || !p.Target[len(p.Target)-1].Query {
		t.Errorf("part: %+v", p)
	}
	if rl := tb.Routes[3].RateLimit; rl == nil || rl.Config.Rate != 10 || rl.Config.Burst != 10 || rl.Global {
		t.Errorf("rate limit: %+v", rl)
	}
}

// TestCompileOnePass: Compile reports every problem it finds, each at its
// field, and goes on past an upstream in error.
func TestCompileOnePass(t *testing.T) {
	cfg := check(t, `upstreams:
  - {name: a, endpoints: [{address: "127.0.0.1:9001"}]}
routes:
  - path: /one
    upstream: a
    rate_limit: {rate: 1, per: 1000h, burst: 1000}
  - path: /two
    upstream: a
    rate_limit: {rate: 1, per: 1s, key: ["cookie:sid"]}
`)
	_, errs := Compile(cfg)
	want := []string{
		"t.yaml:6: routes[0].rate_limit.burst: limiter:",
		"t.yaml:9: routes[1].rate_limit.key[0]:",
	}
	if len(errs) != len(want) {
		t.Fatalf("errors: %v", errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d: %s, want %s...", i, errs[i], w)
		}
	}
}
