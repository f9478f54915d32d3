package config

import (
	"fmt"
	"strings"
	"time"
)

// Several gateway instances share what must be shared through systems
// fleets already run (docs/fleet.md): rate-limit counts in Redis
// (rate_limit.scope: global), endpoints from DNS or etcd
// (upstreams[].discovery), and the configuration itself from etcd
// (hotpath -config etcd://host:2379/key).

// Redis is one entry of the top-level redis: list, a Redis deployment that
// global rate limits name. Give exactly one of address, sentinel or
// cluster. TLS comes with the TLS issue; until then use a private network.
type Redis struct {
	Name string `yaml:"name"`
	// Address is one server's host:port.
	Address string `yaml:"address"`
	// Sentinel finds the master through Redis Sentinel.
	Sentinel *RedisSentinel `yaml:"sentinel"`
	// Cluster lists seed addresses of a Redis Cluster.
	Cluster []string `yaml:"cluster"`
	// Username and PasswordFile authenticate (AUTH); the file holds the
	// password, surrounding whitespace trimmed. Read at start and reload.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// DB selects the database (not with cluster).
	DB int `yaml:"db"`
	// DialTimeout, ReadTimeout and WriteTimeout bound each network step of
	// a sync (defaults 1s, 500ms, 500ms); a sync that runs out is a failed
	// one (the local fallback). The event loops never wait on Redis.
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// SyncInterval is how often each instance sends what it admitted and
	// reads the fleet's totals back (default 200ms): one pipelined round
	// trip per interval for all keys. Shorter follows the fleet more
	// closely and costs more Redis commands.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// KeyPrefix starts every key the gateway writes (default "hotpath:").
	KeyPrefix string `yaml:"key_prefix"`
	// Instances is how many gateway instances share this Redis (default
	// 1): while Redis is unreachable, a local_share limit without its own
	// local_share enforces 1/instances of the limit on each.
	Instances int `yaml:"instances"`
}

// RedisSentinel names a master monitored by Redis Sentinel.
type RedisSentinel struct {
	Master    string   `yaml:"master"`
	Addresses []string `yaml:"addresses"`
	// PasswordFile authenticates to the sentinels themselves, if needed.
	PasswordFile string `yaml:"password_file"`
}

func (r *Redis) setDefaults() {
	r.DialTimeout = time.Second
	r.ReadTimeout = 500 * time.Millisecond
	r.WriteTimeout = 500 * time.Millisecond
	r.SyncInterval = 200 * time.Millisecond
	r.KeyPrefix = "hotpath:"
	r.Instances = 1
}

// Rate-limit scopes and fallbacks (routes[].rate_limit.scope, .fallback).
const (
	ScopeLocal  = "local"
	ScopeGlobal = "global"

	FallbackLocalShare = "local_share"
	FallbackFailOpen   = "fail_open"
)

