package route

import (
	"strings"

	"github.com/hotpath/hotpath/trie"
)

// Part is a literal or a parameter reference of a path template.
type Part struct {
	Lit   []byte
	Param string // non-empty: substitute this route parameter
	Query bool   // after a '?': in the query (aggregate targets escape values there)
}

// Template is a parsed path template: a rewrite or an aggregate part's
// target.
type Template []Part

// ParseRewrite splits "/v2/:id/*rest" into literal and parameter parts: a
// parameter name runs to the next '/'.
func ParseRewrite(s string) Template {
	return ParseTemplate(s, func(c byte) bool { return c != '/' })
}

// ParseTemplate splits a template into literal and parameter parts; a
// parameter starts at ':' or '*' and its name runs while inName holds.
// Parts after a '?' in a literal are marked Query.
func ParseTemplate(s string, inName func(byte) bool) Template {
	var parts Template
	query := false
	for len(s) > 0 {
		i := strings.IndexAny(s, ":*")
		if i < 0 {
			parts = append(parts, Part{Lit: []byte(s), Query: query})
			break
		}
		if i > 0 {
			parts = append(parts, Part{Lit: []byte(s[:i]), Query: query})
			query = query || strings.IndexByte(s[:i], '?') >= 0
		}
		s = s[i+1:]
		j := 0
		for j < len(s) && inName(s[j]) {
			j++
		}
		parts = append(parts, Part{Param: s[:j], Query: query})
		s = s[j:]
	}
	return parts
}

// Append appends the template with the route's parameters substituted (as
// received: still percent-encoded). It allocates nothing beyond growing b.
func (t Template) Append(b []byte, params *trie.Params) []byte {
	for i := range t {
		b = t[i].Append(b, params)
	}
	return b
}

// Append appends the part: its literal, or its parameter's value. A
// catch-all value's leading '/' is dropped after a literal that ends in
// one.
func (p *Part) Append(b []byte, params *trie.Params) []byte {
	if p.Param == "" {
		return append(b, p.Lit...)
	}
	v := params.Get(p.Param)
	if len(v) > 0 && v[0] == '/' && len(b) > 0 && b[len(b)-1] == '/' {
		v = v[1:]
	}
	return append(b, v...)
}
