package h2

import "bytes"

// Request is a request head as HTTP/2 carries it, checked as RFC 9113 §8.2
// and §8.3 require of a server; what fails the checks is a malformed request
// (§8.1.1), which the connection resets with PROTOCOL_ERROR itself, so the
// engine only ever sees valid requests. Every slice is a view of the
// connection's decode buffer (or of the static table), valid until the next
// Feed.
type Request struct {
	Method    []byte // :method
	Scheme    []byte // :scheme; nil for CONNECT
	Authority []byte // :authority; nil when absent
	Path      []byte // :path; nil for CONNECT
	// Host is :authority, or the Host field when :authority is absent
	// (§8.3.1); nil when there is neither. When both are present they
	// agree (compared case-insensitively), else the request is
	// malformed. It is uri-host [":" port] without userinfo.
	Host []byte
	// Fields are the regular fields in the order received, names
	// lowercase, pseudo-header fields excluded. Cookie may appear more
	// than once (§8.2.3: join them with "; " for HTTP/1.1).
	Fields []Field
	// ContentLength is the content-length field's value, -1 when absent;
	// the connection checks the DATA received against it.
	ContentLength int64
	// EndStream: the HEADERS frame ended the stream; no body follows.
	EndStream bool
}

// AppendCookie appends the request's cookie fields joined with "; ", the
// single Cookie field an HTTP/1.1 upstream expects (RFC 9113 §8.2.3); dst
// is returned unchanged when there is none.
func (r *Request) AppendCookie(dst []byte) []byte {
	first := true
	for _, f := range r.Fields {
		if string(f.Name) != "cookie" {
			continue
		}
		if !first {
			dst = append(dst, ';', ' ')
		}
		dst = append(dst, f.Value...)
		first = false
	}
	return dst
}

// Byte classes (RFC 9110 §5.6.2, RFC 9113 §8.2.1), built from their
// definitions; TestByteClasses checks them.
var (
	// lowerTchar: tchar without uppercase letters, the bytes an HTTP/2
	// field name may hold (so that it is also a valid HTTP/1.1 name).
	lowerTchar = func() (t [256]bool) {
		for c := 0; c < 256; c++ {
			t[c] = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c < 0x80 && c > ' ' &&
				indexByte("!#$%&'*+-.^_`|~", byte(c))
		}
		return t
	}()
	// badValue: bytes a field value may not hold: NUL, CR, LF (§8.2.1)
	// and, because the request may be forwarded as HTTP/1.1, the other
	// control bytes but HTAB, and DEL (RFC 9110 §5.5).
	badValue = func() (t [256]bool) {
		for c := 0; c < 256; c++ {
			t[c] = c < ' ' && c != '\t' || c == 0x7f
		}
		return t
	}()
	// badPath: bytes a :path may not hold, as parser refuses them in an
	// HTTP/1.1 request-target (SP, control bytes, DEL).
	badPath = func() (t [256]bool) {
		for c := 0; c < 256; c++ {
			t[c] = c <= ' ' || c == 0x7f
		}
		return t
	}()
)

func indexByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// parse fills r from a decoded request head and reports whether it is well
// formed (RFC 9113 §8.2, §8.3.1).
func (r *Request) parse(fields []Field) bool {
	*r = Request{ContentLength: -1}
	var host []byte
	regular := false
	n := 0
	for _, f := range fields {
		name := f.Name
		if !validValue(f.Value) {
			return false
		}
		if name[0] == ':' {
			if regular {
				return false // §8.3: pseudo-header fields come first
			}
			var p *[]byte
			switch string(name) {
			case ":method":
				p = &r.Method
			case ":scheme":
				p = &r.Scheme
			case ":authority":
				p = &r.Authority
			case ":path":
				p = &r.Path
			default:
				// :status, :protocol (no SETTINGS_ENABLE_CONNECT_PROTOCOL)
				// and unknown pseudo-headers (§8.3).
				return false
			}
			if *p != nil {
				return false // duplicated
			}
			*p = f.Value[:len(f.Value):len(f.Value)]
			if *p == nil {
				*p = []byte{} // present but empty, told apart from absent
			}
			continue
		}
		regular = true
		if !validName(name) {
			return false
		}
		switch string(name) {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return false // §8.2.2
		case "te":
			if string(f.Value) != "trailers" {
				return false // §8.2.2
			}
		case "content-length":
			v, ok := parseLength(f.Value)
			if !ok || r.ContentLength >= 0 && v != r.ContentLength {
				return false
			}
			r.ContentLength = v
		case "host":
			if host != nil {
				return false
			}
			host = f.Value
		}
		fields[n] = f
		n++
	}
	r.Fields = fields[:n]
	if len(r.Method) == 0 || !validToken(r.Method) {
		return false
	}
	if string(r.Method) == "CONNECT" {
		// §8.5: only :method and :authority.
		if r.Scheme != nil || r.Path != nil || len(r.Authority) == 0 {
			return false
		}
	} else {
		if len(r.Scheme) == 0 || len(r.Path) == 0 || !validScheme(r.Scheme) {
			return false // §8.3.1: :method, :scheme and :path, :path not empty
		}
		for _, b := range r.Path {
			if badPath[b] {
				return false
			}
		}
		if r.Path[0] != '/' && !(string(r.Path) == "*" && string(r.Method) == "OPTIONS") {
			return false // §8.3.1: origin-form, or * for OPTIONS
		}
	}
	switch {
	case r.Authority != nil:
		if !validHost(r.Authority) || host != nil && !equalFold(host, r.Authority) {
			return false // §8.3.1: no userinfo; Host may not disagree
		}
		r.Host = r.Authority
	case host != nil:
		if !validHost(host) {
			return false
		}
		r.Host = host
	}
	return true
}

// validTrailers checks a trailer section: no pseudo-header fields (§8.1),
// valid names and values, none of the connection-specific fields.
func validTrailers(fields []Field) bool {
	for _, f := range fields {
		if f.Name[0] == ':' || !validName(f.Name) || !validValue(f.Value) {
			return false
		}
		switch string(f.Name) {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return false
		}
	}
	return true
}

func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !lowerTchar[c] {
			return false
		}
	}
	return true
}

// validValue: no NUL, CR, LF or other control byte but HTAB; no leading or
// trailing whitespace (§8.2.1).
func validValue(b []byte) bool {
	if len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		return false
	}
	for _, c := range b {
		if badValue[c] {
			return false
		}
	}
	return true
}

func validToken(b []byte) bool {
	for _, c := range b {
		if !lowerTchar[c] && !('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// validScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
func validScheme(b []byte) bool {
	for i, c := range b {
		alpha := 'a' <= c|0x20 && c|0x20 <= 'z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// validHost: uri-host [":" port] as parser checks Host (RFC 3986 §3.2.2):
// no userinfo, whitespace, control bytes, '/', '\', '?' or '#'; an IP
// literal in brackets; a port of digits.
func validHost(b []byte) bool {
	host, port := b, []byte(nil)
	if len(b) > 0 && b[0] == '[' {
		i := bytes.IndexByte(b, ']')
		if i < 0 || i+1 < len(b) && b[i+1] != ':' {
			return false
		}
		host = b[1:i]
		if i+1 < len(b) {
			port = b[i+2:]
		}
		for _, c := range host {
			if !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' || c == ':' || c == '.') {
				return false
			}
		}
	} else if i := bytes.LastIndexByte(b, ':'); i >= 0 {
		host, port = b[:i], b[i+1:]
	}
	if len(host) == 0 {
		return false
	}
	if b[0] != '[' {
		for _, c := range host {
			if c <= ' ' || c >= 0x7f || indexByte("@/\\?#[]:", c) {
				return false
			}
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
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
