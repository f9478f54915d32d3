package trie

import "bytes"

// Path rules (see the package doc): the tree matches the raw path and never
// decodes it. It only inspects escapes to refuse paths that could route
// differently before and after an upstream decodes them.

// Byte classes, as lookup tables so that the checks are one load per byte.
var (
	// hexVal maps '0'-'9', 'a'-'f', 'A'-'F' to 0-15 and every other byte to 0xff.
	hexVal = func() (t [256]byte) {
		for i := range t {
			t[i] = 0xff
		}
		for c := '0'; c <= '9'; c++ {
			t[c] = byte(c - '0')
		}
		for c := 'a'; c <= 'f'; c++ {
			t[c] = byte(c-'a') + 10
			t[c-'a'+'A'] = byte(c-'a') + 10
		}
		return t
	}()

	// unreserved marks RFC 3986 §2.3 unreserved bytes: ALPHA DIGIT - . _ ~.
	unreserved = func() (t [256]bool) {
		for c := 'a'; c <= 'z'; c++ {
			t[c] = true
			t[c-'a'+'A'] = true
		}
		for c := '0'; c <= '9'; c++ {
			t[c] = true
		}
		for _, c := range "-._~" {
			t[c] = true
		}
		return t
	}()

	// patternByte marks the bytes a static pattern segment may hold: RFC 3986
	// §3.3 pchar without '%' (patterns are written decoded-free, so a static
	// byte that matched is a byte the client sent unencoded).
	patternByte = func() (t [256]bool) {
		t = unreserved
		for _, c := range "!$&'()*+,;=:@" {
			t[c] = true
		}
		return t
	}()
)

// escapesOK reports whether every '%' in s starts a well-formed escape
// ("%" HEXDIG HEXDIG) that the router accepts: not an encoded unreserved
// byte (RFC 3986 §6.2.2.2 says those must be decoded, so a client that sends
// "%61dmin" or "%2e%2e" is refused rather than guessed at) and not an encoded
// NUL. Every other escape, %2F included, stays as it is inside the segment.
func escapesOK(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) {
			return false // truncated: "%" or "%4" at the end
		}
		hi, lo := hexVal[s[i+1]], hexVal[s[i+2]]
		if hi == 0xff || lo == 0xff {
			return false
		}
		c := hi<<4 | lo
		if c == 0 || unreserved[c] {
			return false
		}
		i += 2
	}
	return true
}

// isDotSegment reports whether seg is "." or "..". Encoded dots ("%2e") are
// refused by escapesOK, so the literal forms are the only ones to test.
func isDotSegment(seg []byte) bool {
	return len(seg) == 1 && seg[0] == '.' || len(seg) == 2 && seg[0] == '.' && seg[1] == '.'
}

// segmentOK reports whether a parameter value (one non-empty segment, no
// '/') may be routed. It is the slow path of the lookup: called only when
// the value holds a '%' or starts with '.'.
func segmentOK(seg []byte) bool {
	return !isDotSegment(seg) && escapesOK(seg)
}

// segmentsOK reports whether s, a run of segments separated by '/', may be
// routed: no empty segment except the last one (so "a/" is fine and "a//b"
// is not), no "." or ".." segment, and only accepted escapes. It checks a
// catch-all value and, on a miss, the whole path after its leading '/'.
func segmentsOK(s []byte) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '/' {
			continue
		}
		seg := s[start:i]
		if len(seg) == 0 && i < len(s) {
			return false // "//"
		}
		if isDotSegment(seg) || !escapesOK(seg) {
			return false
		}
		start = i + 1
	}
	return true
}

// pathOK reports whether a path that starts with '/' may be routed at all.
// Lookup calls it only when no route matched, to tell BadPath from NotFound.
func pathOK(path []byte) bool {
	return segmentsOK(path[1:])
}

// Normalization says what happens to a path that holds an encoded '/'
// ("%2F"), an encoded '\' ("%5C") or a raw '\' before it is routed. Those
// are the bytes that the router keeps inside a segment but that an
// upstream may decode into a separator (nginx, Go's URL.Path and WSGI's
// PATH_INFO decode "%2F"; Windows servers split on '\'), so the route
// chosen here and the resource the upstream serves could differ:
// "/private%2Fx" routed by a catch-all and served as "/private/x".
type Normalization uint8

const (
	// NormalizeReject refuses such a path (400). The default.
	NormalizeReject Normalization = iota
	// NormalizeDecode decodes "%2F" into '/' before routing, so the route,
	// rewrites and keys all see the path an upstream that decodes would
	// see, and the decoded path is what is forwarded. The decoded path
	// passes the usual rules again ("/a/..%2Fb" becomes "/a/../b", a dot
	// segment, refused). '\' and "%5C" are still refused: no decoding
	// gives them one meaning across upstreams.
	NormalizeDecode
	// NormalizeKeep routes and forwards the path as sent, with escapes'
	// hex digits upper-cased ("%2f" and "%2F" are one path, RFC 3986
	// §6.2.2.1). Only for upstreams known not to decode "%2F".
	NormalizeKeep
)

// Normalize applies n to path. It returns path itself when it holds
// nothing that n changes (no allocation, no copy: the common case),
// otherwise the normalised path appended to dst[:0]; ok is false when n
// refuses the path. The result is meant to replace the path everywhere it
// is used after parsing: routing, prefix stripping, rewrites, limiter and
// cache keys, the forwarded request line.
func Normalize(dst, path []byte, n Normalization) (out []byte, ok bool) {
	pct, bs := bytes.IndexByte(path, '%'), bytes.IndexByte(path, '\\')
	if bs >= 0 && n != NormalizeKeep {
		return path, false
	}
	if pct < 0 {
		return path, true
	}
	start := -1 // the first escape that needs work
	for i := pct; i+2 < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		c, ok := escapeAt(path, i)
		if !ok {
			return path, true // malformed: Lookup refuses it (BadPath)
		}
		if c == '/' || c == '\\' {
			if n == NormalizeReject || (n == NormalizeDecode && c == '\\') {
				return path, false
			}
			if start < 0 {
				start = i
			}
		} else if n == NormalizeKeep && (isLowerHex(path[i+1]) || isLowerHex(path[i+2])) && start < 0 {
			start = i
		}
		i += 2
	}
	if start < 0 {
		return path, true
	}
	out = append(dst[:0], path[:start]...)
	for i := start; i < len(path); i++ {
		c := path[i]
		if c != '%' || i+2 >= len(path) {
			out = append(out, c)
			continue
		}
		v, _ := escapeAt(path, i)
		switch {
		case n == NormalizeDecode && v == '/':
			out = append(out, '/')
		case n == NormalizeKeep:
			out = append(out, '%', upperHex[v>>4], upperHex[v&0xf])
		default:
			out = append(out, path[i:i+3]...)
		}
		i += 2
	}
	return out, true
}

const upperHex = "0123456789ABCDEF"

// escapeAt decodes the escape at s[i] ('%'), which has two bytes after it.
func escapeAt(s []byte, i int) (byte, bool) {
	hi, lo := hexVal[s[i+1]], hexVal[s[i+2]]
	if hi == 0xff || lo == 0xff {
		return 0, false
	}
	return hi<<4 | lo, true
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }
