package engine

import (
	"errors"
	"strconv"
	"time"

	"github.com/hotpath/hotpath/parser"
)

// gRPC (docs/grpc.md). A request whose content-type is application/grpc
// (or application/grpc+proto, +json, ...) is a gRPC call. Proxying it needs
// nothing of its own: an HTTP/2 client's stream goes to an HTTP/2 upstream
// (upstreams[].protocol h2c or h2) as a stream, messages flow both ways as
// DATA while both sides stream (unary, server, client and bidirectional
// streaming alike), and the response's trailers (grpc-status,
// grpc-message, binary -bin metadata) come back as HEADERS that end the
// stream (h2conn.go). What is gRPC's own:
//
//   - the gateway's own answers (no route, auth, rate limit, upstream down,
//     timeout...) are trailers-only responses, HTTP 200 with grpc-status
//     and grpc-message in the head (grpcCode maps the status), which gRPC
//     clients understand, instead of bare HTTP statuses they do not;
//   - over HTTP/1.1 a gRPC call cannot work (no trailers toward most
//     clients, no full duplex): it is refused with 415 and a body that says
//     why;
//   - grpc-timeout (RFC-less gRPC wire format: digits and a unit) is the
//     call's deadline: past it the gateway answers DEADLINE_EXCEEDED (or
//     resets the stream if the response has started), on top of the
//     upstream timeouts, which still apply.

// ErrGRPCOverHTTP1 refuses a gRPC call that came over HTTP/1.1.
var ErrGRPCOverHTTP1 = errors.New("engine: gRPC needs HTTP/2") // 415

// ErrNotGRPC refuses a request that is not a gRPC call on a route with
// protocol: grpc.
var ErrNotGRPC = errors.New("engine: not a gRPC call") // 415

// grpcState is an exchange's gRPC state.
type grpcState struct {
	on       bool  // the request is a gRPC call
	code     int8  // the grpc-status seen, -1 none yet (grpcstats.go)
	method   int   // the method's metrics number (grpcstats.go)
	deadline int64 // grpc-timeout as a loop-clock time; 0 when none
}

// grpcBegin detects a gRPC call; it reports true when the call was refused
// (over HTTP/1.1) and answered.
func (d *exchange) grpcBegin(now int64) bool {
	d.grpc = grpcState{}
	var timeout []byte
	for _, h := range d.req.Headers {
		if len(h.Name) != 12 {
			continue
		}
		switch {
		case parser.EqualFold(h.Name, "content-type"):
			d.grpc.on = d.grpc.on || isGRPCType(h.Value)
		case parser.EqualFold(h.Name, "grpc-timeout"):
			timeout = h.Value
		}
	}
	if !d.grpc.on {
		return false
	}
	if _, h2 := d.cl.(*h2stream); !h2 {
		d.grpc.on = false
		d.local = true
		d.renderGRPCOverHTTP1()
		return true
	}
	if t, ok := parseGRPCTimeout(timeout); ok {
		d.grpc.deadline = now + int64(t)
	}
	d.grpc.code, d.grpc.method = -1, d.lp.srv.grpcMethods.id(d.req.Path)
	return false
}

// isGRPCType reports whether a content-type is application/grpc or
// application/grpc+<format>, with or without parameters.
func isGRPCType(v []byte) bool {
	const p = "application/grpc"
	if len(v) < len(p) || !parser.EqualFold(v[:len(p)], p) {
		return false
	}
	return len(v) == len(p) || v[len(p)] == '+' || v[len(p)] == ';'
}

// parseGRPCTimeout reads grpc-timeout: 1 to 8 digits and a unit (H, M, S,
// m, u, n).
func parseGRPCTimeout(v []byte) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	var n int64
	for _, c := range v[:len(v)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// gRPC status codes (grpc/codes).
const (
	grpcUnknown           = 2
	grpcDeadlineExceeded  = 4
	grpcNotFound          = 5
	grpcPermissionDenied  = 7
	grpcResourceExhausted = 8
	grpcUnimplemented     = 12
	grpcInternal          = 13
	grpcUnavailable       = 14
	grpcUnauthenticated   = 16
)

// grpcCode maps the status the gateway would have answered with to a gRPC
// status code (gRPC's HTTP mapping, with the gateway's timeouts as
// DEADLINE_EXCEEDED).
func grpcCode(status int) int {
	switch status {
	case 400, 413, 414, 431:
		if status == 413 {
			return grpcResourceExhausted
		}
		return grpcInternal
	case 401:
		return grpcUnauthenticated
	case 403:
		return grpcPermissionDenied
	case 404, 405:
		return grpcUnimplemented
	case 408, 504:
		return grpcDeadlineExceeded
	case 429:
		return grpcResourceExhausted
	case 502, 503:
		return grpcUnavailable
	case 500:
		return grpcInternal
	}
	return grpcUnknown
}

// renderGRPCStatus renders the gateway's answer with status as a gRPC
// trailers-only response into d.out.
func (d *exchange) renderGRPCStatus(status int, extra []byte) {
	rs := reason(status)
	b := append(d.out[:0], "HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ngrpc-status: "...)
	d.grpc.code = int8(grpcCode(status))
	b = strconv.AppendInt(b, int64(grpcCode(status)), 10)
	b = append(b, "\r\ngrpc-message: hotpath "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, rs...)
	b = append(b, "\r\ncontent-length: 0\r\n"...)
	b = append(b, extra...)
	b = d.appendGateResponse(b)
	b = d.appendConnection(b)
	d.out = append(b, "\r\n"...)
}

const grpcOverHTTP1Body = "gRPC needs HTTP/2 (h2c or h2 over TLS); this call came over HTTP/1.1\n"

// renderGRPCOverHTTP1 answers a gRPC call made over HTTP/1.1.
func (d *exchange) renderGRPCOverHTTP1() {
	d.observeLocalError(ErrGRPCOverHTTP1)
	d.status = 415
	d.closeAfter = d.closeAfter || !d.reqDone
	b := appendStatusLine(d.out[:0], 415, []byte(reason(415)))
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(grpcOverHTTP1Body)), 10)
	b = append(b, "\r\n"...)
	b = d.appendConnection(b)
	b = append(b, "\r\n"...)
	if !d.isHead {
		b = append(b, grpcOverHTTP1Body...)
	}
	d.out = b
}

// grpcExpired ends a gRPC call past its grpc-timeout (up2.go's tick).
func (d *exchange) grpcExpired(now int64) bool {
	if !d.grpc.on || d.grpc.deadline == 0 || now < d.grpc.deadline || d.respDone {
		return false
	}
	d.gatewayError(ErrUpstreamTimeout)
	return true
}
