package trie

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
