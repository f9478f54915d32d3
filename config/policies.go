package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes. In YAML it is a plain integer or an integer
// with a unit: k, m, g (or KiB, MiB, GiB: powers of 1024) and KB, MB, GB
// (powers of 1000), e.g. 268435456, 256m, 256MiB.
type Size int64

// CacheStore is the top-level cache: section: the memory shared by every
// route that caches. It is read when the first caching route is loaded; a
// reload that changes it logs a warning and keeps the running values (the
// store cannot be resized or replaced while loops use it).
type CacheStore struct {
	// MaxBytes bounds stored responses (headers, bodies and a fixed
	// overhead per entry) across all routes (default 256 MiB).
	MaxBytes Size `yaml:"max_bytes"`
	// MaxObjectBytes is the largest body stored (default 1 MiB). A larger
	// response is streamed to the client and not stored; the gateway never
	// buffers more than this per response.
	MaxObjectBytes Size `yaml:"max_object_bytes"`
	// CoalesceWait bounds how long concurrent misses for one key wait for
	// the request fetching it (default 5s); after it they go upstream
	// themselves.
	CoalesceWait time.Duration `yaml:"coalesce_wait"`
}

// RateLimit is a route's rate_limit: section: a GCRA (token bucket) per key.
type RateLimit struct {
	// Rate requests are allowed per Per, on average.
	Rate int           `yaml:"rate"`
	Per  time.Duration `yaml:"per"` // default 1s
	// Burst is how many requests a key with a full bucket may make at
	// once; 0 means Rate.
	Burst int `yaml:"burst"`
	// Key lists what a bucket is keyed on, combined: client_ip, route,
	// host, path, header:<Name>, query:<name>. Default [client_ip].
	Key []string `yaml:"key"`
	// Shadow counts requests that would be limited but lets them through
	// (and sends no RateLimit fields), to try a limit before enforcing it.
	Shadow bool `yaml:"shadow"`
	// Slots is the size of the key table (8 bytes each; default 65536,
	// which tracks about 57000 active keys before keys share buckets).
	Slots int `yaml:"slots"`
	// PolicyName is the name sent in RateLimit-Policy and RateLimit
	// (default "default").
	PolicyName string `yaml:"policy_name"`
	// Scope is local (each instance enforces the limit on its own) or
	// global (the instances that share Redis enforce it together; fleet.go).
	Scope string `yaml:"scope"`
	// Redis names the redis entry a global limit syncs through.
	Redis string `yaml:"redis"`
	// Fallback is what a global limit does while Redis is unreachable:
	// local_share (enforce LocalShare of the limit alone) or fail_open
	// (admit every request).
	Fallback string `yaml:"fallback"`
	// LocalShare is the part of the limit an instance enforces alone in
	// local_share fallback, in [0, 1]; 0 means 1/redis.instances.
	LocalShare float64 `yaml:"local_share"`
}

// RouteCache is a route's cache: section (RFC 9111 shared cache).
type RouteCache struct {
	// Enabled switches caching on for the route (default true once the
	// section is present).
	Enabled bool `yaml:"enabled"`
	// TTL, when set, overrides the upstream's freshness (max-age,
	// s-maxage, Expires); no-store, private and Set-Cookie still apply.
	TTL time.Duration `yaml:"ttl"`
	// DefaultTTL is the lifetime of responses without explicit freshness
	// (default 60s; 0 stores only responses with explicit freshness).
	DefaultTTL time.Duration `yaml:"default_ttl"`
	// MaxTTL caps any lifetime (default 1h; 0 for no cap).
	MaxTTL time.Duration `yaml:"max_ttl"`
	// StaleWhileRevalidate and StaleIfError apply when the response does
	// not set them itself (RFC 5861; defaults 10s and 60s).
	StaleWhileRevalidate time.Duration `yaml:"stale_while_revalidate"`
	StaleIfError         time.Duration `yaml:"stale_if_error"`
	// StoreSetCookie stores responses that set cookies, without the
	// Set-Cookie fields (default false: such responses are not stored).
	StoreSetCookie bool `yaml:"store_set_cookie"`
	// StoreCookieRequests stores responses to requests that carry a
	// Cookie even without explicit freshness from the upstream (default
	// false: such a response is stored only with Cache-Control max-age,
	// s-maxage or public, or Expires, so that one user's page is not
	// served to another on default_ttl).
	StoreCookieRequests bool `yaml:"store_cookie_requests"`
}

// Compression is a route's compression: section.
type Compression struct {
	// Encodings are the codings offered, in the server's order of
	// preference: zstd, gzip (default [zstd, gzip]).
	Encodings []string `yaml:"encodings"`
	// Types are the compressible content types: "text/*",
	// "application/json", "application/*+json". Empty means the built-in
	// list (text/*, JSON, JavaScript, XML, SVG, wasm, ...).
	Types []string `yaml:"types"`
	// MinBytes is the smallest Content-Length compressed (default 1024);
	// responses of unknown length are decided by type alone.
	MinBytes Size `yaml:"min_bytes" old:"min_length"`
	// GzipLevel is 1 (fastest) to 9 (best), default 5.
	GzipLevel int `yaml:"gzip_level"`
	// ZstdLevel is 1..4 or fastest, default, better, best (default 1).
	ZstdLevel string `yaml:"zstd_level"`
}

// Encodings the gateway can produce, for Compression.Encodings.
var Encodings = []string{"zstd", "gzip"}

func (c *CacheStore) setDefaults() {
	c.MaxBytes = 256 << 20
	c.MaxObjectBytes = 1 << 20
	c.CoalesceWait = 5 * time.Second
}

