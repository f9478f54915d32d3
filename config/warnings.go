package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Warnings returns what is valid in c but probably not meant, each with
// its file, line and field and a message starting "warning:". hotpath
// -check prints them and still succeeds; the gateway logs them at start
// and reload.
//
//   - An old spelling of a field (limits.max_head for
//     limits.max_head_bytes, listeners[].workers for the top-level
//     workers): it works until the next release.
//   - A request header `add` of a name the client can send. add appends
//     after the client's own field, so an upstream that reads the first
//     value (most do) reads the client's: `add: {X-Client:
//     "${client_ip}"}` lets a client choose its X-Client. A name is the
//     gateway's own on a route, and not warned about, when the route
//     removes the client's field before the add: it is in the same
//     edit's remove or set, it is an identity field the route's auth
//     injects (claims_to_headers, name_header, user_header), the
//     credential field the auth strips (unless forward_credentials), or
//     X-Request-Id with request_id on.
//   - Routes without a name and with the same path (on other hosts or
//     methods): they share one label in metrics, logs and ${route}.
func (c *Config) Warnings() Errors {
	ws := slices.Clone(c.deprecations)
	warn := func(path, format string, args ...any) {
		ws = append(ws, &FieldError{Source: c.Source, Line: c.lineOf(path), Path: path, Msg: "warning: " + fmt.Sprintf(format, args...)})
	}
	labelled := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if h := r.Headers; h != nil && h.Request != nil {
			owned := c.ownedRequestFields(r)
			for _, name := range SortedKeys(h.Request.Add) {
				if !owned[strings.ToLower(name)] {
					warn(p+".headers.request.add."+name,
						"a client can send %s too, and add keeps the client's field first (an upstream that reads one value reads the client's); use set, which replaces it, or remove it first", name)
				}
			}
		}
		if r.Name == "" {
			if j, ok := labelled[r.Path]; ok {
				warn(p, "routes[%d] and %s have no name and the same path %q: they share one label in metrics and logs; give them names", j, p, r.Path)
			} else {
				labelled[r.Path] = i
			}
		}
	}
	c.tlsWarnings(warn)
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Line < ws[j].Line })
	return ws
}

// ownedRequestFields returns the request fields (lower case) that route r
// removes from the client's request before its headers.request.add.
func (c *Config) ownedRequestFields(r *Route) map[string]bool {
	owned := map[string]bool{}
	own := func(name string) {
		if name != "" {
			owned[strings.ToLower(name)] = true
		}
	}
	if e := r.Headers.Request; e != nil {
		for _, n := range e.Remove {
			own(n)
		}
		for n := range e.Set {
			own(n)
		}
	}
	if a := r.Auth; a != nil {
		switch {
		case a.JWT != nil:
			for _, h := range a.JWT.ClaimsToHeaders {
				own(h)
			}
			if !a.ForwardCredentials {
				own(a.JWT.Header)
			}
		case a.APIKey != nil:
			own(a.APIKey.NameHeader)
			if !a.ForwardCredentials {
				own(a.APIKey.Header)
			}
		case a.Basic != nil:
			own(a.Basic.UserHeader)
			if !a.ForwardCredentials {
				own("Authorization")
			}
		}
	}
	if r.RequestID || c.RequestID {
		own("X-Request-Id")
	}
	return owned
}
