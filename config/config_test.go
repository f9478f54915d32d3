package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default()
	if got := c.Listeners[0].Address; got != "127.0.0.1:8080" {
		t.Errorf("listener %q", got)
	}
	if len(c.Upstreams) != 1 || c.Upstreams[0].Name != "echo" || c.Upstreams[0].Endpoints[0].Address != "127.0.0.1:9001" {
		t.Errorf("upstreams %+v", c.Upstreams)
	}
	if c.Timeouts.Connect != 3*time.Second || !c.Forwarded.Via || !c.Routes[1].PreserveHost {
		t.Errorf("defaults not applied: %+v %+v", c.Timeouts, c.Forwarded)
	}
}

func TestParseOverridesAndDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
timeouts: {connect: 250ms}
forwarded: {via: false}
upstreams:
  - name: api
    balancer: maglev
    hash_key: header:X-User
    endpoints: [{address: "127.0.0.1:1", weight: 3}, {address: "127.0.0.1:2"}]
    health:
      passive: {consecutive_failures: 3}
routes:
  - path: /api/*rest
    upstream: api
    preserve_host: false
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeouts.Connect != 250*time.Millisecond || c.Timeouts.ClientHeader != 10*time.Second {
		t.Errorf("timeouts %+v", c.Timeouts)
	}
	if c.Forwarded.Via || !c.Forwarded.XForwardedFor {
		t.Errorf("forwarded %+v", c.Forwarded)
	}
	u := c.Upstreams[0]
	if u.Endpoints[0].Weight != 3 || u.Endpoints[1].Weight != 1 || u.Pool.MaxIdle != 64 {
		t.Errorf("upstream %+v", u)
	}
	if p := u.Health.Passive; p == nil || p.ConsecutiveFailures != 3 || p.BaseEjection != 10*time.Second {
		t.Errorf("passive %+v", p)
	}
	if c.Routes[0].PreserveHost {
		t.Error("preserve_host: false ignored")
	}
}

func TestErrorsNameFieldAndLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every one must appear, in this order
	}{
		{"unknown field", "listeners:\n  - address: 127.0.0.1:1\n    wrkers: 2\n",
			[]string{"t.yaml:3: listeners[0].wrkers: unknown field"}},
		{"bad duration", "timeouts:\n  connect: soon\n",
			[]string{`t.yaml:2: timeouts.connect: want a duration`}},
		{"unknown upstream and bad balancer together", `upstreams:
  - name: a
    balancer: fastest
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - path: /x
    upstream: api
  - path: y
    direct: {status: 99}
`, []string{
			`t.yaml:3: upstreams[0].balancer: unknown balancer "fastest"`,
			`t.yaml:7: routes[0].upstream: unknown upstream "api"`,
			`t.yaml:8: routes[1].path: must start with '/'`,
			`t.yaml:9: routes[1].direct.status: must be 200..599`,
		}},
		{"hash key required", "upstreams:\n  - name: a\n    balancer: ring_hash\n    endpoints: [{address: \"127.0.0.1:1\"}]\n",
			[]string{"upstreams[0].hash_key: is required"}},
		{"wrong type", "listeners: 3\n", []string{"t.yaml:1: listeners: want a list"}},
		{"both upstream and direct", "upstreams:\n  - name: a\n    endpoints: [{address: \"127.0.0.1:1\"}]\nroutes:\n  - path: /\n    upstream: a\n    direct: {body: x}\n",
			[]string{"routes[0].direct: a route has either upstream or direct"}},
		{"yaml syntax", "routes: [\n", []string{"t.yaml:"}},
		{"listeners disagree on workers", "listeners:\n  - address: 127.0.0.1:1\n    workers: 2\n  - address: 127.0.0.1:2\n  - address: 127.0.0.1:3\n    workers: 3\n",
			[]string{"t.yaml:6: listeners[2].workers: is 3 but listeners[0].workers is 2"}},
		{"h2c upgrade refused", "upstreams:\n  - name: a\n    endpoints: [{address: \"127.0.0.1:1\"}]\nroutes:\n  - path: /\n    upstream: a\n    upgrade: [websocket, H2C, \"a b\"]\n",
			[]string{"t.yaml:7: routes[0].upgrade[1]: h2c cannot be tunnelled", `t.yaml:7: routes[0].upgrade[2]: not a protocol name`}},
		{"pipeline out of range", "upstreams:\n  - name: a\n    endpoints: [{address: \"127.0.0.1:1\"}]\n    pool: {pipeline: -1}\n",
			[]string{"t.yaml:4: upstreams[0].pool.pipeline: must be between 0 and 256, got -1"}},
		{"upstream protocol", "upstreams:\n  - name: a\n    protocol: http3\n    endpoints: [{address: \"127.0.0.1:1\"}]\n  - name: b\n    protocol: h2\n    endpoints: [{address: \"127.0.0.1:1\"}]\n  - name: c\n    protocol: h2c\n    tls: {}\n    endpoints: [{address: \"127.0.0.1:1\"}]\n  - name: d\n    protocol: h2c\n    pool: {pipeline: 4}\n    endpoints: [{address: \"127.0.0.1:1\"}]\n",
			[]string{`t.yaml:3: upstreams[0].protocol: unknown protocol "http3" (want http1, h2c or h2)`,
				`t.yaml:6: upstreams[1].protocol: h2 is HTTP/2 over TLS (ALPN h2) and needs a tls section`,
				`t.yaml:9: upstreams[2].protocol: h2c is HTTP/2 over cleartext TCP, but the upstream has a tls section`,
				`upstreams[3].pool.pipeline: is for HTTP/1.1 upstreams; protocol h2c multiplexes requests already`}},
		{"grpc health needs HTTP/2", "upstreams:\n  - name: a\n    endpoints: [{address: \"127.0.0.1:1\"}]\n    health: {active: {grpc: {}, interval: 1s, timeout: 1s}}\n",
			[]string{"upstreams[0].health.active.grpc: the gRPC health protocol needs HTTP/2"}},
		{"grpc route", "upstreams:\n  - name: a\n    endpoints: [{address: \"127.0.0.1:1\"}]\nroutes:\n  - path: /x\n    upstream: a\n    protocol: grpc\n  - path: /y\n    upstream: a\n    protocol: soap\n",
			[]string{`routes[0].protocol: grpc needs HTTP/2 to the upstream: upstream "a" has protocol "http1" (set h2c or h2)`,
				`routes[1].protocol: unknown protocol "soap"`}},
		{"duplicate listener", "listeners:\n  - address: 127.0.0.1:1\n  - address: 127.0.0.1:1\n",
			[]string{`t.yaml:3: listeners[1].address: duplicate listener "127.0.0.1:1" (also listeners[0])`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing %q in:\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestExampleParses(t *testing.T) {
	for _, f := range []string{"example.yaml", "h2c-upstream.yaml"} {
		if _, err := Load(f); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWorkersSharedByListeners(t *testing.T) {
	c, err := Parse("t.yaml", []byte("listeners:\n  - address: 127.0.0.1:1\n  - address: 127.0.0.1:2\n    workers: 3\n  - address: 127.0.0.1:0\n  - address: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.EventLoops(); got != 3 {
		t.Errorf("EventLoops() = %d, want 3 (set on the second listener only)", got)
	}
	if got := Default().EventLoops(); got != 0 {
		t.Errorf("default EventLoops() = %d, want 0 (one per core)", got)
	}
}

func TestRouteUpgradeDefault(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
upstreams:
  - name: a
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - {path: /default, upstream: a}
  - {path: /none, upstream: a, upgrade: []}
  - {path: /more, upstream: a, upgrade: [websocket, tls-custom]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"[websocket]", "[]", "[websocket tls-custom]"} {
		if got := fmt.Sprint(c.Routes[i].Upgrade); got != want {
			t.Errorf("routes[%d].upgrade = %s, want %s", i, got, want)
		}
	}
	if c.Timeouts.TunnelIdle != 5*time.Minute || c.Timeouts.ClientSend != time.Minute || c.Timeouts.Pending != 3*time.Second {
		t.Errorf("timeouts %+v", c.Timeouts)
	}
	if c.Upstreams[0].Pool.MaxPending != 1024 {
		t.Errorf("max_pending %d, want 1024", c.Upstreams[0].Pool.MaxPending)
	}
}

// A YAML syntax error is reported at the line where the text goes wrong,
// not where the enclosing block started (yaml.v3 reports the latter).
func TestYAMLSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{name: "indented too little in a list item", yaml: "listeners:\n  - address: 127.0.0.1:8080\n   workers: 2\nroutes: []\n",
			want: "t.yaml:3: did not find expected '-' indicator"},
		{name: "dedented key in a mapping", yaml: "a: 1\nb:\n  c: 1\n d: 2\n",
			want: "t.yaml:4: did not find expected key"},
		{name: "deep in a long file", yaml: "upstreams:\n" + strings.Repeat("  - name: a\n    endpoints: [{address: \"127.0.0.1:1\"}]\n", 50) + "  - name: b\n   balancer: p2c\n",
			want: "t.yaml:103: did not find expected '-' indicator"},
		{name: "unclosed flow list", yaml: "a: 1\nb: 2\nc: [1, 2\nd: 4\n",
			want: "t.yaml:3: did not find expected ',' or ']'"},
		{name: "tab", yaml: "a: 1\n\tb: 2\n",
			want: "t.yaml:2: found a tab character that violates indentation"},
		{name: "scanner error", yaml: "routes:\n  - path: /x\n    upstream: a\n  - path: /y\n     upstream: b\n",
			want: "t.yaml:5: mapping values are not allowed in this context"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			if got := errs[0].Error(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
