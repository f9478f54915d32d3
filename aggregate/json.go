package aggregate

import (
	"encoding/json"
	"unicode/utf8"
)

// isJSON reports whether a Content-Type value is JSON: application/json or
// a +json structured syntax suffix (RFC 6839), case-insensitively, with or
// without parameters.
func isJSON(ct string) bool {
	for i := 0; i < len(ct); i++ {
		if ct[i] == ';' {
			ct = ct[:i]
			break
		}
	}
	ct = string(trimSpace([]byte(ct)))
	const app, suffix = "application/json", "+json"
	if len(ct) == len(app) && equalFold(ct, app) {
		return true
	}
	return len(ct) > len(suffix) && equalFold(ct[len(ct)-len(suffix):], suffix)
}

func equalFold(a, lower string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// validJSON reports whether a part's body is one JSON value, so that
// embedding it raw keeps the merged object valid.
func validJSON(b []byte) bool { return json.Valid(b) }

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string (RFC 8259 §7): quotes, backslash
// and control bytes escaped, invalid UTF-8 replaced by U+FFFD, everything
// else as is.
func appendString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
