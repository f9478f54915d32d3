package cache

import (
	"strconv"
	"time"
)

// Entry is one stored response, or the Vary index of a resource. It is
// immutable once stored: any goroutine may read it without locks.
type Entry struct {
	status int
	// head is the status line and the stored header lines, each ending in
	// CRLF, without Age, X-Cache, Content-Length and the final CRLF.
	head []byte
	body []byte
	// Validators, views into head (nil when absent).
	etag, lastModified []byte

	// Freshness, in Unix nanoseconds and nanoseconds (RFC 9111 §4.2).
	responseTime   int64 // when the response was received
	initialAge     int64 // corrected_initial_age (§4.2.3)
	lifetime       int64 // freshness_lifetime (§4.2.1), after the route's policy
	swr, sie       int64 // stale-while-revalidate and stale-if-error windows
	mustRevalidate bool  // must-revalidate, proxy-revalidate or s-maxage: never served stale

	// What the entry is keyed on, compared on every hit so that a hash
	// collision is a miss. host is lower-cased.
	host, path, query []byte
	variant           uint64
	varyNames         []string // lower-case; nil when the response had no Vary
	varyValues        [][]byte // the storing request's values (nil: absent)
	index             bool     // a Vary index record: only varyNames is set

	key   uint64    // the ristretto key (primary or variant)
	gens  [4]uint64 // purge generations when the request was looked up
	slots [4]uint32 // the generation slots: host, host+first segment, URL, all
	cost  int64
}

// Status returns the stored status code.
func (e *Entry) Status() int { return e.status }

// Body returns the stored body. It must not be modified.
func (e *Entry) Body() []byte { return e.body }

// ETag returns the ETag field value, or nil.
func (e *Entry) ETag() []byte { return e.etag }

// LastModified returns the Last-Modified field value, or nil.
func (e *Entry) LastModified() []byte { return e.lastModified }

// Age returns current_age at now (RFC 9111 §4.2.3).
func (e *Entry) Age(now time.Time) time.Duration {
	resident := max(now.UnixNano()-e.responseTime, 0)
	return time.Duration(e.initialAge + resident)
}

// Fresh reports whether the entry is fresh at now.
func (e *Entry) Fresh(now time.Time) bool {
	return e.lifetime > int64(e.Age(now))
}

// staleness is how long the entry has been stale at now (<= 0: fresh).
func (e *Entry) staleness(now time.Time) int64 {
	return int64(e.Age(now)) - e.lifetime
}

// UsableOnError reports whether the entry may be served at now because the
// upstream failed (an error or a 5xx): its stale-if-error window (RFC
// 5861) covers now and it does not demand revalidation.
func (e *Entry) UsableOnError(now time.Time) bool {
	if e.Fresh(now) {
		return true
	}
	return !e.mustRevalidate && e.staleness(now) <= e.sie
}

// X-Cache values and the field the engine adds to every response of a
// cacheable route.
const (
	XCacheHit   = "HIT"
	XCacheMiss  = "MISS"
	XCacheStale = "STALE"
)

// AppendXCache appends "X-Cache: <value>\r\n".
func AppendXCache(dst []byte, value string) []byte {
	dst = append(dst, "X-Cache: "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendResponse appends the whole stored response to dst as it goes to
// the client at now: status line, stored headers, Age, X-Cache (HIT when
// fresh, STALE otherwise), Content-Length and, unless head (a HEAD
// request), the body. It does not allocate when dst has room: size dst
// from Size.
func (e *Entry) AppendResponse(dst []byte, now time.Time, head bool) []byte {
	dst = append(dst, e.head...)
	dst = e.appendAgeXCache(dst, now)
	if e.status != 204 && e.status != 304 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(e.body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if !head {
		dst = append(dst, e.body...)
	}
	return dst
}

// Size is an upper bound of the bytes AppendResponse appends.
func (e *Entry) Size() int {
	return len(e.head) + len(e.body) + 96
}
