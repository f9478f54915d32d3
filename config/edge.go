package config

import (
	"fmt"
	"time"
)

// Edge protection (docs/edge.md): IP allow and deny lists, per-client
// connection limits, request body limits and CORS. The engine compiles
// them (engine/edge.go); lists and CORS policies are checked there too,
// with the same field paths, by the packages that implement them.

// IPFilter is an ip_filter: section, top-level (every request and, for a
// peer that is not a trusted proxy, every connection) or per route. A
// client address in Deny is refused; with Allow (or AllowFile) set, an
// address in neither is refused too. Addresses are the client's as
// trusted_proxies reveal it. Refused requests get 403; refused connections
// are closed at once.
type IPFilter struct {
	// Allow and Deny are CIDRs ("10.0.0.0/8", "2001:db8::/32") or single
	// addresses.
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	// AllowFile and DenyFile name files of more entries, one per line
	// ('#' starts a comment), read at start and on every reload. An
	// allow_file without entries is an error (it would refuse everyone).
	AllowFile string `yaml:"allow_file"`
	DenyFile  string `yaml:"deny_file"`
}

// Set reports whether f filters anything.
func (f *IPFilter) Set() bool {
	return f != nil && (len(f.Allow) > 0 || len(f.Deny) > 0 || f.AllowFile != "" || f.DenyFile != "")
}

// PerIP limits each client address at accept time, before the gateway
// holds any state for the connection (limits.per_ip). The address is the
// peer's: a trusted proxy (trusted_proxies) carries many clients and is
// exempt. A connection over a limit is closed at once.
type PerIP struct {
	// MaxConnections bounds the connections one address has open at once
	// (0, the default: no bound).
	MaxConnections int `yaml:"max_connections"`
	// NewConnections bounds how fast one address opens connections: a
	// token bucket of Burst, refilled Rate per Per (omit: no bound).
	NewConnections *ConnRate `yaml:"new_connections"`
}

// ConnRate is a rate of new connections: Rate per Per, bursts of Burst.
type ConnRate struct {
	Rate  int           `yaml:"rate"`
	Per   time.Duration `yaml:"per"`   // default 1s
	Burst int           `yaml:"burst"` // default (0): Rate
}

func (r *ConnRate) setDefaults() { r.Per = time.Second }

// CORS is a route's cors: section: the gateway answers preflight requests
// and adds the CORS fields to every response of the route (package cors).
type CORS struct {
	// AllowOrigins: "https://app.example.com", "https://*.example.com"
	// (any subdomain), "null" or "*" (any origin, without credentials).
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowMethods a preflight may ask for; "*" any (default GET, HEAD,
	// POST, which are always allowed).
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders are the request fields a preflight may ask for; "*"
	// any (default none beyond the CORS-safelisted ones).
	AllowHeaders []string `yaml:"allow_headers"`
	// ExposeHeaders are the response fields a page may read beyond the
	// safelisted ones.
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials lets pages send cookies and authentication.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight's answer (whole
	// seconds; 0 sends none).
	MaxAge time.Duration `yaml:"max_age"`
}

// validateEdge checks the ip_filter sections' entries, limits.max_body_bytes,
// limits.per_ip and each route's max_body_bytes and cors (the origins and names
// themselves are checked by package cors when the engine compiles).
func (c *Config) validateEdge(bad reporter) {
	filter := func(p string, f *IPFilter) {
		if f == nil {
			return
		}
		for i, s := range f.Allow {
			if err := checkCIDR(s); err != nil {
				bad(fmt.Sprintf("%s.allow[%d]", p, i), "%v", err)
			}
		}
		for i, s := range f.Deny {
			if err := checkCIDR(s); err != nil {
				bad(fmt.Sprintf("%s.deny[%d]", p, i), "%v", err)
			}
		}
	}
	filter("ip_filter", &c.IPFilter)
	if c.Limits.MaxBodyBytes < 0 {
		bad("limits.max_body_bytes", "must be 0 (no limit) or more")
	}
	pi := c.Limits.PerIP
	if pi.MaxConnections < 0 {
		bad("limits.per_ip.max_connections", "must be 0 (no limit) or more, got %d", pi.MaxConnections)
	}
	if r := pi.NewConnections; r != nil {
		if r.Rate < 1 {
			bad("limits.per_ip.new_connections.rate", "must be 1 or more connections per %s, got %d", r.Per, r.Rate)
		}
		if r.Per <= 0 {
			bad("limits.per_ip.new_connections.per", "must be positive")
		}
		if r.Burst < 0 {
			bad("limits.per_ip.new_connections.burst", "must be 0 (= rate) or more, got %d", r.Burst)
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		filter(p+".ip_filter", r.IPFilter)
		if r.MaxBodyBytes < 0 {
			bad(p+".max_body_bytes", "must be 0 (limits.max_body_bytes) or more")
		}
		if cs := r.CORS; cs != nil {
			if len(cs.AllowOrigins) == 0 {
				bad(p+".cors", "allow_origins must list at least one origin (https://app.example.com, https://*.example.com or *)")
			}
			if cs.MaxAge < 0 {
				bad(p+".cors.max_age", "must not be negative")
			}
		}
	}
}

// edgeFiles adds the ip_filter files to a FileRef list (Files).
func (c *Config) edgeFiles(add func(path, file string)) {
	add("ip_filter.allow_file", c.IPFilter.AllowFile)
	add("ip_filter.deny_file", c.IPFilter.DenyFile)
	for i, r := range c.Routes {
		if f := r.IPFilter; f != nil {
			add(fmt.Sprintf("routes[%d].ip_filter.allow_file", i), f.AllowFile)
			add(fmt.Sprintf("routes[%d].ip_filter.deny_file", i), f.DenyFile)
		}
	}
}
