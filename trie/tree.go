package trie

import (
	"fmt"
	"strings"
)

// kind is what a node matches.
type kind uint8

const (
	kindStatic   kind = iota // prefix: the bytes themselves
	kindParam                // ":name": one non-empty segment
	kindCatchAll             // "*name": the rest of the path, possibly empty
)

// tableMin is the child count from which a node indexes its static children
// with a 256-entry table instead of scanning indices.
const tableMin = 8

// node is one node of a host's path tree. Static children are a radix tree
// on their prefixes (unique first bytes); a node also has at most one
// parameter child and one catch-all child, tried in that order after the
// static child fails (static beats parameter beats catch-all, with
// backtracking).
type node struct {
	prefix   string      // kindStatic: the bytes this node matches
	indices  string      // first byte of each static child, in children order
	children []*node     // static children
	table    *[256]uint8 // when len(children) >= tableMin: child index+1 by first byte (first bytes are distinct pattern bytes, fewer than 255)
	param    *node       // ":name" child, or nil
	catchAll *node       // "*name" child, or nil

	// slots holds, per method slot, 0 (no route), i+1 (route i) or -(i+1)
	// (a trailing-slash alias of route i). nil when no route ends here.
	slots []int32
	name  string // kindParam, kindCatchAll: the parameter name
	allow string // methods with a non-zero slot, "GET, HEAD, POST"

	kind    kind
	origin  string           // the route that created this param or catch-all node (errors)
	real    map[string]int32 // build time: method ("*" too) -> route index
	aliases map[string]int32 // build time: method -> route index the alias points to
}

// child returns the static child whose prefix starts with b, or nil.
func (n *node) child(b byte) *node {
	if n.table != nil {
		if i := n.table[b]; i != 0 {
			return n.children[i-1]
		}
		return nil
	}
	for i := 0; i < len(n.indices); i++ {
		if n.indices[i] == b {
			return n.children[i]
		}
	}
	return nil
}

// token is one piece of a parsed pattern.
type token struct {
	kind kind
	text string // static bytes, or the parameter name
}

// routeDesc names a route in errors: "GET api.example.com/users/:id".
func routeDesc(host, method, pattern string) string {
	return method + " " + host + pattern
}

// insert adds the route described by toks under root. A route index ri is
// stored for method; alias marks a trailing-slash alias (Build adds those,
// and a duplicate alias is skipped, not an error). Errors leave only nodes
// without routes behind, which no lookup can tell apart from their absence.
func insert(root *node, toks []token, method string, ri int32, alias bool, desc string, descOf func(int32) string) error {
	n := root
	for _, tk := range toks {
		switch tk.kind {
		case kindStatic:
			n = n.insertStatic(tk.text)
		case kindParam:
			if n.param == nil {
				n.param = &node{kind: kindParam, name: tk.text, origin: desc}
			} else if n.param.name != tk.text {
				return fmt.Errorf("%w: %s conflicts with %s", ErrParamConflict, desc, n.param.origin)
			}
			n = n.param
		case kindCatchAll:
			if n.catchAll == nil {
				n.catchAll = &node{kind: kindCatchAll, name: tk.text, origin: desc}
			} else if n.catchAll.name != tk.text {
				return fmt.Errorf("%w: %s conflicts with %s", ErrParamConflict, desc, n.catchAll.origin)
			}
			n = n.catchAll
		}
	}
	if prev, ok := n.real[method]; ok {
		if alias {
			return nil
		}
		return fmt.Errorf("%w: %s registered again (first: %s)", ErrDuplicateRoute, desc, descOf(prev))
	}
	if alias {
		if _, ok := n.aliases[method]; ok {
			return nil
		}
		if n.aliases == nil {
			n.aliases = make(map[string]int32)
		}
		n.aliases[method] = ri
		return nil
	}
	if n.real == nil {
		n.real = make(map[string]int32)
	}
	n.real[method] = ri
	return nil
}

// insertStatic descends from n along s, splitting and adding static nodes,
// and returns the node at which s ends.
func (n *node) insertStatic(s string) *node {
	for s != "" {
		i := strings.IndexByte(n.indices, s[0])
		if i < 0 {
			c := &node{prefix: s}
			n.indices += s[:1]
			n.children = append(n.children, c)
			return c
		}
		c := n.children[i]
		l := 0
		for l < len(s) && l < len(c.prefix) && s[l] == c.prefix[l] {
			l++
		}
		if l < len(c.prefix) {
			// Split c: it keeps its place in n.children and its first l
			// bytes; a copy of it with the rest becomes its only child.
			tail := *c
			tail.prefix = c.prefix[l:]
			*c = node{prefix: c.prefix[:l], indices: tail.prefix[:1], children: []*node{&tail}}
		}
		n, s = c, s[l:]
	}
	return n
}

// finalize computes the lookup-time fields of every node below and
// including n and drops the build-time maps.
func (n *node) finalize(mt *methodTable) {
	if len(n.real) > 0 || len(n.aliases) > 0 {
		n.slots = make([]int32, mt.slots())
		var allow []string
		for i, name := range mt.names {
			n.slots[i] = n.pick(name)
			if n.slots[i] != 0 {
				allow = append(allow, name)
			}
		}
		n.slots[len(mt.names)] = n.pick("")
		n.allow = strings.Join(allow, ", ")
	}
	n.real, n.aliases = nil, nil
	if len(n.children) >= tableMin {
		n.table = new([256]uint8)
		for i := range n.children {
			n.table[n.indices[i]] = uint8(i + 1)
		}
	}
	for _, c := range n.children {
		c.finalize(mt)
	}
	if n.param != nil {
		n.param.finalize(mt)
	}
	if n.catchAll != nil {
		n.catchAll.finalize(mt)
	}
}

// pick chooses the slot for method name ("" is any other method): a route
// for the method itself, then GET for HEAD, then "*"; a real route before a
// trailing-slash alias.
func (n *node) pick(name string) int32 {
	if ri, ok := methodRoute(n.real, name); ok {
		return ri + 1
	}
	if ri, ok := methodRoute(n.aliases, name); ok {
		return -(ri + 1)
	}
	return 0
}

func methodRoute(m map[string]int32, name string) (int32, bool) {
	if name != "" {
		if ri, ok := m[name]; ok {
			return ri, true
		}
	}
	if name == "HEAD" {
		if ri, ok := m["GET"]; ok {
			return ri, true
		}
	}
	ri, ok := m["*"]
	return ri, ok
}
