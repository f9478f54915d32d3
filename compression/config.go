package compression

import (
	"strings"
	"sync"

	"github.com/hotpath/hotpath/parser"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Options is the compression: section of the config (YAML names in
// brackets).
type Options struct {
	// Types are the compressible content types (types): "text/*",
	// "application/json", "application/*+json" (a structured suffix).
	// Nil means DefaultTypes.
	Types []string
	// MinLength is the smallest Content-Length worth compressing
	// (min_length, default 1024). Responses of unknown length (chunked,
	// close-delimited) are compressed as they stream.
	MinLength int64
	// GzipLevel is 1 (fastest) to 9 (best) (gzip_level, default 5).
	GzipLevel int
	// ZstdLevel is "fastest", "default", "better" or "best" (zstd_level,
	// default "fastest": at HTTP body sizes it compresses about as well as
	// gzip 5 at a fraction of the CPU).
	ZstdLevel string
}

// DefaultTypes are the content types compressed by default.
var DefaultTypes = []string{
	"text/*", "application/json", "application/*+json", "application/javascript",
	"application/xml", "application/*+xml", "image/svg+xml", "application/wasm",
	"application/x-ndjson", "application/graphql-response+json",
}

// Config is compiled Options: the decision and the encoder pools. It is
// safe for concurrent use; build one per configuration (pools are per
// Config, so a reload with new levels starts fresh pools).
type Config struct {
	types     []typePattern
	minLength int64
	gzipLevel int
	zstdLevel zstd.EncoderLevel
	gzipPool  sync.Pool
	zstdPool  sync.Pool
}

type typePattern struct {
	typ, sub string // sub "*" matches any; suffix matches "*+suffix"
	suffix   string
}

// NewConfig compiles o, or returns ErrGzipLevel, ErrZstdLevel or ErrType.
func NewConfig(o Options) (*Config, error) {
	c := &Config{minLength: o.MinLength, gzipLevel: o.GzipLevel, zstdLevel: zstd.SpeedFastest}
	if o.MinLength == 0 {
		c.minLength = 1024
	}
	if c.gzipLevel == 0 {
		c.gzipLevel = 5
	}
	if c.gzipLevel < 1 || c.gzipLevel > 9 {
		return nil, ErrGzipLevel
	}
	switch o.ZstdLevel {
	case "", "fastest":
	case "default":
		c.zstdLevel = zstd.SpeedDefault
	case "better":
		c.zstdLevel = zstd.SpeedBetterCompression
	case "best":
		c.zstdLevel = zstd.SpeedBestCompression
	default:
		return nil, ErrZstdLevel
	}
	types := o.Types
	if types == nil {
		types = DefaultTypes
	}
	for _, t := range types {
		typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(t)), "/")
		if !ok || typ == "" || sub == "" || typ == "*" {
			return nil, ErrType
		}
		p := typePattern{typ: typ, sub: sub}
		if rest, ok := strings.CutPrefix(sub, "*+"); ok {
			p.sub, p.suffix = "", "+"+rest
		}
		c.types = append(c.types, p)
	}
	return c, nil
}

// Response is what Should needs from a response head.
type Response struct {
	Status          int
	Head            bool   // the request was HEAD: no body
	ContentType     []byte // may carry parameters ("text/html; charset=utf-8")
	ContentEncoding []byte // nil when absent
	ContentLength   int64  // -1 when unknown (chunked, close-delimited)
	CacheControl    []byte // for no-transform
}

// Should reports whether a response should be compressed: it has a body
// (not HEAD, 1xx, 204, 304), no Content-Encoding other than identity
// (never re-compress), no Cache-Control: no-transform (RFC 9110 §7.7), a
// compressible Content-Type, and a Content-Length of at least min_length
// or an unknown length. It does not allocate.
func (c *Config) Should(r *Response) bool {
	if r.Head || r.Status < 200 || r.Status == 204 || r.Status == 304 {
		return false
	}
	if ce := parser.TrimOWS(r.ContentEncoding); len(ce) > 0 && !parser.EqualFold(ce, "identity") {
		return false
	}
	if r.ContentLength >= 0 && r.ContentLength < c.minLength {
		return false
	}
	if parser.HasToken(r.CacheControl, "no-transform") {
		return false
	}
	return c.Compressible(r.ContentType)
}

// Compressible reports whether a Content-Type value matches the
// configured types. It does not allocate.
func (c *Config) Compressible(contentType []byte) bool {
	mt := contentType
	for i, b := range mt {
		if b == ';' {
			mt = mt[:i]
			break
		}
	}
	mt = parser.TrimOWS(mt)
	slash := -1
	for i, b := range mt {
		if b == '/' {
			slash = i
			break
		}
	}
	if slash <= 0 {
		return false
	}
	typ, sub := mt[:slash], mt[slash+1:]
	for _, p := range c.types {
		if !parser.EqualFold(typ, p.typ) {
			continue
		}
		switch {
		case p.suffix != "":
			if len(sub) > len(p.suffix) && parser.EqualFold(sub[len(sub)-len(p.suffix):], p.suffix) {
				return true
			}
		case p.sub == "*" || parser.EqualFold(sub, p.sub):
			return true
		}
	}
	return false
}

// AppendHeaders appends the fields a compressed response gets:
// "Content-Encoding: <enc>" and "Vary: Accept-Encoding" (a separate Vary
// line is valid next to the upstream's own, RFC 9110 §5.3). The engine
// removes Content-Length (and a strong ETag should be made weak) and sends
// the body chunked. Identity appends only the Vary line: the choice still
// depended on Accept-Encoding.
func AppendHeaders(dst []byte, enc Encoding) []byte {
	if enc != Identity {
		dst = append(dst, "Content-Encoding: "...)
		dst = append(dst, enc.String()...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "Vary: Accept-Encoding\r\n"...)
}

// newGzip and newZstd build pooled encoders. Encoders are reset onto each
// stream's writer, so their own buffers are reused across responses.
func (c *Config) newGzip() *gzip.Writer {
	w, err := gzip.NewWriterLevel(nil, c.gzipLevel)
	if err != nil {
		panic(err) // the level was validated by NewConfig
	}
	return w
}

func (c *Config) newZstd() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(c.zstdLevel),
		zstd.WithEncoderConcurrency(1), // synchronous: no goroutines, runs on the loop
		zstd.WithWindowSize(1<<20),     // 1 MiB windows bound a pooled encoder's memory
		zstd.WithEncoderCRC(false),     // the transport has its own integrity
		zstd.WithZeroFrames(true),      // an empty body is still a valid frame
	)
	if err != nil {
		panic(err)
	}
	return e
}
