package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPolicySectionsParse(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
trusted_proxies: ["10.0.0.0/8", "127.0.0.1"]
cache: {max_bytes: 64MiB, max_object_bytes: 512k, coalesce_wait: 2s}
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - path: /api/*rest
    upstream: app
    rate_limit: {rate: 100, burst: 20, key: [client_ip, "header:X-Api-Key"], shadow: true, slots: 1048576, policy_name: api}
    max_in_flight: 1000
    cache: {ttl: 30s, stale_if_error: 5m}
    compression: {encodings: [gzip], types: [text/*], min_bytes: 2k, gzip_level: 6, zstd_level: best}
  - path: /plain
    upstream: app
    rate_limit: {rate: 5}
    cache: {enabled: false}
    compression: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 2 || c.Cache.MaxBytes != 64<<20 || c.Cache.MaxObjectBytes != 512<<10 || c.Cache.CoalesceWait != 2*time.Second {
		t.Errorf("globals: %v %+v", c.TrustedProxies, c.Cache)
	}
	r := c.Routes[0]
	if rl := r.RateLimit; rl.Rate != 100 || rl.Per != time.Second || rl.Burst != 20 || len(rl.Key) != 2 || !rl.Shadow || rl.Slots != 1<<20 || rl.PolicyName != "api" {
		t.Errorf("rate_limit %+v", rl)
	}
	if r.MaxInFlight != 1000 {
		t.Errorf("max_in_flight %d", r.MaxInFlight)
	}
	// Unset fields keep their defaults.
	if rc := r.Cache; !rc.Enabled || rc.TTL != 30*time.Second || rc.DefaultTTL != time.Minute || rc.MaxTTL != time.Hour ||
		rc.StaleWhileRevalidate != 10*time.Second || rc.StaleIfError != 5*time.Minute || rc.StoreSetCookie {
		t.Errorf("cache %+v", rc)
	}
	if cp := r.Compression; len(cp.Encodings) != 1 || cp.MinBytes != 2048 || cp.GzipLevel != 6 || ZstdLevelName(cp.ZstdLevel) != "best" {
		t.Errorf("compression %+v", cp)
	}
	p := c.Routes[1]
	if p.Cache.Enabled || p.RateLimit.Burst != 0 || p.RateLimit.Per != time.Second {
		t.Errorf("second route %+v %+v", p.Cache, p.RateLimit)
	}
	if cp := p.Compression; strings.Join(cp.Encodings, ",") != "zstd,gzip" || cp.MinBytes != 1024 || cp.GzipLevel != 5 || ZstdLevelName(cp.ZstdLevel) != "fastest" {
		t.Errorf("compression defaults %+v", cp)
	}
	// Without a cache section the shared store has its defaults.
	d := Default()
	if d.Cache.MaxBytes != 256<<20 || d.Cache.MaxObjectBytes != 1<<20 || d.Cache.CoalesceWait != 5*time.Second {
		t.Errorf("cache defaults %+v", d.Cache)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		bad  bool
	}{
		{"1048576", 1 << 20, false},
		{"256MiB", 256 << 20, false},
		{"256m", 256 << 20, false},
		{"512k", 512 << 10, false},
		{"1G", 1 << 30, false},
		{"10KB", 10000, false},
		{"3 MB", 3e6, false},
		{"12B", 12, false},
		{"", 0, true},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"10 parsecs", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999G", 0, true},
	} {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestPolicyErrorsNameFieldAndLine(t *testing.T) {
	head := "upstreams:\n  - name: app\n    endpoints: [{address: \"127.0.0.1:1\"}]\nroutes:\n  - path: /a\n    upstream: app\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"rate", head + "    rate_limit: {rate: 0, per: 0}\n", []string{
			"t.yaml:7: routes[0].rate_limit.per: must be positive",
			"t.yaml:7: routes[0].rate_limit.rate: must be 1 or more",
		}},
		{"burst and slots", head + "    rate_limit:\n      rate: 5\n      burst: -1\n      slots: -4\n", []string{
			"t.yaml:9: routes[0].rate_limit.burst: must be 0",
			"t.yaml:10: routes[0].rate_limit.slots: must be 0",
		}},
		{"max_in_flight", head + "    max_in_flight: -3\n", []string{"t.yaml:7: routes[0].max_in_flight: must be 0"}},
		{"trusted proxies", "trusted_proxies:\n  - 10.0.0.0/8\n  - nonsense\n", []string{`t.yaml:3: trusted_proxies[1]: want a CIDR`}},
		{"size", head + "    cache: {}\ncache:\n  max_bytes: lots\n", []string{`t.yaml:9: cache.max_bytes: want a size`}},
		{"object larger than store", head + "    cache: {}\ncache:\n  max_bytes: 1MiB\n  max_object_bytes: 2MiB\n", []string{
			"t.yaml:10: cache.max_object_bytes: must not exceed max_bytes",
		}},
		{"ttl over max", head + "    cache: {ttl: 2h}\n", []string{"t.yaml:7: routes[0].cache.ttl: must not exceed max_ttl"}},
		{"encodings", head + "    compression:\n      encodings: [gzip, br, gzip]\n      gzip_level: 11\n      zstd_level: 7\n", []string{
			`t.yaml:8: routes[0].compression.encodings[1]: unknown encoding "br"`,
			`t.yaml:8: routes[0].compression.encodings[2]: duplicate encoding "gzip"`,
			"t.yaml:9: routes[0].compression.gzip_level: must be 1..9",
			`t.yaml:10: routes[0].compression.zstd_level: want 1..4`,
		}},
		{"cache on a direct route", "routes:\n  - path: /d\n    direct: {body: x}\n    cache: {}\n    compression: {}\n", []string{
			"t.yaml:4: routes[0].cache: only routes with an upstream",
			"t.yaml:5: routes[0].compression: only responses from an upstream",
		}},
		{"unknown policy field", head + "    rate_limit: {rate: 1, burts: 3}\n", []string{"t.yaml:7: routes[0].rate_limit.burts: unknown field"}},
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
