package config

import (
	"fmt"
	"strings"
	"time"
)

// Aggregate is a route's aggregate: section: the gateway answers the route
// itself with one JSON object merged from several upstream requests (the
// parts), made concurrently. docs/aggregate.md is the reference.
type Aggregate struct {
	// Timeout bounds the whole aggregation, from the request to the last
	// part's body (default 5s). A part still running then fails with
	// "timeout".
	Timeout time.Duration `yaml:"timeout"`
	// MaxBodyBytes is the largest body accepted from one part (default 1 MiB);
	// a larger one fails that part.
	MaxBodyBytes Size `yaml:"max_body_bytes" old:"max_body"`
	// Fail is partial (default: a failed part becomes {"error": ...,
	// "status": N} in its place, and the response is 200) or all (any
	// failed part makes the response 502).
	Fail string `yaml:"fail"`
	// MaxConcurrent bounds the aggregations of this route in flight at
	// once, over every event loop (default 1024); a request beyond it is
	// answered 503 at once.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Parts are the upstream requests, in the order of the response's keys.
	Parts []AggregatePart `yaml:"parts"`
}

// AggregatePart is one upstream request of an aggregation.
type AggregatePart struct {
	// Name is the part's key in the merged object: letters, digits, '_',
	// '-' and '.'.
	Name string `yaml:"name"`
	// Upstream names an upstreams[] entry; its balancer and health pick
	// the endpoint.
	Upstream string `yaml:"upstream"`
	// Path is the request target sent: a template in which ":name" and
	// "*name" are replaced by the route's parameters, e.g.
	// "/orders?user=:user" (values are percent-escaped after '?').
	Path string `yaml:"path"`
	// Headers are the client's request fields forwarded to this part
	// (default [Accept-Language, X-Request-Id, Traceparent, Tracestate]).
	Headers []string `yaml:"headers"`
}

// Aggregate fail modes.
const (
	AggregatePartial = "partial"
	AggregateAll     = "all"
)

// DefaultAggregateHeaders are the request fields a part gets when it does
// not list its own.
var DefaultAggregateHeaders = []string{"Accept-Language", "X-Request-Id", "Traceparent", "Tracestate"}

func (a *Aggregate) setDefaults() {
	a.Timeout = 5 * time.Second
	a.MaxBodyBytes = 1 << 20
	a.Fail = AggregatePartial
	a.MaxConcurrent = 1024
}

func (p *AggregatePart) setDefaults() {
	p.Headers = append([]string(nil), DefaultAggregateHeaders...)
}

// aggregateMethods are the methods an aggregate route answers.
var aggregateMethods = []string{"GET", "HEAD"}

// validateAggregate checks routes[i].aggregate; upstreams maps the defined
// upstream names.
func (c *Config) validateAggregate(i int, r *Route, upstreams map[string]int, bad reporter) {
	a := r.Aggregate
	p := fmt.Sprintf("routes[%d]", i)
	ap := p + ".aggregate"
	if r.Upstream != "" {
		bad(ap, "a route has either upstream or aggregate, not both")
	}
	if r.Direct != nil {
		bad(ap, "a route has either direct or aggregate, not both")
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"strip_prefix", r.StripPrefix != ""},
		{"rewrite", r.Rewrite != ""},
		{"cache", r.Cache != nil && r.Cache.Enabled},
	} {
		if f.set {
			bad(p+"."+f.name, "does not apply to an aggregate route (see docs/aggregate.md)")
		}
	}
	for j, m := range r.Methods {
		if !contains(aggregateMethods, m) {
			bad(fmt.Sprintf("%s.methods[%d]", p, j), "an aggregate route answers only GET and HEAD, got %q", m)
		}
	}
	if a.Timeout <= 0 {
		bad(ap+".timeout", "must be positive")
	}
	if a.MaxBodyBytes <= 0 {
		bad(ap+".max_body_bytes", "must be positive")
	}
	if a.Fail != AggregatePartial && a.Fail != AggregateAll {
		bad(ap+".fail", "want partial or all, got %q", a.Fail)
	}
	if a.MaxConcurrent <= 0 {
		bad(ap+".max_concurrent", "must be positive")
	}
	if len(a.Parts) == 0 {
		bad(ap+".parts", "at least one part is required")
	}
	params := RouteParams(r.Path)
	names := map[string]int{}
	for j, part := range a.Parts {
		pp := fmt.Sprintf("%s.parts[%d]", ap, j)
		switch {
		case !isPartName(part.Name):
			bad(pp+".name", "want letters, digits, '_', '-' or '.', got %q", part.Name)
		default:
			if k, dup := names[part.Name]; dup {
				bad(pp+".name", "duplicate part %q (also parts[%d])", part.Name, k)
			}
			names[part.Name] = j
		}
		switch {
		case part.Upstream == "":
			bad(pp+".upstream", "is required")
		default:
			if _, ok := upstreams[part.Upstream]; !ok {
				bad(pp+".upstream", "unknown upstream %q", part.Upstream)
			}
		}
		if err := checkTemplate(part.Path, params); err != nil {
			bad(pp+".path", "%v", err)
		}
		for k, h := range part.Headers {
			hp := fmt.Sprintf("%s.headers[%d]", pp, k)
			switch {
			case !isToken(h):
				bad(hp, "not a header name: %q", h)
			case isGatewayField(h):
				bad(hp, "%s is set by the gateway and cannot be forwarded to a part", h)
			}
		}
	}
}

// RouteParams returns the names of a route path's ":name" parameters and
// "*name" catch-all, in order.
func RouteParams(path string) []string {
	var names []string
	for _, seg := range strings.Split(path, "/") {
		if len(seg) > 1 && (seg[0] == ':' || seg[0] == '*') {
			names = append(names, seg[1:])
		}
	}
	return names
}

// IsTemplateNameByte reports whether c may appear in a parameter name of an
// aggregate part's path template: a name runs from ':' or '*' to the first
// other byte, as in the route's own pattern.
func IsTemplateNameByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// checkTemplate checks a part path template against the route's
// parameters.
func checkTemplate(t string, params []string) error {
	if !strings.HasPrefix(t, "/") {
		return fmt.Errorf("must start with '/', got %q", t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == ':' || c == '*':
			j := i + 1
			for j < len(t) && IsTemplateNameByte(t[j]) {
				j++
			}
			name := t[i+1 : j]
			if name == "" {
				return fmt.Errorf("%q: '%c' at byte %d starts no parameter name (a literal '%c' must be written %%%02X)", t, c, i, c, c)
			}
			if !contains(params, name) {
				return fmt.Errorf("%q: unknown parameter %q (the route's path has %v)", t, name, params)
			}
			i = j - 1
		case c <= ' ' || c == 0x7f || c == '#':
			return fmt.Errorf("%q: byte %q is not allowed in a request target", t, c)
		}
	}
	return nil
}

func isPartName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !IsTemplateNameByte(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isGatewayField reports whether a request field is framing, routing or
// hop-by-hop, which the gateway sets itself on a part's request.
func isGatewayField(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"te", "trailer", "upgrade", "expect", "proxy-connection", "x-forwarded-for", "via":
		return true
	}
	return strings.HasPrefix(strings.ToLower(name), "proxy-")
}
