package cache

import "github.com/hotpath/hotpath/parser"

// directives holds the Cache-Control directives the cache acts on. Delta
// seconds are -1 when absent.
type directives struct {
	noStore, noCache, private, public   bool
	mustRevalidate, proxyRevalidate     bool
	onlyIfCached, maxStaleAny           bool
	maxAge, sMaxAge, maxStale, minFresh int64
	staleWhileRevalidate, staleIfError  int64
}

func newDirectives() directives {
	return directives{maxAge: -1, sMaxAge: -1, maxStale: -1, minFresh: -1,
		staleWhileRevalidate: -1, staleIfError: -1}
}

// maxDelta caps delta-seconds (RFC 9111 §1.2.2: 2^31 means "infinity").
const maxDelta = 1 << 31

// parse adds the directives of one Cache-Control field value. Unknown
// directives are ignored (RFC 9111 §5.2.3). Qualified forms
// (no-cache="Set-Cookie", private="...") are treated as unqualified: for a
// shared cache that is the stricter reading. It does not allocate.
func (d *directives) parse(v []byte) {
	for len(v) > 0 {
		// One directive: token [ "=" ( token / quoted-string ) ].
		i := 0
		for i < len(v) && v[i] != ',' && v[i] != '=' {
			i++
		}
		name := parser.TrimOWS(v[:i])
		var val []byte
		if i < len(v) && v[i] == '=' {
			j := i + 1
			for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
				j++
			}
			if j < len(v) && v[j] == '"' {
				k := j + 1
				for k < len(v) && v[k] != '"' {
					if v[k] == '\\' {
						k++
					}
					k++
				}
				val = v[j+1 : min(k, len(v))]
				i = min(k+1, len(v))
				for i < len(v) && v[i] != ',' {
					i++
				}
			} else {
				k := j
				for k < len(v) && v[k] != ',' {
					k++
				}
				val = parser.TrimOWS(v[j:k])
				i = k
			}
		}
		d.set(name, val)
		if i < len(v) {
			i++ // the comma
		}
		v = v[i:]
	}
}

func (d *directives) set(name, val []byte) {
	switch {
	case parser.EqualFold(name, "max-age"):
		d.maxAge = deltaSeconds(val)
	case parser.EqualFold(name, "s-maxage"):
		d.sMaxAge = deltaSeconds(val)
	case parser.EqualFold(name, "no-store"):
		d.noStore = true
	case parser.EqualFold(name, "no-cache"):
		d.noCache = true
	case parser.EqualFold(name, "private"):
		d.private = true
	case parser.EqualFold(name, "public"):
		d.public = true
	case parser.EqualFold(name, "must-revalidate"):
		d.mustRevalidate = true
	case parser.EqualFold(name, "proxy-revalidate"):
		d.proxyRevalidate = true
	case parser.EqualFold(name, "only-if-cached"):
		d.onlyIfCached = true
	case parser.EqualFold(name, "max-stale"):
		if val == nil {
			d.maxStaleAny = true
		} else {
			d.maxStale = deltaSeconds(val)
		}
	case parser.EqualFold(name, "min-fresh"):
		d.minFresh = deltaSeconds(val)
	case parser.EqualFold(name, "stale-while-revalidate"): // RFC 5861
		d.staleWhileRevalidate = deltaSeconds(val)
	case parser.EqualFold(name, "stale-if-error"): // RFC 5861
		d.staleIfError = deltaSeconds(val)
	}
}

// deltaSeconds parses delta-seconds. A malformed value counts as 0, the
// safe reading for freshness (RFC 9111 §4.2.1: invalid means stale).
func deltaSeconds(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		if n = n*10 + int64(c-'0'); n >= maxDelta {
			n = maxDelta
		}
	}
	return n
}
