package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"

	"github.com/hotpath/hotpath/parser"
	compiled "github.com/hotpath/hotpath/route"
)

// Header edits and request IDs (the transform half of the gate, see
// authpath.go). Requests: fields are dropped while buildRequestHead copies
// the client's fields (dropsRequest), and the identity, set/add fields and
// X-Request-Id are appended to the same buffer (appendGateRequest).
// Responses: fields are dropped while the upstream head is rendered
// (dropsResponse) or, for a cached or direct response, filtered from the
// rendered head in place; set/add fields and X-Request-Id are appended to
// every response head of the route, local ones (401, 429, 502, ...)
// included. Values are rendered from compiled templates into those
// per-connection buffers: nothing is allocated per request.

// addEdits adds the route's compiled headers: section to g, and the
// X-Request-Id fields a request_id route replaces.
func (g *gate) addEdits(e *compiled.Edits) {
	g.reqDrop = append(g.reqDrop, e.ReqDrop...)
	g.reqAdd = append(g.reqAdd, e.ReqAdd...)
	g.respDrop = append(g.respDrop, e.RespDrop...)
	g.respAdd = append(g.respAdd, e.RespAdd...)
	g.needID = g.needID || e.NeedID
	if g.requestID {
		// The chosen ID replaces whatever the client or upstream sent.
		g.reqDrop = append(g.reqDrop, "x-request-id")
		g.respDrop = append(g.respDrop, "x-request-id")
	}
}

// dropsRequest reports whether the client's field name is left out of the
// upstream request.
func (g *gate) dropsRequest(name []byte) bool {
	for _, n := range g.reqDrop {
		if parser.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// dropsResponse reports whether the upstream's field name is left out of
// the response to the client. Small enough to inline: routes without edits
// pay two nil checks per field.
func (d *exchange) dropsResponse(name []byte) bool {
	rt := d.rt
	return rt != nil && rt.gate != nil && rt.gate.dropsResponse(name)
}

//go:noinline
func (g *gate) dropsResponse(name []byte) bool { return droppedName(name, g.respDrop) }

// appendGateRequest appends the identity fields, the request set/add
// fields and X-Request-Id to the upstream request head.
func (d *exchange) appendGateRequest(b []byte, g *gate) []byte {
	ps := d.pol
	b = append(b, ps.ident...)
	for i := range g.reqAdd {
		b = d.appendField(b, &g.reqAdd[i])
	}
	if g.requestID {
		b = appendHeader(b, "X-Request-Id", ps.reqID)
	}
	return b
}

// appendGateResponse appends the response set/add fields and X-Request-Id
// to a response head for the client, when d's route has them.
func (d *exchange) appendGateResponse(b []byte) []byte {
	rt := d.rt
	if rt == nil {
		return b
	}
	if e := rt.edge; e != nil && e.cors != nil {
		b = d.appendCORS(b, e.cors) // edge.go
	}
	if rt.gate == nil || d.pol == nil {
		return b
	}
	g := rt.gate
	for i := range g.respAdd {
		b = d.appendField(b, &g.respAdd[i])
	}
	if g.requestID {
		b = appendHeader(b, "X-Request-Id", d.pol.reqID)
	}
	return b
}

func (d *exchange) appendField(b []byte, f *compiled.Field) []byte {
	b = append(b, f.Name...)
	b = append(b, ": "...)
	for _, p := range f.Parts {
		switch p.Var {
		case compiled.VarNone:
			b = append(b, p.Lit...)
		case compiled.VarClientIP:
			b = append(b, d.cl.addrText()...)
		case compiled.VarRoute:
			b = append(b, d.rt.gate.route...)
		case compiled.VarRequestID:
			b = append(b, d.pol.reqID...)
		}
	}
	return append(b, "\r\n"...)
}

// filterResponseHead removes the route's dropped fields from the response
// head rendered in b[start:] (a cached entry's), in place: lines only move
// towards the front. b holds the status line and fields, each ending in
// CRLF, without the final empty line.
func (d *exchange) filterResponseHead(b []byte, start int) []byte {
	rt := d.rt
	if rt == nil || rt.gate == nil || len(rt.gate.respDrop) == 0 {
		return b
	}
	return filterFields(b, start, rt.gate.respDrop)
}

func filterFields(b []byte, start int, drop []string) []byte {
	i := start + bytes.Index(b[start:], crlf) + 2 // past the status line
	w := i
	for i < len(b) {
		j := bytes.Index(b[i:], crlf)
		if j < 0 {
			break
		}
		line := b[i : i+j+2]
		i += j + 2
		c := bytes.IndexByte(line, ':')
		if c > 0 && droppedName(line[:c], drop) {
			continue
		}
		w += copy(b[w:], line)
	}
	return b[:w]
}

func droppedName(name []byte, drop []string) bool {
	for _, n := range drop {
		if parser.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// filterDirect removes the dropped response fields from a direct
// response's pre-rendered head, once, at compile time.
func (g *gate) filterDirect(dr *compiled.Direct) {
	if len(g.respDrop) > 0 {
		dr.Head = filterFields(append([]byte(nil), dr.Head...), 0, g.respDrop)
	}
}

// appendQuery appends "?query" to the upstream request line, without the
// credential's query parameter unless the route forwards credentials.
func (d *exchange) appendQuery(b []byte, rt *route) []byte {
	q := d.req.Query
	if q == nil {
		return b
	}
	if g := rt.gate; g == nil || g.credQuery == "" || g.forward {
		b = append(b, '?')
		return append(b, q...)
	}
	name := rt.gate.credQuery
	first := true
	for len(q) > 0 {
		i := bytes.IndexByte(q, '&')
		if i < 0 {
			i = len(q)
		}
		kv := q[:i]
		if i < len(q) {
			i++
		}
		q = q[i:]
		k := kv
		if e := bytes.IndexByte(kv, '='); e >= 0 {
			k = kv[:e]
		}
		if string(k) == name {
			continue
		}
		if first {
			b = append(b, '?')
			first = false
		} else {
			b = append(b, '&')
		}
		b = append(b, kv...)
	}
	return b
}

// takeRequestID sets the exchange's request ID: the client's X-Request-Id
// when it is valid, else a new one.
func (d *exchange) takeRequestID() {
	ps := d.pol
	if v, ok := headerValue(d.req.Headers, "x-request-id"); ok && validRequestID(v) {
		ps.reqID = append(ps.reqID[:0], v...)
		return
	}
	ps.reqID = d.lp.gate.idgen.next(ps.reqID[:0])
}

// validRequestID accepts 1 to 128 of A-Z a-z 0-9 - _ . : + / = (UUIDs,
// ULIDs, base64 and hex IDs), so that an ID copied into logs and upstream
// fields cannot carry anything else.
func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '/' || c == '=':
		default:
			return false
		}
	}
	return true
}

// requestIDs generates a loop's request IDs: 32 hex digits, a random
// 64-bit prefix chosen when the loop makes its first ID, then a 64-bit
// counter. Unique per process run without coordination between loops (the
// prefixes differ), and rendered without allocating.
type requestIDs struct {
	prefix [16]byte
	seq    uint64
	ready  bool
}

func (r *requestIDs) next(b []byte) []byte {
	if !r.ready {
		var raw [8]byte
		_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
		hex.Encode(r.prefix[:], raw[:])
		r.ready = true
	}
	r.seq++
	b = append(b, r.prefix[:]...)
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(r.seq>>uint(shift))&0xf])
	}
	return b
}
