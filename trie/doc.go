// Package trie is hotpath's router: a radix tree on host, method and path
// that picks a route for a request without allocating.
//
// Routes are added to a Builder and compiled by Build into a Tree, which is
// immutable: any number of goroutines (event loops) call Tree.Lookup at once
// without locks, and a reload builds a new Tree and swaps a pointer to it.
//
//	b := trie.NewBuilder[*Route](trie.Options{TrailingSlash: trie.TrailingSlashRedirect})
//	if err := b.Add("api.example.com", "GET", "/users/:id", usersRoute); err != nil {
//		return err // names both routes of a conflict; errors.Is(err, trie.ErrParamConflict)
//	}
//	t, err := b.Build()
//	...
//	var m trie.Match[*Route] // one per connection or request, reused
//	switch t.Lookup(host, method, path, &m) {
//	case trie.Found: // m.Value, m.Pattern, m.Params.Get("id")
//	case trie.MethodNotAllowed: // 405 with "Allow: " + m.Allow
//	case trie.RedirectSlash: // 308 to trie.AppendRedirect(nil, path)
//	default: // NotFound (404), BadPath (400): see Result.Status
//	}
//
// # Patterns
//
// A pattern starts with '/' and is made of segments:
//
//   - static bytes: RFC 3986 pchar without '%' (so a pattern is never
//     percent-encoded); no empty segment except a final one ("/users/"), no
//     "." or ".." segment;
//   - ":name" matches one non-empty segment (up to the next '/');
//   - "*name" matches the rest of the path, possibly empty, and must be the
//     last segment ("/static/*path" matches "/static/" and "/static/a/b").
//
// ':' and '*' are special only at the start of a segment. A route has at
// most MaxParams parameters. Two routes may not name the parameter at one
// position differently (/users/:id and /users/:name/posts), and the same
// host, method and pattern may not be added twice; those errors name both
// routes.
//
// # Priority
//
// At each position a static segment beats a parameter, which beats a
// catch-all, and the search backtracks: with /a/:x/c and /a/b/d, the path
// /a/b/c matches /a/:x/c. The method takes part in the search: a path whose
// most specific route has no handler for the method goes on to the next
// candidate (GET /files/upload with "POST /files/upload" and
// "GET /files/:name" finds the second). When no route has the method,
// the result is MethodNotAllowed and Match.Allow is the precomputed list of
// the most specific matching route's methods, in the order GET, HEAD, POST,
// PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE, then other methods sorted.
//
// Methods are case-sensitive. "*" as a route's method answers every method
// that the same pattern does not register itself. A GET route also answers
// HEAD unless HEAD is registered for that pattern (and its Allow list says
// "GET, HEAD").
//
// # Trailing slash
//
// Options.TrailingSlash decides what a path that differs from a route only
// by a final '/' gets ("/users/" for "/users", "/users" for "/users/",
// "/static" for "/static/*path"): TrailingSlashStrict answers NotFound,
// TrailingSlashRedirect answers RedirectSlash (redirect to AppendRedirect's
// path) and TrailingSlashIgnore answers Found. A route that matches the path
// exactly always wins over the slash-insensitive match.
//
// # Paths: percent-encoding and dot segments
//
// Lookup matches the raw path as sent and never decodes it, so nothing is
// decoded twice and the parameter values it returns are raw sub-slices of
// the path (decode them where they are used). What Lookup alone cannot
// promise is that an upstream which decodes "%2F" (or splits on '\') sees
// the path that was routed: "/private%2Fx" stays one segment here and is
// "/private/x" to nginx, Go's URL.Path and WSGI. Callers therefore pass
// the path through Normalize first (refuse, decode or keep those escapes,
// see Normalization) and use its result everywhere after. Lookup's own
// rules make sure nothing else routes differently:
//
//   - "%2F" (and every other escape of a reserved byte) never splits a
//     segment: it stays inside the parameter or catch-all value (Normalize
//     decides beforehand whether such a path is routed at all);
//   - an escape of an unreserved byte (ALPHA DIGIT - . _ ~, e.g. "%61dmin"
//     or "%2e"), an escaped NUL ("%00") and a malformed escape ("%zz", a
//     truncated "%4") make the path BadPath. RFC 3986 §6.2.2.2 says
//     unreserved bytes are never to be encoded; refusing them means static
//     segments are compared byte for byte and a client cannot reach a route
//     by spelling it differently;
//   - a "." or ".." segment, and an empty segment ("//") other than a final
//     one, make the path BadPath: they are never normalised and never passed
//     to a route (so "/static/../admin" and "/../etc/passwd" are refused,
//     never routed to /static/*path or elsewhere);
//   - a path must start with '/'. The OPTIONS request target "*" is
//     NotFound (the caller answers it); anything else is BadPath.
//
// # Hosts
//
// Routes belong to a host: "" (the default host), an exact host
// ("api.example.com") or a wildcard ("*.example.com"). A wildcard matches
// one or more labels in front of its suffix (a.example.com and
// a.b.example.com, not example.com itself). Lookup ignores a ":port" and a
// trailing dot and compares hosts case-insensitively. An exact host beats a
// wildcard and a longer wildcard suffix beats a shorter one; a host that
// matches none uses the default host's routes. Once a host has matched, only
// its own routes are searched: there is no fallback to the default host's
// routes (as with nginx server blocks), so a host's routes are complete and
// predictable on their own.
//
// # Cost
//
// Lookup is a loop over the path's bytes and the tree's nodes: method slots
// are an array index, nodes with many children index them by first byte,
// and the path rules are checked only on parameter values (static bytes
// were checked when the pattern was added) and, on a miss, once over the
// whole path. Lookup does not allocate: parameters go into the caller's
// fixed-capacity Match.Params and all strings it returns were built by
// Build.
package trie
