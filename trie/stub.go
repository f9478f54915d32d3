package trie

// Placeholder implementation: replaced by the real tree.

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
	TrailingSlashStrict TrailingSlashPolicy = iota
	TrailingSlashRedirect
	TrailingSlashIgnore
)

// Builder collects routes; Build compiles them into an immutable Tree.
type Builder[V any] struct{ opts Options }

// NewBuilder returns an empty builder.
func NewBuilder[V any](opts Options) *Builder[V] { return &Builder[V]{opts: opts} }

// Add registers a route. host is "" (any host: the default tree), an exact
// host ("api.example.com") or a wildcard ("*.example.com"); method is an
// HTTP method or "*" for any; pattern is a path with static segments,
// ":name" parameters and a final "*name" catch-all. Conflicts are reported by
// Add or Build and name both routes.
func (b *Builder[V]) Add(host, method, pattern string, v V) error { return nil }

// Build compiles the routes into a Tree. The builder may not be used after.
func (b *Builder[V]) Build() (*Tree[V], error) { return &Tree[V]{}, nil }

// Tree is an immutable router: safe for any number of concurrent Lookups
// without locks. A reload builds a new Tree.
type Tree[V any] struct{}

// Lookup routes a request. host is the Host header value (a port is ignored,
// case-insensitive), method and path are raw bytes from the request (path
// without the query). It fills m and returns the result; it does not
// allocate.
func (t *Tree[V]) Lookup(host, method, path []byte, m *Match[V]) Result { return NotFound }
