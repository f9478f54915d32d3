package accesslog

import (
	"net/netip"
	"time"
)

// CacheStatus is the response cache's part in a request.
type CacheStatus uint8

// Cache statuses; the zero value is CacheNone ("-").
const (
	CacheNone CacheStatus = iota
	CacheHit
	CacheMiss
	CacheStale
)

var cacheText = [...]string{"-", "HIT", "MISS", "STALE"}

// LimiterResult is the rate limiter's decision on a request.
type LimiterResult uint8

// Limiter results; the zero value is LimiterNone ("-", no limiter on the
// route).
const (
	LimiterNone LimiterResult = iota
	LimiterAllowed
	LimiterRejected
	LimiterShadow // over the limit, let through because the limiter is in shadow mode
)

var limiterText = [...]string{"-", "allowed", "rejected", "shadow"}

// Record is one request as the engine saw it. The []byte fields are views
// (typically into the connection's read buffer); Append copies what it
// needs, so they only have to stay valid during the call.
type Record struct {
	// Time is when the request's first byte arrived, in Unix nanoseconds of
	// the loop clock.
	Time     int64
	Client   netip.AddrPort
	Method   []byte
	Host     []byte
	Path     []byte // the request-target's path; a "?query" in it is split off when Query is nil
	Query    []byte // without the '?'
	Protocol []byte // "HTTP/1.1"
	Status   int
	// BytesSent and BytesReceived count the response and request bytes on
	// the client connection, heads included.
	BytesSent, BytesReceived int64
	// Duration is from Time to the last response byte written.
	Duration time.Duration
	// Upstream is the endpoint address ("10.0.1.2:8080"); empty when no
	// upstream was involved (cache hit, direct response, rejection).
	Upstream         string
	UpstreamDuration time.Duration
	Cache            CacheStatus
	Limiter          LimiterResult
	Route            string
	UserAgent        []byte
	RequestID        []byte
}
