package accesslog

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// MaxField is the most bytes of one string field that go into a line;
// longer values are cut. It bounds a record's size so that Append can
// check for room before it writes.
const MaxField = 1024

// fixedBound is an upper bound of a record's bytes besides its string
// fields: field names, punctuation, numbers, the time and the client.
const fixedBound = 640

// numStringFields is how many escaped string fields a record has.
const numStringFields = 9

// maxRecord is the largest record: every string field MaxField bytes long,
// each byte escaped as \u00XX (6 bytes).
const maxRecord = fixedBound + numStringFields*MaxField*6

// safe[c] is true for the ASCII bytes that need no escaping in a JSON
// string: printable, not '"' and not '\\'. Bytes >= 0x80 are false and take
// the UTF-8 path.
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

func clip(s []byte) []byte {
	if len(s) > MaxField {
		return s[:MaxField]
	}
	return s
}

// stringBytes views s as a byte slice without copying. The result must not
// be written to; it is only read by appendString (route and upstream names
// are strings built at config load).
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// appendString appends s as the body of a JSON string (without quotes):
// '"', '\\' and control bytes escaped, valid UTF-8 copied, each byte of an
// invalid sequence replaced by \ufffd (as encoding/json does).
func appendString(dst, s []byte) []byte {
	s = clip(s)
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// stringBound is the most bytes appendString can produce for s.
func stringBound(n int) int { return min(n, MaxField) * 6 }

// recordBound is an upper bound of the bytes appendRecord writes for r.
func recordBound(r *Record) int {
	return fixedBound + stringBound(len(r.Method)) + stringBound(len(r.Host)) +
		stringBound(len(r.Path)) + stringBound(len(r.Query)) + stringBound(len(r.Protocol)) +
		stringBound(len(r.UserAgent)) + stringBound(len(r.RequestID)) +
		stringBound(len(r.Route)) + stringBound(len(r.Upstream))
}

// clock caches the text of the current second, so that a record's time
// costs a compare and a copy.
type clock struct {
	sec  int64
	text []byte // "2006-01-02T15:04:05", len 19
}

func (c *clock) appendTime(dst []byte, unixNano int64) []byte {
	sec, ms := unixNano/1e9, (unixNano%1e9)/1e6
	if unixNano < 0 {
		sec, ms = 0, 0
	}
	if sec != c.sec || c.text == nil {
		if c.text == nil {
			c.text = make([]byte, 0, 32)
		}
		c.sec = sec
		c.text = time.Unix(sec, 0).UTC().AppendFormat(c.text[:0], "2006-01-02T15:04:05")
	}
	dst = append(dst, c.text...)
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendSeconds appends d as seconds with six decimals ("0.000512").
func appendSeconds(dst []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	us := int64(d) / 1000
	if int64(d)%1000 >= 500 { // round half up without overflowing at MaxInt64
		us++
	}
	dst = strconv.AppendInt(dst, us/1e6, 10)
	frac := us % 1e6
	dst = append(dst, '.')
	for div := int64(100000); div > 0; div /= 10 {
		dst = append(dst, byte('0'+frac/div%10))
	}
	return dst
}

func appendField(dst []byte, name string, v []byte) []byte {
	dst = append(dst, name...)
	dst = appendString(dst, v)
	return append(dst, '"')
}

// appendRecord appends r as one JSON line, with the values of the query
// parameters named in redact hidden (appendQuery). It writes at most
// recordBound(r) bytes and does not allocate when dst has that much room.
func appendRecord(dst []byte, r *Record, c *clock, redact []string) []byte {
	path, query := r.Path, r.Query
	if query == nil {
		if i := bytes.IndexByte(path, '?'); i >= 0 {
			path, query = path[:i], path[i+1:]
		}
	}
	dst = append(dst, `{"time":"`...)
	dst = c.appendTime(dst, r.Time)
	dst = append(dst, `","client":"`...)
	if r.Client.IsValid() {
		dst = r.Client.AppendTo(dst)
	}
	dst = append(dst, '"')
	if r.ClientIP.IsValid() {
		dst = append(dst, `,"client_ip":"`...)
		dst = r.ClientIP.AppendTo(dst)
		dst = append(dst, '"')
	}
	dst = appendField(dst, `,"method":"`, r.Method)
	dst = appendField(dst, `,"host":"`, r.Host)
	dst = appendField(dst, `,"path":"`, path)
	if len(query) > 0 {
		dst = append(dst, `,"query":"`...)
		dst = appendQuery(dst, query, redact)
		dst = append(dst, '"')
	}
	dst = appendField(dst, `,"protocol":"`, r.Protocol)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"bytes_sent":`...)
	dst = strconv.AppendInt(dst, r.BytesSent, 10)
	dst = append(dst, `,"bytes_received":`...)
	dst = strconv.AppendInt(dst, r.BytesReceived, 10)
	dst = append(dst, `,"duration":`...)
	dst = appendSeconds(dst, r.Duration)
	if r.Upstream != "" {
		dst = appendField(dst, `,"upstream":"`, stringBytes(r.Upstream))
		dst = append(dst, `,"upstream_duration":`...)
		dst = appendSeconds(dst, r.UpstreamDuration)
	}
	dst = append(dst, `,"cache":"`...)
	if int(r.Cache) < len(cacheText) {
		dst = append(dst, cacheText[r.Cache]...)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, `","limiter":"`...)
	if int(r.Limiter) < len(limiterText) {
		dst = append(dst, limiterText[r.Limiter]...)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, '"')
	dst = appendField(dst, `,"route":"`, stringBytes(r.Route))
	if len(r.UserAgent) > 0 {
		dst = appendField(dst, `,"user_agent":"`, r.UserAgent)
	}
	if len(r.RequestID) > 0 {
		dst = appendField(dst, `,"request_id":"`, r.RequestID)
	}
	if r.Reason != ReasonNone && r.Reason < numReasons {
		dst = append(dst, `,"reason":"`...)
		dst = append(dst, reasonText[r.Reason]...)
		dst = append(dst, '"')
	}
	return append(dst, '}', '\n')
}