func (r *RateLimit) setDefaults() {
	r.Per = time.Second
	r.Scope = ScopeLocal
	r.Fallback = FallbackLocalShare
}

func (r *RouteCache) setDefaults() {
	r.Enabled = true
	r.DefaultTTL = 60 * time.Second
	r.MaxTTL = time.Hour
	r.StaleWhileRevalidate = 10 * time.Second
	r.StaleIfError = 60 * time.Second
}

func (c *Compression) setDefaults() {
	c.Encodings = []string{"zstd", "gzip"}
	c.MinBytes = 1024
	c.GzipLevel = 5
	c.ZstdLevel = "1"
}

// ZstdLevelName maps a zstd_level value ("1".."4" or a name) to the name the
// compression package takes, or "" when it is not valid.
func ZstdLevelName(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "fastest":
		return "fastest"
	case "2", "default":
		return "default"
	case "3", "better":
		return "better"
	case "4", "best":
		return "best"
	}
	return ""
}

// ParseSize parses a Size: an integer with an optional unit (see Size).
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a size such as 1048576, 512k or 256MiB, got %q", s)
	}
	var mul int64
	switch strings.ToLower(unit) {
	case "", "b":
		mul = 1
	case "k", "kib":
		mul = 1 << 10
	case "m", "mib":
		mul = 1 << 20
	case "g", "gib":
		mul = 1 << 30
	case "kb":
		mul = 1e3
	case "mb":
		mul = 1e6
	case "gb":
		mul = 1e9
	default:
		return 0, fmt.Errorf("unknown size unit %q (want k, m, g, KiB, MiB, GiB, KB, MB or GB)", unit)
	}
	if n > (1<<62)/mul {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(n * mul), nil
}

// validatePolicies checks the trusted_proxies and cache sections and every
// route's rate_limit, max_in_flight, cache and compression. Checks that need
// the libraries (key parts, content types, rate windows) are made when the
// engine compiles the config, with the same field paths.
func (c *Config) validatePolicies(bad reporter) {
	for i, p := range c.TrustedProxies {
		if err := checkCIDR(p); err != nil {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "%v", err)
		}
	}
	caching := false
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if rl := r.RateLimit; rl != nil {
			if rl.Rate < 1 {
				bad(p+".rate_limit.rate", "must be 1 or more requests per %s, got %d", rl.Per, rl.Rate)
			}
			if rl.Per <= 0 {
				bad(p+".rate_limit.per", "must be positive")
			}
			if rl.Burst < 0 {
				bad(p+".rate_limit.burst", "must be 0 (= rate) or more, got %d", rl.Burst)
			}
			if rl.Slots < 0 || rl.Slots > 1<<30 {
				bad(p+".rate_limit.slots", "must be 0 (default 65536) to 1073741824, got %d", rl.Slots)
			}
		}
		if r.MaxInFlight < 0 {
			bad(p+".max_in_flight", "must be 0 (unlimited) or more, got %d", r.MaxInFlight)
		}
		if rc := r.Cache; rc != nil && rc.Enabled {
			caching = true
			if r.Direct != nil {
				bad(p+".cache", "only routes with an upstream are cached")
			}
			if rc.MaxTTL > 0 && rc.TTL > rc.MaxTTL {
				bad(p+".cache.ttl", "must not exceed max_ttl (%v)", rc.MaxTTL)
			}
		}
		if cp := r.Compression; cp != nil {
			if r.Direct != nil {
				bad(p+".compression", "only responses from an upstream are compressed")
			}
			if len(cp.Encodings) == 0 {
				bad(p+".compression.encodings", "list at least one of %s", strings.Join(Encodings, ", "))
			}
			seen := map[string]bool{}
			for j, e := range cp.Encodings {
				ep := fmt.Sprintf("%s.compression.encodings[%d]", p, j)
				switch {
				case !contains(Encodings, e):
					bad(ep, "unknown encoding %q (want %s; brotli is not offered)", e, strings.Join(Encodings, " or "))
				case seen[e]:
					bad(ep, "duplicate encoding %q", e)
				}
				seen[e] = true
			}
			if cp.MinBytes < 0 {
				bad(p+".compression.min_bytes", "must not be negative")
			}
			if cp.GzipLevel < 1 || cp.GzipLevel > 9 {
				bad(p+".compression.gzip_level", "must be 1..9, got %d", cp.GzipLevel)
			}
			if ZstdLevelName(cp.ZstdLevel) == "" {
				bad(p+".compression.zstd_level", "want 1..4 or fastest, default, better, best, got %q", cp.ZstdLevel)
			}
		}
	}
	if caching {
		if c.Cache.MaxBytes < 64<<10 {
			bad("cache.max_bytes", "must be at least 65536 (64 KiB), got %d", c.Cache.MaxBytes)
		}
		if c.Cache.MaxObjectBytes < 1 {
			bad("cache.max_object_bytes", "must be positive")
		} else if c.Cache.MaxObjectBytes > c.Cache.MaxBytes {
			bad("cache.max_object_bytes", "must not exceed max_bytes (%d)", c.Cache.MaxBytes)
		}
		if c.Cache.CoalesceWait <= 0 {
			bad("cache.coalesce_wait", "must be positive")
		}
	}
}

// checkCIDR accepts what limiter.ParseTrustedProxies accepts: a CIDR or a
// single address, without a zone.
func checkCIDR(s string) error {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return fmt.Errorf("want a CIDR such as 10.0.0.0/8 or an address, got %q", s)
		}
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return fmt.Errorf("want a CIDR such as 10.0.0.0/8 or an address, got %q", s)
	}
	return nil
}
