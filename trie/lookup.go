package trie

// Result is the outcome of a lookup.
type Result uint8

const (
	Found            Result = iota // Value and Params are set
	NotFound                       // 404
	MethodNotAllowed               // 405; Allow lists the methods that match the path
	BadPath                        // 400: the path cannot be routed safely (bad escape, ".." above the root)
	RedirectSlash                  // trailing-slash policy: redirect to the path with/without the final '/'
)

// Match receives a lookup's outcome. Reuse one per request.
type Match[V any] struct {
	Value   V
	Pattern string // the matched route's pattern, for logs and metrics
	Params  Params
	Allow   string // for MethodNotAllowed: "GET, HEAD, POST" (precomputed, not built per lookup)
}

// walker is the state of one path search. It lives on Lookup's stack.
type walker struct {
	ps       *Params
	mi       int   // method slot
	allow    *node // the first node whose path matched but not the method (405)
	aliases  bool  // second pass: a trailing-slash alias is a match
	sawAlias bool  // first pass: an alias matched, a second pass will take it
	bad      bool  // a parameter value is not routable: BadPath
}

// walk searches below n for path, the bytes after n's own match, and
// returns the slot of the first route that matches in priority order (see
// node), or 0. It iterates down nodes without alternatives and recurses only
// where a static child has a parameter or catch-all sibling to fall back on,
// so the common case is a loop without calls.
//
// Only parameter and catch-all values need checking against the path rules:
// static bytes were checked when the pattern was added, so bytes that equal
// them are routable.
func (w *walker) walk(n *node, path []byte) int32 {
	for {
		if len(path) == 0 {
			if n.slots != nil {
				if s := w.take(n); s != 0 {
					return s
				}
			}
		} else {
			if c := n.child(path[0]); c != nil && hasPrefix(path, c.prefix) {
				if n.param == nil && n.catchAll == nil {
					n, path = c, path[len(c.prefix):]
					continue
				}
				saved := w.ps.N
				if s := w.walk(c, path[len(c.prefix):]); s != 0 || w.bad {
					return s
				}
				w.ps.N = saved
			}
			if p := n.param; p != nil {
				i, special := 0, false
				for ; i < len(path) && path[i] != '/'; i++ {
					if path[i] == '%' {
						special = true
					}
				}
				if i > 0 {
					v := path[:i]
					if (special || v[0] == '.') && !segmentOK(v) {
						w.bad = true
						return 0
					}
					w.ps.Arr[w.ps.N] = Param{Key: p.name, Value: v}
					w.ps.N++
					if n.catchAll == nil {
						n, path = p, path[i:]
						continue
					}
					if s := w.walk(p, path[i:]); s != 0 || w.bad {
						return s
					}
					w.ps.N--
				}
			}
		}
		if c := n.catchAll; c != nil {
			return w.catchAll(c, path)
		}
		return 0
	}
}

// hasPrefix reports whether path starts with prefix, whose first byte is
// known to match already. Prefixes are short (a few bytes to a segment or
// two), where a byte loop beats the call into memequal; long ones use it.
func hasPrefix(path []byte, prefix string) bool {
	if len(path) < len(prefix) {
		return false
	}
	if len(prefix) > 16 {
		return string(path[:len(prefix)]) == prefix
	}
	path = path[:len(prefix)]
	for i := 1; i < len(prefix); i++ {
		if path[i] != prefix[i] {
			return false
		}
	}
	return true
}

// catchAll matches the rest of the path against catch-all node c.
func (w *walker) catchAll(c *node, rest []byte) int32 {
	if !segmentsOK(rest) {
		w.bad = true
		return 0
	}
	w.ps.Arr[w.ps.N] = Param{Key: c.name, Value: rest}
	w.ps.N++
	if s := w.take(c); s != 0 {
		return s
	}
	w.ps.N--
	return 0
}

