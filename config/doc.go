// Package config loads and validates hotpath's YAML configuration.
//
// A Config is decoded from a yaml.Node tree by a small reflective decoder so
// that every problem names the file, the line and the field path, and so that
// all problems are reported together rather than only the first:
//
//	config.yaml:17: routes[2].upstream: unknown upstream "api"
//	config.yaml:21: upstreams[0].balancer: unknown balancer "fastest" (want one of round_robin, ...)
//
// The routes are also added to a trie.Builder as the engine will add them,
// so duplicate routes, conflicting parameter names and two routes with one
// name are among those problems. A YAML syntax error is reported at the
// line where the text goes wrong. Check returns the problems together with
// the config as decoded (hotpath -check looks further, at the files it
// names); Warnings lists what is valid but probably not meant (a request
// header add of a name the client can send).
//
// Unknown fields are errors. Durations are Go durations ("750ms", "30s").
// The vocabulary is kept to one word per idea: a byte count is a Size
// ("65536", "512k", "1MiB") in a field ending in _bytes; an idle timeout
// ends in _idle in timeouts (client_idle, tunnel_idle) and is idle_timeout
// in a section of its own (pool); the event-loop count is the top-level
// workers; "kind" and "kind:name" values (hash_key, rate_limit.key) have
// one parser. An old spelling (a field's `old` tag: max_head,
// max_request_line, max_body, min_length, timeouts.keepalive, and
// listeners[].workers) is decoded as its new one for one more release, and
// Warnings lists it as deprecated.
//
// Default returns the embedded default configuration (default.yaml): one
// listener on 127.0.0.1:8080, one upstream "echo" at 127.0.0.1:9001, a
// catch-all route to it, GET /healthz answered directly with 200 "ok", a
// "cached" route (/cached/*path: cached and compressed), an "aggregate"
// route (/aggregate/:id: two requests to echo merged into one JSON object),
// the admin listener on 127.0.0.1:9901 with metrics and pprof on, and the
// access log off.
//
//	cfg, err := config.Load("hotpath.yaml")
//	if err != nil {
//		fmt.Fprintln(os.Stderr, err) // one line per problem
//	}
package config
