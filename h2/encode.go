package h2

import "golang.org/x/net/http2/hpack"

// encoder renders response header blocks (RFC 7541) into a reused buffer.
// It uses no dynamic table, as nginx does for responses: every field is a
// literal without indexing (§6.2.2) whose name, when the static table has
// it, is an index; values are Huffman-coded when that is shorter. So the
// encoder keeps no state between blocks, needs no eviction bookkeeping,
// and the peer's SETTINGS_HEADER_TABLE_SIZE never matters. The cost is a
// few bytes per repeated field on the wire.
type encoder struct {
	buf   []byte
	lower []byte // a field name folded to lowercase
}

func (e *encoder) reset() { e.buf = e.buf[:0] }

// status encodes :status: one byte for the seven codes of the static table.
func (e *encoder) status(code int) {
	switch code {
	case 200:
		e.buf = append(e.buf, 0x80|8)
		return
	case 204:
		e.buf = append(e.buf, 0x80|9)
		return
	case 206:
		e.buf = append(e.buf, 0x80|10)
		return
	case 304:
		e.buf = append(e.buf, 0x80|11)
		return
	case 400:
		e.buf = append(e.buf, 0x80|12)
		return
	case 404:
		e.buf = append(e.buf, 0x80|13)
		return
	case 500:
		e.buf = append(e.buf, 0x80|14)
		return
	}
	e.buf = append(e.buf, 0x08, 3, byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10))
}

// field encodes one field; name must be lowercase.
func (e *encoder) field(name, value []byte) {
	if i := staticNameIndex(name); i > 0 {
		e.buf = appendInt(e.buf, 4, 0, uint64(i))
	} else {
		e.buf = append(e.buf, 0)
		e.buf = appendString(e.buf, name)
	}
	e.buf = appendString(e.buf, value)
}

// appendInt appends v with an n-bit prefix whose other bits are first
// (RFC 7541 §5.1).
func appendInt(dst []byte, n uint8, first byte, v uint64) []byte {
	mask := uint64(1)<<n - 1
	if v < mask {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(mask))
	v -= mask
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendString appends a string literal (RFC 7541 §5.2), Huffman-coded
// when that is shorter.
func appendString(dst, s []byte) []byte {
	str := viewString(s)
	if h := hpack.HuffmanEncodeLength(str); h < uint64(len(s)) {
		dst = appendInt(dst, 7, 0x80, h)
		return hpack.AppendHuffmanString(dst, str)
	}
	dst = appendInt(dst, 7, 0, uint64(len(s)))
	return append(dst, s...)
}