// take returns n's slot for the method if it is a match in this pass, and
// otherwise notes why not (for 405 and for the alias pass).
func (w *walker) take(n *node) int32 {
	s := n.slots[w.mi]
	switch {
	case s > 0 || s < 0 && w.aliases:
		return s
	case s < 0:
		w.sawAlias = true
	case w.allow == nil:
		w.allow = n
	}
	return 0
}

// Tree is an immutable router: safe for any number of concurrent Lookups
// without locks (nothing in it is written after Build). A reload builds a
// new Tree and swaps a pointer to it.
type Tree[V any] struct {
	opts     Options
	methods  methodTable
	def      *pathTree  // host "" (also when no other host matches)
	hosts    *hostTable // nil when every route is on the default host
	values   []V        // by route index
	patterns []string   // by route index
}

// Lookup routes a request. host is the Host header value (a port is ignored,
// case-insensitive), method and path are raw bytes from the request (path
// without the query). It fills m and returns the result; it does not
// allocate.
//
// On Found, m.Value, m.Pattern and m.Params (values are sub-slices of path,
// valid as long as path is) describe the route. On RedirectSlash they
// describe the route that the path with its final '/' added or removed
// matches. On MethodNotAllowed, m.Allow lists the methods of the most
// specific route whose pattern matches the path. Otherwise m is reset.
func (t *Tree[V]) Lookup(host, method, path []byte, m *Match[V]) Result {
	m.Params.N = 0
	m.Allow = ""
	pt := t.def
	if t.hosts != nil {
		pt = t.hosts.find(host)
	}
	if len(path) == 0 || path[0] != '/' {
		return t.notRoutable(path, m)
	}
	mi := mGET // the common method, without a call
	if len(method) != 3 || method[0] != 'G' || method[1] != 'E' || method[2] != 'T' {
		mi = t.methods.index(method)
	}
	w := walker{ps: &m.Params, mi: mi}
	var s int32
	if f := pt.first; f != nil && hasPrefix(path, f.prefix) { // f.prefix[0] == path[0] == '/'
		s = w.walk(f, path[len(f.prefix):])
	} else {
		s = w.walk(&pt.root, path)
	}
	if s > 0 {
		m.Value, m.Pattern = t.values[s-1], t.patterns[s-1]
		return Found
	}
	return t.miss(pt, &w, path, m)
}

// miss is Lookup's slow path, after the first pass found no route for the
// method: bad path, trailing-slash alias, 405 or 404, in that order.
func (t *Tree[V]) miss(pt *pathTree, w *walker, path []byte, m *Match[V]) Result {
	var zero V
	m.Value, m.Pattern = zero, ""
	if w.bad || !pathOK(path) {
		m.Params.N = 0
		return BadPath
	}
	if w.sawAlias {
		m.Params.N = 0
		w.aliases = true
		if s := w.walk(&pt.root, path); s < 0 {
			m.Value, m.Pattern = t.values[-s-1], t.patterns[-s-1]
			if t.opts.TrailingSlash == TrailingSlashIgnore {
				return Found
			}
			return RedirectSlash
		}
	}
	m.Params.N = 0
	if w.allow != nil {
		m.Allow = w.allow.allow
		return MethodNotAllowed
	}
	return NotFound
}

// notRoutable answers a path that does not start with '/': "*" (the
// OPTIONS * request target, RFC 9112 §3.2.4) is NotFound, anything else is
// BadPath.
func (t *Tree[V]) notRoutable(path []byte, m *Match[V]) Result {
	var zero V
	m.Value, m.Pattern = zero, ""
	if len(path) == 1 && path[0] == '*' {
		return NotFound
	}
	return BadPath
}

// AppendRedirect appends to dst the path a RedirectSlash result points to:
// path with its final '/' removed, or with one added. The caller appends
// the query, if any, and answers with Result.Status().
func AppendRedirect(dst, path []byte) []byte {
	if n := len(path); n > 1 && path[n-1] == '/' {
		return append(dst, path[:n-1]...)
	}
	dst = append(dst, path...)
	return append(dst, '/')
}
