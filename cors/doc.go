// Package cors decides Cross-Origin Resource Sharing for the gateway (the
// CORS protocol of the WHATWG Fetch standard, §3.2): which origins may read
// a route's responses, and what a preflight request is answered.
//
// A Policy is compiled once from Options (allowed origins, exact or with a
// subdomain wildcard such as https://*.example.com, methods, request
// headers, exposed headers, credentials, max-age). The engine calls it at
// two points and renders what it returns:
//
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//     answered by the gateway, never forwarded: AppendPreflight appends the
//     fields of a 204 and reports whether the preflight is allowed (the
//     engine answers 403 otherwise);
//   - every other response of the route, whatever made it (the upstream,
//     the cache, the gateway itself), gets AppendActual's fields:
//     Access-Control-Allow-Origin and the others when the request's origin
//     is allowed, and Vary: Origin whenever the answer depends on it.
//
// Both append to a caller's buffer and allocate nothing. The upstream's own
// Access-Control-* fields are the engine's to drop (ResponseFields), so that
// a client never sees two answers.
//
// A Policy is immutable and safe for concurrent use.
package cors
