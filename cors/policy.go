package cors

import (
	"strconv"
	"strings"
	"time"
)

// Options configure a Policy. The YAML names are in brackets.
type Options struct {
	// AllowOrigins are the origins whose pages may read responses
	// (allow_origins): "https://app.example.com" (scheme, host and, when
	// not the default, port, as browsers send them), "https://*.example.com"
	// (any subdomain, at any depth, of example.com over https; not
	// example.com itself), "null" (sandboxed documents), or "*" (any
	// origin, without credentials). At least one.
	AllowOrigins []string
	// AllowMethods are the methods a preflight may ask for
	// (allow_methods); "*" allows any. The CORS-safelisted GET, HEAD and
	// POST are always allowed (browsers do not preflight them for the
	// method). Default [GET, HEAD, POST].
	AllowMethods []string
	// AllowHeaders are the request header fields a preflight may ask for
	// (allow_headers), case-insensitively; "*" allows any. Default none:
	// only CORS-safelisted fields, which browsers never ask for.
	AllowHeaders []string
	// ExposeHeaders are the response fields a page may read beyond the
	// safelisted ones (expose_headers).
	ExposeHeaders []string
	// AllowCredentials lets pages send cookies and HTTP authentication and
	// read the response (allow_credentials). Refused with origin "*".
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight's answer
	// (max_age, whole seconds; 0 sends no Access-Control-Max-Age, and
	// browsers use 5 seconds).
	MaxAge time.Duration
}

// Policy is a compiled CORS configuration. The zero value allows nothing.
type Policy struct {
	anyOrigin   bool
	exact       []string   // lower case
	wild        []wildcard // https://*.example.com
	anyMethod   bool
	methods     []string // as configured (methods are case-sensitive)
	anyHeader   bool
	headers     []string // lower case
	credentials bool

	// Pre-rendered field lines.
	methodsLine []byte // Access-Control-Allow-Methods
	headersLine []byte // Access-Control-Allow-Headers (nil: none, or any)
	exposeLine  []byte // Access-Control-Expose-Headers
	maxAgeLine  []byte // Access-Control-Max-Age
}

// wildcard is an origin pattern with one '*' as its leftmost host label.
type wildcard struct {
	prefix string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

// Origins longer than this are never allowed (a host name is at most 253
// bytes; scheme and port add a few).
const maxOrigin = 512

// New compiles o, or returns an *Error naming the field at fault.
func New(o Options) (*Policy, error) {
	p := &Policy{credentials: o.AllowCredentials}
	if len(o.AllowOrigins) == 0 {
		return nil, &Error{Field: "allow_origins", Index: -1, Msg: "list at least one origin (https://app.example.com, https://*.example.com or *)"}
	}
	for i, s := range o.AllowOrigins {
		switch {
		case s == "*":
			if o.AllowCredentials {
				return nil, &Error{Field: "allow_origins", Index: i, Msg: `"*" cannot be used with allow_credentials (browsers refuse it): list the origins`}
			}
			p.anyOrigin = true
		case s == "null":
			p.exact = append(p.exact, s)
		default:
			w, exact, msg := parseOrigin(s)
			if msg != "" {
				return nil, &Error{Field: "allow_origins", Index: i, Msg: msg + ", got " + strconv.Quote(s)}
			}
			if exact {
				p.exact = append(p.exact, strings.ToLower(s))
			} else {
				p.wild = append(p.wild, w)
			}
		}
	}
	methods := o.AllowMethods
	if methods == nil {
		methods = []string{"GET", "HEAD", "POST"}
	}
	for i, m := range methods {
		switch {
		case m == "*":
			p.anyMethod = true
		case !isToken(m):
			return nil, &Error{Field: "allow_methods", Index: i, Msg: "not a method: " + strconv.Quote(m)}
		default:
			p.methods = append(p.methods, m)
		}
	}
	if !p.anyMethod && len(p.methods) > 0 {
		p.methodsLine = []byte("Access-Control-Allow-Methods: " + strings.Join(p.methods, ", ") + "\r\n")
	}
	for i, h := range o.AllowHeaders {
		switch {
		case h == "*":
			p.anyHeader = true
		case !isToken(h):
			return nil, &Error{Field: "allow_headers", Index: i, Msg: "not a header name: " + strconv.Quote(h)}
		default:
			p.headers = append(p.headers, strings.ToLower(h))
		}
	}
	if !p.anyHeader && len(p.headers) > 0 {
		p.headersLine = []byte("Access-Control-Allow-Headers: " + strings.Join(p.headers, ", ") + "\r\n")
	}
	for i, h := range o.ExposeHeaders {
		if !isToken(h) && h != "*" {
			return nil, &Error{Field: "expose_headers", Index: i, Msg: "not a header name: " + strconv.Quote(h)}
		}
		if h == "*" && o.AllowCredentials {
			return nil, &Error{Field: "expose_headers", Index: i, Msg: `"*" is a plain name with allow_credentials (browsers expose nothing more): list the fields`}
		}
	}
	if len(o.ExposeHeaders) > 0 {
		p.exposeLine = []byte("Access-Control-Expose-Headers: " + strings.Join(o.ExposeHeaders, ", ") + "\r\n")
	}
	switch {
	case o.MaxAge < 0:
		return nil, &Error{Field: "max_age", Index: -1, Msg: "must not be negative"}
	case o.MaxAge >= time.Second:
		p.maxAgeLine = []byte("Access-Control-Max-Age: " + strconv.FormatInt(int64(o.MaxAge/time.Second), 10) + "\r\n")
	}
	return p, nil
}

// parseOrigin checks an origin or origin pattern: scheme "://" host
// [":" port], nothing after; the host may start with "*." (a wildcard).
func parseOrigin(s string) (w wildcard, exact bool, msg string) {
	const want = "want an origin such as https://app.example.com or https://*.example.com"
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || !isScheme(scheme) {
		return w, false, want
	}
	host, port, hasPort := rest, "", false
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "]") {
		host, port, hasPort = rest[:i], rest[i+1:], true
	}
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return w, false, want + " (bad port)"
		}
	}
	if strings.HasPrefix(host, "*.") {
		if !isHost(host[2:]) || strings.Contains(host[2:], "*") {
			return w, false, want + " (one '*', as the leftmost label)"
		}
		return wildcard{prefix: strings.ToLower(scheme) + "://", suffix: strings.ToLower(rest[1:])}, false, ""
	}
	if !isHost(host) {
		return w, false, want + " (no path, no trailing '/', at most one '*' as the leftmost label)"
	}
	return w, true, ""
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// isHost accepts a DNS name or IPv4 address (letters, digits, '-', '.') or
// a bracketed IPv6 address.
func isHost(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '[' {
		if s[len(s)-1] != ']' || len(s) < 3 {
			return false
		}
		for i := 1; i < len(s)-1; i++ {
			if !isHex(s[i]) && s[i] != ':' && s[i] != '.' {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(s); i++ {
		if !isHostByte(s[i]) {
			return false
		}
	}
	return s[0] != '.' && s[len(s)-1] != '.'
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return false
		}
	}
	return true
}

func tokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// ResponseFields returns the lower-case names of the fields this package
// writes. A route with a Policy drops them from upstream responses: two
// Access-Control-Allow-Origin fields fail the CORS check in browsers.
func ResponseFields() []string {
	return []string{
		"access-control-allow-origin", "access-control-allow-credentials",
		"access-control-allow-methods", "access-control-allow-headers",
		"access-control-expose-headers", "access-control-max-age",
	}
}
