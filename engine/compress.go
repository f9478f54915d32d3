package engine

import (
	"bytes"

	"github.com/hotpath/hotpath/cache"
	"github.com/hotpath/hotpath/compression"
	"github.com/hotpath/hotpath/parser"
)

// The response side of route policies: after writeResponseHead has
// rendered the upstream's head, policyHead decides compression and cache
// capture, and rewrites the head (Content-Encoding, Vary, framing, X-Cache,
// RateLimit). When the body must be transformed (compressed, captured for
// the cache, or dropped because a stale response was sent instead),
// forwardBody hands it to xformBody, which decodes the upstream framing,
// compresses into a per-connection buffer with a pooled encoder and writes
// chunks to the client as the bytes arrive: nothing is buffered whole.
// A compressed body is flushed at the end of every upstream read, so a
// streaming response (server-sent events) is not held back by the encoder.

// xform is a connection's response transform for the current exchange.
type xform struct {
	xon      bool // the body goes through xformBody
	xchunked bool // the gateway frames the body to the client as chunks
	xdiscard bool // the body is read and dropped (a stale response was sent)
	zs       *compression.Stream
	zw       appendWriter
	hbuf     []byte // the other half of d.out for head rewriting
}

// appendWriter is the compressor's destination: it appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// emitThreshold is how much compressed output is gathered before it is
// written as one chunk.
const emitThreshold = 32 << 10

// policyHead runs at the end of writeResponseHead for an exchange with
// route policies.
func (d *exchange) policyHead(r *parser.Response) {
	ps := d.pol
	rp := ps.rp
	if rp == nil {
		return
	}
	now := ps.reqTime
	if rp.cache != nil {
		now = d.lp.srv.wallNow()
		if r.Status >= 500 && ps.stale != nil && ps.stale.UsableOnError(now) {
			d.staleForErrorStatus(r, now)
			return
		}
		if ps.invalidate && r.Status < 400 {
			s := &ps.snap.creq
			rp.cache.PurgeURL(s.Host, s.Path, s.Query)
		}
	}
	compress, vary := false, false
	if rp.comp != nil && r.Body != parser.BodyNone && r.Status != 206 {
		cr := compression.Response{
			Status:          r.Status,
			Head:            d.isHead,
			ContentType:     r.ContentType,
			ContentEncoding: r.ContentEncoding,
			ContentLength:   -1,
			CacheControl:    r.CacheControl,
		}
		if r.Body == parser.BodyLength {
			cr.ContentLength = r.ContentLength
		}
		if rp.comp.Should(&cr) {
			vary = true // the choice depended on Accept-Encoding
			compress = ps.enc != compression.Identity && d.minor >= 1
		}
	}
	if rp.comp != nil && rp.cache != nil {
		// A hit on this route says Vary: Accept-Encoding (serveEntry: the
		// entry is one coding of several), so the miss that stores it does.
		vary = true
	}
	enc := compression.Identity
	if compress {
		enc = ps.enc
	}
	if ps.capOn {
		d.captureHead(r, enc, now)
	}
	ps.xon = compress || ps.capOn
	ps.xchunked = compress || (ps.xon && r.Body != parser.BodyLength && d.minor >= 1)
	if compress {
		ps.zs = rp.comp.Stream(enc, &ps.zw)
	}
	if compress || vary || ps.looked || ps.hasDec {
		d.rewriteHead(compress, vary, enc)
	}
}

