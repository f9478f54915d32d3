package trie

// This file fixes the package's API so that engine/ can be written against it
// while the implementation lands. Add to it; do not change these signatures
// without updating every caller.

// MaxParams is the capacity of Params: a route may name at most this many
// parameters (a build error beyond it).
const MaxParams = 16

// Param is one matched parameter: its name (from the pattern) and its raw
// value as a sub-slice of the looked-up path.
type Param struct {
	Key   string
	Value []byte
}

// Params is a caller-provided, fixed-capacity parameter array, so lookups do
// not allocate. Reuse one per request.
type Params struct {
	N   int
	Arr [MaxParams]Param
}

// Get returns the value of the parameter named key, or nil.
func (p *Params) Get(key string) []byte {
	for i := 0; i < p.N; i++ {
		if p.Arr[i].Key == key {
			return p.Arr[i].Value
		}
	}
	return nil
}

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
