package parser

import (
	"encoding/binary"
	"iter"
	"math/bits"
)

// Byte classes as 256-entry tables: one load per byte in the scanning loops
// instead of a chain of comparisons.
var (
	// tokenChar: tchar of RFC 9110 §5.6.2, for methods and field names.
	tokenChar [256]bool
	// valueChar: field-vchar, SP and HTAB (RFC 9110 §5.5), obs-text
	// included; everything but the control bytes other than HTAB, and DEL.
	valueChar [256]bool
	// targetChar: the bytes accepted in a request-target: everything
	// visible, obs-text included (nginx accepts it too); not SP, controls
	// or DEL.
	targetChar [256]bool
	// hexVal: the value of a hex digit, or 0xff.
	hexVal [256]byte
	// regNameChar: RFC 3986 reg-name bytes (unreserved, sub-delims and the
	// '%' of pct-encoded); an IPv4 address is made of them too.
	regNameChar [256]bool
	// ipLiteralChar: the bytes inside an IP-literal's brackets (IPv6
	// addresses, IPvFuture, zone IDs as RFC 6874 writes them).
	ipLiteralChar [256]bool
)

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			tokenChar[c] = true
		}
		valueChar[c] = c == '\t' || (c >= 0x20 && c != 0x7f)
		targetChar[c] = c > 0x20 && c != 0x7f
		hexVal[c] = 0xff
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tokenChar[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		hexVal[c] = byte(c - '0')
	}
	for c := 0; c < 256; c++ {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		regNameChar[c] = alnum
		ipLiteralChar[c] = alnum
	}
	for _, c := range "-._~!$&'()*+,;=%" {
		regNameChar[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=%:" {
		ipLiteralChar[c] = true
	}
	for c := 'a'; c <= 'f'; c++ {
		hexVal[c] = byte(c - 'a' + 10)
		hexVal[c-'a'+'A'] = byte(c - 'a' + 10)
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// SWAR ("SIMD within a register") tests on 8 bytes at once. Each is non-zero
// exactly when some byte of x matches; which byte is found by the byte loop
// that follows.

// hasLess reports bytes < n (n <= 128).
func hasLess(x uint64, n byte) uint64 { return (x - lsb*uint64(n)) & ^x & msb }

// hasByte reports bytes == c.
func hasByte(x uint64, c byte) uint64 {
	y := x ^ (lsb * uint64(c))
	return (y - lsb) & ^y & msb
}

// ctlMask flags (0x80) the bytes of x that are control bytes (< 0x20) or
// DEL, exactly per byte: it works on 7-bit values, where adding a constant
// cannot carry into the next byte, and bytes >= 0x80 (obs-text) are never
// flagged. b+1 maps DEL to 0x80, dropped by the mask, so "b+1 < 0x21" (with
// the high bit masked off) holds for exactly the bytes below 0x20 and DEL.
func ctlMask(x uint64) uint64 {
	const lo7 = 0x7f7f7f7f7f7f7f7f
	w := ((x & lo7) + lsb) & lo7
	return ^(x | (w + (0x80-0x21)*lsb)) & msb
}

// scanValue returns the index of the first byte in buf[i:end] that is not a
// valueChar (CR, LF or an invalid byte), or end. Eight bytes at a time: the
// SWAR masks flag control bytes and DEL, and the lowest flag is exactly the
// first such byte (a borrow only runs upwards from a true match). HTAB is a
// control byte that values may hold, so it is stepped over.
func scanValue(buf []byte, i, end int) int {
	for i+8 <= end {
		x := binary.LittleEndian.Uint64(buf[i:])
		if m := ctlMask(x); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			if buf[i] != '\t' {
				return i
			}
			i++
			continue
		}
		i += 8
	}
	for i < end && valueChar[buf[i]] {
		i++
	}
	return i
}

// notAlnumDash flags (0x80) the bytes of x that are not an ASCII letter,
// digit or '-', exactly per byte: each range test adds a constant to 7-bit
// values, which cannot carry into the next byte.
func notAlnumDash(x uint64) uint64 {
	const lo7 = 0x7f7f7f7f7f7f7f7f
	y := x & lo7
	l := y | 0x20*lsb // 'A'-'Z' onto 'a'-'z'; nothing else lands there
	letter := (l + (0x80-'a')*lsb) &^ (l + (0x7f-'z')*lsb)
	digit := (y + (0x80-'0')*lsb) &^ (y + (0x7f-'9')*lsb)
	dash := ^((y ^ '-'*lsb) + lo7)
	return ^(letter|digit|dash)&msb | x&msb
}

// scanTarget is scanValue for request-target bytes: it returns the index
// of the first SP, control byte or DEL in buf[i:end], or end. It also
// returns q, the index of the first '?' in the target, or the q passed in
// when that is not 0 (a '?' found by an earlier call) or when there is no
// '?' before the stop. As in ctlMask the lowest flag of each mask is exact (a
// borrow only runs upwards from a true match, and bytes >= 0x80 are never
// flagged), so the lowest flag of the stop masks is the stop byte.
func scanTarget(buf []byte, i, end, q int) (int, int) {
	for i+8 <= end {
		x := binary.LittleEndian.Uint64(buf[i:])
		m := hasLess(x, 0x21) | hasByte(x, 0x7f)
		if q == 0 {
			if qm := hasByte(x, '?'); qm != 0 && (m == 0 || qm&-qm < m&-m) {
				q = i + bits.TrailingZeros64(qm)>>3
			}
		}
		if m != 0 {
			return i + bits.TrailingZeros64(m)>>3, q
		}
		i += 8
	}
	for i < end && targetChar[buf[i]] {
		if buf[i] == '?' && q == 0 {
			q = i
		}
		i++
	}
	return i, q
}

// EqualFold reports whether b equals s under ASCII case folding. It does not
// allocate. It is the project's one case-insensitive comparison (header
// names, tokens): EqualFoldBytes is the same for two byte slices.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !foldEq(b[i], s[i]) {
			return false
		}
	}
	return true
}

