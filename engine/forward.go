package engine

import (
	"bytes"

	"github.com/hotpath/hotpath/parser"
	compiled "github.com/hotpath/hotpath/route"
)

// What of the client's request reaches the upstream, decided in one place.
// The upstream request head (buildRequestHead), the rate-limit keys on
// header:<Name> and the cache's view of the request (Vary, uncacheable
// fields, the stored variant) all go through forwardsField and the
// gateway's own fields, so that no policy keys on a field the upstream
// never sees, nor misses one the gateway wrote.
//
//   - The fields that frame the message or name its host are the
//     gateway's: Host, Content-Length, Transfer-Encoding are rendered, never
//     copied, and a Connection option cannot remove them (headers.go).
//   - Hop-by-hop fields, the route's dropped fields (credentials, removed
//     and set fields, the client's copies of identity fields), Expect from
//     HTTP/1.0 clients, and fields named with an underscore
//     (limits.underscores_in_headers: CGI-style upstreams read X_User_Id as
//     X-User-Id) are not forwarded.
//   - Forwarding fields (X-Forwarded-*, X-Real-IP, Forwarded) are believed
//     only from a trusted peer once trusted_proxies is set; the ones the
//     gateway sets (forwarded:) replace the client's, except that a trusted
//     proxy's X-Forwarded-Host and -Proto are kept, since it knows better.

// limits.underscores_in_headers: a field whose name holds '_' is not
// forwarded (compiled.UnderscoresDrop), refused or forwarded.
const (
	underscoresReject  = compiled.UnderscoresReject  // 400
	underscoresForward = compiled.UnderscoresForward // forwarded like any field
)

// underscoreField reports whether a request field name has an underscore,
// for limits.underscores_in_headers: reject.
func underscoreField(hs []parser.Header) bool {
	for _, h := range hs {
		if bytes.IndexByte(h.Name, '_') >= 0 {
			return true
		}
	}
	return false
}

// trust is what the gateway believes of the peer's forwarding fields.
type trust uint8

const (
	trustAll  trust = iota // trusted_proxies empty: X-Forwarded-For appended to, as before it existed
	trustPeer              // the peer is a trusted proxy
	trustNone              // trusted_proxies set and the peer is not in it
)

// peerTrust says how far the request's forwarding fields are believed.
func (d *exchange) peerTrust() trust {
	if !d.tbl.pol.trustXFF {
		return trustAll
	}
	d.policies()
	if d.tbl.pol.trusted.Trusted(d.peerAddr()) {
		return trustPeer
	}
	return trustNone
}

// forwardsField reports whether the client's field name is copied into the
// upstream request for route rt.
func (d *exchange) forwardsField(rt *route, name []byte, tr trust) bool {
	switch len(name) {
	case 4:
		if parser.EqualFold(name, "host") {
			return false
		}
	case 6:
		if d.minor == 0 && parser.EqualFold(name, "expect") {
			return false // RFC 9110 §10.1.1: ignore Expect from HTTP/1.0
		}
	case 14:
		if parser.EqualFold(name, "content-length") {
			return false // rendered from the parsed framing
		}
	case 7:
		// Trailer declares the trailer fields (RFC 9110 §6.6.2): end to
		// end, so it goes up with a body that can carry them (chunked:
		// an HTTP/2 upstream's server may take only declared trailers).
		if parser.EqualFold(name, "trailer") && d.reqBody.Kind() == parser.BodyChunked {
			return !inConnection(name, d.conn)
		}
	}
	if hopByHop(name, d.conn) || (rt.gate != nil && rt.gate.dropsRequest(name)) {
		return false
	}
	if f := forwardingField(name); f != fwdNone {
		return d.forwardsForwarding(f, tr)
	}
	if d.tbl.underscores != underscoresForward && bytes.IndexByte(name, '_') >= 0 {
		return false
	}
	return true
}

// fwdField names the forwarding fields.
type fwdField uint8

const (
	fwdNone  fwdField = iota
	fwdFor            // X-Forwarded-For
	fwdHost           // X-Forwarded-Host
	fwdProto          // X-Forwarded-Proto
	fwdOther          // any other X-Forwarded-*, X-Real-IP, Forwarded
)

func forwardingField(name []byte) fwdField {
	switch {
	case len(name) == 9:
		if parser.EqualFold(name, "x-real-ip") || parser.EqualFold(name, "forwarded") {
			return fwdOther
		}
	case len(name) >= 12 && parser.EqualFold(name[:12], "x-forwarded-"):
		switch {
		case parser.EqualFold(name[12:], "for"):
			return fwdFor
		case parser.EqualFold(name[12:], "host"):
			return fwdHost
		case parser.EqualFold(name[12:], "proto"):
			return fwdProto
		}
		return fwdOther
	}
	return fwdNone
}

