package pool

import (
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// KeyKind says what a consistent-hash balancer hashes.
type KeyKind uint8

const (
	KeyNone     KeyKind = iota
	KeyClientIP         // the downstream peer's IP address
	KeyHeader           // the value of the request header named KeyName
	KeyCookie           // the value of the cookie named KeyName (see CookieValue)
	KeyPath             // the request path (without the query)
)

var keyNames = [...]string{KeyNone: "none", KeyClientIP: "client_ip", KeyHeader: "header", KeyCookie: "cookie", KeyPath: "path"}

// String is the config name of the key kind: none, client_ip, header, cookie
// or path.
func (k KeyKind) String() string {
	if int(k) < len(keyNames) {
		return keyNames[k]
	}
	return fmt.Sprintf("KeyKind(%d)", uint8(k))
}

// ParseKeyKind is the inverse of String; "" is KeyNone. Unknown names give
// ErrUnknownKey.
func ParseKeyKind(s string) (KeyKind, error) {
	if s == "" {
		return KeyNone, nil
	}
	for k, name := range keyNames {
		if s == name {
			return KeyKind(k), nil
		}
	}
	return KeyNone, fmt.Errorf("%w: %q", ErrUnknownKey, s)
}

// HashKey is the hash that consistent-hash balancers expect as Pick's key:
// xxhash64 of the key bytes. It does not allocate or retain b.
func HashKey(b []byte) uint64 { return xxhash.Sum64(b) }

// CookieValue returns the value of the cookie called name in a Cookie header
// value ("a=1; b=2"), or nil if it is absent. Surrounding double quotes are
// removed (RFC 6265 §4.1.1 allows a quoted cookie-value). The result is a
// sub-slice of cookieHeader; nothing is allocated. For several Cookie header
// fields, call it on each.
func CookieValue(cookieHeader []byte, name string) []byte {
	b := cookieHeader
	for len(b) > 0 {
		for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == ';') {
			b = b[1:]
		}
		end := len(b)
		for i, c := range b {
			if c == ';' {
				end = i
				break
			}
		}
		pair := b[:end]
		b = b[end:]
		eq := -1
		for i, c := range pair {
			if c == '=' {
				eq = i
				break
			}
		}
		if eq < 0 || string(trimSpace(pair[:eq])) != name { // compiler: no allocation
			continue
		}
		v := trimSpace(pair[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
