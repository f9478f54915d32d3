// Package compression compresses gateway responses on the fly with gzip
// and zstd (github.com/klauspost/compress).
//
// The engine negotiates a coding from Accept-Encoding (Negotiate, no
// allocation), asks Config.Should whether the response qualifies (a
// compressible type, large enough, not already encoded, no no-transform),
// rewrites the head (AppendHeaders adds Content-Encoding and Vary; it drops
// Content-Length and sends chunked), and pushes the upstream body through a
// pooled Stream that writes compressed bytes into the connection's own
// buffer:
//
//	enc := compression.Negotiate(acceptEncoding, compression.Zstd, compression.Gzip)
//	if enc != compression.Identity && cfg.Should(&resp) {
//		s := cfg.Stream(enc, &connBuf) // pooled encoder, reset onto connBuf
//		s.Write(chunk)                   // per upstream body chunk; send connBuf as a chunk when non-empty
//		s.Close()                        // at the end of the body; returns the encoder to its pool
//	}
//
// A cached compressed variant is a separate cache entry: set the cache
// request's Variant to Encoding.Variant().
//
// Brotli is not offered: the pure-Go port (andybalholm/brotli) is several
// times slower than zstd at a similar ratio, and go-brrr needs cgo, which
// the gateway's build avoids. zstd serves the same clients better (every
// current browser accepts it), and gzip covers the rest.
package compression
