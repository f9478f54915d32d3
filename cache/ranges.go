package cache

import (
	"strconv"
	"time"

	"github.com/hotpath/hotpath/parser"
)

// RangeKind is how a hit answers a Range request (RFC 9110 §14).
type RangeKind uint8

const (
	// RangeNone: answer the whole stored response (no Range, one the
	// cache does not serve, or an If-Range that does not match).
	RangeNone RangeKind = iota
	// RangePartial: 206 Partial Content with the bytes [Start, End].
	RangePartial
	// RangeUnsatisfiable: 416 Range Not Satisfiable.
	RangeUnsatisfiable
)

// ByteRange is the outcome of Entry.Range.
type ByteRange struct {
	Kind       RangeKind
	Start, End int64 // inclusive, for RangePartial
}

// Range decides how the stored response answers a GET with the Range field
// value rng and the If-Range value ifRange (nil when absent). Only a stored
// 200 is split, and only for one range of bytes ("a-b", "a-", "-n"): a
// list of several ranges, another unit, or a malformed value is answered
// with the whole response, as RFC 9110 §14.2 allows. If-Range must match
// strongly: the stored ETag when it is an entity-tag (a weak one never
// matches), the stored Last-Modified byte for byte when it is a date.
func (e *Entry) Range(rng, ifRange []byte) ByteRange {
	if rng == nil || e.status != 200 {
		return ByteRange{}
	}
	if ifRange != nil && !e.ifRangeMatches(parser.TrimOWS(ifRange)) {
		return ByteRange{}
	}
	rng = parser.TrimOWS(rng)
	const unit = "bytes="
	if len(rng) <= len(unit) || !parser.EqualFold(rng[:len(unit)], unit) {
		return ByteRange{}
	}
	spec := parser.TrimOWS(rng[len(unit):])
	for _, c := range spec {
		if c == ',' {
			return ByteRange{} // several ranges: the whole response
		}
	}
	dash := -1
	for i, c := range spec {
		if c == '-' {
			dash = i
			break
		}
	}
	if dash < 0 {
		return ByteRange{}
	}
	size := int64(len(e.body))
	first, okFirst := parseDigits(spec[:dash])
	last, okLast := parseDigits(spec[dash+1:])
	switch {
	case dash == 0: // "-n": the last n bytes
		if !okLast {
			return ByteRange{}
		}
		if last == 0 || size == 0 {
			return ByteRange{Kind: RangeUnsatisfiable}
		}
		return ByteRange{Kind: RangePartial, Start: max(size-last, 0), End: size - 1}
	case !okFirst:
		return ByteRange{}
	case dash == len(spec)-1: // "a-"
		if first >= size {
			return ByteRange{Kind: RangeUnsatisfiable}
		}
		return ByteRange{Kind: RangePartial, Start: first, End: size - 1}
	case !okLast || last < first:
		return ByteRange{} // invalid: ignored
	default:
		if first >= size {
			return ByteRange{Kind: RangeUnsatisfiable}
		}
		return ByteRange{Kind: RangePartial, Start: first, End: min(last, size-1)}
	}
}

func (e *Entry) ifRangeMatches(v []byte) bool {
	if len(v) > 0 && v[0] == '"' { // an entity-tag: strong comparison
		return len(e.etag) > 0 && e.etag[0] == '"' && string(parser.TrimOWS(e.etag)) == string(v)
	}
	if len(v) > 1 && v[0] == 'W' && v[1] == '/' {
		return false
	}
	return e.lastModified != nil && string(parser.TrimOWS(e.lastModified)) == string(v)
}

// parseDigits parses a non-empty run of decimal digits without overflow.
func parseDigits(b []byte) (int64, bool) {
	b = parser.TrimOWS(b)
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// AppendRange appends the head of the answer r (RangePartial or
// RangeUnsatisfiable) to a Range request at now: for 206 the stored fields
// with Content-Range and the part's Content-Length (the body is
// Body()[r.Start:r.End+1]); for 416, Content-Range: bytes */size and no
// body. It does not allocate when dst has room (Size is enough).
func (e *Entry) AppendRange(dst []byte, now time.Time, r ByteRange) []byte {
	size := int64(len(e.body))
	if r.Kind == RangeUnsatisfiable {
		dst = append(dst, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */"...)
		dst = strconv.AppendInt(dst, size, 10)
		dst = append(dst, "\r\n"...)
		dst = e.appendAgeXCache(dst, now)
		return append(dst, "Content-Length: 0\r\n\r\n"...)
	}
	dst = append(dst, "HTTP/1.1 206 Partial Content\r\n"...)
	dst = append(dst, e.storedFields()...)
	dst = append(dst, "Content-Range: bytes "...)
	dst = strconv.AppendInt(dst, r.Start, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, r.End, 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, size, 10)
	dst = append(dst, "\r\n"...)
	dst = e.appendAgeXCache(dst, now)
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, r.End-r.Start+1, 10)
	return append(dst, "\r\n\r\n"...)
}

func (e *Entry) appendAgeXCache(dst []byte, now time.Time) []byte {
	dst = append(dst, "Age: "...)
	dst = strconv.AppendInt(dst, int64(e.Age(now)/time.Second), 10)
	dst = append(dst, "\r\n"...)
	if e.Fresh(now) {
		return AppendXCache(dst, XCacheHit)
	}
	return AppendXCache(dst, XCacheStale)
}
