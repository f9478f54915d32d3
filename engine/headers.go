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

// eqFoldBytes compares two byte strings ignoring ASCII case.
func eqFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
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
		if eqFoldBytes(elem, token) {
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

// reason returns the standard reason phrase for the statuses the engine
// writes itself.
func reason(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	case 415:
		return "Unsupported Media Type"
	}
	return "Status"
}
