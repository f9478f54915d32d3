package limiter

import (
	"strconv"
	"time"
)

// AppendHeaders appends the rate-limit response fields for d to dst and
// returns the extended slice, without allocating when dst has room:
//
//	RateLimit-Policy: "<policy>";q=<Limit>;w=<Window in s>
//	RateLimit: "<policy>";r=<Remaining>;t=<seconds>
//	Retry-After: <seconds>            (only when !d.Allowed)
//
// The syntax is draft-ietf-httpapi-ratelimit-headers-10/11 (Structured
// Fields: the policy is an sf-string item, q is the quota, w the window, r
// the remaining quota, t the seconds until it resets). For a GCRA bucket
// that refills continuously, t is the time until the bucket is full again,
// except when r=0, where t is the time until the next request will be
// admitted (what a client holding back on r=0 needs). Seconds round up.
// Each line ends in CRLF; policy is escaped as an sf-string.
func AppendHeaders(dst []byte, d Decision, policy string) []byte {
	dst = append(dst, "RateLimit-Policy: "...)
	dst = appendSFString(dst, policy)
	dst = append(dst, ";q="...)
	dst = strconv.AppendInt(dst, int64(d.Limit()), 10)
	dst = append(dst, ";w="...)
	dst = strconv.AppendInt(dst, max(ceilSeconds(d.Window()), 1), 10)
	dst = append(dst, "\r\nRateLimit: "...)
	dst = appendSFString(dst, policy)
	dst = append(dst, ";r="...)
	dst = strconv.AppendInt(dst, int64(d.Remaining()), 10)
	dst = append(dst, ";t="...)
	t := d.Reset()
	if d.Remaining() == 0 {
		t = d.RetryAfter()
	}
	dst = strconv.AppendInt(dst, ceilSeconds(t), 10)
	dst = append(dst, "\r\n"...)
	if !d.Allowed {
		dst = append(dst, "Retry-After: "...)
		dst = strconv.AppendInt(dst, max(ceilSeconds(d.RetryAfter()), 1), 10)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// appendSFString appends s as a Structured Fields string (RFC 9651 §3.3.3).
func appendSFString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
