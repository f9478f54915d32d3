package engine

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
)

// Per-method gRPC metrics (hotpath_grpc_calls_total{grpc_service,
// grpc_method, grpc_code}). The label values come from request paths, so
// they are bounded: the first maxGRPCMethods methods seen get their own
// series, the rest count as _other. Each loop counts into its own array
// (allocated on its first gRPC call); a scrape sums them.

const (
	maxGRPCMethods = 256
	grpcCodeNone   = 17 // the call ended without a grpc-status (a reset)
	grpcCodeSlots  = 18
)

var grpcCodeNames = [grpcCodeSlots]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED", "none",
}

// grpcMethods numbers the methods seen: 0 is _other. Lookups read an
// immutable map without a lock; a new method copies it under mu (at most
// maxGRPCMethods times in the process's life).
type grpcMethods struct {
	ids   atomic.Pointer[map[string]int]
	mu    sync.Mutex
	names [][2]string // by id: service, method
}

type grpcCounts [maxGRPCMethods + 1][grpcCodeSlots]atomic.Uint64

// id returns the method's number for a request path /package.Service/Method.
func (m *grpcMethods) id(path []byte) int {
	if p := m.ids.Load(); p != nil {
		if id, ok := (*p)[string(path)]; ok {
			return id
		}
	}
	if len(path) < 4 || path[0] != '/' {
		return 0
	}
	slash := bytes.LastIndexByte(path, '/')
	if slash <= 1 || slash == len(path)-1 {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := map[string]int{}
	if p := m.ids.Load(); p != nil {
		if id, ok := (*p)[string(path)]; ok {
			return id
		}
		old = *p
	}
	if len(old) >= maxGRPCMethods {
		return 0
	}
	if m.names == nil {
		m.names = append(m.names, [2]string{"_other", "_other"})
	}
	next := make(map[string]int, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	id := len(m.names)
	next[string(path)] = id
	m.names = append(m.names, [2]string{string(path[1:slash]), string(path[slash+1:])})
	m.ids.Store(&next)
	return id
}

// grpcStatus records a grpc-status value seen in the response.
func (d *exchange) grpcStatus(v []byte) {
	if !d.grpc.on || len(v) == 0 || len(v) > 2 {
		return
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return
		}
		n = n*10 + int(c-'0')
	}
	if n < grpcCodeNone {
		d.grpc.code = int8(n)
	}
}

// grpcStatusIn records the grpc-status among rendered "Name: value" lines.
func (d *exchange) grpcStatusIn(lines []byte) {
	for name, value := range parser.Fields(lines) {
		if len(name) == 11 && parser.EqualFold(name, "grpc-status") {
			d.grpcStatus(value)
			return
		}
	}
}

// grpcEnd counts the call, once (exchange.end).
func (d *exchange) grpcEnd() {
	if !d.grpc.on {
		return
	}
	d.grpc.on = false
	lp := d.lp
	if lp.grpcCalls == nil {
		lp.grpcCalls = new(grpcCounts)
	}
	code := int(d.grpc.code)
	if code < 0 {
		code = grpcCodeNone
	}
	lp.grpcCalls[d.grpc.method][code].Add(1)
}

// grpcStats sums the loops' counts for the collector.
func (s *Server) grpcStats() []metrics.GRPCStats {
	var sum grpcCounts
	seen := false
	s.loopsMap.Range(func(_, v any) bool {
		if c := v.(*loop).grpcCalls; c != nil {
			seen = true
			for m := range c {
				for k := range c[m] {
					if n := c[m][k].Load(); n != 0 {
						sum[m][k].Add(n)
					}
				}
			}
		}
		return true
	})
	if !seen {
		return nil
	}
	s.grpcMethods.mu.Lock()
	names := s.grpcMethods.names
	s.grpcMethods.mu.Unlock()
	var out []metrics.GRPCStats
	for m := range names {
		for k := range sum[m] {
			if n := sum[m][k].Load(); n != 0 {
				out = append(out, metrics.GRPCStats{Service: names[m][0], Method: names[m][1], Code: grpcCodeNames[k], Calls: n})
			}
		}
	}
	return out
}