// forwardsForwarding decides for a client's forwarding field f.
func (d *exchange) forwardsForwarding(f fwdField, tr trust) bool {
	fwd := &d.tbl.fwd
	switch {
	case tr == trustNone:
		return false // could be forged: the peer is no proxy of ours
	case f == fwdFor:
		return !fwd.For // when set, merged into the gateway's own (appendForwarded)
	case f == fwdHost && fwd.Host, f == fwdProto && fwd.Proto:
		return tr == trustPeer
	}
	return true
}

// appendForwarded appends the X-Forwarded-* and Via fields the table
// configures to an upstream request head. sawHost and sawProto say that the
// client's X-Forwarded-Host / -Proto were forwarded (only from a trusted
// proxy): the gateway then adds none of its own.
func (d *exchange) appendForwarded(b []byte, tr trust, sawHost, sawProto bool) []byte {
	r := &d.req
	t := d.tbl
	if t.fwd.For {
		b = append(b, "X-Forwarded-For: "...)
		if tr != trustNone {
			for _, h := range r.Headers {
				if len(h.Name) == 15 && parser.EqualFold(h.Name, "x-forwarded-for") && len(h.Value) > 0 {
					b = append(b, h.Value...)
					b = append(b, ", "...)
				}
			}
		}
		b = append(b, d.cl.addrText()...)
		b = append(b, "\r\n"...)
	}
	if t.fwd.Proto && !sawProto {
		if d.cl.tls() != nil {
			b = append(b, "X-Forwarded-Proto: https\r\n"...)
		} else {
			b = append(b, "X-Forwarded-Proto: http\r\n"...)
		}
	}
	if t.fwd.Host && !sawHost && r.Host != nil {
		b = appendHeader(b, "X-Forwarded-Host", r.Host)
	}
	return append(b, t.viaLine...)
}

// appendForwardedFields appends the client's fields that rt forwards, in
// order, and reports whether a trusted proxy's X-Forwarded-Host and -Proto
// were among them. skip leaves out more fields (the cache leader's
// conditionals), nil for none.
func (d *exchange) appendForwardedFields(b []byte, rt *route, tr trust, skip func([]byte) bool) (out []byte, sawHost, sawProto bool) {
	for _, h := range d.req.Headers {
		if !d.forwardsField(rt, h.Name, tr) || (skip != nil && skip(h.Name)) {
			continue
		}
		switch len(h.Name) {
		case 16:
			sawHost = sawHost || parser.EqualFold(h.Name, "x-forwarded-host")
		case 17:
			sawProto = sawProto || parser.EqualFold(h.Name, "x-forwarded-proto")
		}
		b = append(b, h.Name...)
		b = append(b, ": "...)
		b = append(b, h.Value...)
		b = append(b, "\r\n"...)
	}
	return b, sawHost, sawProto
}

// forwardedView is the request's fields as the upstream gets them, for the
// cache and the rate-limit keys: the client's forwarded fields, then the
// route's gate fields (identity, set/add, X-Request-Id), then the
// gateway's forwarding fields (X-Forwarded-*, Via). It is built once per
// exchange on routes with policies (policyState.view).
//
// The cache reads the first part only (Len, Field: cache.Headers, passed
// as a pointer so nothing is allocated): the gateway's forwarding fields
// are derived from what the cache keys on already (the Host) or from the
// client address, and its own X-Forwarded-Host must not count as a
// client's poisoning attempt. The rate-limit keys read all of it (value).
type forwardedView struct {
	lines []byte // the gateway's fields, "Name: value\r\n" each
	h     []parser.Header
	n     int // h[:n] is what the cache sees
	built bool
}

func (v *forwardedView) Len() int                     { return v.n }
func (v *forwardedView) Field(i int) ([]byte, []byte) { return v.h[i].Name, v.h[i].Value }

// value returns the first field named name.
func (v *forwardedView) value(name string) ([]byte, bool) {
	for _, h := range v.h {
		if parser.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return nil, false
}

// forwarded returns the exchange's forwarded view, building it on first use.
// The route's auth must have run (its identity fields are part of it).
func (d *exchange) forwarded(rt *route) *forwardedView {
	ps := d.policies()
	v := &ps.view
	if v.built {
		return v
	}
	tr := d.peerTrust()
	v.h = v.h[:0]
	var sawHost, sawProto bool
	for _, h := range d.req.Headers {
		if d.forwardsField(rt, h.Name, tr) {
			v.h = append(v.h, h)
			f := forwardingField(h.Name)
			sawHost, sawProto = sawHost || f == fwdHost, sawProto || f == fwdProto
		}
	}
	b := v.lines[:0]
	if rt.gate != nil {
		b = d.appendGateRequest(b, rt.gate)
	}
	gate := len(b)
	b = d.appendForwarded(b, tr, sawHost, sawProto)
	v.lines = b
	for rest := b; ; {
		if len(b)-len(rest) == gate {
			v.n = len(v.h)
		}
		name, value, _, next, ok := parser.CutField(rest)
		if !ok {
			break
		}
		v.h = append(v.h, parser.Header{Name: name, Value: value})
		rest = next
	}
	v.built = true
	return v
}
