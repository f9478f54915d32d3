package trie

import (
	"fmt"
	"strings"
)

// Options set a tree's policies.
type Options struct {
	// TrailingSlash chooses what happens when a path differs from a route
	// only by a final '/': TrailingSlashStrict (404), TrailingSlashRedirect
	// (RedirectSlash) or TrailingSlashIgnore (match anyway).
	TrailingSlash TrailingSlashPolicy
}

// TrailingSlashPolicy: see Options.TrailingSlash.
type TrailingSlashPolicy uint8

const (
	// TrailingSlashStrict: "/users/" does not match the route "/users" (404).
	TrailingSlashStrict TrailingSlashPolicy = iota
	// TrailingSlashRedirect: "/users/" returns RedirectSlash for the route
	// "/users" (and "/users" for "/users/"), with Value, Pattern and Params
	// of that route; the caller redirects to AppendRedirect's path.
	TrailingSlashRedirect
	// TrailingSlashIgnore: "/users/" is Found for the route "/users" and
	// the other way round.
	TrailingSlashIgnore
)

// pathTree is the routing tree of one host (or of the default host).
type pathTree struct {
	root node
	// first is root's only child when root has nothing else (every pattern
	// starts with '/', so this is the usual shape): Lookup starts there and
	// saves one step.
	first *node
}

func (pt *pathTree) finalize(mt *methodTable) {
	pt.root.finalize(mt)
	r := &pt.root
	if len(r.children) == 1 && r.param == nil && r.catchAll == nil && r.slots == nil {
		pt.first = r.children[0]
	}
}

// route is one added route.
type route[V any] struct {
	value   V
	pattern string
	host    string
	method  string
	toks    []token
}

// Builder collects routes; Build compiles them into an immutable Tree. A
// Builder is not safe for concurrent use.
type Builder[V any] struct {
	opts   Options
	built  bool
	routes []route[V]
	def    *pathTree
	exact  map[string]*pathTree
	wild   map[string]*pathTree
	extra  map[string]bool // methods beyond the standard nine
}

// NewBuilder returns an empty builder.
func NewBuilder[V any](opts Options) *Builder[V] {
	return &Builder[V]{
		opts:  opts,
		def:   &pathTree{},
		exact: make(map[string]*pathTree),
		wild:  make(map[string]*pathTree),
		extra: make(map[string]bool),
	}
}

// Add registers a route. host is "" (any host: the default tree), an exact
// host ("api.example.com") or a wildcard ("*.example.com"); method is an
// HTTP method or "*" for any; pattern is a path with static segments,
// ":name" parameters and a final "*name" catch-all. Conflicts are reported by
// Add and name both routes; the error wraps one of the Err values. A route
// that failed to add leaves the builder as it was for lookups.
func (b *Builder[V]) Add(host, method, pattern string, v V) error {
	desc := routeDesc(host, method, pattern)
	if b.built {
		return fmt.Errorf("%w: adding %s", ErrBuilt, desc)
	}
	key, wildcard, ok := hostKey(host)
	if !ok {
		return fmt.Errorf("%w: %q in %s", ErrBadHost, host, desc)
	}
	if method != "*" && !validMethod(method) {
		return fmt.Errorf("%w: %q in %s", ErrBadMethod, method, desc)
	}
	toks, err := parsePattern(pattern)
	if err != nil {
		return fmt.Errorf("%w in %s", err, desc)
	}
	pt := b.def
	if key != "" {
		hosts := b.exact
		if wildcard {
			hosts = b.wild
		}
		if pt = hosts[key]; pt == nil {
			pt = &pathTree{}
			hosts[key] = pt
		}
	}
	ri := int32(len(b.routes))
	if err := insert(&pt.root, toks, method, ri, false, desc, b.desc); err != nil {
		return err
	}
	b.routes = append(b.routes, route[V]{value: v, pattern: pattern, host: host, method: method, toks: toks})
	if method != "*" && !isStdMethod(method) {
		b.extra[method] = true
	}
	return nil
}

func (b *Builder[V]) desc(ri int32) string {
	r := &b.routes[ri]
	return routeDesc(r.host, r.method, r.pattern)
}

func isStdMethod(m string) bool {
	for _, s := range stdMethods {
		if s == m {
			return true
		}
	}
	return false
}

