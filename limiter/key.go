package limiter

import "strings"

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

// ParseKeySpec compiles a route's key list from config, e.g.
// ["client_ip"], ["header:X-Api-Key"], ["route", "client_ip"]. An empty list
// means ["client_ip"]. It returns ErrKeySpec for an unknown part.
func ParseKeySpec(parts []string) (KeySpec, error) {
	if len(parts) == 0 {
		return KeySpec{Parts: []KeyPart{{Kind: KeyClientIP}}}, nil
	}
	spec := KeySpec{Parts: make([]KeyPart, 0, len(parts))}
	for _, p := range parts {
		var kp KeyPart
		kind, name, _ := strings.Cut(strings.TrimSpace(p), ":")
		name = strings.TrimSpace(name)
		switch kind {
		case "client_ip":
			kp.Kind = KeyClientIP
		case "route":
			kp.Kind = KeyRoute
		case "host":
			kp.Kind = KeyHost
		case "path":
			kp.Kind = KeyPath
		case "header":
			kp.Kind = KeyHeader
		case "query":
			kp.Kind = KeyQuery
		}
		if kp.Kind >= KeyHeader {
			kp.Name = name
		}
		if kp.Kind == 0 || (kp.Kind >= KeyHeader) != (name != "") {
			return KeySpec{}, ErrKeySpec
		}
		spec.Parts = append(spec.Parts, kp)
	}
	return spec, nil
}
