package discovery

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// MinRefresh is the shortest time between two queries of a DNS source,
// whatever the TTLs say (a TTL of 0 would otherwise mean a query loop).
const MinRefresh = time.Second

// maxSRVWeight bounds endpoint weights made from SRV weights (0..65535):
// larger ones are scaled down, keeping their proportions, so that the
// balancers' weight tables stay small.
const maxSRVWeight = 1000

// DNS resolves an upstream's endpoints from DNS records.
//
// It queries Resolver for Name and reports the answer; the next query comes
// when the shortest TTL in the answer runs out, but after at most Refresh
// and at least MinRefresh. A failed query (timeout, SERVFAIL, NXDOMAIN, an
// empty answer) is reported as an error (the consumer keeps the previous
// set) and retried after 250ms, doubling up to Refresh.
//
// A and AAAA records give one endpoint per address on Port, weight 1. SRV
// records give host:port endpoints of the lowest priority present (RFC
// 2782: higher priorities are fallbacks, not used while a lower one
// answers), with the SRV weights as endpoint weights (0 counts as 1;
// weights above 1000 are scaled down in proportion). SRV targets are
// resolved from the answer's additional section, or by A then AAAA
// queries to the same resolver.
type DNS struct {
	Name string
	// Type is dns.TypeA, dns.TypeAAAA or dns.TypeSRV.
	Type uint16
	// Port is the port of A and AAAA endpoints.
	Port int
	// Refresh is the longest time between queries; 0 means 10s.
	Refresh time.Duration
	// Resolver is the DNS server's host:port; "" means the first
	// nameserver in /etc/resolv.conf.
	Resolver string
	// Timeout bounds one query; 0 means 2s.
	Timeout time.Duration
}

// Run implements Source.
func (d *DNS) Run(ctx context.Context, report func([]Endpoint, error)) {
	refresh := d.Refresh
	if refresh <= 0 {
		refresh = 10 * time.Second
	}
	failures := 0
	for {
		eps, ttl, err := d.Resolve(ctx)
		if ctx.Err() != nil {
			return
		}
		var next time.Duration
		if err != nil {
			failures++
			report(nil, err)
			next = backoff(failures, refresh)
		} else {
			failures = 0
			report(eps, nil)
			next = min(max(ttl, MinRefresh), refresh)
		}
		if !wait(ctx, next) {
			return
		}
	}
}

// Resolve queries once and returns the endpoints and the shortest TTL of
// the records used.
func (d *DNS) Resolve(ctx context.Context) ([]Endpoint, time.Duration, error) {
	server := d.Resolver
	if server == "" {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cc.Servers) == 0 {
			return nil, 0, fmt.Errorf("discovery: dns: no resolver configured and none in /etc/resolv.conf: %v", err)
		}
		server = net.JoinHostPort(cc.Servers[0], cc.Port)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	q := query{server: server, timeout: timeout, ttl: math.MaxUint32}
	var eps []Endpoint
	var err error
	switch d.Type {
	case dns.TypeA, dns.TypeAAAA:
		var addrs []net.IP
		addrs, err = q.addrs(ctx, d.Name, d.Type)
		for _, a := range addrs {
			eps = append(eps, Endpoint{Address: net.JoinHostPort(a.String(), strconv.Itoa(d.Port)), Weight: 1})
		}
	case dns.TypeSRV:
		eps, err = q.srv(ctx, d.Name)
	default:
		err = fmt.Errorf("discovery: dns: unsupported record type %s", dns.TypeToString[d.Type])
	}
	if err == nil && len(eps) == 0 {
		err = fmt.Errorf("discovery: dns: %s %s: no records", d.Name, dns.TypeToString[d.Type])
	}
	if err != nil {
		return nil, 0, err
	}
	sortEndpoints(eps)
	return eps, time.Duration(q.ttl) * time.Second, nil
}

// query is one resolution against one server; ttl tracks the shortest TTL
// of the records used.
type query struct {
	server  string
	timeout time.Duration
	ttl     uint32
}

// exchange asks the server for name's records of type t, over UDP, then
// TCP when the answer was truncated.
func (q *query) exchange(ctx context.Context, name string, t uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	m.SetEdns0(4096, false)
	c := &dns.Client{Net: "udp", Timeout: q.timeout}
	r, _, err := c.ExchangeContext(ctx, m, q.server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, q.server)
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: dns: %s %s: %w", name, dns.TypeToString[t], err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("discovery: dns: %s %s: %s", name, dns.TypeToString[t], dns.RcodeToString[r.Rcode])
	}
	return r, nil
}

func (q *query) seen(rr dns.RR) { q.ttl = min(q.ttl, rr.Header().Ttl) }

// addrs returns name's addresses of type t (A or AAAA).
func (q *query) addrs(ctx context.Context, name string, t uint16) ([]net.IP, error) {
	r, err := q.exchange(ctx, name, t)
	if err != nil {
		return nil, err
	}
	return q.collect(r.Answer, t), nil
}

func (q *query) collect(rrs []dns.RR, t uint16) []net.IP {
	var ips []net.IP
	for _, rr := range rrs {
		switch a := rr.(type) {
		case *dns.A:
			if t == dns.TypeA {
				ips = append(ips, a.A)
				q.seen(rr)
			}
		case *dns.AAAA:
			if t == dns.TypeAAAA {
				ips = append(ips, a.AAAA)
				q.seen(rr)
			}
		}
	}
	return ips
}

// srv returns the endpoints of name's SRV records of the lowest priority.
func (q *query) srv(ctx context.Context, name string) ([]Endpoint, error) {
	r, err := q.exchange(ctx, name, dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	var best []*dns.SRV
	for _, rr := range r.Answer {
		s, ok := rr.(*dns.SRV)
		if !ok {
			continue
		}
		switch {
		case len(best) == 0 || s.Priority < best[0].Priority:
			best = append(best[:0], s)
		case s.Priority == best[0].Priority:
			best = append(best, s)
		}
	}
	maxW := uint16(0)
	for _, s := range best {
		q.seen(s)
		maxW = max(maxW, s.Weight)
	}
	var eps []Endpoint
	var errs []error
	for _, s := range best {
		ips, err := q.target(ctx, s.Target, r.Extra)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w := max(int(s.Weight), 1)
		if maxW > maxSRVWeight {
			w = max(int(math.Round(float64(s.Weight)*maxSRVWeight/float64(maxW))), 1)
		}
		for _, ip := range ips {
			eps = append(eps, Endpoint{Address: net.JoinHostPort(ip.String(), strconv.Itoa(int(s.Port))), Weight: w})
		}
	}
	if len(eps) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return eps, nil
}

// target resolves an SRV target: from the additional section when the
// server sent its addresses, else by A, then AAAA, queries.
func (q *query) target(ctx context.Context, name string, extra []dns.RR) ([]net.IP, error) {
	var glue []dns.RR
	for _, rr := range extra {
		if dns.CanonicalName(rr.Header().Name) == dns.CanonicalName(name) {
			glue = append(glue, rr)
		}
	}
	if ips := append(q.collect(glue, dns.TypeA), q.collect(glue, dns.TypeAAAA)...); len(ips) > 0 {
		return ips, nil
	}
	ips, err := q.addrs(ctx, name, dns.TypeA)
	if err == nil && len(ips) > 0 {
		return ips, nil
	}
	return q.addrs(ctx, name, dns.TypeAAAA)
}
