package trie

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
