package limiter

import "slices"

// KeyKind says where one part of a rate-limit key comes from.
type KeyKind uint8

// The parts a route can key its limit on (YAML spelling in brackets).
const (
	KeyClientIP KeyKind = iota + 1 // the client address, after TrustedProxies (client_ip)
	KeyRoute                       // the route's name: one bucket for the whole route (route)
	KeyHost                        // the Host header, lower-cased by the engine (host)
	KeyPath                        // the request path without the query (path)
	KeyHeader                      // a request header's value, e.g. an API key (header:X-Api-Key)
	KeyQuery                       // a query parameter's value (query:api_key)
)

// KeyPart is one part of a KeySpec. Name is the header or query parameter
// name for KeyHeader and KeyQuery.
type KeyPart struct {
	Kind KeyKind
	Name string
}

// KeySpec is a route's compiled key: the engine walks Parts in order and
// feeds each value to Key.Add (Key.AddAbsent for a missing header or
// parameter, Key.AddAddr for the client address).
type KeySpec struct {
	Parts []KeyPart
}

var keyKindNames = [...]string{KeyClientIP: "client_ip", KeyRoute: "route", KeyHost: "host", KeyPath: "path", KeyHeader: "header", KeyQuery: "query"}

// ParseKeyKind returns the kind a config key part names ("client_ip",
// "header"); config.ParseRateLimitKey splits a "header:X-Api-Key" part
// into that kind and its name. An unknown name gives ErrKeySpec.
func ParseKeyKind(s string) (KeyKind, error) {
	for k, name := range keyKindNames {
		if name != "" && s == name {
			return KeyKind(k), nil
		}
	}
	return 0, ErrKeySpec
}

// NewKeySpec is a route's key from its parts, in order: e.g.
// [{KeyRoute}, {KeyHeader, "X-Api-Key"}]. No parts means [{KeyClientIP}].
// It returns ErrKeySpec for a part without a kind, or with a name its kind
// does not take (or without one its kind needs).
func NewKeySpec(parts []KeyPart) (KeySpec, error) {
	if len(parts) == 0 {
		return KeySpec{Parts: []KeyPart{{Kind: KeyClientIP}}}, nil
	}
	for _, p := range parts {
		if p.Kind == 0 || p.Kind > KeyQuery || (p.Kind >= KeyHeader) != (p.Name != "") {
			return KeySpec{}, ErrKeySpec
		}
	}
	return KeySpec{Parts: slices.Clone(parts)}, nil
}
