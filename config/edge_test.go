package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEdgeSectionsParse(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
ip_filter: {allow: ["10.0.0.0/8", "2001:db8::/32"], deny: [10.1.2.3], deny_file: /etc/hotpath/deny.txt}
limits:
  max_body_bytes: 10MiB
  per_ip: {max_connections: 64, new_connections: {rate: 20, burst: 40}}
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - path: /api/*rest
    upstream: app
    ip_filter: {deny: ["192.0.2.0/24"]}
    max_body_bytes: 1k
    cors:
      allow_origins: ["https://*.example.com"]
      allow_methods: [GET, PUT]
      allow_headers: [Content-Type]
      expose_headers: [X-Total]
      allow_credentials: true
      max_age: 10m
  - path: /plain
    upstream: app
`))
	if err != nil {
		t.Fatal(err)
	}
	if f := c.IPFilter; len(f.Allow) != 2 || len(f.Deny) != 1 || f.DenyFile != "/etc/hotpath/deny.txt" || !f.Set() {
		t.Errorf("ip_filter %+v", f)
	}
	if c.Limits.MaxBodyBytes != 10<<20 {
		t.Errorf("limits.max_body %d", c.Limits.MaxBodyBytes)
	}
	if p := c.Limits.PerIP; p.MaxConnections != 64 || p.NewConnections.Rate != 20 || p.NewConnections.Per != time.Second || p.NewConnections.Burst != 40 {
		t.Errorf("per_ip %+v %+v", p, p.NewConnections)
	}
	r := c.Routes[0]
	if r.MaxBodyBytes != 1024 || !r.IPFilter.Set() {
		t.Errorf("route: max_body %d, ip_filter %+v", r.MaxBodyBytes, r.IPFilter)
	}
	if cs := r.CORS; len(cs.AllowOrigins) != 1 || len(cs.AllowMethods) != 2 || !cs.AllowCredentials || cs.MaxAge != 10*time.Minute {
		t.Errorf("cors %+v", cs)
	}
	if p := c.Routes[1]; p.MaxBodyBytes != 0 || p.CORS != nil || p.IPFilter.Set() {
		t.Errorf("second route: %+v", p)
	}
	var files []string
	for _, f := range c.Files() {
		files = append(files, f.Path+"="+f.File)
	}
	if strings.Join(files, " ") != "ip_filter.deny_file=/etc/hotpath/deny.txt" {
		t.Errorf("Files: %v", files)
	}
	d := Default()
	if d.Limits.MaxBodyBytes != 0 || d.Limits.PerIP.MaxConnections != 0 || d.Limits.PerIP.NewConnections != nil || d.IPFilter.Set() {
		t.Errorf("defaults: %+v %+v", d.Limits, d.IPFilter)
	}
}

func TestEdgeErrorsNameFieldAndLine(t *testing.T) {
	head := "upstreams:\n  - name: app\n    endpoints: [{address: \"127.0.0.1:1\"}]\nroutes:\n  - path: /a\n    upstream: app\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"global list", "ip_filter:\n  allow:\n    - 10.0.0.0/8\n    - example.com\n  deny: [10.0.0.0/40]\n", []string{
			`t.yaml:4: ip_filter.allow[1]: want a CIDR`,
			`t.yaml:5: ip_filter.deny[0]: want a CIDR`,
		}},
		{"route list", head + "    ip_filter:\n      deny:\n        - fe80::1%eth0\n", []string{`t.yaml:9: routes[0].ip_filter.deny[0]: want a CIDR`}},
		{"max_body", "limits:\n  max_body_bytes: lots\n", []string{`t.yaml:2: limits.max_body_bytes: want a size`}},
		{"route max_body", head + "    max_body_bytes: -1\n", []string{`t.yaml:7: routes[0].max_body_bytes: want a size`}},
		{"per_ip", "limits:\n  per_ip:\n    max_connections: -1\n    new_connections:\n      rate: 0\n      per: 0s\n      burst: -2\n", []string{
			"t.yaml:3: limits.per_ip.max_connections: must be 0",
			"t.yaml:5: limits.per_ip.new_connections.rate: must be 1 or more",
			"t.yaml:6: limits.per_ip.new_connections.per: must be positive",
			"t.yaml:7: limits.per_ip.new_connections.burst: must be 0",
		}},
		{"cors without origins", head + "    cors:\n      max_age: -1s\n", []string{
			"t.yaml:8: routes[0].cors: allow_origins must list at least one origin",
			"t.yaml:8: routes[0].cors.max_age: must not be negative",
		}},
		{"unknown field", head + "    cors: {allow_origin: ['*']}\n", []string{"t.yaml:7: routes[0].cors.allow_origin: unknown field"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("missing %q in:\n%s", w, msg)
				}
			}
		})
	}
}
