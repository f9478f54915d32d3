package cache

import (
	"bytes"
	"net/http"
	"time"

	"github.com/hotpath/hotpath/parser"
)

// NotModified evaluates a request's validators against the stored response
// as RFC 9111 §4.3.2 asks of a cache (the preconditions of RFC 9110 §13.1.2
// and §13.1.3): it reports whether the client's copy is current, so that a
// 304 Not Modified (AppendNotModified) answers instead of the whole
// response. ifNoneMatch and ifModifiedSince are the request's field values,
// nil when absent; now is the cache's clock.
//
// Only a stored 200 is validated. If-None-Match, when present, decides
// alone: true when one of its entity-tags matches the stored ETag by weak
// comparison, or it is "*". Otherwise If-Modified-Since is true when the
// stored Last-Modified is not later than it; a date in the future or one
// that does not parse is ignored. Without a stored validator nothing
// matches. The common case, a client echoing the stored Last-Modified
// verbatim, is decided without parsing dates or allocating.
func (e *Entry) NotModified(ifNoneMatch, ifModifiedSince []byte, now time.Time) bool {
	if e.status != http.StatusOK {
		return false
	}
	if ifNoneMatch != nil {
		return e.etag != nil && matchETags(ifNoneMatch, e.etag)
	}
	if ifModifiedSince == nil || e.lastModified == nil {
		return false
	}
	ims, lm := parser.TrimOWS(ifModifiedSince), parser.TrimOWS(e.lastModified)
	if string(ims) == string(lm) {
		return true
	}
	imsT, ok1 := parseHTTPDate(ims)
	lmT, ok2 := parseHTTPDate(lm)
	return ok1 && ok2 && !imsT.After(now) && !lmT.After(imsT)
}

// matchETags reports whether the If-None-Match list matches etag by weak
// comparison (RFC 9110 §8.8.3.2: the opaque tags are equal, W/ ignored).
func matchETags(list, etag []byte) bool {
	want := opaqueTag(parser.TrimOWS(etag))
	if want == nil {
		return false
	}
	for len(list) > 0 {
		var item []byte
		item, list = nextListItem(list)
		if len(item) == 1 && item[0] == '*' {
			return true
		}
		if t := opaqueTag(item); t != nil && string(t) == string(want) {
			return true
		}
	}
	return false
}

// opaqueTag returns the quoted opaque-tag of an entity-tag, without its W/
// prefix, or nil when t is not an entity-tag.
func opaqueTag(t []byte) []byte {
	if len(t) >= 2 && t[0] == 'W' && t[1] == '/' {
		t = t[2:]
	}
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return nil
	}
	return t
}

// nextListItem splits the first element off a comma-separated field value.
// Entity-tags cannot contain a comma inside their quotes (etagc excludes
// nothing but DQUOTE, so a quoted comma is skipped over).
func nextListItem(v []byte) (item, rest []byte) {
	inQuote := false
	for i, c := range v {
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return parser.TrimOWS(v[:i]), v[i+1:]
		}
	}
	return parser.TrimOWS(v), nil
}

// notModifiedFields are the stored fields a 304 carries (RFC 9110
// §15.4.5): those a 200 would have sent that guide the client's cache
// update. Content-Type, Content-Encoding and the rest of the
// representation metadata are left out.
var notModifiedFields = []string{"cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified"}

// AppendNotModified appends the 304 Not Modified answer to a validated
// request at now: the status line, the stored fields of
// notModifiedFields, Age and X-Cache, and the final CRLF; no body. It does
// not allocate when dst has room (Size is enough).
func (e *Entry) AppendNotModified(dst []byte, now time.Time) []byte {
	dst = append(dst, "HTTP/1.1 304 Not Modified\r\n"...)
	for h := e.storedFields(); ; {
		name, _, line, rest, ok := parser.CutField(h)
		if !ok {
			break
		}
		h = rest
		for _, want := range notModifiedFields {
			if parser.EqualFold(name, want) {
				dst = append(dst, line...)
				break
			}
		}
	}
	dst = e.appendAgeXCache(dst, now)
	return append(dst, "\r\n"...)
}

// storedFields returns the stored header lines, each ending in CRLF,
// without the status line.
func (e *Entry) storedFields() []byte {
	_, rest, _ := bytes.Cut(e.head, []byte("\r\n"))
	return rest
}

// Freshened returns the Response to Store when the upstream answered a
// conditional refresh of stale with 304 Not Modified (RFC 9111 §4.3.4):
// the stored status and body, and the stored fields updated with the
// 304's (a field the 304 carries replaces every stored line of that name).
// The fields the stored body depends on, Content-Encoding and
// Content-Length, are kept from the stored response. reqTime and respTime
// are those of the 304 exchange, so the freshness starts again from it.
func (e *Entry) Freshened(notMod *Response) *Response {
	resp := &Response{Status: e.status, Body: e.body, RequestTime: notMod.RequestTime, ResponseTime: notMod.ResponseTime}
	updated := func(name []byte) bool {
		if parser.EqualFold(name, "content-encoding") || parser.EqualFold(name, "content-length") {
			return false
		}
		for _, f := range notMod.Header {
			if bytes.EqualFold(f.Name, name) {
				return true
			}
		}
		return false
	}
	for h := e.storedFields(); ; {
		name, value, _, rest, ok := parser.CutField(h)
		if !ok {
			break
		}
		h = rest
		if !updated(name) {
			resp.Header = append(resp.Header, Field{Name: name, Value: value})
		}
	}
	for _, f := range notMod.Header {
		if parser.EqualFold(f.Name, "content-encoding") || parser.EqualFold(f.Name, "content-length") {
			continue
		}
		resp.Header = append(resp.Header, f)
	}
	return resp
}