// Build compiles the routes into a Tree. The builder may not be used after.
// With TrailingSlashRedirect or TrailingSlashIgnore, Build adds for every
// route an alias that differs by a final '/' ("/users" -> "/users/",
// "/users/" -> "/users", "/static/*path" -> "/static"), unless a route
// already has that pattern and method; a real route always wins over an
// alias.
func (b *Builder[V]) Build() (*Tree[V], error) {
	if b.built {
		return nil, ErrBuilt
	}
	b.built = true
	if b.opts.TrailingSlash != TrailingSlashStrict {
		for i := range b.routes {
			r := &b.routes[i]
			if toks, ok := slashAlias(r.toks); ok {
				pt := b.def
				if key, wildcard, _ := hostKey(r.host); key != "" {
					if wildcard {
						pt = b.wild[key]
					} else {
						pt = b.exact[key]
					}
				}
				// An alias repeats the route's own parameter names, so it
				// cannot conflict; a duplicate alias is skipped by insert.
				_ = insert(&pt.root, toks, r.method, int32(i), true, "", b.desc)
			}
		}
	}
	t := &Tree[V]{
		opts:     b.opts,
		methods:  newMethodTable(b.extra),
		values:   make([]V, len(b.routes)),
		patterns: make([]string, len(b.routes)),
	}
	for i := range b.routes {
		t.values[i] = b.routes[i].value
		t.patterns[i] = b.routes[i].pattern
	}
	b.def.finalize(&t.methods)
	t.def = b.def
	if len(b.exact) > 0 || len(b.wild) > 0 {
		t.hosts = &hostTable{exact: b.exact, wild: b.wild, def: b.def}
		for _, pt := range b.exact {
			pt.finalize(&t.methods)
		}
		for _, pt := range b.wild {
			pt.finalize(&t.methods)
		}
	}
	b.routes, b.exact, b.wild, b.def = nil, nil, nil, nil
	return t, nil
}

// slashAlias returns the tokens of the pattern that differs from toks by a
// final '/', or false for "/" and "/*name", which have none.
func slashAlias(toks []token) ([]token, bool) {
	last := toks[len(toks)-1]
	out := append([]token(nil), toks...)
	switch {
	case last.kind == kindCatchAll:
		// "/static/*path" -> "/static": drop the catch-all and its '/'.
		out = out[:len(out)-1]
		switch s := out[len(out)-1].text; {
		case s == "/" && len(out) == 1:
			return nil, false
		case s == "/":
			out = out[:len(out)-1] // "/users/:id/*rest" -> "/users/:id"
		default:
			out[len(out)-1].text = s[:len(s)-1]
		}
	case last.kind == kindStatic && strings.HasSuffix(last.text, "/"):
		if last.text == "/" && len(toks) == 1 {
			return nil, false
		}
		if last.text == "/" {
			out = out[:len(out)-1]
		} else {
			out[len(out)-1].text = last.text[:len(last.text)-1]
		}
	case last.kind == kindStatic:
		out[len(out)-1].text = last.text + "/"
	default:
		out = append(out, token{kind: kindStatic, text: "/"})
	}
	return out, true
}

// parsePattern splits a pattern into static runs, ":name" parameters and a
// final "*name" catch-all. ':' and '*' are special only at the start of a
// segment; elsewhere they are static bytes ("/v1/items:batch").
func parsePattern(p string) ([]token, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("%w: %q must start with '/'", ErrBadPattern, p)
	}
	var toks []token
	var static strings.Builder
	names := 0
	segs := strings.Split(p[1:], "/")
	static.WriteByte('/')
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg != "" && (seg[0] == ':' || seg[0] == '*'):
			name := seg[1:]
			if !validParamName(name) {
				return nil, fmt.Errorf("%w: %q: parameter name %q", ErrBadPattern, p, name)
			}
			for _, t := range toks {
				if t.kind != kindStatic && t.text == name {
					return nil, fmt.Errorf("%w: %q: parameter %q named twice", ErrBadPattern, p, name)
				}
			}
			if seg[0] == '*' && !last {
				return nil, fmt.Errorf("%w: %q", ErrCatchAllNotLast, p)
			}
			if names++; names > MaxParams {
				return nil, fmt.Errorf("%w: %q names more than %d", ErrTooManyParams, p, MaxParams)
			}
			toks = append(toks, token{kind: kindStatic, text: static.String()})
			static.Reset()
			k := kindParam
			if seg[0] == '*' {
				k = kindCatchAll
			}
			toks = append(toks, token{kind: k, text: name})
		case seg == "" && !last:
			return nil, fmt.Errorf("%w: %q has an empty segment", ErrBadPattern, p)
		case seg == "." || seg == "..":
			return nil, fmt.Errorf("%w: %q has a dot segment", ErrBadPattern, p)
		default:
			for j := 0; j < len(seg); j++ {
				if !patternByte[seg[j]] {
					return nil, fmt.Errorf("%w: %q: byte %q not allowed in a static segment", ErrBadPattern, p, seg[j])
				}
			}
			static.WriteString(seg)
		}
		if !last {
			static.WriteByte('/')
		}
	}
	if static.Len() > 0 {
		toks = append(toks, token{kind: kindStatic, text: static.String()})
	}
	return toks, nil
}

func validParamName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