// rewriteHead rebuilds the head writeResponseHead rendered in d.out: when
// compressing, without Content-Length and Transfer-Encoding and with a weak
// ETag; then the policy fields and the final CRLF. It works on the rendered
// lines, so fields other code adds to the head are kept.
func (d *exchange) rewriteHead(compress, vary bool, enc compression.Encoding) {
	ps := d.pol
	src := d.out
	b := ps.hbuf[:0]
	i := bytes.Index(src, crlf) + 2
	b = append(b, src[:i]...) // status line
	for i < len(src) {
		j := bytes.Index(src[i:], crlf)
		if j <= 0 {
			break // the empty line ending the head
		}
		line := src[i : i+j]
		i += j + 2
		if compress {
			colon := bytes.IndexByte(line, ':')
			name := line[:max(colon, 0)]
			switch {
			case parser.EqualFold(name, "content-length"), parser.EqualFold(name, "transfer-encoding"):
				continue
			case parser.EqualFold(name, "etag"):
				v := parser.TrimOWS(line[colon+1:])
				if len(v) > 0 && v[0] == '"' {
					b = append(b, "ETag: W/"...)
					b = append(b, v...)
					b = append(b, crlf...)
					continue
				}
			}
		}
		b = append(b, line...)
		b = append(b, crlf...)
	}
	if vary {
		b = compression.AppendHeaders(b, enc)
	}
	if compress {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if ps.looked {
		b = cache.AppendXCache(b, cache.XCacheMiss)
	}
	b = d.appendPolicyFields(b)
	b = append(b, crlf...)
	ps.hbuf, d.out = d.out, b
}

// xformBody replaces forwardBody while a transform is on: it decodes the
// upstream framing and passes the payload on. It returns the bytes of b
// consumed and whether the body is complete.
func (d *exchange) xformBody(b []byte) (n int, done bool, err error) {
	if d.respBody.Kind() == parser.BodyNone {
		return 0, true, nil
	}
	for n < len(b) && !done {
		m, data, dn, derr := d.respBody.Decode(b[n:])
		if derr != nil {
			return n, false, derr
		}
		n += m
		done = dn
		d.xformData(data)
		if m == 0 {
			break
		}
	}
	ps := d.pol
	switch {
	case done:
		d.xformFinish()
	case ps.zs != nil && n > 0:
		// More will come later: send what is compressed so far.
		_ = ps.zs.Flush()
		d.xformEmit()
	}
	return n, done, nil
}

// xformData passes one piece of payload on: into the compressor, or to the
// capture and the client.
func (d *exchange) xformData(p []byte) {
	if len(p) == 0 {
		return
	}
	ps := d.pol
	if ps.zs != nil {
		_, _ = ps.zs.Write(p)
		if len(ps.zw.b) >= emitThreshold {
			d.xformEmit()
		}
		return
	}
	d.capture(p)
	if ps.xdiscard {
		return
	}
	if ps.xchunked {
		d.sendChunk(p)
	} else {
		d.send(p)
	}
}

// xformEmit writes the compressed bytes gathered so far as one chunk.
func (d *exchange) xformEmit() {
	ps := d.pol
	out := ps.zw.b
	if len(out) == 0 {
		return
	}
	d.capture(out)
	if !ps.xdiscard {
		d.sendChunk(out)
	}
	ps.zw.b = out[:0]
}

// xformFinish ends the transformed body: the compressor's trailer, the last
// chunk. For a close-delimited upstream body it runs when the upstream
// closes (up.onClose).
func (d *exchange) xformFinish() {
	ps := d.pol
	if ps.zs != nil {
		_ = ps.zs.Close()
		ps.zs = nil
		d.xformEmit()
	}
	switch {
	case ps.xdiscard:
	case ps.xchunked:
		d.send(lastChunk)
	case d.respBody.Kind() == parser.BodyClose:
		d.closeAfter = true // close-delimited to an HTTP/1.0 client
	}
	ps.bodyDone = true
}

// xformEnd releases the transform at the end of the exchange (the encoder
// goes back to its pool even when the exchange failed midway).
func (d *exchange) xformEnd() {
	ps := d.pol
	if ps.zs != nil {
		_ = ps.zs.Close()
		ps.zs = nil
	}
	ps.xon, ps.xchunked, ps.xdiscard = false, false, false
	ps.zw.b = ps.zw.b[:0]
	if cap(ps.zw.b) > 4*emitThreshold {
		ps.zw.b = nil
	}
}
