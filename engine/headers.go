package engine

import (
	"strconv"

	"github.com/hotpath/hotpath/parser"
)

// hopByHop reports whether a header field must not be forwarded (RFC 9110
// §7.6.1): Connection and the fields it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding (re-added by the engine when it frames the body that
// way), Upgrade, Proxy-Connection and any Proxy-* field. connection holds
// every Connection field value of the message (nil when there is none).
//
// A Connection option naming Content-Length or Host is ignored (RFC 9110
// §7.6.1: a sender must not list a field meant for every recipient). Were
// it honoured, the field that frames the body would vanish from the
// forwarded message while the body still followed it, and the next hop
// would read that body as another message: request smuggling.
func hopByHop(name []byte, connection []parser.Header) bool {
	switch len(name) {
	case 2:
		if parser.EqualFold(name, "te") {
			return true
		}
	case 4:
		if parser.EqualFold(name, "host") {
			return false
		}
	case 14:
		if parser.EqualFold(name, "content-length") {
			return false
		}
	case 7:
		if parser.EqualFold(name, "trailer") || parser.EqualFold(name, "upgrade") {
			return true
		}
	case 10:
		if parser.EqualFold(name, "connection") || parser.EqualFold(name, "keep-alive") {
			return true
		}
	case 17:
		if parser.EqualFold(name, "transfer-encoding") {
			return true
		}
	}
	if len(name) >= 6 && parser.EqualFold(name[:6], "proxy-") {
		return true
	}
	return inConnection(name, connection)
}

// inConnection reports whether a Connection field names name.
func inConnection(name []byte, connection []parser.Header) bool {
	for _, c := range connection {
		if hasToken(c.Value, name) {
			return true
		}
	}
	return false
}

// connectionFields collects the message's Connection fields into dst[:0]
// (a per-connection scratch array, so nothing is allocated).
func connectionFields(dst []parser.Header, headers []parser.Header) []parser.Header {
	dst = dst[:0]
	for _, h := range headers {
		if len(h.Name) == 10 && parser.EqualFold(h.Name, "connection") && len(dst) < cap(dst) {
			dst = append(dst, h)
		}
	}
	return dst
}

// hasToken reports whether the comma-separated list contains token
// (ASCII case-insensitive, optional whitespace around elements).
func hasToken(list, token []byte) bool {
	for len(list) > 0 {
		i := 0
		for i < len(list) && list[i] != ',' {
			i++
		}
		elem := parser.TrimOWS(list[:i])
		if parser.EqualFoldBytes(elem, token) {
			return true
		}
		if i == len(list) {
			break
		}
		list = list[i+1:]
	}
	return false
}

// appendHeader appends "name: value\r\n".
func appendHeader(b []byte, name string, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// appendStatusLine appends "HTTP/1.1 <code> <reason>\r\n".
func appendStatusLine(b []byte, code int, reasonPhrase []byte) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reasonPhrase...)
	return append(b, "\r\n"...)
}

// reason returns the reason phrase the engine writes for code
// (parser.StatusText), "Status" for a code without one.
func reason(code int) string {
	if r := parser.StatusText(code); r != "" {
		return r
	}
	return "Status"
}
