package route

import (
	"time"

	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/trie"
)

// Table is a compiled configuration: the table-wide settings and the
// routes and upstreams in config order. Compile returns one; it is
// read-only afterwards.
type Table struct {
	Limits           parser.Limits
	MaxBufferedBytes int // limits.max_buffered_bytes: pause the other side above it
	Timeouts         Timeouts
	Forwarded        Forwarded
	Via              []byte // "Via: 1.1 hotpath\r\n"; nil when disabled
	Underscores      Underscores
	Trie             trie.Options       // router.trailing_slash
	PathNorm         trie.Normalization // router.path_normalization
	ErrorsOnly       bool               // access_log.errors_only
	Store            CacheStore

	Upstreams []Upstream
	Routes    []Route
}

// Timeouts are config.Timeouts in nanoseconds of the loop clock.
type Timeouts struct {
	ClientHeader, ClientBody, ClientIdle  int64
	Connect, UpstreamHeader, UpstreamRead int64
	ClientSend, Pending, TunnelIdle       int64
}

// Forwarded says which X-Forwarded-* fields the gateway adds to requests.
type Forwarded struct {
	For, Proto, Host bool
}

// Underscores is limits.underscores_in_headers: what a field whose name
// holds '_' gets.
type Underscores uint8

const (
	UnderscoresDrop    Underscores = iota // not forwarded
	UnderscoresReject                     // 400
	UnderscoresForward                    // forwarded like any field
)

// CacheStore is the top-level cache: section, the store all caching routes
// share.
type CacheStore struct {
	MaxBytes       int64
	MaxObjectBytes int64
	CoalesceWait   time.Duration
}