// EqualFoldBytes is EqualFold for two byte slices.
func EqualFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if !foldEq(a[i], b[i]) {
			return false
		}
	}
	return true
}

// foldEq reports whether x and y are one byte under ASCII case folding:
// equal, or the same letter in two cases.
func foldEq(x, y byte) bool {
	return x == y || (x|0x20 == y|0x20 && 'a' <= x|0x20 && x|0x20 <= 'z')
}

// HasToken reports whether the comma-separated list holds token, compared
// ASCII case-insensitively. Elements are trimmed of optional whitespace and
// of any parameters after ';' (so "chunked;x=1" holds "chunked"); empty
// elements are skipped (RFC 9110 §5.6.1). It does not allocate. Use it on
// Connection, Transfer-Encoding, Upgrade, Accept-Encoding or Cache-Control
// values.
func HasToken(list []byte, token string) bool {
	for len(list) > 0 {
		var el []byte
		if i := indexByte2(list, ','); i >= 0 {
			el, list = list[:i], list[i+1:]
		} else {
			el, list = list, nil
		}
		if EqualFold(listElement(el), token) {
			return true
		}
	}
	return false
}

// listElement trims a list element of parameters and whitespace.
func listElement(el []byte) []byte {
	for i, c := range el {
		if c == ';' {
			el = el[:i]
			break
		}
	}
	return TrimOWS(el)
}

func indexByte2(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// TrimOWS trims optional whitespace (SP, HTAB) from both ends of b
// (RFC 9110 §5.6.3).
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Fields ranges over the "Name: value" lines of b as CutField reads them,
// up to the first line that is not one (the end of a head): for name,
// value := range Fields(b). It does not allocate.
func Fields(b []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func(name, value []byte) bool) {
		for {
			name, value, _, next, ok := CutField(b)
			if !ok || !yield(name, value) {
				return
			}
			b = next
		}
	}
}

// CutField splits the first CRLF-terminated field line off b, a run of
// rendered "Name: value" lines such as a head the gateway built: its name,
// its value without surrounding whitespace, the whole line with its CRLF,
// and the lines after it. ok is false when b holds no complete line or the
// line is empty (the end of a head). It does not allocate.
func CutField(b []byte) (name, value, line, rest []byte, ok bool) {
	i := 0
	for i+1 < len(b) && (b[i] != '\r' || b[i+1] != '\n') {
		i++
	}
	if i+1 >= len(b) || i == 0 {
		return nil, nil, nil, nil, false
	}
	l := b[:i]
	c := 0
	for c < len(l) && l[c] != ':' {
		c++
	}
	name = l[:c]
	if c < len(l) {
		value = TrimOWS(l[c+1:])
	}
	return name, value, b[:i+2], b[i+2:], true
}
