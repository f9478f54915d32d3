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
// Field names follow the words operators know from nginx and Envoy
// (keepalive, max_idle, connect, idle_timeout).
//
// Default returns the embedded default configuration (default.yaml): one
// listener on 127.0.0.1:8080, one upstream "echo" at 127.0.0.1:9001, a
// catch-all route to it, GET /healthz answered directly with 200 "ok", the
// admin listener on 127.0.0.1:9901 with metrics on, and the access log off.
//
//	cfg, err := config.Load("hotpath.yaml")
//	if err != nil {
//		fmt.Fprintln(os.Stderr, err) // one line per problem
//	}
package config
