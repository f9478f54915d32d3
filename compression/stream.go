package compression

import (
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Stream compresses one response body into a writer the engine owns
// (typically the connection's output buffer). Write compresses a chunk;
// compressed bytes appear in the writer as the encoder emits them, often
// later than the input. Flush forces them out (for streaming responses
// such as server-sent events); Close ends the stream and returns the
// encoder to its pool. A Stream is used by one goroutine (its loop) at a
// time and must not be used after Close.
type Stream struct {
	c    *Config
	enc  Encoding
	gz   *gzip.Writer
	zs   *zstd.Encoder
	dst  io.Writer
	done bool
}

// Stream returns a pooled stream of coding enc writing into dst. enc must
// be Gzip or Zstd. Streams come from a sync.Pool because an encoder may be
// used by one loop and put back by another (a response can outlive a
// loop's turn); the pool is per Config.
func (c *Config) Stream(enc Encoding, dst io.Writer) *Stream {
	s, _ := streamPool.Get().(*Stream)
	if s == nil {
		s = &Stream{}
	}
	s.c, s.enc, s.dst, s.done = c, enc, dst, false
	switch enc {
	case Gzip:
		gz, _ := c.gzipPool.Get().(*gzip.Writer)
		if gz == nil {
			gz = c.newGzip()
		}
		gz.Reset(dst)
		s.gz = gz
	case Zstd:
		zs, _ := c.zstdPool.Get().(*zstd.Encoder)
		if zs == nil {
			zs = c.newZstd()
		}
		zs.Reset(dst)
		s.zs = zs
	default:
		panic("compression: Stream of " + enc.String())
	}
	return s
}

// Write compresses p. p is only read during the call.
func (s *Stream) Write(p []byte) (int, error) {
	if s.gz != nil {
		return s.gz.Write(p)
	}
	return s.zs.Write(p)
}

// Flush writes out everything compressed so far (at some cost in ratio).
func (s *Stream) Flush() error {
	if s.gz != nil {
		return s.gz.Flush()
	}
	return s.zs.Flush()
}

// Close finishes the stream (the trailer goes to the writer) and returns
// the encoder and the Stream to their pools.
func (s *Stream) Close() error {
	if s.done {
		return nil
	}
	s.done = true
	var err error
	if s.gz != nil {
		err = s.gz.Close()
		s.gz.Reset(io.Discard) // drop the reference to dst
		s.c.gzipPool.Put(s.gz)
	} else {
		err = s.zs.Close()
		s.zs.Reset(nil)
		s.c.zstdPool.Put(s.zs)
	}
	s.gz, s.zs, s.dst, s.c = nil, nil, nil, nil
	streamPool.Put(s)
	return err
}

var streamPool sync.Pool

// Encode compresses a whole body with coding enc (Gzip or Zstd) and
// appends the result to dst, for bodies held in memory (a background cache
// refresh, an aggregated response) rather than streamed.
func (c *Config) Encode(enc Encoding, dst, body []byte) ([]byte, error) {
	w := sliceWriter{b: dst}
	s := c.Stream(enc, &w)
	_, err := s.Write(body)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return w.b, err
}

// sliceWriter appends what is written to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
