package cors

// Allows reports whether a page of origin (the request's Origin field as
// sent) may read the route's responses.
func (p *Policy) Allows(origin []byte) bool {
	if p.anyOrigin {
		return true
	}
	if len(origin) == 0 || len(origin) > maxOrigin {
		return false
	}
	for _, e := range p.exact {
		if equalFold(origin, e) {
			return true
		}
	}
	for _, w := range p.wild {
		if w.match(origin) {
			return true
		}
	}
	return false
}

// match reports whether origin is prefix + one or more host labels +
// suffix: "https://" + "a.b" + ".example.com".
func (w *wildcard) match(origin []byte) bool {
	n := len(origin) - len(w.prefix) - len(w.suffix)
	if n < 1 || !equalFold(origin[:len(w.prefix)], w.prefix) || !equalFold(origin[len(origin)-len(w.suffix):], w.suffix) {
		return false
	}
	mid := origin[len(w.prefix) : len(w.prefix)+n]
	if mid[0] == '.' {
		return false
	}
	for _, c := range mid {
		if !isHostByte(c) { // no ':', '/', '@': the labels of one host only
			return false
		}
	}
	return true
}

// varies reports whether responses depend on the request's Origin (every
// policy but "*" alone).
func (p *Policy) varies() bool { return !p.anyOrigin }

// AppendActual appends the CORS fields of a response (not a preflight's)
// to a request whose Origin field is origin (nil when it had none):
// Access-Control-Allow-Origin, -Allow-Credentials and -Expose-Headers when
// the origin is allowed, and Vary: Origin when the answer depends on it, on
// every response including those to requests without an Origin, so that a
// shared cache does not hand one origin's answer to another. It does not
// allocate when dst has room.
func (p *Policy) AppendActual(dst, origin []byte) []byte {
	if origin != nil && p.Allows(origin) {
		dst = p.appendAllowOrigin(dst, origin)
		dst = append(dst, p.exposeLine...)
	}
	if p.varies() {
		dst = append(dst, "Vary: Origin\r\n"...)
	}
	return dst
}

func (p *Policy) appendAllowOrigin(dst, origin []byte) []byte {
	dst = append(dst, "Access-Control-Allow-Origin: "...)
	if p.anyOrigin && !p.credentials {
		dst = append(dst, '*')
	} else {
		dst = append(dst, origin...)
	}
	dst = append(dst, "\r\n"...)
	if p.credentials {
		dst = append(dst, "Access-Control-Allow-Credentials: true\r\n"...)
	}
	return dst
}

// Preflight outcomes, for AppendPreflight's callers to count.
type Result uint8

const (
	Allowed        Result = iota
	OriginRefused         // the origin is not allowed
	MethodRefused         // Access-Control-Request-Method is not allowed
	HeadersRefused        // a field in Access-Control-Request-Headers is not allowed
)

// AppendPreflight decides a preflight request: origin is its Origin,
// method its Access-Control-Request-Method and headers its
// Access-Control-Request-Headers (nil when absent). When allowed it
// appends the fields of the 204 answer to dst: Access-Control-Allow-Origin
// (and -Credentials), -Allow-Methods (the requested method when any is
// allowed), -Allow-Headers (the requested ones when any is allowed),
// -Max-Age. Refused, it appends nothing but the Vary field, and the caller
// answers 403. The Vary field names what the answer depends on. It does
// not allocate when dst has room; headers is copied only when echoed.
func (p *Policy) AppendPreflight(dst, origin, method, headers []byte) ([]byte, Result) {
	res := Allowed
	names, headersOK := p.allowsHeaders(headers)
	switch {
	case !p.Allows(origin):
		res = OriginRefused
	case !p.allowsMethod(method):
		res = MethodRefused
	case !headersOK:
		res = HeadersRefused
	}
	if res != Allowed {
		return append(dst, "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n"...), res
	}
	dst = p.appendAllowOrigin(dst, origin)
	if p.anyMethod {
		dst = append(dst, "Access-Control-Allow-Methods: "...)
		dst = append(dst, method...)
		dst = append(dst, "\r\n"...)
	} else {
		dst = append(dst, p.methodsLine...)
	}
	switch {
	case p.anyHeader && names > 0:
		// "*" is a wildcard only without credentials: echo the list,
		// which allowsHeaders checked is tokens, commas and whitespace.
		dst = append(dst, "Access-Control-Allow-Headers: "...)
		dst = append(dst, trimOWS(headers)...)
		dst = append(dst, "\r\n"...)
	case !p.anyHeader:
		dst = append(dst, p.headersLine...)
	}
	dst = append(dst, p.maxAgeLine...)
	return append(dst, "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n"...), Allowed
}

func (p *Policy) allowsMethod(m []byte) bool {
	for _, c := range m {
		if !tokenByte(c) {
			return false
		}
	}
	switch string(m) {
	case "":
		return false
	case "GET", "HEAD", "POST": // CORS-safelisted methods
		return true
	}
	if p.anyMethod {
		return true
	}
	for _, a := range p.methods {
		if string(m) == a {
			return true
		}
	}
	return false
}

// allowsHeaders checks each name of a comma-separated list (optional
// whitespace around names, empty elements skipped) and counts them.
func (p *Policy) allowsHeaders(list []byte) (names int, ok bool) {
	for len(list) > 0 {
		i := 0
		for i < len(list) && list[i] != ',' {
			i++
		}
		name := trimOWS(list[:i])
		if i < len(list) {
			i++
		}
		list = list[i:]
		if len(name) == 0 {
			continue
		}
		for _, c := range name {
			if !tokenByte(c) {
				return names, false
			}
		}
		if !p.anyHeader && !p.allowsHeader(name) {
			return names, false
		}
		names++
	}
	return names, true
}

func (p *Policy) allowsHeader(name []byte) bool {
	for _, h := range p.headers {
		if equalFold(name, h) {
			return true
		}
	}
	return false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with s, ASCII case-insensitively.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
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
