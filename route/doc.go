// Package route compiles a validated config.Config into a Table: the
// settings every request reads (parser limits, timeouts in nanoseconds,
// the forwarded fields, the cache store) and a plain description of each
// route and upstream, with templates parsed, direct responses rendered,
// hash and rate-limit keys resolved and defaults applied. Compile returns
// every problem it finds as config.Errors (file:line:path) in one pass; it
// starts nothing, opens nothing and reads no file.
//
// The engine builds its runtime objects (endpoints, balancers, TLS
// clients, limiters, gates) from a Table, so that no config type is read
// on the request path. The values a Table holds are read-only once
// compiled, except that the engine may filter a Direct's head in place
// while it builds its own route from it.
package route
