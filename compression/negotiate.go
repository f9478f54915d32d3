package compression

import "github.com/hotpath/hotpath/parser"

// Encoding is a content coding.
type Encoding uint8

// The codings the gateway produces.
const (
	Identity Encoding = iota
	Gzip
	Zstd
	numEncodings
)

var encodingNames = [numEncodings]string{"identity", "gzip", "zstd"}

// String returns the coding's token, as sent in Content-Encoding.
func (e Encoding) String() string { return encodingNames[e] }

// Variant returns the value to put in the cache request's Variant, so that
// each coding of a resource is a separate cache entry (identity is 0, the
// same key as an uncompressed lookup).
func (e Encoding) Variant() uint64 { return uint64(e) }

// Negotiate picks the coding to answer with from an Accept-Encoding field
// value (RFC 9110 §12.5.3), among allowed in the server's order of
// preference. The coding with the highest q-value wins; ties go to the
// earlier entry of allowed. q=0 excludes a coding, "*" stands for every
// coding not named, "x-gzip" is gzip. When no allowed coding is acceptable,
// or acceptEncoding is nil (no field) or empty, Negotiate returns Identity
// (also when the client excluded identity: refusing with 406 is rarely
// better than sending the body as is). It does not allocate.
func Negotiate(acceptEncoding []byte, allowed ...Encoding) Encoding {
	if len(acceptEncoding) == 0 || len(allowed) == 0 {
		return Identity
	}
	// q-values in thousandths; -1 means "not named".
	var q [numEncodings]int
	for i := range q {
		q[i] = -1
	}
	star := -1
	v := acceptEncoding
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		item := v[:i]
		if i < len(v) {
			i++
		}
		v = v[i:]
		name, params := splitParams(item)
		qv := parseQ(params)
		switch {
		case parser.EqualFold(name, "gzip"), parser.EqualFold(name, "x-gzip"):
			q[Gzip] = max(q[Gzip], qv)
		case parser.EqualFold(name, "zstd"):
			q[Zstd] = max(q[Zstd], qv)
		case parser.EqualFold(name, "identity"):
			q[Identity] = max(q[Identity], qv)
		case len(name) == 1 && name[0] == '*':
			star = max(star, qv)
		}
	}
	best, bestQ := Identity, 0
	for _, e := range allowed {
		if e == Identity || e >= numEncodings {
			continue
		}
		qe := q[e]
		if qe < 0 {
			qe = star
		}
		if qe > bestQ {
			best, bestQ = e, qe
		}
	}
	return best
}

// splitParams splits "gzip ; q=0.5" into "gzip" and "q=0.5" (trimmed).
func splitParams(item []byte) (name, params []byte) {
	i := 0
	for i < len(item) && item[i] != ';' {
		i++
	}
	name = parser.TrimOWS(item[:i])
	if i < len(item) {
		params = parser.TrimOWS(item[i+1:])
	}
	return name, params
}

// parseQ returns the weight in params ("q=0.5") in thousandths; 1000 when
// there is none, 0 when it is malformed (a malformed weight is not
// consent).
func parseQ(params []byte) int {
	for len(params) > 0 {
		i := 0
		for i < len(params) && params[i] != ';' {
			i++
		}
		p := parser.TrimOWS(params[:i])
		if i < len(params) {
			i++
		}
		params = params[i:]
		if len(p) >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' {
			return weight(parser.TrimOWS(p[2:]))
		}
	}
	return 1000
}

// weight parses qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
func weight(b []byte) int {
	if len(b) == 0 || (b[0] != '0' && b[0] != '1') {
		return 0
	}
	w := int(b[0]-'0') * 1000
	if len(b) == 1 {
		return w
	}
	if b[1] != '.' || len(b) > 5 {
		return 0
	}
	scale := 100
	for _, c := range b[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		w += int(c-'0') * scale
		scale /= 10
	}
	return min(w, 1000)
}
