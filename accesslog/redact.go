package accesslog

import "bytes"

// Redacted replaces the value of a redacted query parameter
// (Options.RedactQuery): "access_token=<redacted>&page=2".
const Redacted = "<redacted>"

// appendQuery appends the query q as the body of a JSON string, with the
// value of every parameter named in redact replaced by Redacted. Pairs are
// separated by '&' or ';' (some servers take either); a name matches when
// it equals one of redact after percent-decoding, ASCII case folded. An
// empty value stays empty, so a redacted pair never grows beyond the six
// bytes per input byte that stringBound allows: "k=v" (3 bytes, bound 18)
// becomes at most 6 + 1 + len(Redacted) = 17.
func appendQuery(dst, q []byte, redact []string) []byte {
	q = clip(q)
	if len(redact) == 0 {
		return appendString(dst, q)
	}
	for len(q) > 0 {
		pair := q
		sep := pairEnd(q)
		if sep >= 0 {
			pair = q[:sep]
		}
		if eq := bytes.IndexByte(pair, '='); eq >= 0 && eq+1 < len(pair) && paramIn(pair[:eq], redact) {
			dst = appendString(dst, pair[:eq+1])
			dst = append(dst, Redacted...)
		} else {
			dst = appendString(dst, pair)
		}
		if sep < 0 {
			break
		}
		dst = append(dst, q[sep])
		q = q[sep+1:]
	}
	return dst
}

// pairEnd returns the index of the first '&' or ';' in q, or -1.
func pairEnd(q []byte) int {
	for i, c := range q {
		if c == '&' || c == ';' {
			return i
		}
	}
	return -1
}

// paramIn reports whether the raw (percent-encoded) parameter name is one
// of names (lower case).
func paramIn(raw []byte, names []string) bool {
	if bytes.IndexByte(raw, '%') < 0 {
		// The common case: no escapes, so the lengths must agree and most
		// names are passed over on their length alone.
		for _, n := range names {
			if len(n) == len(raw) && paramIs(raw, n) {
				return true
			}
		}
		return false
	}
	for _, n := range names {
		if paramIs(raw, n) {
			return true
		}
	}
	return false
}

// paramIs compares a raw parameter name with name (lower case), decoding
// %XX escapes and folding ASCII case as it goes, without a buffer. A
// malformed escape never matches.
func paramIs(raw []byte, name string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) {
				return false
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			i += 2
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// lowerNames returns names in lower case, without empty ones; nil when
// none is left.
func lowerNames(names []string) []string {
	var out []string
	for _, n := range names {
		if n == "" {
			continue
		}
		b := []byte(n)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		out = append(out, string(b))
	}
	return out
}
