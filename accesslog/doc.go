// Package accesslog writes the gateway's access log: one JSON object per
// request and line, in the style of Envoy's and Caddy's JSON logs, without
// allocating or blocking on the request path.
//
// Each event loop owns a *Buffer (Log.Buffer(i)) and calls Append once per
// finished request, and Flush on its periodic tick. Append formats the
// Record into the loop's current []byte with hand-written JSON escaping.
// When that buffer is full, or on Flush, it is handed to the Log's single
// writer goroutine through a bounded channel with a non-blocking send, and a
// spare buffer is taken from a free list. If the channel is full or no
// spare is free, the records are dropped and counted (Log.Dropped), so a
// slow disk or a stuck pipe costs log lines, never latency.
//
// A line looks like (wrapped here):
//
//	{"time":"2026-11-22T10:00:00.123Z","client":"10.0.0.7:51544","method":"GET",
//	 "host":"api.example.com","path":"/v1/users/42","query":"fields=name",
//	 "protocol":"HTTP/1.1","status":200,"bytes_sent":312,"bytes_received":0,
//	 "duration":0.000512,"upstream":"10.0.1.2:8080","upstream_duration":0.000431,
//	 "cache":"MISS","limiter":"allowed","route":"users","user_agent":"curl/8.5.0",
//	 "request_id":"f3a9..."}
//
// time is RFC 3339 in UTC with milliseconds; duration and upstream_duration
// are seconds as a decimal with microsecond precision (as Caddy does);
// query, upstream, upstream_duration, user_agent and request_id are left out
// when empty; cache and limiter are "-" when they did not apply. Strings are
// escaped as JSON requires; invalid UTF-8 becomes U+FFFD; each byte field is
// cut at MaxField bytes.
//
// The gateway's own diagnostics go through log/slog, not this package.
package accesslog
