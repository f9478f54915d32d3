package route

import "github.com/hotpath/hotpath/limiter"

// Route is a compiled routes[] entry.
type Route struct {
	ID      int    // index in config.Routes: its metrics ID
	Name    string // the name, or the path when the route has none
	Host    string
	Path    string
	Methods []string // "*" when any; an aggregate's default is GET and HEAD

	// Upstream is the index in Table.Upstreams; -1 for none (direct,
	// aggregate) or an unknown name (reported by config's validation).
	Upstream     int
	GRPCOnly     bool // protocol: grpc
	PreserveHost bool
	Direct       *Direct // nil unless direct:
	Strip        []byte  // strip_prefix without its trailing '/'
	Rewrite      Template
	HostRewrite  []byte
	Upgrade      [][]byte // protocols clients may switch to, lower case

	Edits     Edits      // headers:
	RateLimit *RateLimit // nil unless rate_limit:
	Aggregate *Aggregate // nil unless aggregate:
}

// RateLimit is a compiled rate_limit: section.
type RateLimit struct {
	Config limiter.Config // Slots as configured: the engine allocates the table
	Key    limiter.KeySpec
	Global bool // scope: global, shared with the fleet
}

// Aggregate is the compiled parts of an aggregate: section.
type Aggregate struct {
	Parts []AggregatePart
}

// AggregatePart is one part of an aggregate route.
type AggregatePart struct {
	Name     string
	Upstream int      // index in Table.Upstreams
	Target   Template // parameter names as config.IsTemplateNameByte
	Headers  []string // client fields forwarded, lower case
}