// Etcd is the top-level etcd: section, the cluster that upstreams[].discovery.etcd
// reads. Without endpoints, the cluster the configuration came from
// (-config etcd://...) is used.
type Etcd struct {
	Endpoints []string `yaml:"endpoints"` // host:port of each member
	// DialTimeout bounds a connection attempt (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// Username and PasswordFile authenticate, when the cluster has auth on.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

func (e *Etcd) setDefaults() { e.DialTimeout = 5 * time.Second }

// Discovery is an upstream's discovery: section: its endpoints come from
// DNS or etcd instead of (or, until the first answer, in addition to) the
// endpoints list, and change without a reload. Endpoints that stay keep
// their connections and health state.
type Discovery struct {
	DNS  *DNSDiscovery  `yaml:"dns"`
	Etcd *EtcdDiscovery `yaml:"etcd"`
}

// DNSDiscovery resolves Name on an interval.
type DNSDiscovery struct {
	Name string `yaml:"name"`
	// Type is A, AAAA or SRV (default A). SRV gives ports and weights; A
	// and AAAA need Port and give every address weight 1.
	Type string `yaml:"type"`
	Port int    `yaml:"port"`
	// Refresh is the longest time between two queries (default 10s); an
	// answer whose TTL is shorter is asked again when it expires (but not
	// more often than once a second). A failed query keeps the previous
	// answer and is retried sooner.
	Refresh time.Duration `yaml:"refresh"`
	// Resolver is the DNS server's host:port (default: the first
	// nameserver of /etc/resolv.conf).
	Resolver string `yaml:"resolver"`
	// Timeout bounds one query (default 2s).
	Timeout time.Duration `yaml:"timeout"`
}

func (d *DNSDiscovery) setDefaults() {
	d.Type = "A"
	d.Refresh = 10 * time.Second
	d.Timeout = 2 * time.Second
}

// EtcdDiscovery watches the keys under Prefix: each key is one endpoint,
// its value JSON {"address": "host:port", "weight": 1, "metadata": {...}},
// written by the service with a lease so that it disappears with it.
type EtcdDiscovery struct {
	Prefix string `yaml:"prefix"`
}

// DNSTypes lists the record types DNS discovery asks for.
var DNSTypes = []string{"A", "AAAA", "SRV"}

// validateFleet checks the redis and etcd sections, every upstream's
// discovery and every route's global rate limit.
func (c *Config) validateFleet(bad reporter) {
	redis := map[string]int{}
	for i, r := range c.Redis {
		p := fmt.Sprintf("redis[%d]", i)
		switch {
		case r.Name == "":
			bad(p+".name", "is required")
		default:
			if j, dup := redis[r.Name]; dup {
				bad(p+".name", "duplicate redis %q (also redis[%d])", r.Name, j)
			}
			redis[r.Name] = i
		}
		kinds := 0
		if r.Address != "" {
			kinds++
			if err := checkHostPort(r.Address); err != nil {
				bad(p+".address", "%v", err)
			}
		}
		if s := r.Sentinel; s != nil {
			kinds++
			if s.Master == "" {
				bad(p+".sentinel.master", "is required")
			}
			if len(s.Addresses) == 0 {
				bad(p+".sentinel.addresses", "list at least one sentinel")
			}
			for j, a := range s.Addresses {
				if err := checkHostPort(a); err != nil {
					bad(fmt.Sprintf("%s.sentinel.addresses[%d]", p, j), "%v", err)
				}
			}
		}
		if len(r.Cluster) > 0 {
			kinds++
			for j, a := range r.Cluster {
				if err := checkHostPort(a); err != nil {
					bad(fmt.Sprintf("%s.cluster[%d]", p, j), "%v", err)
				}
			}
			if r.DB != 0 {
				bad(p+".db", "a Redis Cluster has only database 0")
			}
		}
		if kinds != 1 {
			bad(p, "give exactly one of address, sentinel or cluster")
		}
		if r.DB < 0 {
			bad(p+".db", "must not be negative")
		}
		for _, t := range []struct {
			path string
			v    time.Duration
		}{{".dial_timeout", r.DialTimeout}, {".read_timeout", r.ReadTimeout}, {".write_timeout", r.WriteTimeout}} {
			if t.v <= 0 {
				bad(p+t.path, "must be positive")
			}
		}
		if r.SyncInterval < 10*time.Millisecond {
			bad(p+".sync_interval", "must be at least 10ms, got %v", r.SyncInterval)
		}
		if r.Instances < 1 {
			bad(p+".instances", "must be 1 or more, got %d", r.Instances)
		}
		if strings.ContainsAny(r.KeyPrefix, " \t\r\n{}") {
			bad(p+".key_prefix", "must not contain spaces or braces, got %q", r.KeyPrefix)
		}
	}
	for i, e := range c.Etcd.Endpoints {
		if err := checkHostPort(e); err != nil {
			bad(fmt.Sprintf("etcd.endpoints[%d]", i), "%v", err)
		}
	}
	if c.Etcd.DialTimeout <= 0 {
		bad("etcd.dial_timeout", "must be positive")
	}
	for i, u := range c.Upstreams {
		d := u.Discovery
		if d == nil {
			continue
		}
		p := fmt.Sprintf("upstreams[%d].discovery", i)
		if (d.DNS == nil) == (d.Etcd == nil) {
			bad(p, "give exactly one of dns or etcd")
		}
		if s := d.DNS; s != nil {
			sp := p + ".dns"
			if s.Name == "" {
				bad(sp+".name", "is required")
			}
			switch s.Type {
			case "A", "AAAA":
				if s.Port < 1 || s.Port > 65535 {
					bad(sp+".port", "is required for type %s (1..65535), got %d", s.Type, s.Port)
				}
			case "SRV":
				if s.Port != 0 {
					bad(sp+".port", "SRV records carry their own ports; leave port out")
				}
			default:
				bad(sp+".type", "want one of %s, got %q", strings.Join(DNSTypes, ", "), s.Type)
			}
			if s.Refresh < time.Second {
				bad(sp+".refresh", "must be at least 1s, got %v", s.Refresh)
			}
			if s.Timeout <= 0 {
				bad(sp+".timeout", "must be positive")
			}
			if s.Resolver != "" {
				if err := checkHostPort(s.Resolver); err != nil {
					bad(sp+".resolver", "%v", err)
				}
			}
		}
		if e := d.Etcd; e != nil {
			if e.Prefix == "" {
				bad(p+".etcd.prefix", "is required")
			}
			if len(c.Etcd.Endpoints) == 0 && !strings.HasPrefix(c.Source, "etcd://") {
				bad(p+".etcd", "needs etcd.endpoints (or a configuration loaded from etcd://)")
			}
		}
	}
	for i, r := range c.Routes {
		rl := r.RateLimit
		if rl == nil {
			continue
		}
		p := fmt.Sprintf("routes[%d].rate_limit", i)
		switch rl.Scope {
		case ScopeLocal:
			if rl.Redis != "" {
				bad(p+".redis", "only a global rate limit uses redis (set scope: global)")
			}
		case ScopeGlobal:
			if rl.Redis == "" {
				bad(p+".redis", "a global rate limit names the redis it syncs through")
			} else if _, ok := redis[rl.Redis]; !ok {
				bad(p+".redis", "unknown redis %q", rl.Redis)
			}
		default:
			bad(p+".scope", "want local or global, got %q", rl.Scope)
		}
		switch rl.Fallback {
		case FallbackLocalShare, FallbackFailOpen:
		default:
			bad(p+".fallback", "want local_share or fail_open, got %q", rl.Fallback)
		}
		if rl.LocalShare < 0 || rl.LocalShare > 1 {
			bad(p+".local_share", "must be in [0, 1] (0: 1/redis.instances), got %v", rl.LocalShare)
		}
	}
}
